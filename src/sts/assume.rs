//! `assume-role`: who may become which role, for how long, with which proof.
//!
//! Read top to bottom: check the input → find caller and role → MFA proof → identity
//! policy and trust policy (asking for a code when the policies want MFA) → mint the
//! credentials → store the session hashed → audit.

use zeroize::Zeroizing;

use crate::credentials::ids::{self, IdKind};
use crate::credentials::second_factor::{self, Attempt, Device, Outcome};
use crate::credentials::{recovery, totp};

use super::backend::{Backend, StsRole, StsUser};
use super::error::StsError;
use super::harden::SignalGuard;
use super::model::{self, AssumeRoleOutput, MAX_SESSION_POLICY_CHARS, ValidationError};
use super::passed::Passed;
use super::scope::TerminalScope;
use crate::audit::{Decision, Event};
use crate::authz::{AssumeFacts, CallFacts, Principal, Request, Target, Verdict};
use crate::store::{RoleSession, SessionContext};

use crate::credentials::second_factor::CODE_PROMPT;

/// Asks the person at the terminal; `None` when there is no terminal to ask.
pub type Prompt<'a> = dyn FnMut(&str) -> Option<Zeroizing<String>> + 'a;

/// `assume-role`'s arguments.
#[derive(Debug, Default, Clone)]
pub struct AssumeRoleArgs {
    /// `--role-arn`.
    pub role_arn: String,
    /// `--role-session-name`.
    pub session_name: String,
    /// `--duration-seconds`.
    pub duration: Option<i64>,
    /// `--serial-number`.
    pub serial: Option<String>,
    /// `--token-code`.
    pub code: Option<Zeroizing<String>>,
    /// `--policy` (JSON).
    pub policy: Option<String>,
    /// `ExternalId`: the trust policy's `sts:ExternalId` condition key.
    pub external_id: Option<String>,
    /// `SourceIdentity`, session `Tags`, `TransitiveTagKeys`, `PolicyArns`.
    pub passed: Passed,
    /// The role session making the call (role chaining: it must be trusted by the
    /// role, and the new session lasts at most an hour); `None` for an IAM user.
    pub from_session: Option<Box<RoleSession>>,
}

/// Longest session of a role assumed by a role session (AWS's role-chaining limit).
pub const CHAINED_MAX_DURATION: i64 = 3600;

/// Who calls, from where, when.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// IAM (= Linux) user name of the real uid.
    pub user: String,
    /// The terminal scope of the caller.
    pub scope: TerminalScope,
    /// Unix seconds.
    pub now: i64,
}

/// How a new session's credentials are kept, which decides where they work.
#[derive(Clone, Copy)]
pub enum Keeping<'k> {
    /// iam-sts: bound to the caller's terminal; secret and token stored only as one hash.
    Terminal,
    /// iamd: for SigV4 over the API; the secret sealed under the server's key
    /// (`credentials::sealed`, bound to the access key id), the token stored as a hash.
    Api {
        /// The server's sealing key.
        secrets_key: &'k [u8],
    },
}

/// Who issues a session and where its caller is: the program named in the audit trail,
/// the session's scope, the audit's terminal or source address, how credentials are kept.
pub struct Issuer<'k> {
    /// `iam-sts` or `iamd`.
    pub service: &'static str,
    /// What the session is bound to (`RoleSession::scope`).
    pub scope: String,
    /// The terminal, for the audit trail.
    pub tty: Option<String>,
    /// The client's address, for the audit trail and `aws:SourceIp`.
    pub rhost: Option<String>,
    /// How the credentials are kept.
    pub keeping: Keeping<'k>,
    /// Fleet mode: the host the session is for (the host credential's, never one a
    /// request names); only that host's replica carries it.
    pub host: Option<String>,
}

impl Issuer<'_> {
    /// iam-sts in the caller's terminal.
    pub fn terminal(scope: &TerminalScope) -> Issuer<'static> {
        Issuer {
            service: "iam-sts",
            scope: scope.key(),
            tty: Some(scope.describe()),
            rhost: None,
            keeping: Keeping::Terminal,
            host: None,
        }
    }
}

