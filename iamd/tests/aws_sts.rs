//! STS through the real AWS CLI v1 (and botocore's signer for the requests the CLI
//! will not send): `get-session-token` with an MFA code from oathtool unlocks an
//! MFA-only action, `assume-role` gives calls as the role (limited by a session policy),
//! and every refusal of temporary credentials: replayed codes, untrusted callers,
//! durations over the role's maximum, expired, revoked, tampered and unsigned tokens.

mod support;

use serde_json::Value;
use support::Server;
use support::sts::*;

const MFA_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}},
 {"Effect":"Allow","Action":"iam:ListAccessKeys","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"600"}}}]}"#;

#[test]
fn get_session_token_with_mfa_unlocks_mfa_only_actions() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    let acct = account(&s, &root);
    let alice = user_with_policy(&s, &root, "alice", MFA_ONLY);
    let (serial, seed) = enrol_mfa(&s, "alice");

    // Long-term key: no MFA, denied.
    s.fails(&alice, &["iam", "list-users"], "AccessDenied");
    // A session without MFA: not even IAM calls (AWS's rule for such sessions).
    let plain = Creds::from(&s.ok(&alice, &["sts", "get-session-token"]));
    assert!(plain.key.id.starts_with("ASIA"), "{}", plain.key.id);
    let me = ok_t(&s, &plain, &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], format!("arn:aws:iam::{acct}:user/alice"));
    fails_t(
        &s,
        &plain.key,
        &plain.token,
        &["iam", "list-users"],
        "AccessDenied",
    );

    // With the code: an MFA session, and the MFA-only actions work.
    fresh_step(8);
    let c = code(&seed, 0);
    let v = s.ok(
        &alice,
        &[
            "sts",
            "get-session-token",
            "--serial-number",
            &serial,
            "--token-code",
            &c,
            "--duration-seconds",
            "3600",
        ],
    );
    let exp = v["Credentials"]["Expiration"].as_str().unwrap();
    assert!(exp.ends_with('Z') && exp.len() >= 20, "ISO 8601: {exp}");
    let mfa = Creds::from(&v);
    let users = ok_t(&s, &mfa, &["iam", "list-users"]);
    assert!(!users["Users"].as_array().unwrap().is_empty(), "{users}");
    ok_t(&s, &mfa, &["iam", "list-access-keys"]);
    let me = ok_t(&s, &mfa, &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], format!("arn:aws:iam::{acct}:user/alice"));
    // Still only what the policies allow.
    fails_t(
        &s,
        &mfa.key,
        &mfa.token,
        &["iam", "create-user", "--user-name", "x"],
        "AccessDenied",
    );
    // Session credentials cannot mint more.
    fails_t(
        &s,
        &mfa.key,
        &mfa.token,
        &["sts", "get-session-token"],
        "AccessDenied",
    );

    // The same code again: replayed, refused (the one second-factor check).
    let e = s.fails(
        &alice,
        &[
            "sts",
            "get-session-token",
            "--serial-number",
            &serial,
            "--token-code",
            &c,
        ],
        "AccessDenied",
    );
    assert!(e.contains("already used"), "{e}");
    // A wrong code and another user's device: refused.
    let bad = if c == "000000" { "111111" } else { "000000" };
    s.fails(
        &alice,
        &[
            "sts",
            "get-session-token",
            "--serial-number",
            &serial,
            "--token-code",
            bad,
        ],
        "AccessDenied",
    );

    // Tampered, missing, unsigned and misplaced tokens.
    let mut tampered = mfa.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    fails_t(
        &s,
        &mfa.key,
        &tampered,
        &["sts", "get-caller-identity"],
        "InvalidClientTokenId",
    );
    s.fails(&mfa.key, &["iam", "list-users"], "InvalidClientTokenId");
    let (st, body) = s.raw(
        &mfa.key,
        "sts",
        "Action=GetCallerIdentity&Version=2011-06-15",
        &["--token-unsigned", &mfa.token],
    );
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("<Code>InvalidClientTokenId</Code>"), "{body}");
    fails_t(
        &s,
        &alice,
        &mfa.token,
        &["sts", "get-caller-identity"],
        "InvalidClientTokenId",
    );
    // Another session's token with this key id.
    fails_t(
        &s,
        &mfa.key,
        &plain.token,
        &["sts", "get-caller-identity"],
        "InvalidClientTokenId",
    );

    // Listed with the role sessions, revocable.
    let o = s.iam(&["list-role-sessions", "--user-name", "alice"]);
    let listed: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = listed["RoleSessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["AccessKeyId"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&mfa.key.id.as_str()), "{listed}");
    let o = s.iam(&["revoke-role-session", "--access-key-id", &mfa.key.id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e = fails_t(
        &s,
        &mfa.key,
        &mfa.token,
        &["iam", "list-users"],
        "InvalidClientTokenId",
    );
    assert!(e.contains("revoked"), "{e}");
    ok_t(&s, &plain, &["sts", "get-caller-identity"]);

    // The store keeps the secret sealed and the token only hashed.
    let db = if s.store.is_postgres() {
        s.store.dump().into_bytes()
    } else {
        std::fs::read(&s.store.db).unwrap()
    };
    for secret in [&mfa.key.secret, &mfa.token, &plain.key.secret, &plain.token] {
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a session secret is in the store in clear"
        );
    }
}

#[test]
fn assume_role_calls_as_the_role() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    let acct = account(&s, &root);
    let trust_account = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let trust_alice = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let trust_mfa = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"sts:AssumeRole","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}}}}}}]}}"#
    );
    let ops = create_role(&s, &root, "ops", &trust_account, OPS_POLICY);
    let only_alice = create_role(&s, &root, "alice-only", &trust_alice, OPS_POLICY);
    let guarded = create_role(&s, &root, "guarded", &trust_mfa, OPS_POLICY);
    let alice = user_with_policy(&s, &root, "alice", ASSUME_OPS);
    let bob = user_with_policy(&s, &root, "bob", ASSUME_OPS);
    let carol = user_with_policy(&s, &root, "carol", "");

    let v = s.ok(&alice, &assume(&ops, "alice-fix", &[]));
    let session_arn = format!("arn:aws:sts::{acct}:assumed-role/ops/alice-fix");
    assert_eq!(v["AssumedRoleUser"]["Arn"], session_arn);
    let role_id = s.ok(&root, &["iam", "get-role", "--role-name", "ops"])["Role"]["RoleId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        v["AssumedRoleUser"]["AssumedRoleId"],
        format!("{role_id}:alice-fix")
    );
    let r = Creds::from(&v);
    let me = ok_t(&s, &r, &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], session_arn);
    assert_eq!(me["UserId"], format!("{role_id}:alice-fix"));
    // Allowed by the role's policy, denied outside it (alice's own policy does not count).
    ok_t(&s, &r, &["iam", "list-users"]);
    ok_t(&s, &r, &["iam", "get-user", "--user-name", "bob"]);
    let e = fails_t(
        &s,
        &r.key,
        &r.token,
        &["iam", "create-user", "--user-name", "mallory"],
        "AccessDenied",
    );
    assert!(
        e.contains(&format!(
            "User: {session_arn} is not authorized to perform: iam:CreateUser"
        )),
        "{e}"
    );
    fails_t(
        &s,
        &r.key,
        &r.token,
        &["iam", "get-user"],
        "ValidationError",
    );
    // A role session assumes another role only when its own role's policy allows it.
    fails_t(
        &s,
        &r.key,
        &r.token,
        &assume(&ops, "again", &[]),
        "AccessDenied",
    );
    // Audited with the session ARN.
    let o = s.iam(&["list-audit-events", "--user-name", &session_arn]);
    let audit = String::from_utf8_lossy(&o.stdout);
    assert!(
        audit.contains("iam:CreateUser"),
        "{audit}{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A session policy narrows it.
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
    let n = Creds::from(&s.ok(&alice, &assume(&ops, "narrow", &["--policy", narrow])));
    ok_t(&s, &n, &["iam", "get-user", "--user-name", "bob"]);
    fails_t(&s, &n.key, &n.token, &["iam", "list-users"], "AccessDenied");
    s.fails(
        &alice,
        &assume(&ops, "bad", &["--policy", "{not json"]),
        "MalformedPolicyDocument",
    );

    // Durations over the role's maximum, bad session names.
    let e = s.fails(
        &alice,
        &assume(&ops, "long", &["--duration-seconds", "7200"]),
        "ValidationError",
    );
    assert!(e.contains("MaxSessionDuration"), "{e}");
    s.fails(&alice, &assume(&ops, "a b", &[]), "ValidationError");

    // Untrusted callers: by the trust policy (bob), by the identity policy (carol), and
    // a role that does not exist reads the same.
    let e = s.fails(&bob, &assume(&only_alice, "bob", &[]), "AccessDenied");
    assert!(e.contains("trust policy"), "{e}");
    ok_t(
        &s,
        &Creds::from(&s.ok(&alice, &assume(&only_alice, "alice", &[]))),
        &["iam", "list-roles"],
    );
    s.fails(&carol, &assume(&ops, "carol", &[]), "AccessDenied");
    s.fails(
        &bob,
        &assume(&format!("arn:aws:iam::{acct}:role/nope"), "bob", &[]),
        "AccessDenied",
    );
    s.fails(&root, &assume(&ops, "root", &[]), "AccessDenied");

    // A trust policy that wants MFA: refused without a code, allowed with one.
    let (serial, seed) = enrol_mfa(&s, "alice");
    s.fails(&alice, &assume(&guarded, "guarded", &[]), "AccessDenied");
    fresh_step(5);
    let g = Creds::from(&s.ok(
        &alice,
        &assume(
            &guarded,
            "guarded",
            &["--serial-number", &serial, "--token-code", &code(&seed, 0)],
        ),
    ));
    ok_t(&s, &g, &["iam", "list-users"]);

    // The role deleted (or deleted and made again): its sessions end at once.
    s.ok(
        &root,
        &[
            "iam",
            "delete-role-policy",
            "--role-name",
            "ops",
            "--policy-name",
            "p",
        ],
    );
    s.ok(&root, &["iam", "delete-role", "--role-name", "ops"]);
    create_role(&s, &root, "ops", &trust_account, OPS_POLICY);
    let e = fails_t(
        &s,
        &r.key,
        &r.token,
        &["iam", "list-users"],
        "InvalidClientTokenId",
    );
    assert!(e.contains("ended"), "{e}");
}

