//! `AssumeRole`'s members beyond the role, through the real AWS CLI v1, as AWS does
//! them: `ExternalId` (the trust policy's `sts:ExternalId`), `SourceIdentity`
//! (`sts:SetSourceIdentity`, `sts:SourceIdentity`, then `aws:SourceIdentity` in the
//! session's decisions, kept through role chaining), session `Tags` and
//! `TransitiveTagKeys` (`sts:TagSession`, `aws:RequestTag` at assume time,
//! `aws:PrincipalTag` after), `PolicyArns` (managed session policies narrowing the
//! session), and role chaining (trusted by role ARN, capped at one hour).

mod support;

use support::Server;
use support::sts::*;

fn trust(acct: &str, principal: &str, actions: &str, condition: &str) -> String {
    let principal = if principal.is_empty() {
        format!("arn:aws:iam::{acct}:root")
    } else {
        principal.to_string()
    };
    let condition = if condition.is_empty() {
        String::new()
    } else {
        format!(r#","Condition":{condition}"#)
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":{actions}{condition}}}]}}"#
    )
}

const ASSUME_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Resource":"*"}]}"#;

/// The role policy: GetUser only for sessions tagged team=web, ListUsers only for the
/// source identity alice.
const TAGGED: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"web"}}},
 {"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"StringEquals":{"aws:SourceIdentity":"alice"}}},
 {"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}"#;

/// Unix seconds of the CLI's `YYYY-MM-DDTHH:MM:SS…` (UTC).
fn unix(iso: &str) -> i64 {
    let n = |a: usize, b: usize| iso[a..b].parse::<i64>().unwrap();
    pam_iam::time::days_from_civil(n(0, 4), n(5, 7), n(8, 10)) * 86_400
        + n(11, 13) * 3600
        + n(14, 16) * 60
        + n(17, 19)
}

fn audit_of(s: &Server, user: &str) -> String {
    let o = s.iam(&["list-audit-events", "--user-name", user]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn external_id_source_identity_and_session_tags() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    let acct = account(&s, &root);
    // AWS's documented shapes: the external id a third party must pass, the source
    // identity set to the caller's own user name, the tags a caller may pass.
    let vendor_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[
 {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"Example-Corp-123"}}}}}},
 {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"sts:SetSourceIdentity","Condition":{{"StringLike":{{"sts:SourceIdentity":"${{aws:username}}"}}}}}},
 {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"sts:TagSession","Condition":{{"StringEquals":{{"aws:RequestTag/team":["web","ops"]}}}}}}]}}"#
    );
    let vendor = create_role(&s, &root, "vendor", &vendor_trust, TAGGED);
    let alice = user_with_policy(&s, &root, "alice", ASSUME_ALL);
    let ext = ["--external-id", "Example-Corp-123"];

    // ExternalId: required by the trust policy, checked for shape as AWS does.
    let e = s.fails(&alice, &assume(&vendor, "v1", &[]), "AccessDenied");
    assert!(e.contains("sts:AssumeRole"), "{e}");
    s.fails(
        &alice,
        &assume(&vendor, "v1", &["--external-id", "Other-Corp"]),
        "AccessDenied",
    );
    // (botocore checks lengths itself; the pattern is the server's to check.)
    let e = s.fails(
        &alice,
        &assume(&vendor, "v1", &["--external-id", "has space"]),
        "ValidationError",
    );
    assert!(e.contains("externalId"), "{e}");
    let plain = Creds::from(&s.ok(&alice, &assume(&vendor, "plain", &ext)));
    ok_t(&s, &plain, &["iam", "list-roles"]);
    fails_t(
        &s,
        &plain.key,
        &plain.token,
        &["iam", "get-user", "--user-name", "alice"],
        "AccessDenied",
    );
    fails_t(
        &s,
        &plain.key,
        &plain.token,
        &["iam", "list-users"],
        "AccessDenied",
    );

    // Session tags: aws:RequestTag at assume time, aws:PrincipalTag after.
    let mut args = ext.to_vec();
    args.extend(["--tags", "Key=team,Value=web"]);
    let tagged_out = s.ok(&alice, &assume(&vendor, "tagged", &args));
    assert!(tagged_out["PackedPolicySize"].is_number(), "{tagged_out}");
    let tagged = Creds::from(&tagged_out);
    ok_t(&s, &tagged, &["iam", "get-user", "--user-name", "alice"]);
    let mut args = ext.to_vec();
    args.extend(["--tags", "Key=team,Value=db"]);
    let e = s.fails(&alice, &assume(&vendor, "db", &args), "AccessDenied");
    assert!(e.contains("sts:TagSession"), "{e}");
    let mut args = ext.to_vec();
    args.extend(["--tags", "Key=team,Value=web", "Key=TEAM,Value=ops"]);
    let e = s.fails(&alice, &assume(&vendor, "dup", &args), "ValidationError");
    assert!(e.contains("duplicate"), "{e}");
    let mut args = ext.to_vec();
    args.extend([
        "--tags",
        "Key=team,Value=web",
        "--transitive-tag-keys",
        "env",
    ]);
    s.fails(&alice, &assume(&vendor, "tk", &args), "ValidationError");

    // A role whose trust policy does not allow sts:TagSession refuses tags.
    let notag = create_role(
        &s,
        &root,
        "notag",
        &trust(&acct, "", r#""sts:AssumeRole""#, ""),
        TAGGED,
    );
    s.ok(&alice, &assume(&notag, "ok", &[]));
    let e = s.fails(
        &alice,
        &assume(&notag, "t1", &["--tags", "Key=team,Value=web"]),
        "AccessDenied",
    );
    assert!(e.contains("sts:TagSession"), "{e}");
    let e = s.fails(
        &alice,
        &assume(&notag, "t1", &["--source-identity", "alice"]),
        "AccessDenied",
    );
    assert!(e.contains("sts:SetSourceIdentity"), "{e}");

    // SourceIdentity: only the caller's own name, by the trust policy; then it decides.
    let mut args = ext.to_vec();
    args.extend(["--source-identity", "bob"]);
    let e = s.fails(&alice, &assume(&vendor, "bob", &args), "AccessDenied");
    assert!(e.contains("sts:SetSourceIdentity"), "{e}");
    let mut args = ext.to_vec();
    args.extend(["--source-identity", "aws:alice"]);
    s.fails(&alice, &assume(&vendor, "r1", &args), "ValidationError");
    let mut args = ext.to_vec();
    args.extend(["--source-identity", "alice"]);
    let v = s.ok(&alice, &assume(&vendor, "traced", &args));
    assert_eq!(v["SourceIdentity"], "alice", "{v}");
    let traced = Creds::from(&v);
    ok_t(&s, &traced, &["iam", "list-users"]);
    let arn = format!("arn:aws:sts::{acct}:assumed-role/vendor/traced");
    let audit = audit_of(&s, "alice");
    assert!(
        audit.contains(&format!("assumed {arn}")) && audit.contains("source identity alice"),
        "{audit}"
    );
}

