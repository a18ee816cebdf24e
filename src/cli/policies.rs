//! Managed and inline policies, roles, and the policy simulator.

use super::args::{Command, Scope};
use super::output::iso8601;
use super::{CliError, Ctx, Out, input};
use crate::policy::{self, Policy, PolicyKind, PolicySet, Source, SourceType, simulate as sim};
use crate::store::{
    ApplicablePolicy, ManagedPolicy, NewPolicy, NewRole, PolicyOrigin, PrincipalKind, Role,
};
use serde_json::{Value, json};

/// A stored document as JSON (AWS CLI prints documents decoded).
pub(super) fn doc_value(doc: &str) -> Value {
    serde_json::from_str(doc).unwrap_or_else(|_| Value::String(doc.to_string()))
}

/// AWS `Policy` shape.
pub(super) fn policy_json(p: &ManagedPolicy) -> Value {
    let mut v = json!({
        "PolicyName": p.name,
        "PolicyId": p.policy_id,
        "Arn": p.arn,
        "Path": p.path,
        "DefaultVersionId": p.default_version_id,
        "AttachmentCount": p.attachment_count,
        "PermissionsBoundaryUsageCount": p.permissions_boundary_usage_count,
        "IsAttachable": true,
        "CreateDate": iso8601(p.create_date),
        "UpdateDate": iso8601(p.update_date),
    });
    if let Some(d) = &p.description {
        v["Description"] = json!(d);
    }
    v
}

/// AWS `Role` shape.
pub(super) fn role_json(r: &Role) -> Value {
    let mut v = json!({
        "Path": r.path,
        "RoleName": r.name,
        "RoleId": r.role_id,
        "Arn": r.arn,
        "CreateDate": iso8601(r.create_date),
        "AssumeRolePolicyDocument": doc_value(&r.assume_role_policy_document),
        "MaxSessionDuration": r.max_session_duration,
    });
    if let Some(d) = &r.description {
        v["Description"] = json!(d);
    }
    if let Some(b) = &r.permissions_boundary {
        v["PermissionsBoundary"] =
            json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": b});
    }
    if !r.tags.is_empty() {
        v["Tags"] = json!(r.tags);
    }
    v
}

fn inline_kind(k: PrincipalKind) -> PolicyKind {
    match k {
        PrincipalKind::User => PolicyKind::UserInline,
        PrincipalKind::Group => PolicyKind::GroupInline,
        PrincipalKind::Role => PolicyKind::RoleInline,
    }
}

fn name_key(k: PrincipalKind) -> &'static str {
    match k {
        PrincipalKind::User => "UserName",
        PrincipalKind::Group => "GroupName",
        PrincipalKind::Role => "RoleName",
    }
}

pub(super) fn create_policy(
    ctx: &Ctx,
    name: &str,
    doc: &str,
    path: &str,
    description: Option<String>,
) -> Out {
    input::entity_name("policy name", name, 128)?;
    input::path(path)?;
    let document = input::policy_document(doc, PolicyKind::Managed)?;
    let p = ctx.store.create_policy(
        &NewPolicy {
            name: name.into(),
            path: path.into(),
            description,
            document,
            tags: Vec::new(),
        },
        ctx.now,
    )?;
    Ok(Some(json!({ "Policy": policy_json(&p) })))
}

pub(super) fn get_policy(ctx: &Ctx, arn: &str) -> Out {
    Ok(Some(
        json!({ "Policy": policy_json(&ctx.store.get_policy(arn)?) }),
    ))
}

pub(super) fn list_policies(ctx: &Ctx, scope: Scope, only_attached: bool, prefix: &str) -> Out {
    let list: Vec<Value> = if scope == Scope::Aws {
        Vec::new()
    } else {
        ctx.store
            .list_policies(prefix, only_attached)?
            .iter()
            .map(policy_json)
            .collect()
    };
    Ok(Some(json!({ "Policies": list, "IsTruncated": false })))
}

pub(super) fn delete_policy(ctx: &Ctx, arn: &str) -> Out {
    ctx.store.delete_policy(arn)?;
    Ok(None)
}

fn version_json(v: &crate::store::PolicyVersion, with_doc: bool) -> Value {
    let mut o = json!({ "VersionId": v.version_id, "IsDefaultVersion": v.is_default_version, "CreateDate": iso8601(v.create_date) });
    if with_doc {
        o["Document"] = doc_value(&v.document);
    }
    o
}

pub(super) fn create_policy_version(ctx: &Ctx, arn: &str, doc: &str, set_default: bool) -> Out {
    let document = input::policy_document(doc, PolicyKind::Managed)?;
    let v = ctx
        .store
        .create_policy_version(arn, &document, set_default, ctx.now)?;
    Ok(Some(json!({ "PolicyVersion": version_json(&v, false) })))
}

