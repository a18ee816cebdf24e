//! The account password policy, with every field AWS has, checked on every password set.

use serde::{Deserialize, Serialize};

/// AWS's account password policy (same field names in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicy {
    /// Minimum length (AWS: 6..=128, default 8).
    pub minimum_password_length: u32,
    /// At least one of ``! @ # $ % ^ & * ( ) _ + - = [ ] { } | '``.
    pub require_symbols: bool,
    /// At least one digit.
    pub require_numbers: bool,
    /// At least one upper-case ASCII letter.
    pub require_uppercase_characters: bool,
    /// At least one lower-case ASCII letter.
    pub require_lowercase_characters: bool,
    /// Whether users may change their own password (PAM `password` phase).
    pub allow_users_to_change_password: bool,
    /// Days a password stays valid (1..=1095); `None` means no expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_password_age: Option<u32>,
    /// How many previous passwords may not be reused (1..=24).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_reuse_prevention: Option<u32>,
    /// An expired password cannot be changed by its user: an administrator must reset it.
    pub hard_expiry: bool,
}

impl Default for PasswordPolicy {
    /// AWS's default when no policy is set.
    fn default() -> Self {
        PasswordPolicy {
            minimum_password_length: 8,
            require_symbols: false,
            require_numbers: false,
            require_uppercase_characters: false,
            require_lowercase_characters: false,
            allow_users_to_change_password: true,
            max_password_age: None,
            password_reuse_prevention: None,
            hard_expiry: false,
        }
    }
}

/// Why a password was refused; the message is what the user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Password does not conform to the account password policy: {}", .0.join("; "))]
pub struct PolicyViolation(pub Vec<String>);

/// What a login must do about the password's age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordState {
    /// Valid.
    Valid,
    /// The user must choose a new password now (reset required or expired).
    MustChange,
    /// Expired under `HardExpiry`: only an administrator can reset it.
    HardExpired,
}

/// The facts a login's `account` decides password age on: from the store (local mode),
/// or carried by `iamd`'s answer to an online login (fleet mode: the replica holds no
/// login profile).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExpiryFacts {
    /// Unix time the password expires at (`MaxPasswordAge` after its last change).
    pub expires_at: Option<i64>,
    /// `HardExpiry`: an expired password cannot be changed by the user.
    pub hard_expiry: bool,
    /// The administrator asked for a new password at next sign-in.
    pub reset_required: bool,
}

impl ExpiryFacts {
    /// The facts of a password changed at `changed` under `max_age_days`/`hard_expiry`.
    pub fn new(
        max_age_days: Option<u32>,
        hard_expiry: bool,
        changed: Option<i64>,
        reset_required: bool,
    ) -> ExpiryFacts {
        ExpiryFacts {
            expires_at: match (max_age_days, changed) {
                (Some(d), Some(c)) if d > 0 => Some(c.saturating_add(i64::from(d) * 86_400)),
                _ => None,
            },
            hard_expiry,
            reset_required,
        }
    }

    /// Past its expiry at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }

    /// What a login at `now` must do (a reset the administrator asked for is a change,
    /// even under `HardExpiry`).
    pub fn state(&self, now: i64) -> PasswordState {
        let expired = self.expired(now);
        if expired && self.hard_expiry && !self.reset_required {
            PasswordState::HardExpired
        } else if expired || self.reset_required {
            PasswordState::MustChange
        } else {
            PasswordState::Valid
        }
    }
}

const SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

impl PasswordPolicy {
    /// Check the AWS ranges of the fields themselves.
    ///
    /// # Errors
    /// A message naming the field, for a `ValidationError`.
    pub fn validate(&self) -> Result<(), String> {
        if !(6..=128).contains(&self.minimum_password_length) {
            return Err("MinimumPasswordLength must be between 6 and 128".into());
        }
        if let Some(a) = self.max_password_age
            && !(1..=1095).contains(&a)
        {
            return Err("MaxPasswordAge must be between 1 and 1095".into());
        }
        if let Some(r) = self.password_reuse_prevention
            && !(1..=24).contains(&r)
        {
            return Err("PasswordReusePrevention must be between 1 and 24".into());
        }
        Ok(())
    }