/// Fresh credentials for a session, and what the store keeps of them.
pub struct Minted {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key (shown once).
    pub secret: Zeroizing<String>,
    /// The session token (shown once).
    pub token: Zeroizing<String>,
    /// What `RoleSession::token_hash` stores.
    pub token_hash: String,
    /// What `RoleSession::secret_sealed` stores.
    pub secret_sealed: Option<Vec<u8>>,
}

/// Mint a session's credentials from the OS random generator, kept as `keeping` says.
///
/// # Errors
/// [`StsError::Internal`] when the random generator or the sealing fails.
pub fn mint(b: &Backend, keeping: Keeping<'_>) -> Result<Minted, StsError> {
    let key_bytes = b.random(16)?;
    let secret_bytes = b.random(40)?;
    let token_bytes = b.random(128)?;
    let access_key_id = ids::id_from_bytes(IdKind::SessionKey, &key_bytes);
    let secret = ids::secret_from_bytes(&secret_bytes);
    let token = ids::secret_from_bytes(&token_bytes);
    let (token_hash, secret_sealed) = match keeping {
        Keeping::Terminal => {
            let hash_input = Zeroizing::new(format!("{}:{}", secret.as_str(), token.as_str()));
            (b.hash_secret(hash_input.as_bytes()), None)
        }
        Keeping::Api { secrets_key } => {
            let sealed =
                crate::credentials::sealed::seal(secrets_key, &access_key_id, secret.as_bytes())
                    .map_err(|e| StsError::Internal(format!("sealing the session secret: {e}")))?;
            (b.hash_secret(token.as_bytes()), Some(sealed))
        }
    };
    Ok(Minted {
        access_key_id,
        secret,
        token,
        token_hash,
        secret_sealed,
    })
}

/// Assumes a role and stores the session; every outcome is audited.
pub fn assume_role(
    b: &Backend,
    ctx: &CallContext,
    args: &AssumeRoleArgs,
    prompt: &mut Prompt<'_>,
) -> Result<AssumeRoleOutput, StsError> {
    // An allowed session is audited in the same transaction that stores it; a refusal
    // is audited here.
    let issuer = Issuer::terminal(&ctx.scope);
    let e = match assume_role_as(b, &ctx.user, ctx.now, None, &issuer, args, prompt) {
        Ok(o) => return Ok(o),
        Err(e) => e,
    };
    let _ = b.audit(&refusal_event(&ctx.user, ctx.now, args, &e, &issuer));
    Err(e)
}

/// The audit event of a refused assume-role (an allowed one is written with its session).
pub fn refusal_event(
    user: &str,
    now: i64,
    args: &AssumeRoleArgs,
    e: &StsError,
    issuer: &Issuer<'_>,
) -> Event {
    Event {
        time: now,
        action: "sts:AssumeRole".to_string(),
        user: user.to_string(),
        decision: if e.code() == "AccessDenied" {
            Decision::Deny
        } else {
            Decision::Error
        },
        reason: format!("{} as {:?}: {e}", args.role_arn, args.session_name),
        service: issuer.service.to_string(),
        rhost: issuer.rhost.clone(),
        tty: issuer.tty.clone(),
    }
}

