//! "Could `host:Login` be allowed for this user here?", asked when the SSH key export
//! is written, i.e. before anyone connects.
//!
//! The context is the one the PAM module builds, minus the keys only a real login
//! knows ([`UNKNOWN_AT_KEY_TIME`]). A decision that read any of those keys is
//! "possibly allowed"; only a denial that did not depend on them is certain. The PAM
//! `account` phase decides each real login with the full context, so this check can
//! only be more permissive than the real decision.

use crate::authz::{self, AuthzError};
use crate::policy::{self, Context, Decision, Effect, Request};
use crate::store::Store;

/// Condition keys left out at key time: the client address, MFA, and the clock (the
/// export is not rewritten as time passes).
pub const UNKNOWN_AT_KEY_TIME: &[&str] = &[
    "aws:SourceIp",
    "aws:MultiFactorAuthPresent",
    "aws:MultiFactorAuthAge",
    "aws:CurrentTime",
    "aws:EpochTime",
    "host:Tty",
];

/// Removes the keys a login would supply but key time cannot know.
pub fn strip_unknown(ctx: &mut Context) {
    for k in UNKNOWN_AT_KEY_TIME {
        ctx.remove(k);
    }
}

/// `None`: keys may be exported (allowed, or the outcome depends on unknown keys).
/// `Some(why)`: `host:Login` certainly cannot be allowed.
pub fn certain_denial(d: &Decision) -> Option<String> {
    if d.effect == Effect::Allowed || !d.missing_context.is_empty() {
        return None;
    }
    Some(match d.effect {
        Effect::ExplicitDeny => {
            let by: Vec<String> = d
                .matched
                .iter()
                .map(|m| match &m.sid {
                    Some(sid) => format!("{} statement {} ({sid})", m.source, m.index),
                    None => format!("{} statement {}", m.source, m.index),
                })
                .collect();
            format!("host:Login explicitly denied by {}", by.join(", "))
        }
        _ => "no policy statement can allow host:Login on this host".to_string(),
    })
}

/// The PAM service keys are exported for.
pub const SERVICE: &str = "sshd";

/// Environment variable naming this host for the key export (as `host=` does for the
/// PAM module).
pub const HOST_ENV: &str = "PAM_IAM_HOST";

/// The `host=NAME` argument of the first `pam_iam.so` line in `text` (a PAM file).
pub fn pam_host_option(text: &str) -> Option<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter(|l| l.contains("pam_iam.so"))
        .flat_map(|l| l.split_ascii_whitespace())
        .find_map(|t| t.strip_prefix("host="))
        .map(str::to_string)
}

/// The host name `pam_iam` evaluates `host:Login` for, so the export decides for the
/// same host ARN: `PAM_IAM_HOST`, else a `host=` option of `pam_iam.so` in
/// /etc/pam.d/sshd or /etc/pam.d/pam-iam, else the kernel's host name.
///
/// # Errors
/// The host name cannot be read.
pub fn host_name() -> Result<String, String> {
    if let Some(h) = std::env::var(HOST_ENV).ok().filter(|h| !h.is_empty()) {
        return Ok(h);
    }
    for f in ["/etc/pam.d/sshd", "/etc/pam.d/pam-iam"] {
        if let Some(h) = std::fs::read_to_string(f)
            .ok()
            .as_deref()
            .and_then(pam_host_option)
        {
            return Ok(h);
        }
    }
    Ok(nix::unistd::gethostname()
        .map_err(|e| format!("gethostname: {e}"))?
        .to_string_lossy()
        .into_owned())
}

