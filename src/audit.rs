//! The audit trail's one vocabulary: an [`Event`] (what was asked, by whom, from where,
//! the [`Decision`] and why), written to the store by PAM, iam-sts, sudo and the CLI,
//! and its one authpriv syslog [`line`].

use serde::Serialize;

/// What was decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Allowed.
    #[default]
    Allow,
    /// Refused (a policy, a wrong credential, a lock).
    Deny,
    /// No decision could be made (the store, a malformed policy): refused.
    Error,
    /// Allowed once the password is changed (expired, or reset by an administrator).
    ChangeRequired,
}

impl Decision {
    /// The word stored and logged: `allow`, `deny`, `error`, `change_required`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Error => "error",
            Decision::ChangeRequired => "change_required",
        }
    }

    /// The stored word back; also the policy engine's words of old rows (`allowed`,
    /// `explicitDeny`, `implicitDeny`). `None` for anything else.
    pub fn parse(s: &str) -> Option<Decision> {
        Some(match s {
            "allow" | "allowed" => Decision::Allow,
            "deny" | "explicitDeny" | "implicitDeny" => Decision::Deny,
            "error" => Decision::Error,
            "change_required" => Decision::ChangeRequired,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision equals its stored word (`allow`, `deny`, …).
impl PartialEq<str> for Decision {
    fn eq(&self, word: &str) -> bool {
        self.as_str() == word
    }
}

impl PartialEq<&str> for Decision {
    fn eq(&self, word: &&str) -> bool {
        self.as_str() == *word
    }
}

/// One audit trail entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Event {
    /// Unix seconds.
    pub time: i64,
    /// User name as given.
    pub user: String,
    /// PAM service (`sshd`, `sudo`) or `iam`/`iam-sts`; empty when PAM has none.
    pub service: String,
    /// Remote host, if any.
    pub rhost: Option<String>,
    /// Terminal, if any.
    pub tty: Option<String>,
    /// `authenticate`, `host:Login`, `host:Sudo`, `chauthtok`, `open_session`,
    /// `sts:AssumeRole`, `iam:CreateUser`, …
    pub action: String,
    /// What was decided.
    pub decision: Decision,
    /// Why.
    pub reason: String,
}

/// The syslog line of an event, the same for the PAM module and iam-sts. Values are
/// quoted and escaped: PAM_USER and PAM_RHOST come from the network.
pub fn line(e: &Event) -> String {
    format!(
        "{} {} user={:?} service={:?} rhost={:?} tty={:?} reason={:?}",
        e.action,
        e.decision,
        e.user,
        e.service,
        e.rhost.as_deref().unwrap_or(""),
        e.tty.as_deref().unwrap_or(""),
        e.reason
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_escapes_network_values() {
        let e = Event {
            time: 1,
            user: "ev\"il\nuser".into(),
            service: "sshd".into(),
            rhost: None,
            tty: Some("ssh".into()),
            action: "auth".into(),
            decision: Decision::Deny,
            reason: "wrong password".into(),
        };
        assert_eq!(
            line(&e),
            r#"auth deny user="ev\"il\nuser" service="sshd" rhost="" tty="ssh" reason="wrong password""#
        );
    }

    #[test]
    fn decisions_round_trip() {
        for d in [
            Decision::Allow,
            Decision::Deny,
            Decision::Error,
            Decision::ChangeRequired,
        ] {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
        }
        assert_eq!(Decision::parse("maybe"), None);
    }
}
