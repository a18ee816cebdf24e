//! The sudo decision: may the role session in effect for this terminal run sudo here?
//!
//! Called by the PAM module inside `sudo` (auth and account of the `sudo` service). The
//! user is the invoking user (sudo's real uid), the scope is the sudo process's own
//! terminal scope — the same one `iam-sts assume-role` recorded when run in that
//! terminal. Every decision is audited; the PAM side writes the syslog line.

use zeroize::Zeroizing;

use super::assume::{Prompt, verify_mfa, wants_mfa};
use super::backend::{Backend, Listed, StsRole};
use super::error::StsError;
use super::scope::{TerminalScope, describe_key};
use crate::audit::{Decision, Event};
use crate::authz::{Principal, Request, Target};
use crate::credentials::second_factor::CODE_PROMPT;

/// One sudo run to decide.
#[derive(Debug, Clone)]
pub struct SudoRequest {
    /// The invoking user (name of sudo's real uid).
    pub user: String,
    /// The terminal scope of the sudo process (`scope::current()`).
    pub scope: TerminalScope,
    /// PAM_SERVICE.
    pub service: Option<String>,
    /// PAM_TTY.
    pub tty: Option<String>,
    /// PAM_RHOST.
    pub rhost: Option<String>,
    /// Unix seconds.
    pub now: i64,
    /// The decision may ask for a TOTP code (auth phase), not in the account phase.
    pub may_prompt: bool,
    /// Fleet mode: whether the host decides offline (`pam-iam:Offline`); `None` on a
    /// local store.
    pub offline: Option<bool>,
    /// Fleet mode, offline: sessions count only before this time (the agent's last
    /// contact with iamd plus its offline session cap).
    pub honour_until: Option<i64>,
}

/// What PAM makes of the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SudoOutcome {
    /// The session allows `host:Sudo` on this host.
    Allowed {
        /// For the syslog line.
        reason: String,
    },
    /// Denied; `message` tells the user what to do (PAM_ERROR_MSG).
    Denied {
        /// For the syslog line.
        reason: String,
        /// For the person at the terminal.
        message: String,
    },
    /// The invoking user is not an IAM user: this module has no say.
    NotIamUser,
    /// The store or the policies cannot be used: fail closed.
    Unavailable(String),
}

fn how_to_assume(account: &str, last: Option<&Listed>) -> String {
    match last {
        Some(s) => format!(
            "iam-sts assume-role --role-arn {} --role-session-name {}",
            s.role_arn, s.session_name
        ),
        None => format!(
            "iam-sts assume-role --role-arn arn:aws:iam::{account}:role/ROLE --role-session-name NAME"
        ),
    }
}

/// Decides a sudo run and audits it.
pub fn sudo_decision(b: &Backend, req: &SudoRequest, prompt: &mut Prompt<'_>) -> SudoOutcome {
    let outcome = match decide(b, req, prompt) {
        Ok(o) => o,
        Err(e) => SudoOutcome::Unavailable(e.to_string()),
    };
    let (decision, reason) = match &outcome {
        SudoOutcome::Allowed { reason } => (Decision::Allow, reason.clone()),
        SudoOutcome::Denied { reason, .. } => (Decision::Deny, reason.clone()),
        SudoOutcome::NotIamUser => return outcome,
        SudoOutcome::Unavailable(r) => (Decision::Error, r.clone()),
    };
    let rec = Event {
        time: req.now,
        action: "host:Sudo".to_string(),
        user: req.user.clone(),
        decision,
        reason: format!(
            "{} ({}): {reason}",
            req.service.as_deref().unwrap_or("sudo"),
            if req.may_prompt { "auth" } else { "account" }
        ),
        service: req.service.clone().unwrap_or_else(|| "sudo".to_string()),
        rhost: None,
        tty: Some(req.scope.describe()),
    };
    match b.audit(&rec) {
        Ok(()) => outcome,
        // Unaudited elevation is not allowed.
        Err(e) if decision == Decision::Allow => SudoOutcome::Unavailable(e.to_string()),
        Err(_) => outcome,
    }
}