    /// Check a candidate password against the composition rules (reuse is checked by the
    /// caller against the stored history, see [`PasswordPolicy::reuse_depth`]).
    ///
    /// # Errors
    /// [`PolicyViolation`] listing every rule broken.
    pub fn check(&self, password: &str) -> Result<(), PolicyViolation> {
        let mut v = Vec::new();
        if (password.chars().count() as u64) < u64::from(self.minimum_password_length) {
            v.push(format!(
                "Password should have a minimum length of {}",
                self.minimum_password_length
            ));
        }
        if self.require_symbols && !password.chars().any(|c| SYMBOLS.contains(c)) {
            v.push("Password should have at least one symbol".into());
        }
        if self.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
            v.push("Password should have at least one number".into());
        }
        if self.require_uppercase_characters && !password.chars().any(|c| c.is_ascii_uppercase()) {
            v.push("Password should have at least one uppercase letter".into());
        }
        if self.require_lowercase_characters && !password.chars().any(|c| c.is_ascii_lowercase()) {
            v.push("Password should have at least one lowercase letter".into());
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(PolicyViolation(v))
        }
    }

    /// How many previous hashes a new password must differ from.
    pub fn reuse_depth(&self) -> usize {
        self.password_reuse_prevention.map_or(0, |n| n as usize)
    }

    /// Unix time at which a password set at `changed` expires, if it does.
    pub fn expires_at(&self, changed: i64) -> Option<i64> {
        self.max_password_age
            .map(|d| changed.saturating_add(i64::from(d) * 86_400))
    }

    /// What a login at `now` must do about a password set at `changed`.
    pub fn state(&self, changed: i64, reset_required: bool, now: i64) -> PasswordState {
        let expired = ExpiryFacts::new(
            self.max_password_age,
            self.hard_expiry,
            Some(changed),
            reset_required,
        )
        .expired(now);
        if expired && self.hard_expiry {
            PasswordState::HardExpired
        } else if expired || reset_required {
            PasswordState::MustChange
        } else {
            PasswordState::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        pw: &'static str,
        ok: bool,
    }

    #[test]
    fn composition_rules() {
        let p = PasswordPolicy {
            minimum_password_length: 10,
            require_symbols: true,
            require_numbers: true,
            require_uppercase_characters: true,
            require_lowercase_characters: true,
            ..PasswordPolicy::default()
        };
        let cases = [
            Case {
                pw: "Abcdefgh1!",
                ok: true,
            },
            Case {
                pw: "Abcdefg1!",
                ok: false,
            },
            Case {
                pw: "abcdefgh1!",
                ok: false,
            },
            Case {
                pw: "ABCDEFGH1!",
                ok: false,
            },
            Case {
                pw: "Abcdefghi!",
                ok: false,
            },
            Case {
                pw: "Abcdefghi1",
                ok: false,
            },
        ];
        for c in cases {
            assert_eq!(p.check(c.pw).is_ok(), c.ok, "{}", c.pw);
        }
        let err = p.check("a").unwrap_err();
        assert_eq!(err.0.len(), 4);
    }

    #[test]
    fn ranges_validated() {
        let mut p = PasswordPolicy {
            minimum_password_length: 5,
            ..Default::default()
        };
        assert!(p.validate().is_err());
        p.minimum_password_length = 6;
        p.max_password_age = Some(0);
        assert!(p.validate().is_err());
        p.max_password_age = Some(90);
        p.password_reuse_prevention = Some(25);
        assert!(p.validate().is_err());
        p.password_reuse_prevention = Some(24);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn expiry_states() {
        let p = PasswordPolicy {
            max_password_age: Some(1),
            ..Default::default()
        };
        assert_eq!(p.state(0, false, 100), PasswordState::Valid);
        assert_eq!(p.state(0, true, 100), PasswordState::MustChange);
        assert_eq!(p.state(0, false, 86_400), PasswordState::MustChange);
        let hard = PasswordPolicy {
            hard_expiry: true,
            ..p
        };
        assert_eq!(hard.state(0, false, 86_400), PasswordState::HardExpired);
    }

    #[test]
    fn json_uses_aws_names() {
        let j = serde_json::to_value(PasswordPolicy::default()).unwrap();
        assert_eq!(j["MinimumPasswordLength"], 8);
        assert_eq!(j["AllowUsersToChangePassword"], true);
    }
}