#[test]
fn expired_session_credentials_answer_expired_token() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    let acct = account(&s, &root);
    // Root-only store setting so expiry is proven in seconds (botocore itself refuses
    // DurationSeconds under 900, so these requests go through botocore's signer only).
    s.store
        .store()
        .set_sts_min_session_duration(Some(2))
        .unwrap();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let ops = create_role(&s, &root, "ops", &trust, OPS_POLICY);
    let alice = user_with_policy(&s, &root, "alice", ASSUME_OPS);
    let issued = now();
    let (st, body) = s.raw(
        &alice,
        "sts",
        "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=8",
        &[],
    );
    assert_eq!(st, 200, "{body}");
    let own = Creds::from_xml(&body);
    let (st, body) = s.raw(
        &alice,
        "sts",
        &format!(
            "Action=AssumeRole&Version=2011-06-15&DurationSeconds=8&RoleSessionName=short&RoleArn={}",
            ops.replace(':', "%3A").replace('/', "%2F")
        ),
        &[],
    );
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("<AssumedRoleUser>"), "{body}");
    let role = Creds::from_xml(&body);
    ok_t(&s, &own, &["sts", "get-caller-identity"]);
    ok_t(&s, &role, &["iam", "list-users"]);
    // Over the maximum of a user's session (36 h).
    let (st, body) = s.raw(
        &alice,
        "sts",
        "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=129601",
        &[],
    );
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("<Code>ValidationError</Code>"), "{body}");
    // Sleep until both have expired (issued no earlier than `issued`, 8 s long).
    let left = issued + 8 - now();
    if left >= 0 {
        std::thread::sleep(std::time::Duration::from_millis(left as u64 * 1000 + 1100));
    }
    for c in [&own, &role] {
        let e = fails_t(
            &s,
            &c.key,
            &c.token,
            &["sts", "get-caller-identity"],
            "ExpiredToken",
        );
        assert!(e.contains("expired"), "{e}");
    }
    let (st, body) = s.raw_token(
        &role.key,
        Some(&role.token),
        "iam",
        "Action=ListUsers&Version=2010-05-08",
        &[],
    );
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("<Code>ExpiredToken</Code>"), "{body}");
}