/// Key-time `host:Login` check of `user` on this host (its host name and tags), for
/// [`super::store_source::StoreSource`]: `Ok(None)` possibly allowed, `Ok(Some(why))`
/// certainly denied (a malformed stored policy too: the PAM module fails closed on it).
/// Context and policy set come from [`crate::authz`], as for a real login.
///
/// # Errors
/// The store could not be read (the caller then leaves the export untouched).
pub fn check(store: &dyn Store, user: &str, host: &str) -> Result<Option<String>, String> {
    let host = host.to_string();
    let account = store.account_id().map_err(|e| e.to_string())?;
    let u = store.get_user(user).map_err(|e| e.to_string())?;
    let pols = store.user_policies(user).map_err(|e| e.to_string())?;
    let set = match authz::policy_set(&pols, crate::store::PrincipalKind::User, None) {
        Ok(set) => set,
        Err(e @ AuthzError::BadPolicy { .. }) => return Ok(Some(e.to_string())),
        Err(e) => return Err(e.to_string()),
    };
    let caller = authz::Caller::user(&u);
    let facts = authz::Request {
        service: Some(SERVICE.into()),
        ..authz::Request::new(
            authz::Principal::User(u.name.clone()),
            "host:Login",
            authz::Target::Host(host.clone()),
            0,
        )
    };
    let host_tags = store.list_host_tags(&host).map_err(|e| e.to_string())?;
    let mut ctx = authz::build_context(&caller, &host_tags, &facts);
    strip_unknown(&mut ctx);
    let req = Request {
        action: facts.action,
        resource: crate::arn::host(&account, &host),
        principal_arn: u.arn,
        context: ctx,
    };
    Ok(certain_denial(&policy::evaluate(&set, &req)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, PolicyKind, PolicySet, Source};

    const HOST: &str = "arn:aws:iam::123456789012:host/web1";

    fn decide(docs: &[&str]) -> Option<String> {
        let set = PolicySet {
            identity: docs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    (
                        Source::named(format!("p{i}")),
                        Policy::parse(d, PolicyKind::Managed).unwrap(),
                    )
                })
                .collect(),
            ..Default::default()
        };
        let mut context = Context::new()
            .with("aws:username", "alice")
            .with("aws:PrincipalType", "User")
            .with("host:Name", "web1")
            .with("host:Service", "sshd")
            .with("aws:SourceIp", "10.0.0.1")
            .with("aws:MultiFactorAuthPresent", "false")
            .with("aws:CurrentTime", "2026-11-28T06:00:00Z");
        strip_unknown(&mut context);
        let req = Request {
            action: "host:Login".into(),
            resource: HOST.into(),
            principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
            context,
        };
        certain_denial(&policy::evaluate(&set, &req))
    }

    fn doc(effect: &str, resource: &str, condition: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":"host:Login","Resource":"{resource}"{condition}}}]}}"#
        )
    }

    #[test]
    fn host_option_from_pam_files() {
        let f = "# pam_iam.so host=commented\n\
                 auth [success=done default=die] pam_iam.so mode=code host=web-1 debug\n\
                 account required pam_iam.so host=other\n";
        assert_eq!(pam_host_option(f).as_deref(), Some("web-1"));
        assert_eq!(pam_host_option("auth required pam_unix.so host=x\n"), None);
        assert_eq!(pam_host_option("@include pam-iam\n"), None);
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            docs: Vec<String>,
            certain: bool,
        }
        let allow = doc("Allow", "*", "");
        let cases = [
            Case {
                name: "plain allow",
                docs: vec![allow.clone()],
                certain: false,
            },
            Case {
                name: "no policy",
                docs: vec![],
                certain: true,
            },
            Case {
                name: "allow elsewhere only",
                docs: vec![doc("Allow", "arn:aws:iam::123456789012:host/db*", "")],
                certain: true,
            },
            Case {
                name: "unconditional deny",
                docs: vec![allow.clone(), doc("Deny", "*", "")],
                certain: true,
            },
            Case {
                name: "allow needs MFA",
                docs: vec![doc(
                    "Allow",
                    "*",
                    r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#,
                )],
                certain: false,
            },
            Case {
                name: "allow from a network",
                docs: vec![doc(
                    "Allow",
                    "*",
                    r#","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
                )],
                certain: false,
            },
            Case {
                name: "deny without MFA (IfExists)",
                docs: vec![
                    allow.clone(),
                    doc(
                        "Deny",
                        "*",
                        r#","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#,
                    ),
                ],
                certain: false,
            },
            Case {
                name: "deny by tag of this user",
                docs: vec![
                    allow.clone(),
                    doc(
                        "Deny",
                        "*",
                        r#","Condition":{"StringEquals":{"aws:username":"alice"}}"#,
                    ),
                ],
                certain: true,
            },
            Case {
                name: "allow only in office hours",
                docs: vec![doc(
                    "Allow",
                    "*",
                    r#","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}"#,
                )],
                certain: false,
            },
        ];
        for c in cases {
            let docs: Vec<&str> = c.docs.iter().map(String::as_str).collect();
            assert_eq!(decide(&docs).is_some(), c.certain, "{}", c.name);
        }
    }
}
