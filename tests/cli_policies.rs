//! `iam` managed and inline policies, roles, hosts, account reports, audit trail, the
//! simulator, and concurrent writers.

mod support;
use serde_json::json;
use support::cli::*;

const DENY_SUDO: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoSudo","Effect":"Deny","Action":"host:Sudo","Resource":"*"}]}"#;

fn policy(iam: &Cli, name: &str, doc: &str) -> String {
    iam.ok(&[
        "create-policy",
        "--policy-name",
        name,
        "--policy-document",
        doc,
    ])["Policy"]["Arn"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn managed_policies_and_versions() {
    let iam = Cli::new();
    let file = iam.dir().join("web.json");
    std::fs::write(&file, ALLOW_LOGIN).unwrap();
    let v = iam.ok(&[
        "create-policy",
        "--policy-name",
        "web",
        "--policy-document",
        &format!("file://{}", file.display()),
        "--description",
        "logins",
    ]);
    let p = &v["Policy"];
    let arn = p["Arn"].as_str().unwrap().to_string();
    assert!(p["PolicyId"].as_str().unwrap().starts_with("ANPA"));
    assert_eq!(p["DefaultVersionId"], "v1");
    assert_eq!(p["AttachmentCount"], 0);
    assert_eq!(arn, format!("arn:aws:iam::{}:policy/web", iam.account()));
    iam.err(
        &[
            "create-policy",
            "--policy-name",
            "web",
            "--policy-document",
            ALLOW_LOGIN,
        ],
        "EntityAlreadyExists",
    );
    iam.err(
        &[
            "create-policy",
            "--policy-name",
            "bad",
            "--policy-document",
            "{\"Version\":\"2012-10-17\"}",
        ],
        "MalformedPolicyDocument",
    );
    iam.err(
        &[
            "create-policy",
            "--policy-name",
            "bad",
            "--policy-document",
            "not json",
        ],
        "MalformedPolicyDocument",
    );
    let e = iam.err(&["create-policy", "--policy-name", "bad", "--policy-document", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"host:Login","Resource":"*"}]}"#], "MalformedPolicyDocument");
    assert!(e.contains("Statement[0]") || e.contains("Effect"), "{e}");
    iam.err(
        &[
            "create-policy",
            "--policy-name",
            "bad",
            "--policy-document",
            "file:///nonexistent.json",
        ],
        "ValidationError",
    );
    assert_eq!(
        iam.ok(&["get-policy", "--policy-arn", &arn])["Policy"]["Description"],
        "logins"
    );
    iam.err(
        &["get-policy", "--policy-arn", "arn:aws:iam::1:policy/none"],
        "NoSuchEntity",
    );
    assert_eq!(
        iam.ok(&["list-policies", "--scope", "Local"])["Policies"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        iam.ok(&["list-policies", "--scope", "AWS"])["Policies"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        iam.ok(&["list-policies", "--only-attached"])["Policies"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    for i in 2..=5 {
        let pv = iam.ok(&[
            "create-policy-version",
            "--policy-arn",
            &arn,
            "--policy-document",
            DENY_SUDO,
        ]);
        assert_eq!(pv["PolicyVersion"]["VersionId"], format!("v{i}"));
        assert_eq!(pv["PolicyVersion"]["IsDefaultVersion"], false);
    }
    iam.err(
        &[
            "create-policy-version",
            "--policy-arn",
            &arn,
            "--policy-document",
            DENY_SUDO,
        ],
        "LimitExceeded",
    );
    iam.err(
        &[
            "create-policy-version",
            "--policy-arn",
            &arn,
            "--policy-document",
            "{}",
        ],
        "MalformedPolicyDocument",
    );
    iam.ok(&[
        "delete-policy-version",
        "--policy-arn",
        &arn,
        "--version-id",
        "v2",
    ]);
    let pv = iam.ok(&[
        "create-policy-version",
        "--policy-arn",
        &arn,
        "--policy-document",
        DENY_SUDO,
        "--set-as-default",
    ]);
    assert_eq!(pv["PolicyVersion"]["VersionId"], "v6");
    assert_eq!(
        iam.ok(&["get-policy", "--policy-arn", &arn])["Policy"]["DefaultVersionId"],
        "v6"
    );
    let g = iam.ok(&[
        "get-policy-version",
        "--policy-arn",
        &arn,
        "--version-id",
        "v6",
    ]);
    assert_eq!(
        g["PolicyVersion"]["Document"]["Statement"][0]["Sid"],
        "NoSudo"
    );
    assert_eq!(g["PolicyVersion"]["IsDefaultVersion"], true);
    iam.err(
        &[
            "get-policy-version",
            "--policy-arn",
            &arn,
            "--version-id",
            "v2",
        ],
        "NoSuchEntity",
    );
    iam.err(
        &[
            "get-policy-version",
            "--policy-arn",
            &arn,
            "--version-id",
            "two",
        ],
        "ValidationError",
    );
    let l = iam.ok(&["list-policy-versions", "--policy-arn", &arn]);
    assert_eq!(l["Versions"].as_array().unwrap().len(), 5);
    assert_eq!(l["Versions"][0]["VersionId"], "v6");
    iam.err(
        &[
            "delete-policy-version",
            "--policy-arn",
            &arn,
            "--version-id",
            "v6",
        ],
        "DeleteConflict",
    );
    iam.ok(&[
        "set-default-policy-version",
        "--policy-arn",
        &arn,
        "--version-id",
        "v1",
    ]);
    iam.err(
        &[
            "set-default-policy-version",
            "--policy-arn",
            &arn,
            "--version-id",
            "v9",
        ],
        "NoSuchEntity",
    );
    iam.err(&["delete-policy", "--policy-arn", &arn], "DeleteConflict");
    for v in ["v3", "v4", "v5", "v6"] {
        iam.ok(&[
            "delete-policy-version",
            "--policy-arn",
            &arn,
            "--version-id",
            v,
        ]);
    }
    iam.ok(&["delete-policy", "--policy-arn", &arn]);
    iam.err(&["delete-policy", "--policy-arn", &arn], "NoSuchEntity");
}

#[test]
fn attachments_and_entities() {
    let iam = Cli::new();
    iam.user("alice");
    iam.ok(&["create-group", "--group-name", "ops"]);
    iam.ok(&[
        "create-role",
        "--role-name",
        "admin",
        "--assume-role-policy-document",
        TRUST,
    ]);
    let arn = policy(&iam, "web", ALLOW_LOGIN);
    iam.ok(&[
        "attach-user-policy",
        "--user-name",
        "alice",
        "--policy-arn",
        &arn,
    ]);
    iam.ok(&[
        "attach-user-policy",
        "--user-name",
        "alice",
        "--policy-arn",
        &arn,
    ]);
    iam.ok(&[
        "attach-group-policy",
        "--group-name",
        "ops",
        "--policy-arn",
        &arn,
    ]);
    iam.ok(&[
        "attach-role-policy",
        "--role-name",
        "admin",
        "--policy-arn",
        &arn,
    ]);
    iam.err(
        &[
            "attach-user-policy",
            "--user-name",
            "ghost",
            "--policy-arn",
            &arn,
        ],
        "NoSuchEntity",
    );
    iam.err(
        &[
            "attach-group-policy",
            "--group-name",
            "ops",
            "--policy-arn",
            "arn:aws:iam::1:policy/x",
        ],
        "NoSuchEntity",
    );
    assert_eq!(
        iam.ok(&["get-policy", "--policy-arn", &arn])["Policy"]["AttachmentCount"],
        3
    );
    assert_eq!(
        iam.ok(&["list-policies", "--only-attached"])["Policies"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for (cmd, flag, name) in [
        ("list-attached-user-policies", "--user-name", "alice"),
        ("list-attached-group-policies", "--group-name", "ops"),
        ("list-attached-role-policies", "--role-name", "admin"),
    ] {
        assert_eq!(
            iam.ok(&[cmd, flag, name])["AttachedPolicies"],
            json!([{"PolicyName": "web", "PolicyArn": arn}])
        );
    }
    let e = iam.ok(&["list-entities-for-policy", "--policy-arn", &arn]);
    assert_eq!(e["PolicyUsers"][0]["UserName"], "alice");
    assert_eq!(e["PolicyGroups"][0]["GroupName"], "ops");
    assert_eq!(e["PolicyRoles"][0]["RoleName"], "admin");
    assert!(
        e["PolicyRoles"][0]["RoleId"]
            .as_str()
            .unwrap()
            .starts_with("AROA")
    );
    iam.err(
        &[
            "list-entities-for-policy",
            "--policy-arn",
            "arn:aws:iam::1:policy/x",
        ],
        "NoSuchEntity",
    );
    iam.err(&["delete-policy", "--policy-arn", &arn], "DeleteConflict");
    iam.err(&["delete-role", "--role-name", "admin"], "DeleteConflict");
    iam.ok(&[
        "detach-user-policy",
        "--user-name",
        "alice",
        "--policy-arn",
        &arn,
    ]);
    iam.err(
        &[
            "detach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &arn,
        ],
        "NoSuchEntity",
    );
    iam.ok(&[
        "detach-group-policy",
        "--group-name",
        "ops",
        "--policy-arn",
        &arn,
    ]);
    iam.ok(&[
        "detach-role-policy",
        "--role-name",
        "admin",
        "--policy-arn",
        &arn,
    ]);
    iam.ok(&["delete-policy", "--policy-arn", &arn]);
    // At most 10 managed policies per principal.
    for i in 0..10 {
        let a = policy(&iam, &format!("p{i}"), ALLOW_LOGIN);
        iam.ok(&[
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &a,
        ]);
    }
    let a = policy(&iam, "p10", ALLOW_LOGIN);
    iam.err(
        &[
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &a,
        ],
        "LimitExceeded",
    );
}

#[test]
fn inline_policies() {
    let iam = Cli::new();
    iam.user("alice");
    iam.ok(&["create-group", "--group-name", "ops"]);
    iam.ok(&[
        "create-role",
        "--role-name",
        "admin",
        "--assume-role-policy-document",
        TRUST,
    ]);
    for (kind, flag, name) in [
        ("user", "--user-name", "alice"),
        ("group", "--group-name", "ops"),
        ("role", "--role-name", "admin"),
    ] {
        let put = format!("put-{kind}-policy");
        let get = format!("get-{kind}-policy");
        let del = format!("delete-{kind}-policy");
        let list = format!("list-{kind}-policies");
        iam.ok(&[
            &put,
            flag,
            name,
            "--policy-name",
            "login",
            "--policy-document",
            ALLOW_LOGIN,
        ]);
        iam.ok(&[
            &put,
            flag,
            name,
            "--policy-name",
            "login",
            "--policy-document",
            DENY_SUDO,
        ]);
        let g = iam.ok(&[&get, flag, name, "--policy-name", "login"]);
        assert_eq!(g["PolicyName"], "login");
        assert_eq!(g["PolicyDocument"]["Statement"][0]["Sid"], "NoSudo");
        assert_eq!(
            iam.ok(&[&list, flag, name])["PolicyNames"],
            json!(["login"])
        );
        iam.err(
            &[
                &put,
                flag,
                name,
                "--policy-name",
                "bad",
                "--policy-document",
                "[]",
            ],
            "MalformedPolicyDocument",
        );
        iam.err(
            &[
                &put,
                flag,
                "ghost",
                "--policy-name",
                "x",
                "--policy-document",
                ALLOW_LOGIN,
            ],
            "NoSuchEntity",
        );
        iam.err(&[&get, flag, name, "--policy-name", "nope"], "NoSuchEntity");
        iam.ok(&[&del, flag, name, "--policy-name", "login"]);
        iam.err(
            &[&del, flag, name, "--policy-name", "login"],
            "NoSuchEntity",
        );
    }
    // A trust policy (with Principal) is not an identity policy.
    iam.err(
        &[
            "put-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "t",
            "--policy-document",
            TRUST,
        ],
        "MalformedPolicyDocument",
    );
}

#[test]
fn roles() {
    let iam = Cli::new();
    let b = policy(&iam, "bound", ALLOW_LOGIN);
    let v = iam.ok(&[
        "create-role",
        "--role-name",
        "admin",
        "--assume-role-policy-document",
        TRUST,
        "--description",
        "sudo",
        "--max-session-duration",
        "7200",
        "--permissions-boundary",
        &b,
        "--tags",
        "Key=tier,Value=1",
    ]);
    let r = &v["Role"];
    assert!(r["RoleId"].as_str().unwrap().starts_with("AROA"));
    assert_eq!(r["MaxSessionDuration"], 7200);
    assert_eq!(
        r["AssumeRolePolicyDocument"]["Statement"][0]["Action"],
        "sts:AssumeRole"
    );
    assert_eq!(
        r["PermissionsBoundary"]["PermissionsBoundaryArn"],
        b.as_str()
    );
    assert_eq!(r["Tags"][0]["Key"], "tier");
    iam.err(
        &[
            "create-role",
            "--role-name",
            "admin",
            "--assume-role-policy-document",
            TRUST,
        ],
        "EntityAlreadyExists",
    );
    iam.err(
        &[
            "create-role",
            "--role-name",
            "r2",
            "--assume-role-policy-document",
            ALLOW_LOGIN,
        ],
        "MalformedPolicyDocument",
    );
    iam.err(
        &[
            "create-role",
            "--role-name",
            "r2",
            "--assume-role-policy-document",
            TRUST,
            "--max-session-duration",
            "100",
        ],
        "ValidationError",
    );
    iam.err(
        &[
            "create-role",
            "--role-name",
            "r2",
            "--assume-role-policy-document",
            TRUST,
            "--max-session-duration",
            "43201",
        ],
        "ValidationError",
    );
    iam.err(
        &[
            "create-role",
            "--role-name",
            "r2",
            "--assume-role-policy-document",
            TRUST,
            "--permissions-boundary",
            "arn:aws:iam::1:policy/x",
        ],
        "NoSuchEntity",
    );
    assert_eq!(
        iam.ok(&["get-role", "--role-name", "admin"])["Role"]["Description"],
        "sudo"
    );
    iam.err(&["get-role", "--role-name", "nope"], "NoSuchEntity");
    assert_eq!(
        iam.ok(&["list-roles"])["Roles"].as_array().unwrap().len(),
        1
    );
    iam.ok(&[
        "update-role",
        "--role-name",
        "admin",
        "--description",
        "root shell",
        "--max-session-duration",
        "43200",
    ]);
    let r = iam.ok(&["get-role", "--role-name", "admin"]);
    assert_eq!(r["Role"]["MaxSessionDuration"], 43200);
    iam.err(
        &[
            "update-role",
            "--role-name",
            "admin",
            "--max-session-duration",
            "3599",
        ],
        "ValidationError",
    );
    iam.err(
        &["update-role", "--role-name", "nope", "--description", "x"],
        "NoSuchEntity",
    );
    let trust2 = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}"#;
    iam.ok(&[
        "update-assume-role-policy",
        "--role-name",
        "admin",
        "--policy-document",
        trust2,
    ]);
    assert_eq!(
        iam.ok(&["get-role", "--role-name", "admin"])["Role"]["AssumeRolePolicyDocument"]["Statement"]
            [0]["Principal"]["AWS"],
        "arn:aws:iam::123456789012:user/alice"
    );
    iam.err(
        &[
            "update-assume-role-policy",
            "--role-name",
            "admin",
            "--policy-document",
            "{}",
        ],
        "MalformedPolicyDocument",
    );
    iam.ok(&[
        "tag-role",
        "--role-name",
        "admin",
        "--tags",
        "Key=env,Value=prod",
    ]);
    assert_eq!(
        iam.ok(&["list-role-tags", "--role-name", "admin"])["Tags"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    iam.ok(&["untag-role", "--role-name", "admin", "--tag-keys", "tier"]);
    assert_eq!(
        iam.ok(&["list-role-tags", "--role-name", "admin"])["Tags"],
        json!([{"Key":"env","Value":"prod"}])
    );
    iam.err(
        &["tag-role", "--role-name", "nope", "--tags", "Key=a,Value=b"],
        "NoSuchEntity",
    );
    iam.ok(&["delete-role-permissions-boundary", "--role-name", "admin"]);
    assert!(
        iam.ok(&["get-role", "--role-name", "admin"])["Role"]
            .get("PermissionsBoundary")
            .is_none()
    );
    iam.ok(&[
        "put-role-permissions-boundary",
        "--role-name",
        "admin",
        "--permissions-boundary",
        &b,
    ]);
    iam.err(
        &[
            "put-role-permissions-boundary",
            "--role-name",
            "admin",
            "--permissions-boundary",
            "arn:aws:iam::1:policy/x",
        ],
        "NoSuchEntity",
    );
    iam.ok(&["delete-role", "--role-name", "admin"]);
    iam.err(&["delete-role", "--role-name", "admin"], "NoSuchEntity");
}

#[test]
fn host_tags() {
    let iam = Cli::new();
    iam.ok(&[
        "tag-host",
        "--host-name",
        "web1",
        "--tags",
        "Key=env,Value=prod",
        "Key=tier,Value=web",
    ]);
    let t = iam.ok(&["list-host-tags", "--host-name", "web1"]);
    assert_eq!(t["Tags"].as_array().unwrap().len(), 2);
    assert!(t["Arn"].as_str().unwrap().ends_with(":host/web1"));
    iam.ok(&["untag-host", "--host-name", "web1", "--tag-keys", "tier"]);
    assert_eq!(
        iam.ok(&["list-host-tags", "--host-name", "web1"])["Tags"],
        json!([{"Key":"env","Value":"prod"}])
    );
    iam.err(
        &["tag-host", "--host-name", "web1", "--tags", "Key=,Value=x"],
        "ValidationError",
    );
    // Without --host-name: this host.
    iam.ok(&["tag-host", "--tags", "Key=role,Value=dev"]);
    let here = nix_hostname();
    assert_eq!(iam.ok(&["list-host-tags"])["HostName"], here.as_str());
}

fn nix_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn account_summary_details_and_credential_report() {
    let iam = Cli::new();
    iam.user("alice");
    iam.user("bob");
    iam.ok_with(
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Sup3r-secret\n"),
    );
    iam.ok(&["create-access-key", "--user-name", "alice"]);
    iam.ok(&["create-group", "--group-name", "ops"]);
    iam.ok(&[
        "add-user-to-group",
        "--group-name",
        "ops",
        "--user-name",
        "alice",
    ]);
    iam.ok(&[
        "put-group-policy",
        "--group-name",
        "ops",
        "--policy-name",
        "g",
        "--policy-document",
        ALLOW_LOGIN,
    ]);
    let arn = policy(&iam, "web", ALLOW_LOGIN);
    iam.ok(&[
        "attach-user-policy",
        "--user-name",
        "alice",
        "--policy-arn",
        &arn,
    ]);
    iam.ok(&[
        "create-role",
        "--role-name",
        "admin",
        "--assume-role-policy-document",
        TRUST,
    ]);
    let s = iam.ok(&["get-account-summary"])["SummaryMap"].clone();
    assert_eq!(s["Users"], 2);
    assert_eq!(s["Groups"], 1);
    assert_eq!(s["Roles"], 1);
    assert_eq!(s["Policies"], 1);
    assert_eq!(s["AccessKeysPerUserQuota"], 2);
    let d = iam.ok(&["get-account-authorization-details"]);
    let alice = d["UserDetailList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["UserName"] == "alice")
        .unwrap()
        .clone();
    assert_eq!(alice["GroupList"], json!(["ops"]));
    assert_eq!(
        alice["AttachedManagedPolicies"][0]["PolicyArn"],
        arn.as_str()
    );
    assert_eq!(
        d["GroupDetailList"][0]["GroupPolicyList"][0]["PolicyName"],
        "g"
    );
    assert_eq!(d["RoleDetailList"][0]["RoleName"], "admin");
    assert_eq!(
        d["Policies"][0]["PolicyVersionList"][0]["Document"]["Version"],
        "2012-10-17"
    );
    iam.err(&["get-credential-report"], "ReportNotPresent");
    assert_eq!(iam.ok(&["generate-credential-report"])["State"], "COMPLETE");
    let r = iam.ok(&["get-credential-report"]);
    assert_eq!(r["ReportFormat"], "text/csv");
    let csv = iam.ok_raw(&["get-credential-report", "--output", "text"]);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for col in [
        "user",
        "arn",
        "password_enabled",
        "password_last_used",
        "password_last_changed",
        "mfa_active",
        "access_key_1_active",
        "access_key_1_last_used_date",
        "access_key_2_active",
    ] {
        assert!(header.contains(&col), "{col}");
    }
    // The account root user's row comes first, as in AWS's report.
    let root: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(root.len(), header.len(), "{csv}");
    assert_eq!(root[0], "<root_account>", "{csv}");
    assert!(root[1].starts_with("arn:aws:iam::") && root[1].ends_with(":root"));
    assert_eq!(
        &root[3..8],
        [
            "not_supported",
            "N/A",
            "not_supported",
            "not_supported",
            "false"
        ]
    );
    let row: Vec<&str> = lines
        .find(|l| l.starts_with("alice,"))
        .unwrap()
        .split(',')
        .collect();
    let col = |n: &str| row[header.iter().position(|h| *h == n).unwrap()];
    assert_eq!(col("password_enabled"), "true");
    assert_eq!(col("mfa_active"), "false");
    assert_eq!(col("access_key_1_active"), "true");
    assert_eq!(col("access_key_2_active"), "false");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("bob,") && l.contains(",false,N/A,"))
    );
}

#[test]
fn audit_trail_filters() {
    let iam = Cli::new();
    iam.user("alice");
    {
        let s = iam.store();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        for (i, (user, decision, service)) in [
            ("alice", "allow", "sshd"),
            ("alice", "deny", "sudo"),
            ("bob", "deny", "sshd"),
        ]
        .iter()
        .enumerate()
        {
            s.append_audit(&pam_iam::store::AuditEvent {
                time: now - 7200 + 3600 * i as i64,
                user: user.to_string(),
                service: service.to_string(),
                rhost: Some("10.0.0.5".into()),
                tty: Some("ssh".into()),
                action: "host:Login".into(),
                decision: pam_iam::audit::Decision::parse(decision).unwrap(),
                reason: "test".into(),
            })
            .unwrap();
        }
    }
    let all = iam.ok(&["list-audit-events"]);
    let ev = all["Events"].as_array().unwrap();
    // Three PAM-style events plus the CLI's own record of create-user.
    assert_eq!(ev.len(), 4);
    assert_eq!(ev[0]["UserName"], "alice");
    assert_eq!(ev[0]["RemoteHost"], "10.0.0.5");
    let n = |args: &[&str]| {
        let mut a = vec!["list-audit-events"];
        a.extend_from_slice(args);
        iam.ok(&a)["Events"].as_array().unwrap().len()
    };
    assert_eq!(n(&["--user-name", "alice"]), 2);
    assert_eq!(n(&["--decision", "deny"]), 2);
    assert_eq!(n(&["--service", "sshd"]), 2);
    assert_eq!(n(&["--since", "90m"]), 3);
    assert_eq!(n(&["--since", "30m"]), 2);
    assert_eq!(n(&["--until", "90m"]), 1);
    assert_eq!(n(&["--since", "2000-01-01T00:00:00Z"]), 4);
    assert_eq!(n(&["--service", "iam"]), 1);
    assert_eq!(
        n(&[
            "--user-name",
            "alice",
            "--decision",
            "deny",
            "--since",
            "3h"
        ]),
        1
    );
    assert_eq!(n(&["--max-items", "1"]), 1);
    iam.err(
        &["list-audit-events", "--since", "last tuesday"],
        "ValidationError",
    );
}

#[test]
fn cli_changes_are_audited() {
    let iam = Cli::new();
    iam.user("alice");
    iam.ok(&["create-group", "--group-name", "ops"]);
    iam.ok(&[
        "add-user-to-group",
        "--group-name",
        "ops",
        "--user-name",
        "alice",
    ]);
    iam.ok(&["get-user", "--user-name", "alice"]);
    iam.err(
        &["create-user", "--user-name", "alice"],
        "EntityAlreadyExists",
    );
    let ev = iam.ok(&["list-audit-events", "--service", "iam"]);
    let ev = ev["Events"].as_array().unwrap();
    let actions: Vec<&str> = ev.iter().map(|e| e["Action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["iam:CreateUser", "iam:CreateGroup", "iam:AddUserToGroup"]
    );
    assert_eq!(ev[2]["Reason"], "--group-name ops --user-name alice");
    assert_eq!(ev[0]["Decision"], "allow");
}

#[test]
fn simulate_custom_policy() {
    let iam = Cli::new();
    let v = iam.ok(&[
        "simulate-custom-policy",
        "--policy-input-list",
        ALLOW_LOGIN,
        DENY_SUDO,
        "--action-names",
        "host:Login",
        "host:Sudo",
        "sts:AssumeRole",
        "--resource-arns",
        "arn:aws:iam::123456789012:host/web1",
    ]);
    let r = v["EvaluationResults"].as_array().unwrap();
    assert_eq!(r.len(), 3);
    let decision =
        |a: &str| r.iter().find(|x| x["EvalActionName"] == a).unwrap()["EvalDecision"].clone();
    assert_eq!(decision("host:Login"), "allowed");
    assert_eq!(decision("host:Sudo"), "explicitDeny");
    assert_eq!(decision("sts:AssumeRole"), "implicitDeny");
    // Conditions with context entries, both forms.
    let cond = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
    let run = |ctx: &str| {
        iam.ok(&[
            "simulate-custom-policy",
            "--policy-input-list",
            cond,
            "--action-names",
            "host:Login",
            "--context-entries",
            ctx,
        ])["EvaluationResults"][0]["EvalDecision"]
            .clone()
    };
    assert_eq!(
        run("ContextKeyName=aws:SourceIp,ContextKeyValues=10.0.0.5,ContextKeyType=ip"),
        "allowed"
    );
    assert_eq!(
        run(
            r#"[{"ContextKeyName":"aws:SourceIp","ContextKeyValues":["192.168.1.1"],"ContextKeyType":"ip"}]"#
        ),
        "implicitDeny"
    );
    // A boundary that does not allow the action denies it.
    let v = iam.ok(&[
        "simulate-custom-policy",
        "--policy-input-list",
        ALLOW_LOGIN,
        "--permissions-boundary-policy-input-list",
        DENY_SUDO,
        "--action-names",
        "host:Login",
    ]);
    assert_eq!(v["EvaluationResults"][0]["EvalDecision"], "implicitDeny");
    iam.err(
        &[
            "simulate-custom-policy",
            "--policy-input-list",
            "{}",
            "--action-names",
            "host:Login",
        ],
        "MalformedPolicyDocument",
    );
    iam.err(
        &[
            "simulate-custom-policy",
            "--policy-input-list",
            ALLOW_LOGIN,
            "--action-names",
            "host:Login",
            "--context-entries",
            "ContextKeyName=aws:SourceIp,ContextKeyValues=nope,ContextKeyType=ip",
        ],
        "InvalidInput",
    );
}

#[test]
fn simulate_principal_policy() {
    let iam = Cli::new();
    let acct = iam.account();
    iam.user("alice");
    iam.ok(&["create-group", "--group-name", "ops"]);
    iam.ok(&[
        "add-user-to-group",
        "--group-name",
        "ops",
        "--user-name",
        "alice",
    ]);
    iam.ok(&[
        "put-group-policy",
        "--group-name",
        "ops",
        "--policy-name",
        "login",
        "--policy-document",
        ALLOW_LOGIN,
    ]);
    let arn = policy(&iam, "nosudo", DENY_SUDO);
    iam.ok(&[
        "attach-user-policy",
        "--user-name",
        "alice",
        "--policy-arn",
        &arn,
    ]);
    let user_arn = format!("arn:aws:iam::{acct}:user/alice");
    let v = iam.ok(&[
        "simulate-principal-policy",
        "--policy-source-arn",
        &user_arn,
        "--action-names",
        "host:Login",
        "host:Sudo",
    ]);
    let r = v["EvaluationResults"].as_array().unwrap();
    assert_eq!(r[0]["EvalDecision"], "allowed");
    assert_eq!(r[0]["MatchedStatements"][0]["SourcePolicyId"], "login");
    assert_eq!(r[1]["EvalDecision"], "explicitDeny");
    assert_eq!(r[1]["MatchedStatements"][0]["SourcePolicyId"], arn.as_str());
    // Group ARNs work; a boundary from the store restricts.
    let g = iam.ok(&[
        "simulate-principal-policy",
        "--policy-source-arn",
        &format!("arn:aws:iam::{acct}:group/ops"),
        "--action-names",
        "host:Login",
    ]);
    assert_eq!(g["EvaluationResults"][0]["EvalDecision"], "allowed");
    iam.ok(&[
        "put-user-permissions-boundary",
        "--user-name",
        "alice",
        "--permissions-boundary",
        &arn,
    ]);
    let v = iam.ok(&[
        "simulate-principal-policy",
        "--policy-source-arn",
        &user_arn,
        "--action-names",
        "host:Login",
    ]);
    assert_eq!(v["EvaluationResults"][0]["EvalDecision"], "implicitDeny");
    iam.err(
        &[
            "simulate-principal-policy",
            "--policy-source-arn",
            &format!("arn:aws:iam::{acct}:user/ghost"),
            "--action-names",
            "host:Login",
        ],
        "NoSuchEntity",
    );
    iam.err(
        &[
            "simulate-principal-policy",
            "--policy-source-arn",
            "arn:aws:iam::000000000000:user/alice",
            "--action-names",
            "host:Login",
        ],
        "InvalidInput",
    );
}

/// 50 `iam` processes writing at once lose nothing and never report a locked database.
#[test]
fn concurrent_writers_lose_nothing() {
    // A fresh store: the first writers also race to create and migrate it.
    let iam = Cli::new();
    let spawn_all = |args: Vec<Vec<String>>| {
        let children: Vec<_> = args
            .iter()
            .map(|a| {
                iam.cmd(&a.iter().map(String::as_str).collect::<Vec<_>>())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            assert!(!err.contains("locked") && !err.contains("busy"), "{err}");
        }
    };
    spawn_all(
        (0..50)
            .map(|i| vec!["create-user".into(), "--user-name".into(), format!("u{i}")])
            .collect(),
    );
    iam.ok(&["create-group", "--group-name", "ops"]);
    spawn_all(
        (0..50)
            .map(|i| {
                vec![
                    "add-user-to-group".into(),
                    "--group-name".into(),
                    "ops".into(),
                    "--user-name".into(),
                    format!("u{i}"),
                ]
            })
            .collect(),
    );
    assert_eq!(
        iam.ok(&["list-users"])["Users"].as_array().unwrap().len(),
        50
    );
    assert_eq!(
        iam.ok(&["get-group", "--group-name", "ops"])["Users"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
}

/// Every command that names an entity answers NoSuchEntity (and changes nothing) when
/// the entity does not exist.
#[test]
fn missing_entities_table() {
    let iam = Cli::new();
    iam.user("alice");
    iam.ok(&["create-group", "--group-name", "ops"]);
    iam.ok(&[
        "create-role",
        "--role-name",
        "admin",
        "--assume-role-policy-document",
        TRUST,
    ]);
    let arn = policy(&iam, "web", ALLOW_LOGIN);
    let nope_policy = "arn:aws:iam::000000000000:policy/nope";
    let nope_mfa = "arn:aws:iam::000000000000:mfa/nope";
    let cases: &[&[&str]] = &[
        &["get-user", "--user-name", "ghost"],
        &["update-user", "--user-name", "ghost", "--new-path", "/x/"],
        &["delete-user", "--user-name", "ghost"],
        &[
            "tag-user",
            "--user-name",
            "ghost",
            "--tags",
            "Key=a,Value=b",
        ],
        &["untag-user", "--user-name", "ghost", "--tag-keys", "a"],
        &["list-user-tags", "--user-name", "ghost"],
        &[
            "put-user-permissions-boundary",
            "--user-name",
            "ghost",
            "--permissions-boundary",
            &arn,
        ],
        &["delete-user-permissions-boundary", "--user-name", "ghost"],
        &["get-login-profile", "--user-name", "alice"],
        &[
            "update-login-profile",
            "--user-name",
            "alice",
            "--password-reset-required",
        ],
        &[
            "update-login-profile",
            "--user-name",
            "ghost",
            "--password-reset-required",
        ],
        &["delete-login-profile", "--user-name", "alice"],
        &["get-user-lockout-status", "--user-name", "ghost"],
        &["unlock-user", "--user-name", "ghost"],
        &[
            "resync-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            nope_mfa,
            "--authentication-code1",
            "1",
            "--authentication-code2",
            "2",
        ],
        &[
            "deactivate-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            nope_mfa,
        ],
        &["delete-virtual-mfa-device", "--serial-number", nope_mfa],
        &["list-mfa-devices", "--user-name", "ghost"],
        &["create-recovery-codes", "--user-name", "ghost"],
        &["create-access-key", "--user-name", "ghost"],
        &["list-access-keys", "--user-name", "ghost"],
        &[
            "update-access-key",
            "--access-key-id",
            "AKIANOPE",
            "--status",
            "Inactive",
        ],
        &["delete-access-key", "--access-key-id", "AKIANOPE"],
        &["get-access-key-last-used", "--access-key-id", "AKIANOPE"],
        &["list-ssh-public-keys", "--user-name", "ghost"],
        &[
            "get-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-id",
            "APKANOPE",
        ],
        &[
            "delete-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-id",
            "APKANOPE",
        ],
        &["get-group", "--group-name", "nope"],
        &["list-groups-for-user", "--user-name", "ghost"],
        &[
            "add-user-to-group",
            "--group-name",
            "nope",
            "--user-name",
            "alice",
        ],
        &[
            "remove-user-from-group",
            "--group-name",
            "ops",
            "--user-name",
            "alice",
        ],
        &["update-group", "--group-name", "nope", "--new-path", "/x/"],
        &["delete-group", "--group-name", "nope"],
        &["get-policy", "--policy-arn", nope_policy],
        &["delete-policy", "--policy-arn", nope_policy],
        &[
            "create-policy-version",
            "--policy-arn",
            nope_policy,
            "--policy-document",
            ALLOW_LOGIN,
        ],
        &[
            "get-policy-version",
            "--policy-arn",
            &arn,
            "--version-id",
            "v9",
        ],
        &["list-policy-versions", "--policy-arn", nope_policy],
        &[
            "delete-policy-version",
            "--policy-arn",
            &arn,
            "--version-id",
            "v9",
        ],
        &[
            "set-default-policy-version",
            "--policy-arn",
            &arn,
            "--version-id",
            "v9",
        ],
        &[
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            nope_policy,
        ],
        &[
            "attach-group-policy",
            "--group-name",
            "nope",
            "--policy-arn",
            &arn,
        ],
        &[
            "attach-role-policy",
            "--role-name",
            "nope",
            "--policy-arn",
            &arn,
        ],
        &[
            "detach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &arn,
        ],
        &[
            "detach-group-policy",
            "--group-name",
            "ops",
            "--policy-arn",
            &arn,
        ],
        &[
            "detach-role-policy",
            "--role-name",
            "admin",
            "--policy-arn",
            &arn,
        ],
        &["list-attached-user-policies", "--user-name", "ghost"],
        &["list-attached-group-policies", "--group-name", "nope"],
        &["list-attached-role-policies", "--role-name", "nope"],
        &["list-entities-for-policy", "--policy-arn", nope_policy],
        &[
            "put-group-policy",
            "--group-name",
            "nope",
            "--policy-name",
            "p",
            "--policy-document",
            ALLOW_LOGIN,
        ],
        &[
            "get-role-policy",
            "--role-name",
            "admin",
            "--policy-name",
            "p",
        ],
        &[
            "delete-group-policy",
            "--group-name",
            "ops",
            "--policy-name",
            "p",
        ],
        &["list-user-policies", "--user-name", "ghost"],
        &["list-group-policies", "--group-name", "nope"],
        &["list-role-policies", "--role-name", "nope"],
        &["get-role", "--role-name", "nope"],
        &["update-role", "--role-name", "nope", "--description", "d"],
        &[
            "update-assume-role-policy",
            "--role-name",
            "nope",
            "--policy-document",
            TRUST,
        ],
        &["delete-role", "--role-name", "nope"],
        &["tag-role", "--role-name", "nope", "--tags", "Key=a,Value=b"],
        &["untag-role", "--role-name", "nope", "--tag-keys", "a"],
        &["list-role-tags", "--role-name", "nope"],
        &[
            "put-role-permissions-boundary",
            "--role-name",
            "admin",
            "--permissions-boundary",
            nope_policy,
        ],
        &["delete-role-permissions-boundary", "--role-name", "nope"],
    ];
    for args in cases {
        iam.err(args, "NoSuchEntity");
    }
}
