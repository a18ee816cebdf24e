//! The policy simulator: `simulate-custom-policy` (documents only, no store) and
//! `simulate-principal-policy` (the stored policies of a user, group or role).

use super::{CliError, Ctx, Op, Out, input};
use crate::authz::{self, AuthzError};
use crate::policy::{self, simulate as sim};
use crate::store::{ApplicablePolicy, PolicyOrigin, PrincipalKind, PrincipalPolicies};
use clap::Subcommand;
use serde_json::Value;

/// Simulator operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum SimulatorCommand {
    /// Evaluate policy documents against actions and resources, as AWS's simulator.
    SimulateCustomPolicy {
        /// Identity policy documents (inline JSON or file://PATH).
        #[arg(long, num_args = 1.., required = true)]
        policy_input_list: Vec<String>,
        /// Permissions boundary documents.
        #[arg(long, num_args = 1..)]
        permissions_boundary_policy_input_list: Vec<String>,
        /// Actions such as host:Login.
        #[arg(long, num_args = 1.., required = true)]
        action_names: Vec<String>,
        /// Resource ARNs (default `*`).
        #[arg(long, num_args = 1..)]
        resource_arns: Vec<String>,
        /// Context entries: JSON or `ContextKeyName=k,ContextKeyValues=v,ContextKeyType=t`.
        #[arg(long, num_args = 1..)]
        context_entries: Vec<String>,
        /// The principal ARN used for policy variables.
        #[arg(long)]
        caller_arn: Option<String>,
    },
    /// Evaluate the policies of a user, group or role of this store.
    SimulatePrincipalPolicy {
        /// ARN of the user, group or role.
        #[arg(long)]
        policy_source_arn: String,
        /// Extra identity policy documents.
        #[arg(long, num_args = 1..)]
        policy_input_list: Vec<String>,
        /// Boundary documents (override the principal's boundary).
        #[arg(long, num_args = 1..)]
        permissions_boundary_policy_input_list: Vec<String>,
        /// Actions.
        #[arg(long, num_args = 1.., required = true)]
        action_names: Vec<String>,
        /// Resource ARNs (default `*`).
        #[arg(long, num_args = 1..)]
        resource_arns: Vec<String>,
        /// Context entries.
        #[arg(long, num_args = 1..)]
        context_entries: Vec<String>,
        /// Caller ARN (default: the source ARN for users).
        #[arg(long)]
        caller_arn: Option<String>,
    },
}

impl SimulatorCommand {
    /// The handler and whether it reads the store.
    pub(super) fn op(self) -> Op {
        match self {
            SimulatorCommand::SimulateCustomPolicy {
                policy_input_list,
                permissions_boundary_policy_input_list,
                action_names,
                resource_arns,
                context_entries,
                caller_arn,
            } => Op::NoStore(Box::new(move || {
                simulate_custom(&Inputs {
                    policies: policy_input_list,
                    boundaries: permissions_boundary_policy_input_list,
                    actions: action_names,
                    resources: resource_arns,
                    context: context_entries,
                    caller: caller_arn,
                })
                .map(Some)
            })),
            SimulatorCommand::SimulatePrincipalPolicy {
                policy_source_arn,
                policy_input_list,
                permissions_boundary_policy_input_list,
                action_names,
                resource_arns,
                context_entries,
                caller_arn,
            } => Op::read(move |ctx| {
                simulate_principal(
                    ctx,
                    &policy_source_arn,
                    &Inputs {
                        policies: policy_input_list,
                        boundaries: permissions_boundary_policy_input_list,
                        actions: action_names,
                        resources: resource_arns,
                        context: context_entries,
                        caller: caller_arn,
                    },
                )
            }),
        }
    }
}

/// What both simulations take besides the principal.
struct Inputs {
    /// `--policy-input-list`: identity policy documents.
    policies: Vec<String>,
    /// `--permissions-boundary-policy-input-list`.
    boundaries: Vec<String>,
    /// `--action-names`.
    actions: Vec<String>,
    /// `--resource-arns`.
    resources: Vec<String>,
    /// `--context-entries`.
    context: Vec<String>,
    /// `--caller-arn`.
    caller: Option<String>,
}

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
fn simulate_custom(args: &Inputs) -> Result<Value, CliError> {
    let docs = load_all(&args.policies)?;
    let bounds = load_all(&args.boundaries)?;
    let doc_refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let bound_refs: Vec<&str> = bounds.iter().map(String::as_str).collect();
    let set = sim::custom_policy_set(&doc_refs, &bound_refs)
        .map_err(|e| CliError::new(e.code.as_str(), e.to_string()))?;
    let ctx = context(&args.context)?;
    let results = sim::simulate(
        &set,
        &args.actions,
        &args.resources,
        args.caller.as_deref().unwrap_or(""),
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

/// The principal's stored policies as authz parses them for every decision.
fn policy_set(
    policies: &PrincipalPolicies,
    principal: PrincipalKind,
) -> Result<policy::PolicySet, CliError> {
    authz::policy_set(policies, principal, None).map_err(|e| match e {
        AuthzError::BadPolicy { policy, error } => CliError::new(
            "MalformedPolicyDocument",
            format!("stored policy {policy} is invalid: {error}"),
        ),
        other => CliError::new("ServiceFailure", other.to_string()),
    })
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
fn simulate_principal(ctx: &Ctx, policy_source_arn: &str, args: &Inputs) -> Out {
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
    let (kind, stored) = match kind_word {
        "user" => (PrincipalKind::User, ctx.store.user_policies(name)?),
        "role" => (PrincipalKind::Role, ctx.store.role_policies(name)?),
        "group" => (
            PrincipalKind::Group,
            PrincipalPolicies {
                identity: group_policies(ctx, name)?,
                boundary: None,
            },
        ),
        other => {
            return Err(CliError::new(
                "InvalidInput",
                format!("cannot simulate a {other}: give a user, group or role ARN"),
            ));
        }
    };
    let mut set = policy_set(&stored, kind)?;
    let (applicable, boundary) = (stored.identity, stored.boundary);
    let extra = load_all(&args.policies)?;
    let bounds = load_all(&args.boundaries)?;
    let extra_refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let bound_refs: Vec<&str> = bounds.iter().map(String::as_str).collect();
    let custom = sim::custom_policy_set(&extra_refs, &bound_refs)
        .map_err(|e| CliError::new(e.code.as_str(), e.to_string()))?;
    set.identity.extend(custom.identity);
    if custom.boundary.is_some() {
        set.boundary = custom.boundary;
    }
    let caller = args
        .caller
        .clone()
        .unwrap_or_else(|| policy_source_arn.to_string());
    let pctx = context(&args.context)?;
    let results = sim::simulate(&set, &args.actions, &args.resources, &caller, &pctx);
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
