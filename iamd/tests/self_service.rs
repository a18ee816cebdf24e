//! Self-service and delegated administration with AWS's own documented example
//! policies, unchanged, through the real AWS CLI v1 against iamd: users change their own
//! password and enrol their own MFA device (codes from oathtool) and get AccessDenied on
//! anyone else's; a boundary-delegated administrator cannot create a user without the
//! boundary nor remove it; tag-conditioned statements read `aws:RequestTag`,
//! `aws:TagKeys` and `aws:ResourceTag`.

mod support;

use std::process::Command;
use support::{Key, Server};

/// "AWS: Allows IAM users to manage their own credentials on the Security credentials
/// page", unchanged:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage-no-mfa.html>
const SELF_MANAGE_CREDENTIALS: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowViewAccountInfo",
            "Effect": "Allow",
            "Action": [
                "iam:GetAccountPasswordPolicy",
                "iam:GetAccountSummary"
            ],
            "Resource": "*"
        },
        {
            "Sid": "AllowManageOwnPasswords",
            "Effect": "Allow",
            "Action": [
                "iam:ChangePassword",
                "iam:GetUser"
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}"
        },
        {
            "Sid": "AllowManageOwnAccessKeys",
            "Effect": "Allow",
            "Action": [
                "iam:CreateAccessKey",
                "iam:DeleteAccessKey",
                "iam:GetAccessKeyLastUsed",
                "iam:ListAccessKeys",
                "iam:UpdateAccessKey"
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}"
        },
        {
            "Sid": "AllowManageOwnSigningCertificates",
            "Effect": "Allow",
            "Action": [
                "iam:DeleteSigningCertificate",
                "iam:ListSigningCertificates",
                "iam:UpdateSigningCertificate",
                "iam:UploadSigningCertificate"
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}"
        },
        {
            "Sid": "AllowManageOwnSSHPublicKeys",
            "Effect": "Allow",
            "Action": [
                "iam:DeleteSSHPublicKey",
                "iam:GetSSHPublicKey",
                "iam:ListSSHPublicKeys",
                "iam:UpdateSSHPublicKey",
                "iam:UploadSSHPublicKey"
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}"
        },
        {
            "Sid": "AllowManageOwnGitCredentials",
            "Effect": "Allow",
            "Action": [
                "iam:CreateServiceSpecificCredential",
                "iam:DeleteServiceSpecificCredential",
                "iam:ListServiceSpecificCredentials",
                "iam:ResetServiceSpecificCredential",
                "iam:UpdateServiceSpecificCredential"
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}"
        }
    ]
}"#;

/// "IAM: Allows IAM users to self-manage an MFA device", unchanged; its last statement
/// (BlockMostAccessUnlessSignedInWithMFA) denies everything but enrolling MFA to a
/// caller without MFA:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_iam_mfa-selfmanage.html>
const SELF_MANAGE_MFA: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowListActions",
            "Effect": "Allow",
            "Action": [
                "iam:ListUsers",
                "iam:ListVirtualMFADevices"
            ],
            "Resource": "*"
        },
        {
            "Sid": "AllowUserToCreateVirtualMFADevice",
            "Effect": "Allow",
            "Action": [
                "iam:CreateVirtualMFADevice"
            ],
            "Resource": "arn:aws:iam::*:mfa/*"
        },
        {
            "Sid": "AllowUserToManageTheirOwnMFA",
            "Effect": "Allow",
            "Action": [
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice"
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}"
        },
        {
            "Sid": "AllowUserToDeactivateTheirOwnMFAOnlyWhenUsingMFA",
            "Effect": "Allow",
            "Action": [
                "iam:DeactivateMFADevice"
            ],
            "Resource": [
                "arn:aws:iam::*:user/${aws:username}"
            ],
            "Condition": {
                "Bool": {
                    "aws:MultiFactorAuthPresent": "true"
                }
            }
        },
        {
            "Sid": "BlockMostAccessUnlessSignedInWithMFA",
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ListUsers",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice"
            ],
            "Resource": "*",
            "Condition": {
                "BoolIfExists": {
                    "aws:MultiFactorAuthPresent": "false"
                }
            }
        }
    ]
}"#;

