//! The operation table held against AWS's own service model: botocore's, from the AWS
//! CLI venv the test environment installs (`IAMD_AWS_VENV`; no model file is copied
//! into the repository). Every IAM operation iamd serves must exist in AWS IAM, take
//! only members AWS's input shape has and every member it has (differences listed
//! below, each with why), and require exactly what AWS requires.

mod support;

use pam_iam::cli::api;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Members we take that AWS's model does not, and why.
const EXTENSIONS: &[(&str, &str, &str)] = &[
    (
        "CreateUser",
        "Uid",
        "pam-iam's own: the Linux uid of the user's account",
    ),
    (
        "CreateVirtualMFADevice",
        "BootstrapMethod",
        "the AWS CLI's own customisation (--bootstrap-method with --outfile), a member here",
    ),
];

/// Members AWS leaves optional that we require, and why.
const STRICTER: &[(&str, &str, &str)] = &[
    (
        "CreateLoginProfile",
        "Password",
        "pam-iam has no password-less sign-in (AWS's is for root's own profile)",
    ),
    (
        "CreateLoginProfile",
        "UserName",
        "AWS leaves it out for the root user's own profile; root has no password here",
    ),
];

/// Members the server fills in itself and refuses from the caller.
const SERVER_FILLED: &[(&str, &str)] = &[("ChangePassword", "UserName")];

/// AWS members the `iam` CLI does not have yet (a client sending one gets
/// `InvalidParameter`). Closing one means deleting its line.
const NOT_YET: &[(&str, &str)] = &[
    ("CreateVirtualMFADevice", "Tags"),
    ("CreatePolicy", "Tags"),
    ("ListPolicies", "PolicyUsageFilter"),
    ("ListAttachedUserPolicies", "PathPrefix"),
    ("ListAttachedGroupPolicies", "PathPrefix"),
    ("ListAttachedRolePolicies", "PathPrefix"),
    ("ListEntitiesForPolicy", "EntityFilter"),
    ("ListEntitiesForPolicy", "PathPrefix"),
    ("ListEntitiesForPolicy", "PolicyUsageFilter"),
    ("CreateRole", "MaxSigninSessionDuration"),
    ("UpdateRole", "MaxSigninSessionDuration"),
    ("UpdateRole", "ResetMaxSigninSessionDuration"),
    ("CreateLoginProfile", "MaxSigninSessionDuration"),
    ("UpdateLoginProfile", "MaxSigninSessionDuration"),
    ("UpdateLoginProfile", "ResetMaxSigninSessionDuration"),
    ("GetAccountAuthorizationDetails", "Filter"),
    ("SimulateCustomPolicy", "OrderedOrganizationPolicyInputList"),
    ("SimulateCustomPolicy", "ResourceHandlingOption"),
    ("SimulateCustomPolicy", "ResourceOwner"),
    ("SimulateCustomPolicy", "ResourcePolicy"),
    ("SimulatePrincipalPolicy", "PolicyExclusionList"),
    ("SimulatePrincipalPolicy", "ResourceHandlingOption"),
    ("SimulatePrincipalPolicy", "ResourceOwner"),
    ("SimulatePrincipalPolicy", "ResourcePolicy"),
];

/// The paging members the server itself takes (`Marker`, `MaxItems`) for any operation
/// whose AWS input has them.
const PAGING: &[&str] = &["Marker", "MaxItems"];

type Model = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

/// AWS's input members of each operation, and the required ones.
fn model(venv: &std::path::Path, service: &str) -> Model {
    let script = r#"
import botocore.session, json, sys
m = botocore.session.get_session().get_service_model(sys.argv[1])
out = {}
for op in m.operation_names:
    s = m.operation_model(op).input_shape
    out[op] = [list(s.members) if s else [], sorted(s.required_members) if s else []]
print(json.dumps(out))
"#;
    let out = Command::new(venv.join("bin/python3"))
        .args(["-c", script, service])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: BTreeMap<String, (Vec<String>, Vec<String>)> =
        serde_json::from_slice(&out.stdout).unwrap();
    v.into_iter()
        .map(|(k, (m, r))| (k, (m.into_iter().collect(), r.into_iter().collect())))
        .collect()
}

