//! The resource of an IAM call and the request's own condition keys, per AWS's Service
//! Authorization Reference: what the one decision core is asked about.

use crate::operations::SELF_OPERATIONS;
use crate::query::QueryRequest;
use crate::service::Caller;
use pam_iam::arn;
use pam_iam::authz::CallFacts;
use pam_iam::cli::api::ArgValue;
use pam_iam::store::{Store, Tag};

/// The resource of an IAM call as it stands: its ARN, and for an existing user or role
/// its tags and permissions boundary (condition keys).
pub struct Resource {
    pub arn: String,
    tags: Vec<Tag>,
    boundary: Option<String>,
}

impl Resource {
    fn arn(arn: String) -> Resource {
        Resource {
            arn,
            tags: Vec::new(),
            boundary: None,
        }
    }
}

/// The resource of an IAM call, per the Service Authorization Reference: the entity
/// the call names (with its path, looked up where it exists), the caller for calls on
/// oneself, `*` for account-wide lists.
pub fn resource(store: &dyn Store, account: &str, q: &QueryRequest, caller: &Caller) -> Resource {
    let s = |k: &str| q.scalar(k).map(str::to_string);
    let path = s("Path").unwrap_or_else(|| "/".into());
    let a = q.action.as_str();
    let built = match a {
        "CreateUser" => Some(arn::user(
            account,
            &path,
            &s("UserName").unwrap_or_default(),
        )),
        "CreateGroup" => Some(arn::group(
            account,
            &path,
            &s("GroupName").unwrap_or_default(),
        )),
        "CreateRole" => Some(arn::role(
            account,
            &path,
            &s("RoleName").unwrap_or_default(),
        )),
        "CreatePolicy" => Some(arn::policy(
            account,
            &path,
            &s("PolicyName").unwrap_or_default(),
        )),
        "CreateVirtualMFADevice" => Some(arn::iam(
            account,
            "mfa",
            &path,
            &s("VirtualMFADeviceName").unwrap_or_default(),
        )),
        _ => None,
    };
    if let Some(b) = built {
        return Resource::arn(b);
    }
    if a == "SimulatePrincipalPolicy" {
        // The user, group or role whose policies are simulated.
        return Resource::arn(s("PolicySourceArn").unwrap_or_else(|| "*".into()));
    }
    if let Some(p) = s("PolicyArn")
        .filter(|_| a.contains("Policy") && !a.starts_with("Attach") && !a.starts_with("Detach"))
    {
        return Resource::arn(p);
    }
    if let Some(r) = s("RoleName") {
        return store.get_role(&r).map_or_else(
            |_| Resource::arn(arn::role(account, "/", &r)),
            |r| Resource {
                arn: r.arn,
                tags: r.tags,
                boundary: r.permissions_boundary,
            },
        );
    }
    if let Some(g) = s("GroupName") {
        return Resource::arn(
            store
                .get_group(&g)
                .map_or_else(|_| arn::group(account, "/", &g), |g| g.arn),
        );
    }
    if let Some(u) = s("UserName") {
        let me = caller.user().filter(|me| me.name == u).cloned();
        // The caller itself was read a moment ago to check the signature.
        return me
            .map(Ok)
            .unwrap_or_else(|| store.get_user(&u))
            .map_or_else(
                |_| Resource::arn(arn::user(account, "/", &u)),
                |u| Resource {
                    arn: u.arn,
                    tags: u.tags,
                    boundary: u.permissions_boundary,
                },
            );
    }
    if SELF_OPERATIONS.contains(&a) {
        return Resource::arn(match caller {
            Caller::Root => arn::root(account),
            Caller::User(u, _) => u.arn.clone(),
            Caller::Temporary(t) => t.arn.clone(),
        });
    }
    if let Some(serial) = s("SerialNumber") {
        return Resource::arn(serial);
    }
    Resource::arn("*".into())
}

/// Operations with the `iam:PermissionsBoundary` condition key (Service Authorization
/// Reference): those that set a boundary carry the one they set, the others the boundary
/// of the user or role they change.
const BOUNDARY_KEY_OPERATIONS: &[&str] = &[
    "CreateUser",
    "CreateRole",
    "PutUserPermissionsBoundary",
    "PutRolePermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "DetachUserPolicy",
    "DetachRolePolicy",
    "PutUserPolicy",
    "PutRolePolicy",
    "DeleteUserPolicy",
    "DeleteRolePolicy",
];

/// The request's own condition keys: the tags it sets (`Tags`), the tag keys it names
/// (`TagKeys`), the policy it attaches or detaches, the boundary it sets or meets, and
/// the tags of the resource it names.
pub fn call_facts(q: &QueryRequest, resource: &Resource) -> CallFacts {
    let a = q.action.as_str();
    let scalar = |v: &ArgValue| match v {
        ArgValue::Scalar(s) => Some(s.clone()),
        _ => None,
    };
    let member = |name: &str| q.params.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let request_tags = match member("Tags") {
        Some(ArgValue::List(items)) => items
            .iter()
            .filter_map(|i| match i {
                ArgValue::Struct(m) => {
                    let get = |k: &str| m.iter().find(|(n, _)| n == k).and_then(|(_, v)| scalar(v));
                    Some(Tag {
                        key: get("Key")?,
                        value: get("Value").unwrap_or_default(),
                    })
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let tag_keys = match member("TagKeys") {
        Some(ArgValue::List(items)) => items.iter().filter_map(scalar).collect(),
        _ => Vec::new(),
    };
    let sets_boundary =
        a.starts_with("Create") || (a.starts_with("Put") && a.ends_with("PermissionsBoundary"));
    let permissions_boundary = if !BOUNDARY_KEY_OPERATIONS.contains(&a) {
        None
    } else if sets_boundary {
        q.scalar("PermissionsBoundary").map(str::to_string)
    } else {
        resource.boundary.clone()
    };
    CallFacts {
        request_tags,
        tag_keys,
        policy_arn: q
            .scalar("PolicyArn")
            .filter(|_| a.starts_with("Attach") || a.starts_with("Detach"))
            .map(str::to_string),
        permissions_boundary,
        resource_tags: resource.tags.clone(),
    }
}
