//! Host tags: a host's tags are `aws:ResourceTag/KEY` when it is the resource of a
//! login or sudo decision.

use super::{Ctx, Op, Out, input};
use crate::authz;
use clap::Subcommand;
use serde_json::json;

/// Host operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum HostCommand {
    /// Tag a host (its tags are aws:ResourceTag/KEY when it is the resource).
    TagHost {
        /// Host name (default: this host).
        #[arg(long)]
        host_name: Option<String>,
        /// Tags.
        #[arg(long, num_args = 1.., required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a host.
    UntagHost {
        /// Host name (default: this host).
        #[arg(long)]
        host_name: Option<String>,
        /// Keys.
        #[arg(long, num_args = 1.., required = true)]
        tag_keys: Vec<String>,
    },
    /// List a host's tags.
    ListHostTags {
        /// Host name (default: this host).
        #[arg(long)]
        host_name: Option<String>,
    },
}

impl HostCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        use HostCommand::*;
        match self {
            TagHost { host_name, tags } => Op::write(move |ctx| {
                let host = input::hostname(host_name)?;
                ctx.store.tag_host(&host, &input::tags(&tags)?)?;
                Ok(None)
            }),
            UntagHost {
                host_name,
                tag_keys,
            } => Op::write(move |ctx| {
                let host = input::hostname(host_name)?;
                ctx.store.untag_host(&host, &tag_keys)?;
                Ok(None)
            }),
            ListHostTags { host_name } => Op::read(move |ctx| list_tags(ctx, host_name)),
        }
    }
}

fn list_tags(ctx: &Ctx, host: Option<String>) -> Out {
    let host = input::hostname(host)?;
    let arn = authz::host_arn(&ctx.store.account_id()?, &host);
    Ok(Some(
        json!({ "HostName": host, "Arn": arn, "Tags": ctx.store.list_host_tags(&host)? }),
    ))
}