fn decide(
    b: &Backend,
    req: &SudoRequest,
    prompt: &mut Prompt<'_>,
) -> Result<SudoOutcome, StsError> {
    let Some(user) = b.user(&req.user)? else {
        return Ok(SudoOutcome::NotIamUser);
    };
    let account = b.account_id()?;
    let host = b.host_name()?;
    let host_arn = crate::arn::host(&account, &host);
    // Active sessions first (the common case stays small); all of them only to explain
    // a denial.
    let live = b.sessions_of(&user.name, Some(req.now))?;
    let key = req.scope.key();
    let here = live
        .iter()
        .filter(|s| s.scope == key && s.active(req.now))
        .max_by_key(|s| s.issued);
    let Some(session) = here else {
        let all = b.sessions_of(&user.name, None)?;
        return Ok(no_session(&account, &all, &key, req.now));
    };
    let session_arn = crate::arn::assumed_role(&account, &session.role_name, &session.session_name);
    if let Some(until) = req.honour_until.filter(|u| req.now >= *u) {
        return Ok(deny(
            format!(
                "{session_arn} ({}): offline, and role sessions are honoured offline only until {}",
                session.session_id,
                crate::time::iso8601(until)
            ),
            format!(
                "this host cannot reach iamd, and your role session {} is honoured offline only until {} (a revocation could not reach this host); sudo works again once the host is back online",
                session.session_name,
                crate::time::iso8601(until)
            ),
        ));
    }

    let mut current = session.session.clone();
    let mut asked = false;
    loop {
        let q = Request {
            principal: Principal::Session(Box::new(current.clone())),
            action: "host:Sudo".to_string(),
            target: Target::Host(host.clone()),
            mfa_time: current.mfa_time,
            service: req.service.clone(),
            tty: req.tty.clone(),
            rhost: req
                .rhost
                .clone()
                .filter(|h| h.parse::<std::net::IpAddr>().is_ok()),
            now: req.now,
            offline: req.offline,
            call: crate::authz::CallFacts::default(),
            assume: crate::authz::AssumeFacts::default(),
            user: None,
            user_policies: None,
        };
        let v = b.authorize(&q)?;
        if v.allowed {
            return Ok(SudoOutcome::Allowed {
                reason: format!(
                    "{session_arn} ({}) allowed host:Sudo on {host_arn}: {}",
                    current.session_id, v.reason
                ),
            });
        }
        let role_stub = StsRole {
            name: current.role_name.clone(),
            arn: session.role_arn.clone(),
            id: current.role_id.clone().unwrap_or_default(),
            max_session_duration: 0,
            trust_policy: String::new(),
        };
        if req.may_prompt && !asked && user.mfa.is_some() && wants_mfa(&[&v], &role_stub) {
            asked = true;
            let Some(code) = prompt(CODE_PROMPT) else {
                return Ok(deny(
                    format!("{session_arn}: host:Sudo needs a recent MFA code and none was given"),
                    "sudo through your role needs a fresh verification code".to_string(),
                ));
            };
            if let Err(e) = verify_mfa(b, &user, None, &code) {
                return Ok(deny(format!("{session_arn}: {e}"), e.to_string()));
            }
            b.set_session_mfa(&current.session_id, req.now)?;
            current.mfa_time = Some(req.now);
            continue;
        }
        return Ok(deny(
            format!("{session_arn} denied host:Sudo on {host_arn}: {}", v.reason),
            format!(
                "your role session {} (role {}) is not allowed host:Sudo on {host}{}",
                current.session_name,
                current.role_name,
                if v.explicit_deny {
                    " (explicitly denied: the session may have been revoked by an administrator)"
                } else {
                    ""
                }
            ),
        ));
    }
}

fn deny(reason: String, message: String) -> SudoOutcome {
    SudoOutcome::Denied { reason, message }
}

