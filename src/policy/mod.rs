//! The policy engine: the AWS IAM JSON policy language, parsed, validated and compiled
//! once, then evaluated many times. Pure: no I/O, no clock, no PAM, no SQL.
//!
//! Everything pam-iam decides (login, sudo, assume-role, admin operations) goes through
//! [`evaluate`] or [`evaluate_trust`], so this module follows AWS's documented semantics
//! and never panics, whatever the input.
//!
//! ```
//! use pam_iam::policy::{self, Context, Effect, Policy, PolicyKind, PolicySet, Request, Source};
//! let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
//!   "Action":"host:Login","Resource":"arn:aws:iam::123456789012:host/${aws:username}"}}"#;
//! let p = Policy::parse(doc, PolicyKind::Managed).map_err(|e| e.to_string())?;
//! let set = PolicySet { identity: vec![(Source::named("web"), p)], ..PolicySet::default() };
//! let mut context = Context::new();
//! context.insert("aws:username", "alice");
//! let req = Request {
//!     action: "host:Login".into(),
//!     resource: "arn:aws:iam::123456789012:host/alice".into(),
//!     principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
//!     context,
//! };
//! assert_eq!(policy::evaluate(&set, &req).effect, Effect::Allowed);
//! # Ok::<(), String>(())
//! ```

mod condition;
mod context;
mod document;
mod eval;
mod json;
mod pattern;
pub mod simulate;
mod validate;
mod values;
mod variables;

pub use context::Context;
pub use document::{ErrorCode, Policy, PolicyError, PolicyKind, StatementEffect, Version};
pub use eval::{
    Decision, Effect, MatchedStatement, PolicySet, Request, Source, SourceType, evaluate,
    evaluate_trust,
};

#[cfg(test)]
mod tests;