pub(super) fn get_policy_version(ctx: &Ctx, arn: &str, version: &str) -> Out {
    let v = ctx.store.get_policy_version(arn, version)?;
    Ok(Some(json!({ "PolicyVersion": version_json(&v, true) })))
}

pub(super) fn list_policy_versions(ctx: &Ctx, arn: &str) -> Out {
    let list: Vec<Value> = ctx
        .store
        .list_policy_versions(arn)?
        .iter()
        .map(|v| version_json(v, false))
        .collect();
    Ok(Some(json!({ "Versions": list, "IsTruncated": false })))
}

pub(super) fn delete_policy_version(ctx: &Ctx, arn: &str, version: &str) -> Out {
    ctx.store.delete_policy_version(arn, version)?;
    Ok(None)
}

pub(super) fn set_default_version(ctx: &Ctx, arn: &str, version: &str) -> Out {
    ctx.store
        .set_default_policy_version(arn, version, ctx.now)?;
    Ok(None)
}

pub(super) fn attach(ctx: &Ctx, kind: PrincipalKind, name: &str, arn: &str) -> Out {
    ctx.store.attach_policy(kind, name, arn)?;
    Ok(None)
}

pub(super) fn detach(ctx: &Ctx, kind: PrincipalKind, name: &str, arn: &str) -> Out {
    ctx.store.detach_policy(kind, name, arn)?;
    Ok(None)
}

pub(super) fn list_attached(ctx: &Ctx, kind: PrincipalKind, name: &str) -> Out {
    let list: Vec<Value> = ctx
        .store
        .list_attached_policies(kind, name)?
        .iter()
        .map(|a| json!({ "PolicyName": a.policy_name, "PolicyArn": a.policy_arn }))
        .collect();
    Ok(Some(
        json!({ "AttachedPolicies": list, "IsTruncated": false }),
    ))
}

pub(super) fn list_entities(ctx: &Ctx, arn: &str) -> Out {
    let e = ctx.store.list_entities_for_policy(arn)?;
    let pairs = |v: &[(String, String)], n: &str, i: &str| -> Vec<Value> {
        v.iter()
            .map(|(name, id)| json!({ n: name, i: id }))
            .collect()
    };
    Ok(Some(json!({
        "PolicyGroups": pairs(&e.groups, "GroupName", "GroupId"),
        "PolicyUsers": pairs(&e.users, "UserName", "UserId"),
        "PolicyRoles": pairs(&e.roles, "RoleName", "RoleId"),
        "IsTruncated": false,
    })))
}

pub(super) fn put_inline(
    ctx: &Ctx,
    kind: PrincipalKind,
    name: &str,
    policy_name: &str,
    doc: &str,
) -> Out {
    input::entity_name("policy name", policy_name, 128)?;
    let document = input::policy_document(doc, inline_kind(kind))?;
    ctx.store
        .put_inline_policy(kind, name, policy_name, &document)?;
    Ok(None)
}

pub(super) fn get_inline(ctx: &Ctx, kind: PrincipalKind, name: &str, policy_name: &str) -> Out {
    let doc = ctx.store.get_inline_policy(kind, name, policy_name)?;
    Ok(Some(
        json!({ name_key(kind): name, "PolicyName": policy_name, "PolicyDocument": doc_value(&doc) }),
    ))
}

pub(super) fn delete_inline(ctx: &Ctx, kind: PrincipalKind, name: &str, policy_name: &str) -> Out {
    ctx.store.delete_inline_policy(kind, name, policy_name)?;
    Ok(None)
}

pub(super) fn list_inline(ctx: &Ctx, kind: PrincipalKind, name: &str) -> Out {
    Ok(Some(
        json!({ "PolicyNames": ctx.store.list_inline_policies(kind, name)?, "IsTruncated": false }),
    ))
}

// ---- roles -----------------------------------------------------------------------------------

/// create-role's arguments.
pub(super) struct RoleInput {
    pub name: String,
    pub trust: String,
    pub path: String,
    pub description: Option<String>,
    pub max_session_duration: i64,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<String>,
}

fn check_duration(d: i64) -> Result<(), CliError> {
    if (3600..=43200).contains(&d) {
        Ok(())
    } else {
        Err(CliError::validation(format!(
            "MaxSessionDuration {d} must be between 3600 and 43200 seconds"
        )))
    }
}