fn no_session(account: &str, sessions: &[Listed], key: &str, now: i64) -> SudoOutcome {
    let latest_here = sessions
        .iter()
        .filter(|s| s.scope == key)
        .max_by_key(|s| s.issued);
    let active_elsewhere = sessions
        .iter()
        .filter(|s| s.scope != key && !s.is_api() && s.active(now))
        .max_by_key(|s| s.issued);
    let last = latest_here.or(active_elsewhere).or(sessions.first());
    let run = how_to_assume(account, last);
    let (reason, what) = match (latest_here, active_elsewhere) {
        (Some(s), _) if s.revoked.is_some() => (
            format!("role session {} was revoked", s.session_id),
            format!("your role session {} was revoked", s.session_name),
        ),
        (Some(s), _) if now < s.expires && s.ended.is_some() => {
            let why = s.ended.clone().unwrap_or_default();
            (
                format!("role session {} ended: {why}", s.session_id),
                format!("your role session {} ended: {why}", s.session_name),
            )
        }
        (Some(s), _) => (
            format!("role session {} expired", s.session_id),
            format!(
                "your role session {} expired at {}",
                s.session_name,
                crate::time::iso8601(s.expires)
            ),
        ),
        (None, Some(s)) => (
            format!(
                "role session {} belongs to another terminal ({})",
                s.session_id,
                describe_key(&s.scope)
            ),
            format!(
                "your role session {} belongs to another terminal ({}); role sessions work only where they were assumed",
                s.session_name,
                describe_key(&s.scope)
            ),
        ),
        (None, None) => (
            "no role session in this terminal".to_string(),
            "sudo needs a role session in this terminal".to_string(),
        ),
    };
    deny(reason, format!("{what}. Run: {run}"))
}

/// The PAM module's one call: open the store at `db` (safe-open checks, never created),
/// decide, audit. `host`: the module's `host=` option, else the kernel's host name.
pub fn sudo_decision_at(
    db: &str,
    host: Option<&str>,
    req: &SudoRequest,
    prompt: &mut Prompt<'_>,
) -> SudoOutcome {
    match Backend::open(db, false, host) {
        Ok(b) => sudo_decision(&b, req, prompt),
        Err(e) => SudoOutcome::Unavailable(e.to_string()),
    }
}