/// What the server takes for `name`: (members, required members).
fn ours(name: &str, aws_members: &BTreeSet<String>) -> (BTreeSet<String>, BTreeSet<String>) {
    let op = &api::operations()[name];
    let mut members: BTreeSet<String> = op.params.iter().map(|p| p.aws.clone()).collect();
    let mut required: BTreeSet<String> = op
        .params
        .iter()
        .filter(|p| p.required)
        .map(|p| p.aws.clone())
        .collect();
    for p in PAGING {
        if aws_members.contains(*p) {
            members.insert((*p).to_string());
        }
    }
    for (_, m) in iamd::operations::WIRE_REQUIRED
        .iter()
        .filter(|(a, _)| *a == name)
    {
        required.insert((*m).to_string());
    }
    for (_, m) in SERVER_FILLED.iter().filter(|(a, _)| *a == name) {
        members.remove(*m);
        required.remove(*m);
    }
    if iamd::operations::SELF_OPERATIONS.contains(&name) {
        // Left out, it is the caller.
        required.remove("UserName");
    }
    (members, required)
}

fn differences(aws: &Model) -> Vec<String> {
    let mut problems = Vec::new();
    for name in iamd::operations::IAM_OPERATIONS {
        let Some((members, required)) = aws.get(*name) else {
            problems.push(format!("{name}: not an operation of AWS IAM"));
            continue;
        };
        let (ours, ours_required) = ours(name, members);
        for m in ours.difference(members) {
            if !EXTENSIONS.iter().any(|(o, x, _)| o == name && x == m) {
                problems.push(format!("{name}: we take {m}, AWS does not"));
            }
        }
        for m in members.difference(&ours) {
            if !NOT_YET.iter().any(|(o, x)| o == name && x == m) {
                problems.push(format!("{name}: AWS takes {m}, we do not"));
            }
        }
        for m in required.difference(&ours_required) {
            problems.push(format!("{name}: AWS requires {m}, we do not"));
        }
        for m in ours_required.difference(required) {
            if !STRICTER.iter().any(|(o, x, _)| o == name && x == m) {
                problems.push(format!("{name}: we require {m}, AWS does not"));
            }
        }
    }
    // A listed difference that is no longer one: take its line out.
    for (o, m, _) in EXTENSIONS {
        if aws.get(*o).is_some_and(|(ms, _)| ms.contains(*m)) {
            problems.push(format!("{o}: {m} is in AWS's model now (EXTENSIONS)"));
        }
    }
    for (o, m) in NOT_YET {
        if api::operations()[*o].param(m).is_some() {
            problems.push(format!("{o}: {m} is served now (NOT_YET)"));
        }
    }
    problems
}

#[test]
fn served_iam_operations_match_the_aws_model() {
    let Some(venv) = support::venv() else { return };
    let aws = model(&venv, "iam");
    assert!(
        aws.len() > 100,
        "botocore's IAM model has {} operations",
        aws.len()
    );
    let problems = differences(&aws);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_catches_a_drifted_table() {
    let Some(venv) = support::venv() else { return };
    let mut aws = model(&venv, "iam");
    // AWS gains a required member, and renames one we take.
    let (m, r) = aws.get_mut("CreateUser").unwrap();
    m.insert("Color".into());
    r.insert("Color".into());
    m.remove("PermissionsBoundary");
    aws.remove("GetAccountSummary");
    let problems = differences(&aws).join("\n");
    for want in [
        "CreateUser: AWS takes Color, we do not",
        "CreateUser: AWS requires Color, we do not",
        "CreateUser: we take PermissionsBoundary, AWS does not",
        "GetAccountSummary: not an operation of AWS IAM",
    ] {
        assert!(problems.contains(want), "{want} not in:\n{problems}");
    }
}

#[test]
fn a_member_aws_requires_is_required_on_the_wire() {
    let (s, root) = support::Server::start_with(std::path::PathBuf::new(), &[]);
    let (st, body, _) = support::signed_call(
        s.port,
        &root,
        "iam",
        "Action=GetSSHPublicKey&Version=2010-05-08&UserName=alice&SSHPublicKeyId=APKAEXAMPLE",
    );
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("<Code>ValidationError</Code>"), "{body}");
    assert!(
        body.contains("Value null at &apos;encoding&apos;"),
        "{body}"
    );
    // UserName left out of ListGroupsForUser is refused as AWS refuses it, not the caller's.
    let (st, body, _) = support::signed_call(
        s.port,
        &root,
        "iam",
        "Action=ListGroupsForUser&Version=2010-05-08",
    );
    assert_eq!(st, 400, "{body}");
    assert!(
        body.contains("Value null at &apos;userName&apos;"),
        "{body}"
    );
}