/// "IAM: Access the policy simulator API based on user path", unchanged: a delegation
/// limited to the users of one path.
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_iam_policy-sim-path.html>
const POLICY_SIM_PATH: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Action": [
                "iam:GetContextKeysForPrincipalPolicy",
                "iam:SimulatePrincipalPolicy"
            ],
            "Effect": "Allow",
            "Resource": "arn:aws:iam::*:user/Department/Development/*"
        }
    ]
}"#;

/// The three policies of "Delegating responsibility to others using permissions
/// boundaries" (the boundary of every user María creates, María's boundary, María's
/// permissions), unchanged, account 123456789012 included:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html#access_policies_boundaries-delegate>
const X_COMPANY_BOUNDARIES: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ServiceBoundaries",
            "Effect": "Allow",
            "Action": [
                "s3:*",
                "cloudwatch:*",
                "ec2:*",
                "dynamodb:*"
            ],
            "Resource": "*"
        },
        {
            "Sid": "AllowIAMConsoleForCredentials",
            "Effect": "Allow",
            "Action": [
                "iam:ListUsers",
                "iam:GetAccountPasswordPolicy"
            ],
            "Resource": "*"
        },
        {
            "Sid": "AllowManageOwnPasswordAndAccessKeys",
            "Effect": "Allow",
            "Action": [
                "iam:*AccessKey*",
                "iam:ChangePassword",
                "iam:GetUser",
                "iam:*ServiceSpecificCredential*",
                "iam:*SigningCertificate*"
            ],
            "Resource": ["arn:aws:iam::*:user/${aws:username}"]
        },
        {
            "Sid": "DenyS3Logs",
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": [
                "arn:aws:s3:::logs",
                "arn:aws:s3:::logs/*"
            ]
        },
        {
            "Sid": "DenyEC2Production",
            "Effect": "Deny",
            "Action": "ec2:*",
            "Resource": "arn:aws:ec2:*:*:instance/i-1234567890abcdef0"
        }
    ]
}"#;

const DELEGATED_USER_BOUNDARY: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "CreateOrChangeOnlyWithBoundary",
            "Effect": "Allow",
            "Action": [
                "iam:CreateUser",
                "iam:DeleteUserPolicy",
                "iam:AttachUserPolicy",
                "iam:DetachUserPolicy",
                "iam:PutUserPermissionsBoundary",
                "iam:PutUserPolicy"
            ],
            "Resource": "*",
            "Condition": {"StringEquals":
                {"iam:PermissionsBoundary": "arn:aws:iam::123456789012:policy/XCompanyBoundaries"}}
        },
        {
            "Sid": "CloudWatchAndOtherIAMTasks",
            "Effect": "Allow",
            "Action": [
                "cloudwatch:*",
                "iam:GetUser",
                "iam:ListUsers",
                "iam:DeleteUser",
                "iam:UpdateUser",
                "iam:CreateAccessKey",
                "iam:CreateLoginProfile",
                "iam:DeleteLoginProfile",
                "iam:GetAccountPasswordPolicy",
                "iam:GetLoginProfile",
                "iam:ListGroups",
                "iam:ListGroupsForUser",
                "iam:CreateGroup",
                "iam:GetGroup",
                "iam:DeleteGroup",
                "iam:UpdateGroup",
                "iam:CreatePolicy",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:GetUserPolicy",
                "iam:GetRolePolicy",
                "iam:ListAccessKeys",
                "iam:ListSigningCertificates",
                "iam:ListSSHPublicKeys",
                "iam:ListServiceSpecificCredentials",
                "iam:ListMFADevices",
                "iam:ListPolicies",
                "iam:ListPolicyVersions",
                "iam:ListEntitiesForPolicy",
                "iam:ListUserPolicies",
                "iam:ListAttachedUserPolicies",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:SetDefaultPolicyVersion",
                "iam:SimulatePrincipalPolicy",
                "iam:SimulateCustomPolicy"
            ],
            "NotResource": "arn:aws:iam::123456789012:user/Maria"
        },
        {
            "Sid": "NoBoundaryPolicyEdit",
            "Effect": "Deny",
            "Action": [
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion"
            ],
            "Resource": [
                "arn:aws:iam::123456789012:policy/XCompanyBoundaries",
                "arn:aws:iam::123456789012:policy/DelegatedUserBoundary"
            ]
        },
        {
            "Sid": "NoBoundaryUserDelete",
            "Effect": "Deny",
            "Action": "iam:DeleteUserPermissionsBoundary",
            "Resource": "*"
        }
    ]
}"#;