/// Keeps the prompt type nameable for the PAM side.
pub fn no_prompt(_: &str) -> Option<Zeroizing<String>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sts::assume::{AssumeRoleArgs, assume_role};
    use crate::sts::testing::{World, ctx, scope};

    fn assume(f: &World, user: &str, role: &str, duration: Option<i64>) {
        let a = AssumeRoleArgs {
            role_arn: format!("arn:aws:iam::123456789012:role/{role}"),
            session_name: "s1".to_string(),
            duration,
            ..Default::default()
        };
        let mut p = |_: &str| Some(crate::sts::testing::good_code());
        if let Err(e) = assume_role(f, &ctx(user), &a, &mut p) {
            panic!("{e}");
        }
    }

    fn req(user: &str, tty: u32, now: i64) -> SudoRequest {
        SudoRequest {
            user: user.to_string(),
            scope: scope(tty),
            service: Some("sudo".to_string()),
            tty: Some("/dev/pts/0".to_string()),
            rhost: None,
            now,
            may_prompt: false,
            offline: None,
            honour_until: None,
        }
    }

    fn run(f: &World, r: &SudoRequest) -> SudoOutcome {
        sudo_decision(f, r, &mut no_prompt)
    }

    #[test]
    fn session_in_this_terminal_allows() {
        let f = World::new();
        assume(&f, "alice", "admin", None);
        assert!(matches!(
            run(&f, &req("alice", 34816, 1100)),
            SudoOutcome::Allowed { .. }
        ));
        assert_eq!(f.audits().last().map(|a| a.decision), Some(Decision::Allow));
    }

    #[test]
    fn no_session_denies_and_says_what_to_run() {
        let f = World::new();
        match run(&f, &req("alice", 34816, 1100)) {
            SudoOutcome::Denied { message, .. } => {
                assert!(
                    message.contains("iam-sts assume-role --role-arn"),
                    "{message}"
                )
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn other_terminal_denies() {
        let f = World::new();
        assume(&f, "alice", "admin", None);
        match run(&f, &req("alice", 34817, 1100)) {
            SudoOutcome::Denied { message, .. } => {
                assert!(message.contains("another terminal"), "{message}");
                assert!(message.contains("role/admin"), "{message}");
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn other_user_and_non_iam_user() {
        let f = World::new();
        assume(&f, "alice", "admin", None);
        assert!(matches!(
            run(&f, &req("bob", 34816, 1100)),
            SudoOutcome::Denied { .. }
        ));
        assert_eq!(run(&f, &req("root", 34816, 1100)), SudoOutcome::NotIamUser);
    }

    #[test]
    fn expiry_and_revoke_deny() {
        let f = World::new();
        assume(&f, "alice", "admin", Some(900));
        match run(&f, &req("alice", 34816, 1900)) {
            SudoOutcome::Denied { message, .. } => {
                assert!(message.contains("expired"), "{message}")
            }
            o => panic!("{o:?}"),
        }
        let f = World::new();
        assume(&f, "alice", "admin", None);
        let id = f.sessions()[0].session_id.clone();
        assert_eq!(f.revoke_session("alice", &id, None, 1050).ok(), Some(true));
        match run(&f, &req("alice", 34816, 1100)) {
            SudoOutcome::Denied { message, .. } => {
                assert!(message.contains("revoked"), "{message}")
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn a_recreated_role_ends_its_old_sessions() {
        let f = World::new();
        assume(&f, "alice", "admin", None);
        f.recreate_role("admin");
        match run(&f, &req("alice", 34816, 1100)) {
            SudoOutcome::Denied { message, .. } => {
                assert!(message.contains("deleted and created again"), "{message}");
                assert!(message.contains("Run: iam-sts assume-role"), "{message}");
            }
            o => panic!("{o:?}"),
        }
        // A new session of the new role works.
        assume(&f, "alice", "admin", None);
        assert!(matches!(
            run(&f, &req("alice", 34816, 1100)),
            SudoOutcome::Allowed { .. }
        ));
    }

    #[test]
    fn role_without_sudo_denies() {
        let f = World::new();
        assume(&f, "alice", "viewer", None);
        assert!(matches!(
            run(&f, &req("alice", 34816, 1100)),
            SudoOutcome::Denied { .. }
        ));
    }

    #[test]
    fn recent_mfa_reprompts_in_auth_only() {
        let f = World::new();
        assume(&f, "alice", "recent-mfa", None);
        // No MFA in the session, account phase: denied without asking.
        assert!(matches!(
            run(&f, &req("alice", 34816, 1100)),
            SudoOutcome::Denied { .. }
        ));
        let mut r = req("alice", 34816, 1100);
        r.may_prompt = true;
        let mut asked = 0;
        let mut p = |_: &str| {
            asked += 1;
            Some(crate::sts::testing::good_code())
        };
        let o = sudo_decision(&f, &r, &mut p);
        assert!(matches!(o, SudoOutcome::Allowed { .. }), "{o:?}");
        assert_eq!(asked, 1);
        // The proof is now in the session: the account phase allows too.
        assert!(matches!(
            run(&f, &req("alice", 34816, 1200)),
            SudoOutcome::Allowed { .. }
        ));
        // Too old again later.
        assert!(matches!(
            run(&f, &req("alice", 34816, 1500)),
            SudoOutcome::Denied { .. }
        ));
    }

    #[test]
    fn wrong_codes_at_the_reprompt_count_toward_the_login_lockout() {
        let f = World::new();
        assume(&f, "alice", "recent-mfa", None);
        f.set_lockout(3, 900);
        f.clock.advance_ms(1_000);
        let mut r = req("alice", 34816, 1100);
        r.may_prompt = true;
        for i in 0..3 {
            let o = sudo_decision(&f, &r, &mut |_: &str| Some(Zeroizing::new("000000".into())));
            assert!(
                matches!(o, SudoOutcome::Denied { .. }),
                "attempt {i}: {o:?}"
            );
            f.clock.advance_ms(1_000);
        }
        assert_eq!(f.failures("alice"), 3);
        let o = sudo_decision(
            &f,
            &r,
            &mut |_: &str| Some(crate::sts::testing::good_code()),
        );
        match o {
            SudoOutcome::Denied { message, .. } => assert!(message.contains("locked"), "{message}"),
            o => panic!("{o:?}"),
        }
        assert_eq!(f.sessions()[0].mfa_time, None, "no MFA proof recorded");
    }
}
