//! The real AWS CLI v1 and boto3 against iamd on 127.0.0.1: bootstrap with a root key,
//! an administrator, a delegated administrator limited by its own policy, and every
//! refusal the signature and protocol layers make.

mod support;

use std::process::Stdio;
use support::{IamdOn, Key, Server};

const ADMIN_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// A user-admin limited to a path (AWS's documented example, narrowed to /eng/), with
/// deleting users explicitly denied.
const PATH_ADMIN: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Eng","Effect":"Allow","Action":["iam:CreateUser","iam:GetUser","iam:UpdateUser","iam:DeleteUser","iam:TagUser","iam:CreateAccessKey"],"Resource":"arn:aws:iam::*:user/eng/*"},
 {"Sid":"List","Effect":"Allow","Action":"iam:ListUsers","Resource":"*"},
 {"Sid":"NoDelete","Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}"#;

fn admin(s: &Server, root: &Key) -> Key {
    s.ok(root, &["iam", "create-user", "--user-name", "admin"]);
    s.ok(
        root,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "admin",
            "--policy-name",
            "all",
            "--policy-document",
            ADMIN_POLICY,
        ],
    );
    s.key_for(root, "admin")
}

#[test]
fn root_bootstraps_an_admin_who_administers() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    let id = s.ok(&root, &["sts", "get-caller-identity"]);
    assert!(id["Arn"].as_str().unwrap().ends_with(":root"), "{id}");
    let acct = id["Account"].as_str().unwrap().to_string();
    let adm = admin(&s, &root);
    let me = s.ok(&adm, &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], format!("arn:aws:iam::{acct}:user/admin"));
    assert_eq!(
        s.ok(&adm, &["iam", "get-user"])["User"]["UserName"],
        "admin"
    );

    let u = s.ok(
        &adm,
        &[
            "iam",
            "create-user",
            "--user-name",
            "alice",
            "--path",
            "/eng/",
            "--tags",
            "Key=team,Value=web",
        ],
    );
    assert_eq!(
        u["User"]["Arn"],
        format!("arn:aws:iam::{acct}:user/eng/alice")
    );
    s.fails(
        &adm,
        &["iam", "create-user", "--user-name", "alice"],
        "EntityAlreadyExists",
    );
    s.fails(
        &adm,
        &["iam", "create-user", "--user-name", "Not Linux"],
        "ValidationError",
    );
    s.fails(
        &adm,
        &["iam", "get-user", "--user-name", "nobody"],
        "NoSuchEntity",
    );
    s.ok(
        &adm,
        &[
            "iam",
            "update-user",
            "--user-name",
            "alice",
            "--new-path",
            "/eng/web/",
        ],
    );
    let got = s.ok(&adm, &["iam", "get-user", "--user-name", "alice"]);
    assert_eq!(got["User"]["Path"], "/eng/web/");
    assert_eq!(got["User"]["Tags"][0]["Key"], "team");
    let users = s.ok(&adm, &["iam", "list-users"]);
    let names: Vec<&str> = users["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "alice"]);
    assert!(
        users["Users"][1].get("Tags").is_none(),
        "lists leave tags out, as AWS"
    );
    s.ok(
        &adm,
        &[
            "iam",
            "tag-user",
            "--user-name",
            "alice",
            "--tags",
            r#"[{"Key":"env","Value":"a,b"}]"#,
        ],
    );
    let tags = s.ok(&adm, &["iam", "list-user-tags", "--user-name", "alice"]);
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 2, "{tags}");
    s.ok(
        &adm,
        &[
            "iam",
            "untag-user",
            "--user-name",
            "alice",
            "--tag-keys",
            "env",
            "team",
        ],
    );
    assert_eq!(
        s.ok(&adm, &["iam", "list-user-tags", "--user-name", "alice"])["Tags"],
        serde_json::json!([])
    );

    // Groups and membership.
    s.ok(&adm, &["iam", "create-group", "--group-name", "devs"]);
    s.ok(
        &adm,
        &[
            "iam",
            "add-user-to-group",
            "--group-name",
            "devs",
            "--user-name",
            "alice",
        ],
    );
    let g = s.ok(&adm, &["iam", "get-group", "--group-name", "devs"]);
    assert_eq!(g["Users"][0]["UserName"], "alice");
    let gs = s.ok(
        &adm,
        &["iam", "list-groups-for-user", "--user-name", "alice"],
    );
    assert_eq!(gs["Groups"][0]["GroupName"], "devs");

    // Managed and inline policies.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;
    let p = s.ok(
        &adm,
        &[
            "iam",
            "create-policy",
            "--policy-name",
            "login",
            "--policy-document",
            doc,
        ],
    );
    let parn = p["Policy"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(parn, format!("arn:aws:iam::{acct}:policy/login"));
    s.ok(
        &adm,
        &[
            "iam",
            "attach-group-policy",
            "--group-name",
            "devs",
            "--policy-arn",
            &parn,
        ],
    );
    s.ok(
        &adm,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &parn,
        ],
    );
    let att = s.ok(
        &adm,
        &["iam", "list-attached-user-policies", "--user-name", "alice"],
    );
    assert_eq!(att["AttachedPolicies"][0]["PolicyArn"], parn);
    let v = s.ok(
        &adm,
        &[
            "iam",
            "get-policy-version",
            "--policy-arn",
            &parn,
            "--version-id",
            "v1",
        ],
    );
    assert_eq!(
        v["PolicyVersion"]["Document"]["Statement"][0]["Action"], "host:Login",
        "URL-encoded document decoded by botocore"
    );
    s.ok(
        &adm,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "inl",
            "--policy-document",
            doc,
        ],
    );
    let inl = s.ok(
        &adm,
        &[
            "iam",
            "get-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "inl",
        ],
    );
    assert_eq!(inl["PolicyDocument"]["Version"], "2012-10-17");
    assert_eq!(
        s.ok(&adm, &["iam", "list-user-policies", "--user-name", "alice"])["PolicyNames"],
        serde_json::json!(["inl"])
    );
    s.fails(
        &adm,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "bad",
            "--policy-document",
            r#"{"Statement":[]}"#,
        ],
        "MalformedPolicyDocument",
    );
    s.fails(
        &adm,
        &["iam", "delete-user", "--user-name", "alice"],
        "DeleteConflict",
    );
    s.ok(
        &adm,
        &[
            "iam",
            "delete-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "inl",
        ],
    );
    s.ok(
        &adm,
        &[
            "iam",
            "detach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &parn,
        ],
    );
    s.ok(
        &adm,
        &[
            "iam",
            "detach-group-policy",
            "--group-name",
            "devs",
            "--policy-arn",
            &parn,
        ],
    );
    assert!(
        s.ok(&adm, &["iam", "list-policies", "--scope", "Local"])["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["Arn"] == parn.as_str())
    );

    // Roles.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:user/eng/web/alice"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let r = s.ok(
        &adm,
        &[
            "iam",
            "create-role",
            "--role-name",
            "ops",
            "--assume-role-policy-document",
            &trust,
        ],
    );
    assert_eq!(r["Role"]["Arn"], format!("arn:aws:iam::{acct}:role/ops"));
    let r = s.ok(&adm, &["iam", "get-role", "--role-name", "ops"]);
    assert_eq!(
        r["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Action"],
        "sts:AssumeRole"
    );
    s.ok(
        &adm,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "ops",
            "--policy-arn",
            &parn,
        ],
    );
    s.ok(
        &adm,
        &[
            "iam",
            "detach-role-policy",
            "--role-name",
            "ops",
            "--policy-arn",
            &parn,
        ],
    );
    s.ok(&adm, &["iam", "delete-role", "--role-name", "ops"]);

    // Access keys of another user, and of oneself.
    let k = s.key_for(&adm, "alice");
    let keys = s.ok(&adm, &["iam", "list-access-keys", "--user-name", "alice"]);
    assert_eq!(keys["AccessKeyMetadata"][0]["AccessKeyId"], k.id.as_str());
    s.ok(
        &adm,
        &[
            "iam",
            "update-access-key",
            "--user-name",
            "alice",
            "--access-key-id",
            &k.id,
            "--status",
            "Inactive",
        ],
    );
    s.ok(
        &adm,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "alice",
            "--access-key-id",
            &k.id,
        ],
    );
    let own = s.ok(&adm, &["iam", "list-access-keys"]);
    assert_eq!(own["AccessKeyMetadata"][0]["UserName"], "admin");
    s.ok(
        &adm,
        &[
            "iam",
            "remove-user-from-group",
            "--group-name",
            "devs",
            "--user-name",
            "alice",
        ],
    );
    s.ok(&adm, &["iam", "delete-group", "--group-name", "devs"]);
    s.ok(&adm, &["iam", "delete-user", "--user-name", "alice"]);
    s.ok(&adm, &["iam", "delete-policy", "--policy-arn", &parn]);

    // What iamd wrote is what the local CLI reads, and every call is in the audit trail.
    let o = s.iam(&["get-user", "--user-name", "admin"]);
    assert!(o.status.success());
    let o = s.iam(&["list-audit-events"]);
    let audit = String::from_utf8_lossy(&o.stdout);
    assert!(
        audit.contains("iam:CreateUser") && audit.contains("iamd"),
        "{audit}"
    );
    assert!(!audit.contains(&root.secret) && !audit.contains(&adm.secret));
}

#[test]
fn delegated_admin_is_limited_by_its_own_policy() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    let acct = s.ok(&root, &["sts", "get-caller-identity"])["Account"]
        .as_str()
        .unwrap()
        .to_string();
    s.ok(&root, &["iam", "create-user", "--user-name", "deleg"]);
    s.ok(
        &root,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "deleg",
            "--policy-name",
            "p",
            "--policy-document",
            PATH_ADMIN,
        ],
    );
    let d = s.key_for(&root, "deleg");

    s.ok(
        &d,
        &[
            "iam",
            "create-user",
            "--user-name",
            "carol",
            "--path",
            "/eng/",
        ],
    );
    s.ok(&d, &["iam", "get-user", "--user-name", "carol"]);
    s.ok(&d, &["iam", "list-users"]);
    let err = s.fails(
        &d,
        &["iam", "create-user", "--user-name", "mallory"],
        "AccessDenied",
    );
    assert!(
        err.contains(&format!("User: arn:aws:iam::{acct}:user/deleg is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::{acct}:user/mallory because no identity-based policy allows the iam:CreateUser action")),
        "{err}"
    );
    let err = s.fails(
        &d,
        &["iam", "delete-user", "--user-name", "carol"],
        "AccessDenied",
    );
    assert!(
        err.contains("with an explicit deny in an identity-based policy"),
        "{err}"
    );
    s.fails(
        &d,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "deleg",
            "--policy-name",
            "x",
            "--policy-document",
            ADMIN_POLICY,
        ],
        "AccessDenied",
    );
    s.fails(
        &d,
        &["iam", "create-group", "--group-name", "g"],
        "AccessDenied",
    );
    // Nothing the denials asked for happened.
    assert!(
        !s.iam(&["get-user", "--user-name", "mallory"])
            .status
            .success()
    );
    assert!(
        s.iam(&["get-user", "--user-name", "carol"])
            .status
            .success()
    );
    let o = s.iam(&["list-user-policies", "--user-name", "deleg"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("\"x\""));
    // The denial is audited with its decision.
    let o = s.iam(&["list-audit-events", "--decision", "deny"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("iam:CreateUser"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn signatures_keys_and_clock() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    s.ok(&root, &["iam", "create-user", "--user-name", "bob"]);
    let k = s.key_for(&root, "bob");
    s.ok(&k, &["sts", "get-caller-identity"]);
    let wrong = Key {
        id: k.id.clone(),
        secret: format!("{}x", k.secret),
    };
    s.fails(
        &wrong,
        &["sts", "get-caller-identity"],
        "SignatureDoesNotMatch",
    );
    s.fails(
        &wrong,
        &["iam", "create-user", "--user-name", "x"],
        "SignatureDoesNotMatch",
    );
    let unknown = Key {
        id: "AKIAAAAAAAAAAAAAAAAA".into(),
        secret: k.secret.clone(),
    };
    s.fails(&unknown, &["iam", "list-users"], "InvalidClientTokenId");
    // Clock skew: the client's clock ten minutes off, either way (faketime).
    let o = s.aws_with(&root, &["faketime", "-f", "-10m"], &["iam", "list-users"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("(SignatureDoesNotMatch)") && err.contains("Signature expired"),
        "{err}"
    );
    let o = s.aws_with(&root, &["faketime", "-f", "+10m"], &["iam", "list-users"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Signature not yet current"), "{err}");
    let o = s.aws_with(&root, &["faketime", "-f", "-4m"], &["iam", "list-users"]);
    assert!(
        o.status.success(),
        "4 minutes is inside the window: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // An inactive key, then a deleted one, are refused; root keys too.
    s.ok(
        &root,
        &[
            "iam",
            "update-access-key",
            "--user-name",
            "bob",
            "--access-key-id",
            &k.id,
            "--status",
            "Inactive",
        ],
    );
    s.fails(&k, &["sts", "get-caller-identity"], "InvalidClientTokenId");
    s.ok(
        &root,
        &[
            "iam",
            "update-access-key",
            "--user-name",
            "bob",
            "--access-key-id",
            &k.id,
            "--status",
            "Active",
        ],
    );
    s.ok(&k, &["sts", "get-caller-identity"]);
    s.ok(
        &root,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "bob",
            "--access-key-id",
            &k.id,
        ],
    );
    s.fails(&k, &["sts", "get-caller-identity"], "InvalidClientTokenId");
    // A second root key (made locally), deactivated through the API.
    let o = s.iam(&["create-access-key"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let root2 = Key {
        id: v["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret: v["AccessKey"]["SecretAccessKey"].as_str().unwrap().into(),
    };
    let err = String::from_utf8_lossy(&s.iam(&["create-access-key"]).stderr).into_owned();
    assert!(
        err.contains("LimitExceeded"),
        "at most two root keys: {err}"
    );
    let listed = s.ok(&root, &["iam", "list-access-keys"]);
    assert_eq!(
        listed["AccessKeyMetadata"].as_array().unwrap().len(),
        2,
        "{listed}"
    );
    s.ok(
        &root,
        &[
            "iam",
            "update-access-key",
            "--access-key-id",
            &root2.id,
            "--status",
            "Inactive",
        ],
    );
    s.fails(&root2, &["iam", "list-users"], "InvalidClientTokenId");
    // A key made before secrets were sealed (only its hash stored) cannot sign.
    let o = s.iam(&["get-user", "--user-name", "bob"]);
    assert!(o.status.success());
}

#[test]
fn protocol_refusals_through_a_real_signer() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    let (st, body) = s.raw(&root, "iam", "Action=GetUser&Version=2010-05-08", &[]);
    assert_eq!(st, 200, "{body}");
    assert!(
        body.contains("<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">")
            && body.contains("<RequestId>"),
        "{body}"
    );
    let cases: &[(&str, &str, u16, &str)] = &[
        (
            "iam",
            "Action=FlyToTheMoon&Version=2010-05-08",
            400,
            "InvalidAction",
        ),
        (
            "iam",
            "Action=GetUser&Version=2099-01-01",
            400,
            "InvalidAction",
        ),
        (
            "iam",
            "Action=ListRoleSessions&Version=2010-05-08",
            400,
            "InvalidAction",
        ),
        ("iam", "Version=2010-05-08", 400, "MissingAction"),
        (
            "iam",
            "Action=CreateUser&Version=2010-05-08&UserName=a&UserName=b",
            404,
            "MalformedQueryString",
        ),
        (
            "iam",
            "Action=TagUser&Version=2010-05-08&UserName=a&Tags.member.3.Key=k",
            404,
            "MalformedQueryString",
        ),
        (
            "iam",
            "Action=CreateUser&Version=2010-05-08&UserName=%FF",
            404,
            "MalformedQueryString",
        ),
        (
            "iam",
            "Action=CreateUser&Version=2010-05-08",
            400,
            "ValidationError",
        ),
        (
            "iam",
            "Action=CreateUser&Version=2010-05-08&UserName=z&Bogus=1",
            400,
            "InvalidParameter",
        ),
        (
            "iam",
            "Action=ListUsers&Version=2010-05-08&MaxItems=0",
            400,
            "ValidationError",
        ),
        (
            "iam",
            "Action=CreatePolicy&Version=2010-05-08&PolicyName=p&PolicyDocument=file%3A%2F%2F%2Fetc%2Fshadow",
            400,
            "ValidationError",
        ),
        (
            "iam",
            "Action=CreateVirtualMFADevice&Version=2010-05-08&VirtualMFADeviceName=m&Outfile=%2Ftmp%2Fx",
            400,
            "InvalidParameter",
        ),
        (
            "sts",
            "Action=GetUser&Version=2011-06-15",
            400,
            "InvalidAction",
        ),
        (
            "ec2",
            "Action=DescribeInstances&Version=2016-11-15",
            403,
            "SignatureDoesNotMatch",
        ),
    ];
    for (svc, body, status, code) in cases {
        let (st, out) = s.raw(&root, svc, body, &[]);
        assert_eq!(
            (st, out.contains(&format!("<Code>{code}</Code>"))),
            (*status, true),
            "{body}: {out}"
        );
        assert!(
            out.contains("<ErrorResponse") && out.contains("<Type>Sender</Type>"),
            "{out}"
        );
    }
    let (st, out) = s.raw(
        &root,
        "iam",
        "Action=GetUser&Version=2010-05-08",
        &["--no-auth"],
    );
    assert_eq!(st, 403);
    assert!(
        out.contains("<Code>MissingAuthenticationToken</Code>"),
        "{out}"
    );
    // A body over the limit (a 131,072-character policy fits; this does not).
    let big = s.dir.path().join("big.txt");
    std::fs::write(
        &big,
        format!(
            "Action=GetUser&Version=2010-05-08&X={}",
            "a".repeat(iamd::server::MAX_BODY)
        ),
    )
    .unwrap();
    let (st, out) = s.raw(&root, "iam", &format!("@{}", big.display()), &[]);
    assert_eq!(st, 413, "{out}");
    assert!(out.contains("<Code>RequestEntityTooLarge</Code>"), "{out}");
    // Nothing was created by any of it, and the server still serves.
    assert!(!s.iam(&["get-user", "--user-name", "z"]).status.success());
    s.ok(&root, &["iam", "list-users"]);
}

#[test]
fn boto3_paginates_250_users_seven_at_a_time() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/paginate.py");
    let o = s.python(&root, &script, &[&s.endpoint()]);
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stderr),
        s.log()
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "250 users in 36 pages"
    );
    // The AWS CLI follows the markers itself with --page-size.
    let all = s.ok(&root, &["iam", "list-users", "--page-size", "7"]);
    assert_eq!(all["Users"].as_array().unwrap().len(), 250);
    let first = s.ok(&root, &["iam", "list-users", "--max-items", "10"]);
    assert_eq!(first["Users"].as_array().unwrap().len(), 10);
    assert!(first["NextToken"].is_string(), "{first}");
}

/// A key made before secrets were sealed (migration 6: only its hash is stored) cannot
/// sign requests: with its right secret it gets the normal `InvalidClientTokenId`, and a
/// starting iamd names it in a warning line.
#[test]
fn a_key_made_before_secrets_were_sealed_is_refused_and_named_at_start() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    s.ok(&root, &["iam", "create-user", "--user-name", "bob"]);
    let k = s.key_for(&root, "bob");
    s.ok(&k, &["sts", "get-caller-identity"]);
    // As a key of a schema-5 store would be after migrating: no sealed secret.
    s.store.sql(&format!(
        "UPDATE access_keys SET secret_sealed = NULL WHERE key_id = '{}'",
        k.id
    ));
    s.fails(&k, &["sts", "get-caller-identity"], "InvalidClientTokenId");
    s.fails(&k, &["iam", "list-users"], "InvalidClientTokenId");
    // Listed as needing rotation.
    let out = s.iam(&["list-access-keys", "--user-name", "bob"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["AccessKeyMetadata"][0]["NeedsRotation"], true, "{v}");
    // A second iamd on the store warns at start.
    let log = s.dir.path().join("second.log");
    let mut second = s
        .store
        .iamd()
        .args(["--http", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut text = String::new();
    while std::time::Instant::now() < deadline && !text.contains("serving") {
        std::thread::sleep(std::time::Duration::from_millis(50));
        text = std::fs::read_to_string(&log).unwrap_or_default();
    }
    let _ = second.kill();
    let _ = second.wait();
    assert!(
        text.contains("iamd: warning: 1 access key(s) made before secrets were sealed")
            && text.contains(&format!("{} (bob)", k.id))
            && text.contains("rotate them"),
        "{text}"
    );
}
