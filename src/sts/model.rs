//! STS names, limits and output shapes, as AWS defines them (pure, no I/O).

use serde_json::{Value, json};

/// Shortest role session AWS allows.
pub const MIN_DURATION: i64 = 900;
/// Role MaxSessionDuration when the role does not set one.
pub const DEFAULT_MAX_DURATION: i64 = 3600;
/// Longest session policy (AWS counts characters of the plain JSON).
pub const MAX_SESSION_POLICY_CHARS: usize = 2048;

/// Input that AWS would refuse with `ValidationError`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValidationError {
    /// `--role-arn` is not `arn:aws:iam::ACCOUNT:role/NAME`.
    #[error(
        "ValidationError: --role-arn {0:?} is not a role ARN (expected arn:aws:iam::ACCOUNT:role/NAME)"
    )]
    RoleArn(String),
    /// The role belongs to another account than this host's store.
    #[error("ValidationError: --role-arn is in account {got}, this host's account is {want}")]
    Account {
        /// Account in the ARN.
        got: String,
        /// Account of the store.
        want: String,
    },
    /// `--role-session-name` does not match `[\w+=,.@-]{2,64}`.
    #[error(
        "ValidationError: --role-session-name must be 2-64 characters of letters, digits and +=,.@_-"
    )]
    SessionName,
    /// `--duration-seconds` out of range.
    #[error("ValidationError: --duration-seconds must be between {min} and {max} for this role")]
    Duration {
        /// Lowest allowed.
        min: i64,
        /// Role's MaxSessionDuration.
        max: i64,
    },
    /// `--serial-number` is not an MFA device ARN.
    #[error(
        "ValidationError: --serial-number {0:?} is not an MFA device ARN (arn:aws:iam::ACCOUNT:mfa/NAME)"
    )]
    SerialNumber(String),
    /// `--token-code` is not 6 digits.
    #[error("ValidationError: --token-code must be 6 digits")]
    TokenCode,
    /// A member of `AssumeRole` beyond the role (source identity, session tags, managed
    /// session policies) that AWS would refuse: what is wrong with it.
    #[error("ValidationError: {0}")]
    Member(String),
    /// A role session asked for more than an hour (role chaining).
    #[error(
        "ValidationError: The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    )]
    ChainedDuration,
    /// `--policy` too long.
    #[error("PackedPolicyTooLarge: --policy is longer than {MAX_SESSION_POLICY_CHARS} characters")]
    PolicyTooLarge,
}

/// A parsed role ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    /// 12-digit account id.
    pub account: String,
    /// Role name (the last path segment).
    pub name: String,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// Parses `arn:aws:iam::ACCOUNT:role/[PATH/]NAME`.
pub fn parse_role_arn(arn: &str) -> Result<RoleArn, ValidationError> {
    let bad = || ValidationError::RoleArn(arn.chars().take(200).collect());
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
    let (account, res) = rest.split_once(':').ok_or_else(bad)?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let path = res.strip_prefix("role/").ok_or_else(bad)?;
    let name = path.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || name.len() > 64 || !name.chars().all(is_name_char) {
        return Err(bad());
    }
    Ok(RoleArn {
        account: account.to_string(),
        name: name.to_string(),
    })
}

/// Checks a role session name as AWS does: `[\w+=,.@-]{2,64}`.
pub fn validate_session_name(name: &str) -> Result<(), ValidationError> {
    if (2..=64).contains(&name.len()) && name.chars().all(is_name_char) {
        Ok(())
    } else {
        Err(ValidationError::SessionName)
    }
}

/// The session length: the requested one within `min..=max`, else the default
/// (3600 capped at the role's maximum), as AWS does.
pub fn session_duration(
    requested: Option<i64>,
    min: i64,
    max: i64,
) -> Result<i64, ValidationError> {
    match requested {
        None => Ok(DEFAULT_MAX_DURATION.min(max).max(min)),
        Some(d) if d >= min && d <= max => Ok(d),
        Some(_) => Err(ValidationError::Duration { min, max }),
    }
}

