//! The account as a whole: counts and quotas, every entity with its policies in AWS's
//! shape, and the credential report.

use super::args::Output;
use super::groups::group_json;
use super::output::iso8601;
use super::policies::{doc_value, policy_json};
use super::roles::role_json;
use super::users::user_json;
use super::{CliError, Ctx, Op, Out};
use crate::store::PrincipalKind;
use clap::Subcommand;
use serde_json::{Value, json};

/// Account operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum AccountCommand {
    /// Counts and quotas.
    GetAccountSummary,
    /// Every user, group, role and policy with their policies, in AWS's shape.
    GetAccountAuthorizationDetails,
    /// Build the credential report.
    GenerateCredentialReport,
    /// Show the credential report (json: base64 Content as AWS; text: the CSV).
    GetCredentialReport,
}

impl AccountCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        match self {
            AccountCommand::GetAccountSummary => Op::read(summary),
            AccountCommand::GetAccountAuthorizationDetails => Op::read(authorization_details),
            // Stores the report it builds.
            AccountCommand::GenerateCredentialReport => Op::write(generate_credential_report),
            AccountCommand::GetCredentialReport => Op::read(get_credential_report),
        }
    }
}

fn summary(ctx: &Ctx) -> Out {
    let s = ctx.store.account_summary()?;
    let map: serde_json::Map<String, Value> = s
        .entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    Ok(Some(json!({ "SummaryMap": map })))
}

fn inline_list(ctx: &Ctx, kind: PrincipalKind, name: &str) -> Result<Vec<Value>, CliError> {
    let mut out = Vec::new();
    for pn in ctx.store.list_inline_policies(kind, name)? {
        let doc = ctx.store.get_inline_policy(kind, name, &pn)?;
        out.push(json!({ "PolicyName": pn, "PolicyDocument": doc_value(&doc) }));
    }
    Ok(out)
}

fn attached_list(ctx: &Ctx, kind: PrincipalKind, name: &str) -> Result<Vec<Value>, CliError> {
    Ok(ctx
        .store
        .list_attached_policies(kind, name)?
        .iter()
        .map(|a| json!({ "PolicyName": a.policy_name, "PolicyArn": a.policy_arn }))
        .collect())
}

fn authorization_details(ctx: &Ctx) -> Out {
    let mut users = Vec::new();
    for u in ctx.store.list_users("/")? {
        let mut v = user_json(&u);
        v["UserPolicyList"] = json!(inline_list(ctx, PrincipalKind::User, &u.name)?);
        v["GroupList"] = json!(
            ctx.store
                .list_groups_for_user(&u.name)?
                .iter()
                .map(|g| g.name.clone())
                .collect::<Vec<_>>()
        );
        v["AttachedManagedPolicies"] = json!(attached_list(ctx, PrincipalKind::User, &u.name)?);
        users.push(v);
    }
    let mut groups = Vec::new();
    for g in ctx.store.list_groups("/")? {
        let mut v = group_json(&g);
        v["GroupPolicyList"] = json!(inline_list(ctx, PrincipalKind::Group, &g.name)?);
        v["AttachedManagedPolicies"] = json!(attached_list(ctx, PrincipalKind::Group, &g.name)?);
        groups.push(v);
    }
    let mut roles = Vec::new();
    for r in ctx.store.list_roles("/")? {
        let mut v = role_json(&r);
        v["InstanceProfileList"] = json!([]);
        v["RolePolicyList"] = json!(inline_list(ctx, PrincipalKind::Role, &r.name)?);
        v["AttachedManagedPolicies"] = json!(attached_list(ctx, PrincipalKind::Role, &r.name)?);
        roles.push(v);
    }
    let mut policies = Vec::new();
    for p in ctx.store.list_policies("/", false)? {
        let mut v = policy_json(&p);
        let versions: Vec<Value> = ctx
            .store
            .list_policy_versions(&p.arn)?
            .iter()
            .map(|x| json!({ "Document": doc_value(&x.document), "VersionId": x.version_id, "IsDefaultVersion": x.is_default_version, "CreateDate": iso8601(x.create_date) }))
            .collect();
        v["PolicyVersionList"] = json!(versions);
        policies.push(v);
    }
    Ok(Some(json!({
        "UserDetailList": users,
        "GroupDetailList": groups,
        "RoleDetailList": roles,
        "Policies": policies,
        "IsTruncated": false,
    })))
}

