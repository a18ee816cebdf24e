//! Lockout rules: how failed logins turn into a temporary lock. Pure: the store applies
//! them inside one `BEGIN IMMEDIATE` transaction so concurrent logins count correctly.

use serde::{Deserialize, Serialize};

/// Account-wide lockout settings (not an AWS feature: hosts need brute-force protection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutSettings {
    /// Failed attempts in a row that lock the user; 0 disables lockout.
    pub max_failed_attempts: u32,
    /// How long a lock lasts, in seconds.
    pub lockout_duration_seconds: i64,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        LockoutSettings {
            max_failed_attempts: 0,
            lockout_duration_seconds: 900,
        }
    }
}

/// A user's failure counter and lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockState {
    /// Failed attempts since the last success or unlock.
    pub failed_attempts: u32,
    /// Unix time of the last failure.
    pub last_failure: Option<i64>,
    /// Unix time until which logins are refused.
    pub locked_until: Option<i64>,
}

impl LockState {
    /// Whether a login at `now` must be refused because of a lock.
    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    /// The state after one more failure at `now`.
    pub fn after_failure(self, settings: &LockoutSettings, now: i64) -> LockState {
        // An expired lock starts a fresh count, so one typo after a lock does not relock.
        let base = match self.locked_until {
            Some(t) if now >= t => 0,
            _ => self.failed_attempts,
        };
        let failed = base.saturating_add(1);
        let locked_until =
            if settings.max_failed_attempts > 0 && failed >= settings.max_failed_attempts {
                Some(now.saturating_add(settings.lockout_duration_seconds))
            } else if self.is_locked(now) {
                self.locked_until
            } else {
                None
            };
        LockState {
            failed_attempts: failed,
            last_failure: Some(now),
            locked_until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_and_expires() {
        let s = LockoutSettings {
            max_failed_attempts: 3,
            lockout_duration_seconds: 60,
        };
        let mut st = LockState::default();
        for t in 0..2 {
            st = st.after_failure(&s, 100 + t);
            assert!(!st.is_locked(100 + t));
        }
        st = st.after_failure(&s, 102);
        assert!(st.is_locked(103));
        assert_eq!(st.locked_until, Some(162));
        assert!(!st.is_locked(162));
        let again = st.after_failure(&s, 170);
        assert_eq!(again.failed_attempts, 1);
        assert!(!again.is_locked(170));
    }

    #[test]
    fn disabled_never_locks() {
        let s = LockoutSettings {
            max_failed_attempts: 0,
            lockout_duration_seconds: 60,
        };
        let mut st = LockState::default();
        for t in 0..100 {
            st = st.after_failure(&s, t);
        }
        assert!(!st.is_locked(100));
    }
}
