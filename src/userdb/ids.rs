//! UID/GID range and the allocation rule.
//!
//! Default range 70000-99999, chosen to stay clear of every range a Debian 12 host
//! already hands out:
//! - 0-999 system, 1000-59999 `adduser` regular users (Debian policy, `/etc/adduser.conf`);
//! - 60000-64999 Debian's on-demand global ids, 60001-60513 systemd-homed,
//!   61184-65519 systemd `DynamicUser=`, 65534 nobody, 65535 the 16-bit -1;
//! - 100000 and up: `/etc/subuid` / `/etc/subgid` (useradd's `SUB_UID_MIN` 100000)
//!   for rootless containers, then systemd-nspawn's 524288-1879048191.
//!
//! 70000-99999 is in Debian's "dynamically allocated accounts" space above 65535 and
//! below the subordinate ids: 30000 ids. Users and groups share one sequence (a user's
//! personal group has gid = uid, so an IAM group can never take a user's gid).
//! Ids only grow: the next id is above every id ever handed out, so a deleted user's
//! files can never be inherited by a later user. Renames keep the id (it is bound to the
//! entity's unique id, not its name).

use std::fmt;
use std::str::FromStr;

use super::UserdbError;

/// Environment variable overriding the id range.
pub const RANGE_ENV: &str = "PAM_IAM_ID_RANGE";

/// An inclusive range of UIDs/GIDs we may hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub first: u32,
    pub last: u32,
}

impl Default for IdRange {
    fn default() -> Self {
        IdRange {
            first: 70000,
            last: 99999,
        }
    }
}

impl IdRange {
    /// True when `id` lies in the range.
    pub fn contains(&self, id: u32) -> bool {
        (self.first..=self.last).contains(&id)
    }
}

impl fmt::Display for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl FromStr for IdRange {
    type Err = UserdbError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || UserdbError::InvalidRange(s.to_string());
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        let first: u32 = a.trim().parse().map_err(|_| bad())?;
        let last: u32 = b.trim().parse().map_err(|_| bad())?;
        // Never system ids, never nobody/-1 (65534/65535 sit inside wide ranges, so
        // they are skipped by `next_id`, but (uid_t)-1 and -2 may not even start one).
        if first < 1000 || first > last || last >= 4_294_967_294 {
            return Err(bad());
        }
        Ok(IdRange { first, last })
    }
}

/// Ids that must never be handed out even inside a range.
fn reserved(id: u32) -> bool {
    matches!(id, 65534 | 65535)
}

/// The next id to hand out: above `highest_ever` (the largest id ever allocated, kept
/// in the store), inside `range`, skipping ids `in_use` reports (accounts in
/// `/etc/passwd`/`/etc/group`).
pub fn next_id(
    range: &IdRange,
    highest_ever: Option<u32>,
    in_use: &dyn Fn(u32) -> bool,
) -> Result<u32, UserdbError> {
    let start = match highest_ever {
        Some(h) if h >= range.first => h.checked_add(1),
        _ => Some(range.first),
    };
    let exhausted = UserdbError::RangeExhausted {
        first: range.first,
        last: range.last,
    };
    let Some(start) = start else {
        return Err(exhausted);
    };
    (start..=range.last)
        .find(|id| !reserved(*id) && !in_use(*id))
        .ok_or(exhausted)
}

/// Checks an explicit id (`--uid`): it must not be a system or reserved id, must never
/// have been handed out before, and must not be in use locally. It may lie outside the
/// range (fleets that must agree on ids pick them centrally).
pub fn check_explicit(
    id: u32,
    ever_allocated: &dyn Fn(u32) -> bool,
    in_use: &dyn Fn(u32) -> bool,
) -> Result<(), UserdbError> {
    let why = if id < 1000 {
        Some("ids below 1000 are system ids")
    } else if reserved(id) || id >= 4_294_967_294 {
        Some("reserved id")
    } else if ever_allocated(id) {
        Some("it was already handed out by this store (ids are never reused)")
    } else if in_use(id) {
        Some("it is used in /etc/passwd or /etc/group")
    } else {
        None
    };
    match why {
        Some(w) => Err(UserdbError::IdUnavailable {
            id,
            why: w.to_string(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        assert_eq!(
            "70000-99999".parse::<IdRange>().unwrap(),
            IdRange::default()
        );
        assert_eq!(
            " 2000 - 2001 ".parse::<IdRange>().unwrap(),
            IdRange {
                first: 2000,
                last: 2001
            }
        );
        for bad in [
            "",
            "70000",
            "5-10",
            "9000-8000",
            "a-b",
            "1000-4294967295",
            "-1-5",
        ] {
            assert!(bad.parse::<IdRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn next_id_grows_and_never_reuses() {
        let r = IdRange {
            first: 100,
            last: 104,
        };
        let none = |_: u32| false;
        assert_eq!(next_id(&r, None, &none).unwrap(), 100);
        assert_eq!(next_id(&r, Some(100), &none).unwrap(), 101);
        assert_eq!(
            next_id(&r, Some(50), &none).unwrap(),
            100,
            "below the range"
        );
        assert_eq!(next_id(&r, Some(102), &|id| id == 103).unwrap(), 104);
        assert!(matches!(
            next_id(&r, Some(104), &none),
            Err(UserdbError::RangeExhausted { .. })
        ));
        assert!(next_id(&r, Some(u32::MAX), &none).is_err());
    }

    #[test]
    fn next_id_skips_nobody() {
        let r = IdRange {
            first: 65533,
            last: 65540,
        };
        let none = |_: u32| false;
        assert_eq!(next_id(&r, Some(65533), &none).unwrap(), 65536);
    }

    #[test]
    fn explicit_ids() {
        let never = |_: u32| false;
        assert!(check_explicit(5000, &never, &never).is_ok());
        assert!(check_explicit(999, &never, &never).is_err());
        assert!(check_explicit(65534, &never, &never).is_err());
        assert!(check_explicit(5000, &|i| i == 5000, &never).is_err());
        assert!(check_explicit(5000, &never, &|i| i == 5000).is_err());
    }
}