pub(super) fn create_role(ctx: &Ctx, r: RoleInput) -> Out {
    input::entity_name("role name", &r.name, 64)?;
    input::path(&r.path)?;
    check_duration(r.max_session_duration)?;
    let trust = input::policy_document(&r.trust, PolicyKind::Trust)?;
    let tags = input::tags(&r.tags)?;
    let role = ctx.store.create_role(
        &NewRole {
            name: r.name,
            path: r.path,
            assume_role_policy_document: trust,
            description: r.description,
            max_session_duration: r.max_session_duration,
            permissions_boundary: r.permissions_boundary,
            tags,
        },
        ctx.now,
    )?;
    Ok(Some(json!({ "Role": role_json(&role) })))
}

pub(super) fn get_role(ctx: &Ctx, name: &str) -> Out {
    Ok(Some(
        json!({ "Role": role_json(&ctx.store.get_role(name)?) }),
    ))
}

pub(super) fn list_roles(ctx: &Ctx, prefix: &str) -> Out {
    let list: Vec<Value> = ctx
        .store
        .list_roles(prefix)?
        .iter()
        .map(role_json)
        .collect();
    Ok(Some(json!({ "Roles": list, "IsTruncated": false })))
}

pub(super) fn update_role(
    ctx: &Ctx,
    name: &str,
    description: Option<String>,
    max: Option<i64>,
) -> Out {
    if let Some(d) = max {
        check_duration(d)?;
    }
    ctx.store.update_role(name, description.as_deref(), max)?;
    Ok(None)
}

pub(super) fn update_trust(ctx: &Ctx, name: &str, doc: &str) -> Out {
    let trust = input::policy_document(doc, PolicyKind::Trust)?;
    ctx.store.update_assume_role_policy(name, &trust)?;
    Ok(None)
}

pub(super) fn delete_role(ctx: &Ctx, name: &str) -> Out {
    ctx.store.delete_role(name)?;
    Ok(None)
}

pub(super) fn role_boundary(ctx: &Ctx, name: &str, arn: Option<&str>) -> Out {
    ctx.store.set_role_boundary(name, arn)?;
    Ok(None)
}

// ---- simulator -----------------------------------------------------------------------------------

fn sim_err(e: sim::SimulateError) -> CliError {
    CliError::new(e.code(), e.to_string())
}

fn load_all(list: &[String]) -> Result<Vec<String>, CliError> {
    list.iter().map(|a| input::load(a)).collect()
}

fn context(entries: &[String]) -> Result<policy::Context, CliError> {
    let entries = load_all(entries)?;
    let parsed = sim::parse_context_entries_args(&entries).map_err(sim_err)?;
    sim::context_from_entries(&parsed).map_err(sim_err)
}

/// simulate-custom-policy: documents only, no store.
pub(super) fn simulate_custom(cmd: &Command) -> Result<Value, CliError> {
    let Command::SimulateCustomPolicy {
        policy_input_list,
        permissions_boundary_policy_input_list,
        action_names,
        resource_arns,
        context_entries,
        caller_arn,
    } = cmd
    else {
        return Err(CliError::validation("not simulate-custom-policy"));
    };
    let docs = load_all(policy_input_list)?;
    let bounds = load_all(permissions_boundary_policy_input_list)?;
    let doc_refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let bound_refs: Vec<&str> = bounds.iter().map(String::as_str).collect();
    let set = sim::custom_policy_set(&doc_refs, &bound_refs)
        .map_err(|e| CliError::new(e.code.as_str(), e.to_string()))?;
    let ctx = context(context_entries)?;
    let results = sim::simulate(
        &set,
        action_names,
        resource_arns,
        caller_arn.as_deref().unwrap_or(""),
        &ctx,
    );
    let names: Vec<String> = (1..=docs.len())
        .map(|i| format!("PolicyInputList.{i}"))
        .chain((1..=bounds.len()).map(|i| format!("PermissionsBoundaryPolicyInputList.{i}")))
        .collect();
    let texts: Vec<&String> = docs.iter().chain(bounds.iter()).collect();
    let pairs: Vec<(&str, &str)> = names
        .iter()
        .map(String::as_str)
        .zip(texts.iter().map(|s| s.as_str()))
        .collect();
    Ok(sim::results_json(&results, &pairs))
}

fn parse_stored(p: &ApplicablePolicy, kind: PolicyKind) -> Result<Policy, CliError> {
    Policy::parse(&p.document, kind).map_err(|e| {
        CliError::new(
            "MalformedPolicyDocument",
            format!("stored policy {} is invalid: {e}", p.source),
        )
    })
}

