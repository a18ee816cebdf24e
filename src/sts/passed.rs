//! What an `AssumeRole` call passes to its session beyond the role — a source identity,
//! session tags (some transitive) and managed session policies — checked as AWS checks
//! them, and merged with what a calling role session passes on (role chaining: its
//! source identity, which cannot change, and its transitive tags, which cannot be
//! overridden). Pure: no store, no policy.

use super::error::StsError;
use super::model::ValidationError;
use crate::store::{SessionContext, Tag};

/// Most session tags (and transitive tag keys) one call passes.
pub const MAX_TAGS: usize = 50;
/// Most managed session policies one call passes.
pub const MAX_POLICY_ARNS: usize = 10;

/// What the call passes (in AWS's member names when it travels: fleet mode's
/// `iam-sts` → agent → iamd).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default, deny_unknown_fields)]
pub struct Passed {
    /// `SourceIdentity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// `Tags`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// `TransitiveTagKeys`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,
    /// `PolicyArns` (their ARNs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policy_arns: Vec<String>,
}

fn invalid(why: String) -> StsError {
    ValidationError::Member(why).into()
}

/// `[\w+=,.@-]`: the characters of a source identity (and of a role session name).
pub fn identity_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: the characters of tag keys and values.
pub fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// Starts with `aws:` in any case (AWS reserves the prefix); never slices inside a
/// character.
fn reserved(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

fn check_key(key: &str, what: &str) -> Result<(), StsError> {
    let n = key.chars().count();
    if !(1..=128).contains(&n) || !key.chars().all(tag_char) {
        return Err(invalid(format!(
            "{what} {key:?} must be 1-128 letters, digits, spaces and _.:/=+-@"
        )));
    }
    if reserved(key) {
        return Err(invalid(format!(
            "{what} {key:?}: keys starting with aws: are reserved for AWS use"
        )));
    }
    Ok(())
}

impl Passed {
    /// Whether the call passes nothing beyond the role.
    pub fn is_empty(&self) -> bool {
        *self == Passed::default()
    }

    /// Check the members as AWS does: a source identity of 2-256 characters of
    /// `[\w+=,.@-]` (so never `aws:…`, which AWS reserves); at most 50 tags, keys 1-128 and values
    /// 0-256 characters of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, keys unique ignoring case;
    /// transitive keys among the tags passed; at most 10 policy ARNs of this account
    /// (or AWS managed).
    ///
    /// # Errors
    /// [`ValidationError::Member`] naming the member at fault.
    pub fn validate(&self, account: &str) -> Result<(), StsError> {
        if let Some(s) = &self.source_identity {
            let n = s.chars().count();
            if !(2..=256).contains(&n) || !s.chars().all(identity_char) {
                return Err(invalid(
                    "SourceIdentity must be 2-256 letters, digits and +=,.@_-".into(),
                ));
            }
        }
        if self.tags.len() > MAX_TAGS {
            return Err(invalid(format!(
                "Tags: at most {MAX_TAGS} session tags, {} given",
                self.tags.len()
            )));
        }
        for (i, t) in self.tags.iter().enumerate() {
            check_key(&t.key, "Tags: key")?;
            if t.value.chars().count() > 256 || !t.value.chars().all(tag_char) {
                return Err(invalid(format!(
                    "Tags: the value of {:?} must be at most 256 letters, digits, spaces and _.:/=+-@",
                    t.key
                )));
            }
            if self.tags[..i]
                .iter()
                .any(|u| u.key.eq_ignore_ascii_case(&t.key))
            {
                return Err(invalid(format!(
                    "Tags: duplicate tag key {:?} (tag keys are case insensitive)",
                    t.key
                )));
            }
        }
        if self.transitive_tag_keys.len() > MAX_TAGS {
            return Err(invalid(format!(
                "TransitiveTagKeys: at most {MAX_TAGS} keys"
            )));
        }
        for k in &self.transitive_tag_keys {
            check_key(k, "TransitiveTagKeys:")?;
            if !self.tags.iter().any(|t| t.key.eq_ignore_ascii_case(k)) {
                return Err(invalid(format!(
                    "TransitiveTagKeys: {k:?} is not the key of a session tag passed in Tags"
                )));
            }
        }
        if self.policy_arns.len() > MAX_POLICY_ARNS {
            return Err(invalid(format!(
                "PolicyArns: at most {MAX_POLICY_ARNS} managed session policies, {} given",
                self.policy_arns.len()
            )));
        }
        for a in &self.policy_arns {
            let ok = a
                .strip_prefix("arn:aws:iam::")
                .and_then(|r| r.split_once(":policy/"))
                .is_some_and(|(acct, name)| (acct == account || acct == "aws") && !name.is_empty());
            if !ok {
                return Err(invalid(format!(
                    "PolicyArns: {a:?} is not a managed policy ARN of account {account} (arn:aws:iam::{account}:policy/NAME)"
                )));
            }
        }
        Ok(())
    }

    /// The new session's context: what the call passes, with what the calling role
    /// session (`parent`) passes on: its source identity (which cannot change) and its
    /// transitive tags (which the call cannot pass again).
    ///
    /// # Errors
    /// `AccessDenied` for another source identity than the calling session's;
    /// `ValidationError` for a tag whose key the calling session passes on.
    pub fn session_context(
        &self,
        parent: Option<&SessionContext>,
    ) -> Result<SessionContext, StsError> {
        let mut c = SessionContext {
            source_identity: self.source_identity.clone(),
            tags: self.tags.clone(),
            transitive_tag_keys: self.transitive_tag_keys.clone(),
            policy_arns: self.policy_arns.clone(),
        };
        let Some(p) = parent else { return Ok(c) };
        match (&p.source_identity, &self.source_identity) {
            (Some(had), Some(asked)) if had != asked => {
                return Err(StsError::AccessDenied(format!(
                    "the source identity of the calling session ({had}) cannot be changed to {asked}"
                )));
            }
            (Some(had), _) => c.source_identity = Some(had.clone()),
            (None, _) => {}
        }
        for k in &p.transitive_tag_keys {
            let Some(t) = p.tags.iter().find(|t| t.key.eq_ignore_ascii_case(k)) else {
                continue;
            };
            if self.tags.iter().any(|x| x.key.eq_ignore_ascii_case(k)) {
                return Err(invalid(format!(
                    "Tags: {k:?} is a transitive tag of the calling session and cannot be passed again"
                )));
            }
            c.tags.push(t.clone());
            c.transitive_tag_keys.push(t.key.clone());
        }
        Ok(c)
    }

    /// A rough share (percent) of the session policy quota the passed policies and tags
    /// use: AWS's `PackedPolicySize` (its packing is not public; this counts
    /// characters against the 2,048-character quota).
    pub fn packed_percent(&self, policy: Option<&str>) -> i64 {
        let chars = policy.map_or(0, |p| p.chars().filter(|c| !c.is_whitespace()).count())
            + self.policy_arns.iter().map(String::len).sum::<usize>()
            + self
                .tags
                .iter()
                .map(|t| t.key.chars().count() + t.value.chars().count())
                .sum::<usize>();
        i64::try_from(chars.saturating_mul(100).div_ceil(2048)).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    const ACCT: &str = "123456789012";

    #[test]
    fn members_are_checked() {
        let ok = Passed {
            source_identity: Some("alice@corp".into()),
            tags: vec![tag("team", "web"), tag("cost center", "")],
            transitive_tag_keys: vec!["Team".into()],
            policy_arns: vec![
                format!("arn:aws:iam::{ACCT}:policy/p"),
                "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
            ],
        };
        assert!(ok.validate(ACCT).is_ok());
        let bad = |f: &dyn Fn(&mut Passed)| {
            let mut p = ok.clone();
            f(&mut p);
            p.validate(ACCT)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(bad(&|p| p.source_identity = Some("a".into())).contains("SourceIdentity"));
        // AWS reserves `aws:`; its pattern has no `:` at all.
        assert!(bad(&|p| p.source_identity = Some("aws:me".into())).contains("SourceIdentity"));
        assert!(bad(&|p| p.source_identity = Some("a b".into())).contains("SourceIdentity"));
        assert!(bad(&|p| p.tags.push(tag("TEAM", "x"))).contains("duplicate"));
        assert!(bad(&|p| p.tags.push(tag("aws:x", "x"))).contains("reserved"));
        assert!(bad(&|p| p.tags.push(tag("AWS:x", "x"))).contains("reserved"));
        // Keys of letters beyond ASCII are checked without slicing inside a character.
        let mut wide = ok.clone();
        wide.tags.push(tag("aéé", "ü"));
        assert!(wide.validate(ACCT).is_ok());
        assert!(bad(&|p| p.tags.push(tag("k", &"v".repeat(257)))).contains("value"));
        assert!(bad(&|p| p.tags.push(tag("k<", "v"))).contains("key"));
        assert!(
            bad(&|p| p.tags = (0..51).map(|i| tag(&format!("k{i}"), "")).collect())
                .contains("at most 50")
        );
        assert!(bad(&|p| p.transitive_tag_keys.push("env".into())).contains("not the key"));
        assert!(
            bad(&|p| p
                .policy_arns
                .push("arn:aws:iam::999999999999:policy/p".into()))
            .contains("PolicyArns")
        );
        assert!(
            bad(&|p| p.policy_arns = (0..11)
                .map(|i| format!("arn:aws:iam::{ACCT}:policy/p{i}"))
                .collect())
            .contains("at most 10")
        );
    }

    #[test]
    fn chained_sessions_keep_source_identity_and_transitive_tags() {
        let parent = SessionContext {
            source_identity: Some("alice".into()),
            tags: vec![tag("team", "web"), tag("env", "dev")],
            transitive_tag_keys: vec!["team".into()],
            policy_arns: vec![format!("arn:aws:iam::{ACCT}:policy/p")],
        };
        let p = Passed {
            tags: vec![tag("task", "fix")],
            ..Passed::default()
        };
        let c = p.session_context(Some(&parent)).unwrap();
        assert_eq!(c.source_identity.as_deref(), Some("alice"));
        assert_eq!(c.tags, vec![tag("task", "fix"), tag("team", "web")]);
        assert_eq!(c.transitive_tag_keys, vec!["team".to_string()]);
        assert!(
            c.policy_arns.is_empty(),
            "managed session policies do not carry over"
        );
        let same = Passed {
            source_identity: Some("alice".into()),
            ..Passed::default()
        };
        assert!(same.session_context(Some(&parent)).is_ok());
        let other = Passed {
            source_identity: Some("mallory".into()),
            ..Passed::default()
        };
        assert!(matches!(
            other.session_context(Some(&parent)),
            Err(StsError::AccessDenied(_))
        ));
        let again = Passed {
            tags: vec![tag("TEAM", "ops")],
            ..Passed::default()
        };
        assert!(again.session_context(Some(&parent)).is_err());
    }
}