#[test]
fn role_chaining_transitive_tags_and_managed_session_policies() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    let acct = account(&s, &root);
    let all = r#"["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]"#;
    let jump = create_role(&s, &root, "jump", &trust(&acct, "", all, ""), ASSUME_ALL);
    let jump_arn = format!("arn:aws:iam::{acct}:role/jump");
    let target = create_role(
        &s,
        &root,
        "target",
        &trust(&acct, &jump_arn, all, ""),
        TAGGED,
    );
    s.ok(
        &root,
        &[
            "iam",
            "update-role",
            "--role-name",
            "target",
            "--max-session-duration",
            "7200",
        ],
    );
    let alice_arn = format!("arn:aws:iam::{acct}:user/alice");
    let alice_only = create_role(
        &s,
        &root,
        "alice-only",
        &trust(&acct, &alice_arn, all, ""),
        TAGGED,
    );
    let alice = user_with_policy(&s, &root, "alice", ASSUME_ALL);

    let j = Creds::from(&s.ok(
        &alice,
        &assume(
            &jump,
            "hop",
            &[
                "--source-identity",
                "alice",
                "--tags",
                "Key=team,Value=web",
                "Key=task,Value=fix",
                "--transitive-tag-keys",
                "team",
            ],
        ),
    ));
    let hop = format!("arn:aws:sts::{acct}:assumed-role/jump/hop");
    // Chained: trusted by the role ARN; at most an hour.
    let e = fails_t(
        &s,
        &j.key,
        &j.token,
        &assume(&target, "t1", &["--duration-seconds", "7200"]),
        "ValidationError",
    );
    assert!(
        e.contains("1 hour session limit for roles assumed by role chaining"),
        "{e}"
    );
    let v = ok_t(&s, &j, &assume(&target, "t1", &[]));
    assert_eq!(v["SourceIdentity"], "alice", "kept through the chain: {v}");
    let left = unix(v["Credentials"]["Expiration"].as_str().unwrap()) - now();
    assert!((0..=3600).contains(&left), "{left}");
    let t = Creds::from(&v);
    let me = ok_t(&s, &t, &["sts", "get-caller-identity"]);
    assert_eq!(
        me["Arn"],
        format!("arn:aws:sts::{acct}:assumed-role/target/t1")
    );
    // The transitive tag and the source identity decide for the chained session.
    ok_t(&s, &t, &["iam", "get-user", "--user-name", "alice"]);
    ok_t(&s, &t, &["iam", "list-users"]);
    // What the chain cannot do: change the source identity, pass a transitive tag again,
    // or reach a role that trusts only the user.
    let e = fails_t(
        &s,
        &j.key,
        &j.token,
        &assume(&target, "m1", &["--source-identity", "mallory"]),
        "AccessDenied",
    );
    assert!(e.contains("cannot be changed"), "{e}");
    fails_t(
        &s,
        &j.key,
        &j.token,
        &assume(&target, "m1", &["--tags", "Key=team,Value=ops"]),
        "ValidationError",
    );
    let e = fails_t(
        &s,
        &j.key,
        &j.token,
        &assume(&alice_only, "m1", &[]),
        "AccessDenied",
    );
    assert!(
        e.contains(&format!(
            "User: {hop} is not authorized to perform: sts:AssumeRole"
        )),
        "{e}"
    );
    let audit = audit_of(&s, "alice");
    assert!(audit.contains(&format!("chained from {hop}")), "{audit}");
    // The non-transitive tag stays behind.
    let only_task = create_role(
        &s,
        &root,
        "task",
        &trust(&acct, &jump_arn, all, ""),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/task":"fix"}}}]}"#,
    );
    let k = Creds::from(&ok_t(&s, &j, &assume(&only_task, "k1", &[])));
    fails_t(&s, &k.key, &k.token, &["iam", "list-roles"], "AccessDenied");

    // PolicyArns: a managed session policy narrows the session, read at each call.
    let p = s.ok(
        &root,
        &[
            "iam",
            "create-policy",
            "--policy-name",
            "roles-only",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}"#,
        ],
    );
    let parn = p["Policy"]["Arn"].as_str().unwrap().to_string();
    let arg = format!("arn={parn}");
    let n = Creds::from(&s.ok(
        &alice,
        &assume(
            &alice_only,
            "narrow",
            &["--policy-arns", &arg, "--source-identity", "alice"],
        ),
    ));
    ok_t(&s, &n, &["iam", "list-roles"]);
    fails_t(&s, &n.key, &n.token, &["iam", "list-users"], "AccessDenied");
    s.fails(
        &alice,
        &assume(
            &alice_only,
            "x1",
            &["--policy-arns", "arn=arn:aws:iam::999999999999:policy/p"],
        ),
        "ValidationError",
    );
    // Deleted, it allows nothing: the session stays narrowed, never widened.
    s.ok(&root, &["iam", "delete-policy", "--policy-arn", &parn]);
    fails_t(&s, &n.key, &n.token, &["iam", "list-roles"], "AccessDenied");
}