/// Turn a principal's stored policies into the evaluator's set.
pub(super) fn policy_set(
    applicable: &[ApplicablePolicy],
    boundary: Option<&ApplicablePolicy>,
    principal: PrincipalKind,
) -> Result<PolicySet, CliError> {
    let mut set = PolicySet::default();
    for p in applicable {
        let (st, kind) = match (&p.origin, principal) {
            (PolicyOrigin::Inline, PrincipalKind::Role) => {
                (SourceType::Role, PolicyKind::RoleInline)
            }
            (PolicyOrigin::Inline, PrincipalKind::Group) => {
                (SourceType::Group, PolicyKind::GroupInline)
            }
            (PolicyOrigin::Inline, PrincipalKind::User) => {
                (SourceType::User, PolicyKind::UserInline)
            }
            (PolicyOrigin::GroupInline(_), _) => (SourceType::Group, PolicyKind::GroupInline),
            _ => (SourceType::UserManaged, PolicyKind::Managed),
        };
        set.identity
            .push((Source::new(p.source.clone(), st), parse_stored(p, kind)?));
    }
    if let Some(b) = boundary {
        set.boundary = Some((
            Source::new(b.source.clone(), SourceType::UserManaged),
            parse_stored(b, PolicyKind::Boundary)?,
        ));
    }
    Ok(set)
}

/// The stored policies of a group (inline and attached), for simulate-principal-policy.
fn group_policies(ctx: &Ctx, name: &str) -> Result<Vec<ApplicablePolicy>, CliError> {
    let mut out = Vec::new();
    for pn in ctx.store.list_inline_policies(PrincipalKind::Group, name)? {
        let document = ctx
            .store
            .get_inline_policy(PrincipalKind::Group, name, &pn)?;
        out.push(ApplicablePolicy {
            source: pn.clone(),
            name: pn,
            origin: PolicyOrigin::Inline,
            document,
        });
    }
    for a in ctx
        .store
        .list_attached_policies(PrincipalKind::Group, name)?
    {
        let p = ctx.store.get_policy(&a.policy_arn)?;
        let v = ctx
            .store
            .get_policy_version(&a.policy_arn, &p.default_version_id)?;
        out.push(ApplicablePolicy {
            source: a.policy_arn,
            name: a.policy_name,
            origin: PolicyOrigin::Attached,
            document: v.document,
        });
    }
    Ok(out)
}

/// simulate-principal-policy: the stored policies of a user, group or role.
pub(super) fn simulate_principal(ctx: &Ctx, cmd: &Command) -> Out {
    let Command::SimulatePrincipalPolicy {
        policy_source_arn,
        policy_input_list,
        permissions_boundary_policy_input_list,
        action_names,
        resource_arns,
        context_entries,
        caller_arn,
    } = cmd
    else {
        return Err(CliError::validation("not simulate-principal-policy"));
    };
    let acct = ctx.store.account_id()?;
    let rest = crate::arn::iam_resource(&acct, policy_source_arn).ok_or_else(|| {
        CliError::new(
            "InvalidInput",
            format!("{policy_source_arn} is not an ARN of this account ({acct})"),
        )
    })?;
    let (kind_word, path_name) = rest.split_once('/').ok_or_else(|| {
        CliError::new("InvalidInput", format!("malformed ARN {policy_source_arn}"))
    })?;
    let name = path_name.rsplit('/').next().unwrap_or(path_name);
    let (kind, applicable, boundary) = match kind_word {
        "user" => {
            let p = ctx.store.user_policies(name)?;
            (PrincipalKind::User, p.identity, p.boundary)
        }
        "role" => {
            let p = ctx.store.role_policies(name)?;
            (PrincipalKind::Role, p.identity, p.boundary)
        }
        "group" => (PrincipalKind::Group, group_policies(ctx, name)?, None),
        other => {
            return Err(CliError::new(
                "InvalidInput",
                format!("cannot simulate a {other}: give a user, group or role ARN"),
            ));
        }
    };
    let mut set = policy_set(&applicable, boundary.as_ref(), kind)?;
    let extra = load_all(policy_input_list)?;
    let bounds = load_all(permissions_boundary_policy_input_list)?;
    let extra_refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let bound_refs: Vec<&str> = bounds.iter().map(String::as_str).collect();
    let custom = sim::custom_policy_set(&extra_refs, &bound_refs)
        .map_err(|e| CliError::new(e.code.as_str(), e.to_string()))?;
    set.identity.extend(custom.identity);
    if custom.boundary.is_some() {
        set.boundary = custom.boundary;
    }
    let caller = caller_arn
        .clone()
        .unwrap_or_else(|| policy_source_arn.clone());
    let pctx = context(context_entries)?;
    let results = sim::simulate(&set, action_names, resource_arns, &caller, &pctx);
    let mut pairs: Vec<(String, String)> = applicable
        .iter()
        .map(|p| (p.source.clone(), p.document.clone()))
        .collect();
    if let Some(b) = &boundary {
        pairs.push((b.source.clone(), b.document.clone()));
    }
    pairs.extend(
        extra
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("PolicyInputList.{}", i + 1), d.clone())),
    );
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    Ok(Some(sim::results_json(&results, &refs)))
}