/// Checks an MFA serial (`arn:aws:iam::ACCOUNT:mfa/NAME`).
pub fn validate_serial(serial: &str) -> Result<(), ValidationError> {
    let ok = serial
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.split_once(":mfa/"))
        .is_some_and(|(acct, name)| {
            acct.len() == 12
                && acct.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty()
                && name.len() <= 128
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::SerialNumber(
            serial.chars().take(200).collect(),
        ))
    }
}

/// Checks a TOTP code's shape (6 digits).
pub fn validate_token_code(code: &str) -> Result<(), ValidationError> {
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ValidationError::TokenCode)
    }
}

/// What `assume-role` prints (AWS's AssumeRole response shape).
#[derive(Debug, Clone)]
pub struct AssumeRoleOutput {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key (shown once, stored hashed).
    pub secret_access_key: String,
    /// The session token (shown once, stored hashed).
    pub session_token: String,
    /// Unix seconds.
    pub expiration: i64,
    /// `AROA…:SESSION`.
    pub assumed_role_id: String,
    /// The assumed-role ARN.
    pub arn: String,
    /// The session's source identity (given or inherited by role chaining).
    pub source_identity: Option<String>,
    /// `PackedPolicySize` (percent), when session policies or tags were passed.
    pub packed_policy_size: Option<i64>,
}

impl AssumeRoleOutput {
    /// The JSON AWS prints.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "Credentials": {
                "AccessKeyId": self.access_key_id,
                "SecretAccessKey": self.secret_access_key,
                "SessionToken": self.session_token,
                "Expiration": crate::time::iso8601(self.expiration),
            },
            "AssumedRoleUser": {
                "AssumedRoleId": self.assumed_role_id,
                "Arn": self.arn,
            }
        });
        if let Some(s) = &self.source_identity {
            v["SourceIdentity"] = json!(s);
        }
        if let Some(n) = self.packed_policy_size {
            v["PackedPolicySize"] = json!(n);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        let r = parse_role_arn("arn:aws:iam::123456789012:role/admin");
        assert_eq!(
            r,
            Ok(RoleArn {
                account: "123456789012".into(),
                name: "admin".into()
            })
        );
        let r = parse_role_arn("arn:aws:iam::123456789012:role/ops/team/db-admin");
        assert_eq!(r.map(|r| r.name), Ok("db-admin".into()));
        for bad in [
            "",
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
            "arn:aws:sts::123456789012:role/x",
        ] {
            assert!(parse_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_names() {
        assert!(validate_session_name("alice@ops").is_ok());
        assert!(validate_session_name("a").is_err());
        assert!(validate_session_name(&"a".repeat(65)).is_err());
        assert!(validate_session_name("a/b").is_err());
        assert!(validate_session_name("a;rm").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(session_duration(None, 900, 3600), Ok(3600));
        assert_eq!(session_duration(None, 900, 1800), Ok(1800));
        assert_eq!(session_duration(Some(900), 900, 3600), Ok(900));
        assert!(session_duration(Some(899), 900, 3600).is_err());
        assert!(session_duration(Some(3601), 900, 3600).is_err());
        assert_eq!(session_duration(Some(5), 2, 3600), Ok(5));
    }

    #[test]
    fn serials_and_codes() {
        assert!(validate_serial("arn:aws:iam::123456789012:mfa/alice").is_ok());
        assert!(validate_serial("arn:aws:iam::123456789012:user/alice").is_err());
        assert!(validate_token_code("123456").is_ok());
        assert!(validate_token_code("12345a").is_err());
        assert!(validate_token_code("1234567").is_err());
    }

    #[test]
    fn output_shape() {
        let o = AssumeRoleOutput {
            access_key_id: "ASIAXXXX".into(),
            secret_access_key: "s".into(),
            session_token: "t".into(),
            expiration: 0,
            assumed_role_id: "AROAX:s1".into(),
            arn: crate::arn::assumed_role("123456789012", "admin", "s1"),
            source_identity: None,
            packed_policy_size: None,
        };
        let v = o.to_json();
        assert!(v.get("SourceIdentity").is_none() && v.get("PackedPolicySize").is_none());
        assert_eq!(v["Credentials"]["Expiration"], "1970-01-01T00:00:00Z");
        assert_eq!(
            v["AssumedRoleUser"]["Arn"],
            "arn:aws:sts::123456789012:assumed-role/admin/s1"
        );
    }
}