const DELEGATED_USER_PERMISSIONS: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "IAM",
            "Effect": "Allow",
            "Action": "iam:*",
            "Resource": "*"
        },
        {
            "Sid": "CloudWatchLimited",
            "Effect": "Allow",
            "Action": [
                "cloudwatch:GetDashboard",
                "cloudwatch:GetMetricData",
                "cloudwatch:ListDashboards",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics"
            ],
            "Resource": "*"
        },
        {
            "Sid": "S3BucketContents",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::ZhangBucket"
        }
    ]
}"#;

/// AWS's documented account placeholder, made the store's account for the examples
/// that name it.
const EXAMPLE_ACCOUNT: &str = "123456789012";

fn put_policy(s: &Server, by: &Key, user: &str, name: &str, doc: &str) {
    s.ok(
        by,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            user,
            "--policy-name",
            name,
            "--policy-document",
            doc,
        ],
    );
}

/// The TOTP code of `seed` at unix time `t`, from oathtool.
fn totp_at(seed: &str, t: i64) -> String {
    let o = Command::new("oathtool")
        .args(["--totp", "-b", seed, "-N", &format!("@{t}")])
        .output()
        .expect("oathtool");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Every audit row and iamd's log, to prove no password reached them.
fn audit_and_log(s: &Server) -> String {
    let rows = s
        .store
        .sql(r#"SELECT "user", action, decision, reason FROM audit_events"#);
    format!("{rows}{}", s.log())
}

#[test]
fn users_manage_their_own_password_and_mfa_and_nobody_elses() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    for u in ["alice", "bob"] {
        s.ok(&root, &["iam", "create-user", "--user-name", u]);
    }
    s.ok(
        &root,
        &[
            "iam",
            "update-account-password-policy",
            "--minimum-password-length",
            "12",
            "--require-numbers",
        ],
    );

    // Login profiles over the API: the CLI's checks and errors.
    let lp = s.ok(
        &root,
        &[
            "iam",
            "create-login-profile",
            "--user-name",
            "alice",
            "--password",
            "first-secret-11",
            "--password-reset-required",
        ],
    );
    assert_eq!(lp["LoginProfile"]["UserName"], "alice");
    assert_eq!(lp["LoginProfile"]["PasswordResetRequired"], true);
    s.fails(
        &root,
        &[
            "iam",
            "create-login-profile",
            "--user-name",
            "alice",
            "--password",
            "another-secret-22",
        ],
        "EntityAlreadyExists",
    );
    s.fails(
        &root,
        &[
            "iam",
            "create-login-profile",
            "--user-name",
            "bob",
            "--password",
            "short-1",
        ],
        "PasswordPolicyViolation",
    );
    s.fails(
        &root,
        &[
            "iam",
            "create-login-profile",
            "--user-name",
            "ghost",
            "--password",
            "ghost-secret-33",
        ],
        "NoSuchEntity",
    );
    s.fails(
        &root,
        &["iam", "get-login-profile", "--user-name", "bob"],
        "NoSuchEntity",
    );
    s.ok(
        &root,
        &[
            "iam",
            "create-login-profile",
            "--user-name",
            "bob",
            "--password",
            "bobs-secret-44",
        ],
    );
    s.ok(
        &root,
        &[
            "iam",
            "update-login-profile",
            "--user-name",
            "alice",
            "--no-password-reset-required",
        ],
    );
    let lp = s.ok(&root, &["iam", "get-login-profile", "--user-name", "alice"]);
    assert_eq!(lp["LoginProfile"]["PasswordResetRequired"], false);
    s.fails(
        &root,
        &[
            "iam",
            "update-login-profile",
            "--user-name",
            "alice",
            "--password",
            "nodigits-here",
        ],
        "PasswordPolicyViolation",
    );
    s.ok(
        &root,
        &[
            "iam",
            "update-login-profile",
            "--user-name",
            "alice",
            "--password",
            "second-secret-55",
        ],
    );
    // The root user has no IAM password to change.
    s.fails(
        &root,
        &[
            "iam",
            "change-password",
            "--old-password",
            "x",
            "--new-password",
            "root-secret-66",
        ],
        "InvalidUserType",
    );

    // Alice, with AWS's self-service policy, changes her own password.
    put_policy(&s, &root, "alice", "self-manage", SELF_MANAGE_CREDENTIALS);
    let alice = s.key_for(&root, "alice");
    s.fails(
        &alice,
        &[
            "iam",
            "change-password",
            "--old-password",
            "wrong-secret-77",
            "--new-password",
            "third-secret-88",
        ],
        "AccessDenied",
    );
    s.fails(
        &alice,
        &[
            "iam",
            "change-password",
            "--old-password",
            "second-secret-55",
            "--new-password",
            "second-secret-55",
        ],
        "PasswordPolicyViolation",
    );
    s.fails(
        &alice,
        &[
            "iam",
            "change-password",
            "--old-password",
            "second-secret-55",
            "--new-password",
            "too-short-9",
        ],
        "PasswordPolicyViolation",
    );
    s.ok(
        &alice,
        &[
            "iam",
            "change-password",
            "--old-password",
            "second-secret-55",
            "--new-password",
            "third-secret-88",
        ],
    );
    // The old one no longer is the current one.
    s.fails(
        &alice,
        &[
            "iam",
            "change-password",
            "--old-password",
            "second-secret-55",
            "--new-password",
            "fourth-secret-99",
        ],
        "AccessDenied",
    );
    // ... and bob's is not hers to change, nor his keys.
    let denied = s.fails(
        &alice,
        &[
            "iam",
            "update-login-profile",
            "--user-name",
            "bob",
            "--password",
            "stolen-secret-10",
        ],
        "AccessDenied",
    );
    assert!(
        denied.contains("iam:UpdateLoginProfile on resource: arn:aws:iam::")
            && denied.contains(":user/bob because no identity-based policy allows"),
        "{denied}"
    );
    s.fails(
        &alice,
        &["iam", "create-access-key", "--user-name", "bob"],
        "AccessDenied",
    );
    assert_eq!(
        s.ok(&alice, &["iam", "list-access-keys"])["AccessKeyMetadata"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // With AWS's MFA self-management policy she enrols her own virtual device...
    put_policy(&s, &root, "alice", "mfa", SELF_MANAGE_MFA);
    // ... and, until she signs in with MFA, everything else is denied explicitly.
    let e = s.fails(
        &alice,
        &[
            "iam",
            "change-password",
            "--old-password",
            "third-secret-88",
            "--new-password",
            "fourth-secret-99",
        ],
        "AccessDenied",
    );
    assert!(e.contains("with an explicit deny"), "{e}");
    let seed_file = s.dir.path().join("alice.seed");
    let d = s.ok(
        &alice,
        &[
            "iam",
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            "alice",
            "--outfile",
            seed_file.to_str().unwrap(),
            "--bootstrap-method",
            "Base32StringSeed",
        ],
    );
    let serial = d["VirtualMFADevice"]["SerialNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(serial.ends_with(":mfa/alice"), "{serial}");
    let seed = std::fs::read_to_string(&seed_file).unwrap();
    assert_eq!(seed.len(), 32, "the CLI wrote the Base32 seed: {seed:?}");
    let t = now();
    s.ok(
        &alice,
        &[
            "iam",
            "enable-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            &serial,
            "--authentication-code1",
            &totp_at(&seed, t),
            "--authentication-code2",
            &totp_at(&seed, t + 30),
        ],
    );
    let mine = s.ok(&alice, &["iam", "list-mfa-devices", "--user-name", "alice"]);
    assert_eq!(mine["MFADevices"][0]["SerialNumber"], serial);

    // Bob's device is not hers to enable, nor his list hers to read.
    let bob_seed_file = s.dir.path().join("bob.seed");
    let bd = s.ok(
        &root,
        &[
            "iam",
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            "bob",
            "--outfile",
            bob_seed_file.to_str().unwrap(),
            "--bootstrap-method",
            "Base32StringSeed",
        ],
    );
    let bob_serial = bd["VirtualMFADevice"]["SerialNumber"].as_str().unwrap();
    let bob_seed = std::fs::read_to_string(&bob_seed_file).unwrap();
    let t = now();
    s.fails(
        &alice,
        &[
            "iam",
            "enable-mfa-device",
            "--user-name",
            "bob",
            "--serial-number",
            bob_serial,
            "--authentication-code1",
            &totp_at(&bob_seed, t),
            "--authentication-code2",
            &totp_at(&bob_seed, t + 30),
        ],
        "AccessDenied",
    );
    s.fails(
        &alice,
        &["iam", "list-mfa-devices", "--user-name", "bob"],
        "AccessDenied",
    );
    s.fails(
        &alice,
        &[
            "iam",
            "deactivate-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            &serial,
        ],
        "AccessDenied",
    );
    let bobs = s.ok(&root, &["iam", "list-mfa-devices", "--user-name", "bob"]);
    assert_eq!(bobs["MFADevices"], serde_json::json!([]), "nothing changed");

    // The login's lockout rule: wrong current passwords count, and a locked user is
    // refused before the current password is checked; nothing changes meanwhile.
    let o = s.iam(&[
        "update-account-lockout-policy",
        "--max-failed-attempts",
        "2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    put_policy(&s, &root, "bob", "self-manage", SELF_MANAGE_CREDENTIALS);
    let bob = s.key_for(&root, "bob");
    let change = |old: &'static str, new: &'static str| {
        [
            "iam",
            "change-password",
            "--old-password",
            old,
            "--new-password",
            new,
        ]
    };
    for _ in 0..2 {
        s.fails(
            &bob,
            &change("guess-secret-12", "bobs-new-secret-13"),
            "AccessDenied",
        );
    }
    let e = s.fails(
        &bob,
        &change("bobs-secret-44", "bobs-new-secret-13"),
        "EntityTemporarilyUnmodifiable",
    );
    assert!(e.contains("locked"), "{e}");
    let o = s.iam(&["unlock-user", "--user-name", "bob"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The password did not change while locked: the old one still is the current one.
    s.ok(&bob, &change("bobs-secret-44", "bobs-new-secret-13"));

    // No password reached the audit trail or the log.
    let trail = audit_and_log(&s);
    assert!(trail.contains("iam:ChangePassword"), "{trail}");
    for p in [
        "first-secret-11",
        "second-secret-55",
        "third-secret-88",
        "wrong-secret-77",
        "stolen-secret-10",
        "bobs-secret-44",
        "bobs-new-secret-13",
        "guess-secret-12",
    ] {
        assert!(!trail.contains(p), "{p} in the audit trail or log");
    }
}

#[test]
fn path_delegation_and_tag_conditions() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    for (u, path) in [
        ("deleg", "/"),
        ("dev1", "/Department/Development/"),
        ("ops1", "/Department/Ops/"),
    ] {
        s.ok(
            &root,
            &["iam", "create-user", "--user-name", u, "--path", path],
        );
    }
    put_policy(&s, &root, "deleg", "sim", POLICY_SIM_PATH);
    let deleg = s.key_for(&root, "deleg");
    let acct = s.ok(&root, &["sts", "get-caller-identity"])["Account"]
        .as_str()
        .unwrap()
        .to_string();
    let sim = |user: &str| {
        vec![
            "iam".to_string(),
            "simulate-principal-policy".into(),
            "--policy-source-arn".into(),
            format!("arn:aws:iam::{acct}:user/Department/{user}"),
            "--action-names".into(),
            "host:Login".into(),
        ]
    };
    let a = sim("Development/dev1");
    let r = s.ok(&deleg, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r["EvaluationResults"][0]["EvalDecision"], "implicitDeny");
    let a = sim("Ops/ops1");
    s.fails(
        &deleg,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        "AccessDenied",
    );

    // Tag-conditioned statements (the condition keys of AWS's ABAC examples).
    let tagger = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"CreateOnlyTeamTagged","Effect":"Allow","Action":["iam:CreateUser","iam:TagUser"],"Resource":"*",
  "Condition":{"StringEquals":{"aws:RequestTag/team":"web"},"ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]}}},
 {"Sid":"UntagOnlyEnv","Effect":"Allow","Action":"iam:UntagUser","Resource":"*",
  "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}},
 {"Sid":"KeysOfWebUsers","Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"*",
  "Condition":{"StringEquals":{"iam:ResourceTag/team":"web"}}},
 {"Sid":"NeverTouchProd","Effect":"Deny","Action":"iam:*","Resource":"*",
  "Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}}]}"#;
    put_policy(&s, &root, "deleg", "tags", tagger);
    s.ok(
        &deleg,
        &[
            "iam",
            "create-user",
            "--user-name",
            "web1",
            "--tags",
            "Key=team,Value=web",
            "Key=env,Value=dev",
        ],
    );
    s.fails(
        &deleg,
        &["iam", "create-user", "--user-name", "untagged"],
        "AccessDenied",
    );
    s.fails(
        &deleg,
        &[
            "iam",
            "create-user",
            "--user-name",
            "db1",
            "--tags",
            "Key=team,Value=db",
        ],
        "AccessDenied",
    );
    s.fails(
        &deleg,
        &[
            "iam",
            "create-user",
            "--user-name",
            "web2",
            "--tags",
            "Key=team,Value=web",
            "Key=owner,Value=me",
        ],
        "AccessDenied",
    );
    s.fails(
        &deleg,
        &["iam", "get-user", "--user-name", "untagged"],
        "AccessDenied",
    );
    s.fails(
        &root,
        &["iam", "get-user", "--user-name", "db1"],
        "NoSuchEntity",
    );
    s.key_for(&deleg, "web1");
    s.fails(
        &deleg,
        &["iam", "create-access-key", "--user-name", "dev1"],
        "AccessDenied",
    );
    s.fails(
        &deleg,
        &[
            "iam",
            "untag-user",
            "--user-name",
            "web1",
            "--tag-keys",
            "team",
        ],
        "AccessDenied",
    );
    s.ok(
        &deleg,
        &[
            "iam",
            "untag-user",
            "--user-name",
            "web1",
            "--tag-keys",
            "env",
        ],
    );
    // A prod user is off limits whatever else allows it.
    s.ok(
        &root,
        &[
            "iam",
            "tag-user",
            "--user-name",
            "web1",
            "--tags",
            "Key=env,Value=prod",
        ],
    );
    let e = s.fails(
        &deleg,
        &["iam", "create-access-key", "--user-name", "web1"],
        "AccessDenied",
    );
    assert!(e.contains("explicit deny"), "{e}");
}

#[test]
fn boundary_delegated_admin_cannot_create_unbounded_users() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start_in(venv, Some(EXAMPLE_ACCOUNT));
    let policy = |name: &str, doc: &str| {
        s.ok(
            &root,
            &[
                "iam",
                "create-policy",
                "--policy-name",
                name,
                "--policy-document",
                doc,
            ],
        )["Policy"]["Arn"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let x_company = policy("XCompanyBoundaries", X_COMPANY_BOUNDARIES);
    assert_eq!(
        x_company,
        "arn:aws:iam::123456789012:policy/XCompanyBoundaries"
    );
    let delegated = policy("DelegatedUserBoundary", DELEGATED_USER_BOUNDARY);
    let perms = policy("DelegatedUserPermissions", DELEGATED_USER_PERMISSIONS);
    // María (Linux names are lower case: "maria").
    s.ok(
        &root,
        &[
            "iam",
            "create-user",
            "--user-name",
            "maria",
            "--permissions-boundary",
            &delegated,
        ],
    );
    s.ok(
        &root,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "maria",
            "--policy-arn",
            &perms,
        ],
    );
    let maria = s.key_for(&root, "maria");

    // Without the boundary, or with another one: denied by her boundary, nothing made.
    let e = s.fails(
        &maria,
        &["iam", "create-user", "--user-name", "zhang"],
        "AccessDenied",
    );
    assert!(
        e.contains("because no permissions boundary allows the iam:CreateUser action"),
        "{e}"
    );
    s.fails(
        &maria,
        &[
            "iam",
            "create-user",
            "--user-name",
            "zhang",
            "--permissions-boundary",
            &perms,
        ],
        "AccessDenied",
    );
    s.fails(
        &root,
        &["iam", "get-user", "--user-name", "zhang"],
        "NoSuchEntity",
    );
    // With it: made, and she may give the user policies (the boundary caps them).
    s.ok(
        &maria,
        &[
            "iam",
            "create-user",
            "--user-name",
            "zhang",
            "--permissions-boundary",
            &x_company,
        ],
    );
    s.ok(
        &maria,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "zhang",
            "--policy-arn",
            &perms,
        ],
    );
    s.ok(
        &maria,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "zhang",
            "--policy-name",
            "extra",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        ],
    );
    // She cannot take the boundary off, swap it, nor edit the boundary policies.
    let e = s.fails(
        &maria,
        &[
            "iam",
            "delete-user-permissions-boundary",
            "--user-name",
            "zhang",
        ],
        "AccessDenied",
    );
    assert!(e.contains("with an explicit deny"), "{e}");
    s.fails(
        &maria,
        &[
            "iam",
            "put-user-permissions-boundary",
            "--user-name",
            "zhang",
            "--permissions-boundary",
            &perms,
        ],
        "AccessDenied",
    );
    s.fails(
        &maria,
        &[
            "iam",
            "create-policy-version",
            "--policy-arn",
            &x_company,
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            "--set-as-default",
        ],
        "AccessDenied",
    );
    // Nor give a policy to a user without that boundary (herself included).
    s.fails(
        &maria,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "maria",
            "--policy-arn",
            &perms,
        ],
        "AccessDenied",
    );
    let z = s.ok(&root, &["iam", "get-user", "--user-name", "zhang"]);
    assert_eq!(
        z["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"], x_company,
        "the boundary stayed"
    );
    // The new user's own powers are capped by XCompanyBoundaries: its own keys, not IAM.
    let zhang = s.key_for(&root, "zhang");
    s.ok(&zhang, &["iam", "list-access-keys"]);
    let e = s.fails(
        &zhang,
        &["iam", "create-user", "--user-name", "eve"],
        "AccessDenied",
    );
    assert!(e.contains("no permissions boundary allows"), "{e}");
}