/// Assumes a role for IAM user `caller` at `now` and stores the session with its audit
/// event (written in the same transaction); a refusal is returned, not audited (the
/// caller audits it). `mfa_time`: the MFA proof the caller already carries (iamd: a
/// `GetSessionToken` MFA session).
///
/// # Errors
/// [`StsError`]: bad input, a denial by the identity or trust policy, a failed code.
pub fn assume_role_as(
    b: &Backend,
    caller: &str,
    now: i64,
    mfa_time: Option<i64>,
    issuer: &Issuer<'_>,
    args: &AssumeRoleArgs,
    prompt: &mut Prompt<'_>,
) -> Result<AssumeRoleOutput, StsError> {
    let ctx = Ctx {
        user: caller,
        now,
        rhost: issuer.rhost.as_deref(),
    };
    // The input, before anything is looked up.
    let arn = model::parse_role_arn(&args.role_arn)?;
    model::validate_session_name(&args.session_name)?;
    if let Some(s) = &args.serial {
        model::validate_serial(s)?;
    }
    if let Some(c) = &args.code {
        if args.serial.is_none() {
            return Err(StsError::Mfa(
                "--token-code needs --serial-number (your MFA device ARN, see iam list-mfa-devices)"
                    .to_string(),
            ));
        }
        model::validate_token_code(c)?;
    }
    if let Some(p) = &args.policy {
        if p.chars().count() > MAX_SESSION_POLICY_CHARS {
            return Err(ValidationError::PolicyTooLarge.into());
        }
    }
    let account = b.account_id()?;
    args.passed.validate(&account)?;
    if arn.account != account {
        return Err(ValidationError::Account {
            got: arn.account,
            want: account,
        }
        .into());
    }

    // The caller, and the MFA proof given with `--serial-number`: checked before anything
    // about the role is looked at, so a code is counted (and rate limited) whatever the
    // role, and the answer does not depend on whether the role exists.
    let user = b
        .user(ctx.user)?
        .ok_or_else(|| StsError::NotIamUser(ctx.user.to_string()))?;
    // What the new session carries: what the call passes, and what a calling role
    // session passes on.
    let parent = match &args.from_session {
        Some(s) => b.session_context(&s.session_id)?,
        None => None,
    };
    let context = args.passed.session_context(parent.as_ref())?;
    let mut mfa_time = mfa_time;
    if let Some(serial) = &args.serial {
        let code = match &args.code {
            Some(c) => c.clone(),
            None => prompt(CODE_PROMPT).ok_or_else(|| StsError::MfaRequired {
                serial: serial.clone(),
            })?,
        };
        verify_mfa(b, &user, Some(serial), &code)?;
        mfa_time = Some(ctx.now);
    }

    // Who the refusals name: the user, or the calling role session.
    let who = match &args.from_session {
        Some(s) => crate::arn::assumed_role(&account, &s.role_name, &s.session_name),
        None => user.arn.clone(),
    };
    // The role. One that does not exist is refused as AWS does, with the message of a
    // role whose trust policy does not name the caller (or of the caller's own identity
    // policy, when that denies), so a caller cannot tell the two apart.
    let role = b
        .role(&arn.name)?
        .filter(|r| r.arn == args.role_arn || arn_matches(r, &args.role_arn));
    if let Some(p) = &args.policy {
        b.validate_session_policy(p)?;
    }
    let Some(role) = role else {
        let identity = b.authorize(&question(
            &user,
            &args.role_arn,
            mfa_time,
            &ctx,
            args,
            &context,
            ASSUME,
        ))?;
        return Err(not_authorized(
            &who,
            ASSUME,
            &args.role_arn,
            &identity,
            None,
        ));
    };

    // Identity policy and trust policy; one chance to add MFA when they ask for it.
    loop {
        let q = question(&user, &role.arn, mfa_time, &ctx, args, &context, ASSUME);
        let identity = b.authorize(&q)?;
        let trust = b.trust(&role, &q)?;
        if identity.allowed && trust.allowed {
            break;
        }
        if mfa_time.is_none() && wants_mfa(&[&identity, &trust], &role) {
            let Some((serial, _)) = &user.mfa else {
                return Err(StsError::AccessDenied(format!(
                    "role {} requires MFA and user {} has no MFA device (ask an administrator to enable one)",
                    role.name, user.name
                )));
            };
            let code = prompt(CODE_PROMPT).ok_or_else(|| StsError::MfaRequired {
                serial: serial.clone(),
            })?;
            verify_mfa(b, &user, None, &code)?;
            mfa_time = Some(ctx.now);
            continue;
        }
        return Err(not_authorized(
            &who,
            ASSUME,
            &args.role_arn,
            &identity,
            Some(&trust),
        ));
    }
    // Tags and a source identity need their own permission, in the identity policy and
    // in the trust policy (a chained session's inherited ones too, as AWS asks).
    let extra = [
        (!context.tags.is_empty(), "sts:TagSession"),
        (context.source_identity.is_some(), "sts:SetSourceIdentity"),
    ];
    for (_, action) in extra.iter().filter(|(needed, _)| *needed) {
        let q = question(&user, &role.arn, mfa_time, &ctx, args, &context, action);
        let identity = b.authorize(&q)?;
        let trust = b.trust(&role, &q)?;
        if !(identity.allowed && trust.allowed) {
            return Err(not_authorized(
                &who,
                action,
                &args.role_arn,
                &identity,
                Some(&trust),
            ));
        }
    }
    // Only an allowed caller learns about the role's session limits.
    let duration = if args.from_session.is_some() {
        if args.duration.is_some_and(|d| d > CHAINED_MAX_DURATION) {
            return Err(ValidationError::ChainedDuration.into());
        }
        model::session_duration(
            args.duration,
            b.min_session_duration()?,
            role.max_session_duration.min(CHAINED_MAX_DURATION),
        )?
    } else {
        model::session_duration(
            args.duration,
            b.min_session_duration()?,
            role.max_session_duration,
        )?
    };

    // Mint the credentials; the secret is stored only hashed or sealed.
    let Minted {
        access_key_id,
        secret,
        token,
        token_hash,
        secret_sealed,
    } = mint(b, issuer.keeping)?;
    let session = RoleSession {
        session_id: access_key_id.clone(),
        user_name: user.name.clone(),
        role_name: role.name.clone(),
        session_name: args.session_name.clone(),
        token_hash,
        issued: ctx.now,
        expires: ctx.now + duration,
        scope: issuer.scope.clone(),
        revoked: None,
        mfa_time,
        role_id: Some(role.id.clone()),
        user_id: Some(user.id.clone()),
        secret_sealed,
        host: issuer.host.clone(),
    };
    let arn = crate::arn::assumed_role(&account, &role.name, &args.session_name);
    let audit = Event {
        time: ctx.now,
        action: "sts:AssumeRole".to_string(),
        user: ctx.user.to_string(),
        decision: Decision::Allow,
        reason: format!(
            "assumed {arn} ({access_key_id}) until {}{}{}",
            crate::time::iso8601(session.expires),
            if mfa_time.is_some() { ", with MFA" } else { "" },
            describe(&context, args.from_session.as_deref(), &account),
        ),
        service: issuer.service.to_string(),
        rhost: issuer.rhost.clone(),
        tty: issuer.tty.clone(),
    };
    {
        let _hold = SignalGuard::block();
        b.insert_session_with(&session, args.policy.as_deref(), Some(&context), &audit)?;
    }
    Ok(AssumeRoleOutput {
        access_key_id,
        secret_access_key: secret.to_string(),
        session_token: token.to_string(),
        expiration: session.expires,
        assumed_role_id: format!("{}:{}", role.id, args.session_name),
        arn,
        source_identity: context.source_identity.clone(),
        packed_policy_size: (args.policy.is_some() || !args.passed.is_empty())
            .then(|| args.passed.packed_percent(args.policy.as_deref())),
    })
}

