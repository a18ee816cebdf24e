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

/// What `script` prints as JSON, run by the venv's Python (with botocore) on `args`.
fn botocore<T: serde::de::DeserializeOwned>(
    venv: &std::path::Path,
    script: &str,
    args: &[&str],
) -> T {
    let out = Command::new(venv.join("bin/python3"))
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

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
    let v: BTreeMap<String, (Vec<String>, Vec<String>)> = botocore(venv, script, &[service]);
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

/// Every served IAM operation whose AWS output is an empty structure in a result
/// wrapper answers with that empty wrapper (botocore fails on the answer otherwise:
/// `aws iam update-role` printed `'UpdateRoleResult'`), and only those.
#[test]
fn empty_results_are_wrapped_as_aws_wraps_them() {
    let Some(venv) = support::venv() else { return };
    let script = r#"
import botocore.session, json
m = botocore.session.get_session().get_service_model('iam')
out = []
for op in m.operation_names:
    o = m.operation_model(op).output_shape
    if o is not None and not o.members and o.serialization.get('resultWrapper'):
        out.append(op)
print(json.dumps(out))
"#;
    let aws: Vec<String> = botocore(&venv, script, &[]);
    let served: Vec<&str> = aws
        .iter()
        .map(String::as_str)
        .filter(|o| iamd::operations::IAM_OPERATIONS.contains(o))
        .collect();
    assert_eq!(
        served,
        iamd::xml::EMPTY_RESULTS,
        "AWS's empty wrapped results: {aws:?}"
    );
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

// ---- STS: the operation table of iamd/src/sts_members.rs against botocore's model.

/// AWS STS operations not served, and why.
const STS_NOT_SERVED: &[(&str, &str)] = &[
    (
        "AssumeRoleWithSAML",
        "no SAML identity providers: pam-iam's principals are IAM users",
    ),
    (
        "AssumeRoleWithWebIdentity",
        "no OIDC identity providers: pam-iam's principals are IAM users",
    ),
    (
        "AssumeRoot",
        "AWS Organizations' centralized root access: there is one account here",
    ),
    (
        "DecodeAuthorizationMessage",
        "iamd's AccessDenied messages are not encoded: they say in clear why",
    ),
    (
        "GetAccessKeyInfo",
        "one account per store: every key is this account's",
    ),
    (
        "GetFederationToken",
        "no federated users: a session is a user's (GetSessionToken) or a role's (AssumeRole)",
    ),
    (
        "GetDelegatedAccessToken",
        "AWS Organizations' delegated access: there is one account here",
    ),
    (
        "GetScopedCredentials",
        "AWS service-scoped credentials: no other AWS service runs here",
    ),
    (
        "GetWebIdentityToken",
        "no OIDC identity provider: iamd issues no web identity tokens",
    ),
];

/// AWS STS members not taken, and why (a client sending one gets `InvalidParameter`).
const STS_NOT_TAKEN: &[(&str, &str, &str)] = &[
    (
        "AssumeRole",
        "ProvidedContexts",
        "trusted context assertions come from IAM Identity Center, which does not run here",
    ),
    (
        "AssumeRole",
        "MinimumSessionTokenSize",
        "session tokens here are one fixed size (128 random bytes, base64)",
    ),
    (
        "GetSessionToken",
        "MinimumSessionTokenSize",
        "session tokens here are one fixed size (128 random bytes, base64)",
    ),
];

/// Per operation, per member: (required, type, min, max, pattern), from botocore.
type StsModel =
    BTreeMap<String, BTreeMap<String, (bool, String, Option<i64>, Option<i64>, Option<String>)>>;

fn sts_model(venv: &std::path::Path) -> StsModel {
    let script = r#"
import botocore.session, json
m = botocore.session.get_session().get_service_model('sts')
out = {}
for op in m.operation_names:
    s = m.operation_model(op).input_shape
    ms = {}
    for n, sh in (s.members.items() if s else []):
        d = sh.metadata
        ms[n] = [n in s.required_members, sh.type_name, d.get('min'), d.get('max'), d.get('pattern')]
    out[op] = ms
print(json.dumps(out))
"#;
    botocore(venv, script, &[])
}

fn sts_differences(aws: &StsModel) -> Vec<String> {
    use iamd::sts_members::{OPERATIONS, Shape};
    let mut problems = Vec::new();
    for op in OPERATIONS {
        let Some(members) = aws.get(op.name) else {
            problems.push(format!("{}: not an operation of AWS STS", op.name));
            continue;
        };
        for m in op.members {
            let Some((required, ty, min, max, pattern)) = members.get(m.name) else {
                problems.push(format!("{}: we take {}, AWS does not", op.name, m.name));
                continue;
            };
            if *required != m.required {
                problems.push(format!(
                    "{}: {} required {required} by AWS, {} here",
                    op.name, m.name, m.required
                ));
            }
            let ours = match m.shape {
                Shape::Str {
                    min, max, pattern, ..
                } => (
                    "string",
                    Some(min as i64),
                    max.map(|x| x as i64),
                    pattern.map(|(p, _)| p.to_string()),
                ),
                Shape::Int { min, max } => ("integer", Some(min), Some(max), None),
                Shape::List { max } => ("list", None, max.map(|x| x as i64), None),
            };
            let theirs = (
                ty.as_str(),
                if ty == "list" { None } else { *min },
                *max,
                pattern.clone(),
            );
            if ours != theirs {
                problems.push(format!(
                    "{}: {} is {theirs:?} in AWS's model, {ours:?} here",
                    op.name, m.name
                ));
            }
        }
        for n in members.keys() {
            if !op.members.iter().any(|m| m.name == n)
                && !STS_NOT_TAKEN
                    .iter()
                    .any(|(o, x, _)| *o == op.name && x == n)
            {
                problems.push(format!("{}: AWS takes {n}, we do not", op.name));
            }
        }
    }
    for name in aws.keys() {
        if !OPERATIONS.iter().any(|o| o.name == name)
            && !STS_NOT_SERVED.iter().any(|(o, _)| o == name)
        {
            problems.push(format!(
                "{name}: an AWS STS operation we neither serve nor list"
            ));
        }
    }
    // A listed difference that is no longer one: take its line out.
    for (o, _) in STS_NOT_SERVED {
        if OPERATIONS.iter().any(|x| x.name == *o) {
            problems.push(format!("{o} is served now (STS_NOT_SERVED)"));
        }
    }
    for (o, m, _) in STS_NOT_TAKEN {
        if OPERATIONS
            .iter()
            .any(|x| x.name == *o && x.members.iter().any(|y| y.name == *m))
        {
            problems.push(format!("{o}: {m} is taken now (STS_NOT_TAKEN)"));
        }
    }
    problems
}

#[test]
fn served_sts_operations_match_the_aws_model() {
    let Some(venv) = support::venv() else { return };
    let aws = sts_model(&venv);
    assert!(aws.contains_key("AssumeRole"), "{aws:?}");
    let problems = sts_differences(&aws);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_sts_check_catches_a_drifted_table() {
    let Some(venv) = support::venv() else { return };
    let mut aws = sts_model(&venv);
    let ar = aws.get_mut("AssumeRole").unwrap();
    ar.insert("Color".into(), (true, "string".into(), None, None, None));
    ar.get_mut("ExternalId").unwrap().3 = Some(64);
    ar.remove("SourceIdentity");
    aws.insert("GetColor".into(), BTreeMap::new());
    let problems = sts_differences(&aws).join("\n");
    for want in [
        "AssumeRole: AWS takes Color, we do not",
        "AssumeRole: ExternalId is (\"string\", Some(2), Some(64)",
        "AssumeRole: we take SourceIdentity, AWS does not",
        "GetColor: an AWS STS operation we neither serve nor list",
    ] {
        assert!(problems.contains(want), "{want} not in:\n{problems}");
    }
}

#[test]
fn sts_members_are_refused_as_aws_refuses_them() {
    let (s, root) = support::Server::start_with(std::path::PathBuf::new(), &[]);
    let call = |body: &str| {
        let (st, body, _) = support::signed_call(s.port, &root, "sts", body);
        (st, body)
    };
    let (st, body) = call(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr",
    );
    assert_eq!(st, 400, "{body}");
    assert!(
        body.contains("Value null at &apos;roleSessionName&apos;"),
        "{body}"
    );
    let (st, body) = call(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=s1&ExternalId=a%20b",
    );
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("at &apos;externalId&apos;"), "{body}");
    assert!(body.contains("regular expression pattern"), "{body}");
    let (st, body) = call("Action=GetSessionToken&Version=2011-06-15&MinimumSessionTokenSize=10");
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("<Code>InvalidParameter</Code>"), "{body}");
    let (st, body) = call("Action=GetFederationToken&Version=2011-06-15&Name=bob");
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("<Code>InvalidAction</Code>"), "{body}");
}