fn opt_date(t: Option<i64>) -> String {
    t.map_or_else(|| "N/A".to_string(), iso8601)
}

/// The access-key, certificate and needs-rotation columns of a report row (the first
/// two keys by creation; certificates are always false/N/A).
fn key_columns(
    ctx: &Ctx,
    row: &mut Vec<String>,
    keys: &[crate::store::AccessKey],
) -> Result<(), CliError> {
    for i in 0..2 {
        match keys.get(i) {
            Some(k) => row.extend([
                (k.status == crate::store::Status::Active).to_string(),
                iso8601(k.create_date),
                opt_date(k.last_used_date),
                "N/A".into(),
                k.last_used_service.clone().unwrap_or_else(|| "N/A".into()),
            ]),
            None => row.extend([
                "false".into(),
                "N/A".into(),
                "N/A".into(),
                "N/A".into(),
                "N/A".into(),
            ]),
        }
    }
    row.extend(["false".into(), "N/A".into(), "false".into(), "N/A".into()]);
    for i in 0..2 {
        row.push(match keys.get(i) {
            Some(k) => super::access_keys::needs_rotation(ctx, &k.access_key_id)?.to_string(),
            None => "N/A".into(),
        });
    }
    Ok(())
}

/// The CSV with AWS's credential report columns (certificates are always false/N/A),
/// then pam-iam's `access_key_N_needs_rotation`: true for a key made before secrets
/// were sealed (it cannot sign requests).
fn credential_report_csv(ctx: &Ctx) -> Result<String, CliError> {
    let mut csv = String::from(
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,\
access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,\
access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,\
cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated,\
access_key_1_needs_rotation,access_key_2_needs_rotation\n",
    );
    let policy = ctx.store.get_password_policy()?.unwrap_or_default();
    // The account root user comes first, as in AWS's report: it has no password or MFA
    // device here (not_supported / N/A / false), and its access keys (`iam
    // create-access-key` without --user-name) fill the key columns as a user's do. The
    // account's creation time is not kept: N/A.
    let root_keys = match ctx.store.list_root_access_keys() {
        Ok(k) => k,
        Err(crate::store::StoreError::Unsupported(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut row = vec![
        "<root_account>".to_string(),
        crate::arn::root(&ctx.store.account_id()?),
        "N/A".into(),
        "not_supported".into(),
        "N/A".into(),
        "not_supported".into(),
        "not_supported".into(),
        "false".into(),
    ];
    key_columns(ctx, &mut row, &root_keys)?;
    csv.push_str(&row.join(","));
    csv.push('\n');
    for u in ctx.store.list_users("/")? {
        let lp = match ctx.store.get_login_profile(&u.name) {
            Ok(lp) => Some(lp),
            Err(crate::store::StoreError::NoSuchEntity(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let mfa = !ctx.store.list_mfa_devices(&u.name)?.is_empty();
        let keys = ctx.store.list_access_keys(&u.name)?;
        let mut row = vec![
            u.name.clone(),
            u.arn.clone(),
            iso8601(u.create_date),
            lp.is_some().to_string(),
            if lp.is_some() {
                opt_date(u.password_last_used).replace("N/A", "no_information")
            } else {
                "N/A".into()
            },
            lp.as_ref()
                .map_or("N/A".into(), |l| iso8601(l.password_last_changed)),
            lp.as_ref()
                .and_then(|l| policy.expires_at(l.password_last_changed))
                .map_or("N/A".into(), iso8601),
            mfa.to_string(),
        ];
        key_columns(ctx, &mut row, &keys)?;
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    Ok(csv)
}

fn generate_credential_report(ctx: &Ctx) -> Out {
    let csv = credential_report_csv(ctx)?;
    ctx.store.put_credential_report(&csv, ctx.now)?;
    Ok(Some(
        json!({ "State": "COMPLETE", "Description": "The credential report has been generated." }),
    ))
}

fn get_credential_report(ctx: &Ctx) -> Out {
    let (csv, generated) = ctx.store.get_credential_report()?.ok_or_else(|| {
        CliError::new(
            "ReportNotPresent",
            "Credential report not present: run iam generate-credential-report first.",
        )
    })?;
    if ctx.output != Output::Json {
        print!("{csv}");
        return Ok(None);
    }
    Ok(Some(json!({
        "Content": <base64ct::Base64 as base64ct::Encoding>::encode_string(csv.as_bytes()),
        "ReportFormat": "text/csv",
        "GeneratedTime": iso8601(generated),
    })))
}