/// `sts:AssumeRole`.
const ASSUME: &str = "sts:AssumeRole";

/// What the audit row adds about a session's context and the session that asked.
fn describe(c: &SessionContext, from: Option<&RoleSession>, account: &str) -> String {
    let mut out = String::new();
    if let Some(s) = from {
        out.push_str(&format!(
            ", chained from {}",
            crate::arn::assumed_role(account, &s.role_name, &s.session_name)
        ));
    }
    if let Some(s) = &c.source_identity {
        out.push_str(&format!(", source identity {s}"));
    }
    if !c.tags.is_empty() {
        let keys: Vec<&str> = c.tags.iter().map(|t| t.key.as_str()).collect();
        out.push_str(&format!(", session tags {}", keys.join(",")));
    }
    if !c.policy_arns.is_empty() {
        out.push_str(&format!(
            ", managed session policies {}",
            c.policy_arns.join(",")
        ));
    }
    out
}

/// The caller of [`assume_role_as`].
struct Ctx<'a> {
    user: &'a str,
    now: i64,
    rhost: Option<&'a str>,
}

/// The policy question of assuming `resource`: asked by the user, or by the calling
/// role session (role chaining), with the call's `sts:` keys.
fn question(
    user: &StsUser,
    resource: &str,
    mfa_time: Option<i64>,
    ctx: &Ctx<'_>,
    args: &AssumeRoleArgs,
    context: &SessionContext,
    action: &str,
) -> Request {
    let principal = match &args.from_session {
        Some(s) => Principal::Session(s.clone()),
        None => Principal::User(user.name.clone()),
    };
    Request {
        mfa_time,
        rhost: ctx.rhost.map(str::to_string),
        call: CallFacts {
            request_tags: context.tags.clone(),
            ..CallFacts::default()
        },
        assume: AssumeFacts {
            external_id: args.external_id.clone(),
            source_identity: context.source_identity.clone(),
            transitive_tag_keys: context.transitive_tag_keys.clone(),
        },
        ..Request::new(
            principal,
            action,
            Target::Arn(resource.to_string()),
            ctx.now,
        )
    }
}

/// AWS's AccessDenied for sts:AssumeRole, saying which policy refused. `trust` is `None`
/// for a role that does not exist: it reads as a trust policy that does not allow it.
fn not_authorized(
    who: &str,
    action: &str,
    resource: &str,
    identity: &Verdict,
    trust: Option<&Verdict>,
) -> StsError {
    let why = if !identity.allowed {
        if identity.explicit_deny {
            format!(
                "with an explicit deny in an identity-based policy ({})",
                identity.reason
            )
        } else {
            format!("because no identity-based policy allows the {action} action")
        }
    } else if let Some(t) = trust.filter(|t| t.explicit_deny) {
        format!(
            "with an explicit deny in the role's trust policy ({})",
            t.reason
        )
    } else {
        "because the role's trust policy does not allow it".to_string()
    };
    StsError::AccessDenied(format!(
        "User: {who} is not authorized to perform: {action} on resource: {resource} {why}"
    ))
}

fn arn_matches(role: &StsRole, given: &str) -> bool {
    // `arn:aws:iam::ACCT:role/path/NAME` names the same role as `…:role/NAME` only when
    // the stored ARN carries that path.
    role.arn.eq_ignore_ascii_case(given)
}

/// Whether an answer has the shape of a TOTP or recovery code (for the message only: any
/// answer is checked, and counted, the same way).
fn looks_like_a_code(answer: &str) -> bool {
    let a = answer.trim();
    (a.len() == 6 && a.bytes().all(|b| b.is_ascii_digit())) || recovery::looks_like_code(a)
}

/// Whether asking for a TOTP code could change the answer.
pub(crate) fn wants_mfa(verdicts: &[&Verdict], role: &StsRole) -> bool {
    let mentions = |s: &str| s.to_ascii_lowercase().contains("aws:multifactorauth");
    verdicts
        .iter()
        .any(|v| v.uses_mfa || v.missing_context.iter().any(|k| mentions(k)))
        || mentions(&role.trust_policy)
}

/// Checks a code typed for the user's device (TOTP, or at a prompt a recovery code)
/// through the product's one second-factor check: a failure counts toward the same
/// lockout as logins, a locked user is refused before the code is looked at, attempts are
/// rate limited per user, a failure is delayed, and a code is accepted once.
pub fn verify_mfa(
    b: &Backend,
    user: &StsUser,
    serial: Option<&String>,
    code: &str,
) -> Result<(), StsError> {
    let Some((device, seed)) = &user.mfa else {
        return Err(StsError::Mfa(format!(
            "user {} has no enabled MFA device",
            user.name
        )));
    };
    if let Some(s) = serial.filter(|s| *s != device) {
        return Err(StsError::Mfa(format!(
            "--serial-number {s} is not your MFA device (yours is {device})"
        )));
    }
    let host = b.host_name()?;
    let attempt = Attempt {
        user: &user.name,
        device: Device {
            serial: device,
            seed,
        },
        answer: code,
        window: totp::LOGIN_WINDOW,
        password_login: false,
        host: &host,
        record: None, // audited with the session it issues (a refusal: by the caller)
    };
    // The check writes the store: let it finish before a signal ends the program.
    let outcome = {
        let _hold = SignalGuard::block();
        second_factor::verify(b.store(), b.pacing(), &attempt).map_err(StsError::Store)?
    };
    let why = match outcome {
        Outcome::Totp | Outcome::Recovery => return Ok(()),
        Outcome::Wrong if !looks_like_a_code(code) => {
            "the code must be 6 digits (or, at a prompt, a recovery code)".to_string()
        }
        Outcome::Wrong => "invalid MFA one time pass code".to_string(),
        Outcome::Replayed => "this code was already used; wait for the next one".to_string(),
        Outcome::Locked { until } => format!(
            "your IAM user is locked after too many failed attempts until {} (ask an administrator: iam unlock-user)",
            crate::time::iso8601(until)
        ),
        Outcome::Throttled { .. } => {
            "too many verification attempts for your user right now; wait a few seconds and try again"
                .to_string()
        }
    };
    Err(StsError::Mfa(why))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sts::testing::{World, ctx};

    fn args(role: &str) -> AssumeRoleArgs {
        AssumeRoleArgs {
            role_arn: format!("arn:aws:iam::123456789012:role/{role}"),
            session_name: "s1".to_string(),
            ..Default::default()
        }
    }

    fn no_prompt() -> impl FnMut(&str) -> Option<Zeroizing<String>> {
        |_| None
    }

    #[test]
    fn allowed_user_gets_a_stored_session() {
        let f = World::new();
        let out = assume_role(&f, &ctx("alice"), &args("admin"), &mut no_prompt())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.access_key_id.starts_with("ASIA") && out.access_key_id.len() == 20);
        assert_eq!(out.arn, "arn:aws:sts::123456789012:assumed-role/admin/s1");
        assert_eq!(out.secret_access_key.len(), 40);
        let s = f.sessions();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].expires - s[0].issued, 3600);
        assert_ne!(s[0].token_hash, out.secret_access_key);
        assert!(!s[0].token_hash.contains(&out.session_token));
        assert_eq!(f.audits()[0].decision, Decision::Allow);
    }

    #[test]
    fn trust_policy_without_user_denies() {
        let f = World::new();
        let e = assume_role(&f, &ctx("bob"), &args("admin"), &mut no_prompt())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("trust policy does not allow"), "{e}");
        assert!(f.sessions().is_empty());
        assert_eq!(f.audits()[0].decision, Decision::Deny);
    }

    #[test]
    fn unknown_role_and_other_account_deny() {
        let f = World::new();
        let e = assume_role(&f, &ctx("alice"), &args("nope"), &mut no_prompt());
        assert!(matches!(e, Err(StsError::AccessDenied(_))));
        let mut a = args("admin");
        a.role_arn = "arn:aws:iam::999999999999:role/admin".to_string();
        let e = assume_role(&f, &ctx("alice"), &a, &mut no_prompt());
        assert!(matches!(e, Err(StsError::Validation(_))));
    }

    #[test]
    fn an_unknown_role_reads_like_a_role_that_does_not_trust_you() {
        let f = World::new();
        let msg = |user: &str, role: &str| {
            let e = assume_role(&f, &ctx(user), &args(role), &mut no_prompt());
            e.err().map(|e| e.to_string()).unwrap_or_default()
        };
        let unknown = msg("bob", "nope");
        let untrusted = msg("bob", "admin");
        assert_eq!(unknown.replace("role/nope", "role/admin"), untrusted);
        assert!(!unknown.contains("no such role"), "{unknown}");
        // A role beyond the caller's session limits answers the same until allowed.
        let mut a = args("nope");
        a.duration = Some(99_999);
        let e = assume_role(&f, &ctx("bob"), &a, &mut no_prompt());
        assert!(matches!(e, Err(StsError::AccessDenied(_))), "{e:?}");
    }

    #[test]
    fn wrong_codes_count_toward_the_login_lockout() {
        let f = World::new();
        f.set_lockout(3, 900);
        let mut a = args("nope");
        a.serial = Some("arn:aws:iam::123456789012:mfa/alice".to_string());
        for i in 0..3 {
            a.code = Some(Zeroizing::new("000000".to_string()));
            let e = assume_role(&f, &ctx("alice"), &a, &mut no_prompt());
            assert!(matches!(e, Err(StsError::Mfa(_))), "attempt {i}: {e:?}");
            f.clock.advance_ms(1_000);
        }
        assert_eq!(
            f.failures("alice"),
            3,
            "counted, even for a role that does not exist"
        );
        assert_eq!(f.clock.delays.get(), 3, "each failure delayed");
        // Locked: the right code is refused before it is looked at.
        a.role_arn = args("mfa-admin").role_arn;
        a.code = Some(crate::sts::testing::good_code());
        let e = assume_role(&f, &ctx("alice"), &a, &mut no_prompt())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("locked"), "{e}");
        assert_eq!(f.watermark(), -1, "no code spent");
        assert!(f.sessions().is_empty());
    }

    #[test]
    fn non_iam_user_denied() {
        let f = World::new();
        let e = assume_role(&f, &ctx("mallory"), &args("admin"), &mut no_prompt());
        assert!(matches!(e, Err(StsError::NotIamUser(_))));
    }

    #[test]
    fn duration_bounds() {
        let f = World::new();
        let mut a = args("admin");
        a.duration = Some(899);
        assert!(assume_role(&f, &ctx("alice"), &a, &mut no_prompt()).is_err());
        a.duration = Some(3601);
        assert!(assume_role(&f, &ctx("alice"), &a, &mut no_prompt()).is_err());
        a.duration = Some(900);
        assert!(assume_role(&f, &ctx("alice"), &a, &mut no_prompt()).is_ok());
        f.set_min_duration(2);
        a.duration = Some(2);
        assert!(assume_role(&f, &ctx("alice"), &a, &mut no_prompt()).is_ok());
    }

    #[test]
    fn mfa_role_prompts_then_rejects_replay() {
        let f = World::new();
        let mut asked = 0;
        let mut p = |m: &str| {
            assert_eq!(m, CODE_PROMPT);
            asked += 1;
            Some(crate::sts::testing::good_code())
        };
        let out = assume_role(&f, &ctx("alice"), &args("mfa-admin"), &mut p);
        assert!(out.is_ok(), "{:?}", out.err());
        assert_eq!(asked, 1);
        assert_eq!(f.sessions()[0].mfa_time, Some(1000));
        // The same code again: replayed.
        let mut a = args("mfa-admin");
        a.serial = Some("arn:aws:iam::123456789012:mfa/alice".to_string());
        a.code = Some(crate::sts::testing::good_code());
        let e = assume_role(&f, &ctx("alice"), &a, &mut no_prompt())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("already used"), "{e}");
    }

    #[test]
    fn mfa_role_without_terminal_or_with_bad_code_denies() {
        let f = World::new();
        let e = assume_role(&f, &ctx("alice"), &args("mfa-admin"), &mut no_prompt());
        assert!(matches!(e, Err(StsError::MfaRequired { .. })));
        let mut a = args("mfa-admin");
        a.serial = Some("arn:aws:iam::123456789012:mfa/alice".to_string());
        a.code = Some(Zeroizing::new("000000".to_string()));
        let e = assume_role(&f, &ctx("alice"), &a, &mut no_prompt());
        assert!(matches!(e, Err(StsError::Mfa(_))));
        a.serial = Some("arn:aws:iam::123456789012:mfa/bob".to_string());
        a.code = Some(crate::sts::testing::good_code());
        let e = assume_role(&f, &ctx("alice"), &a, &mut no_prompt());
        assert!(matches!(e, Err(StsError::Mfa(_))));
        assert!(f.sessions().is_empty());
    }

    #[test]
    fn code_with_serial_counts_as_mfa() {
        let f = World::new();
        let mut a = args("mfa-admin");
        a.serial = Some("arn:aws:iam::123456789012:mfa/alice".to_string());
        a.code = Some(crate::sts::testing::good_code());
        assert!(assume_role(&f, &ctx("alice"), &a, &mut no_prompt()).is_ok());
    }

    #[test]
    fn session_keys_look_like_aws_ones() {
        assert_eq!(
            ids::id_from_bytes(IdKind::SessionKey, &[0, 31, 32]),
            "ASIAA7A"
        );
        assert_eq!(ids::secret_from_bytes(&[0, 63, 64]).as_str(), "A/A");
    }
}
