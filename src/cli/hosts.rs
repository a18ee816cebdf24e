//! Host tags: a host's tags are `aws:ResourceTag/KEY` when it is the resource of a
//! login or sudo decision.

use super::output::iso8601;
use super::{Ctx, Op, Out, input};
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
    /// Issue fleet-mode credentials for a host (principal arn:aws:iam::ACCT:host/NAME),
    /// which its iam-agent signs every request to iamd with. The secret is shown (or
    /// written to --credentials-file, root-only) only now; one set per host.
    CreateHostCredentials {
        /// Host name.
        #[arg(long)]
        host_name: String,
        /// Write the credentials to this new file (mode 0600) for the agent instead of
        /// printing the secret.
        #[arg(long)]
        credentials_file: Option<std::path::PathBuf>,
    },
    /// Delete a host's credentials: its agent is refused from now on.
    DeleteHostCredentials {
        /// Host name.
        #[arg(long)]
        host_name: String,
    },
    /// List the hosts that have credentials (never the secrets).
    ListHostCredentials,
    /// List the replay incidents iamd found when hosts' offline journals arrived: one
    /// MFA code (device and time step) or one recovery code accepted twice, with both
    /// hosts.
    ListReplayIncidents {
        /// Only incidents found since: RFC 3339 time, unix seconds, or an age like 7d.
        #[arg(long)]
        since: Option<String>,
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
            CreateHostCredentials {
                host_name,
                credentials_file,
            } => Op::write(move |ctx| {
                super::host_credentials::create(ctx, &host_name, credentials_file.as_deref())
            }),
            DeleteHostCredentials { host_name } => Op::write(move |ctx| {
                ctx.store.delete_host_credential(&host_name)?;
                Ok(None)
            }),
            ListHostCredentials => Op::read(super::host_credentials::list),
            ListReplayIncidents { since } => Op::read(move |ctx| {
                let since = super::audit::time_arg("--since", since, ctx.now)?;
                list_replay_incidents(ctx, since)
            }),
        }
    }
}

fn list_replay_incidents(ctx: &Ctx, since: Option<i64>) -> Out {
    let side = |s: &crate::store::SpentStep| {
        json!({
            "HostName": s.host,
            "AcceptedDate": iso8601(s.time),
            "Offline": s.offline,
        })
    };
    let list: Vec<_> = ctx
        .store
        .list_replay_incidents(since)?
        .iter()
        .map(|i| {
            let mut o = json!({
                "IncidentId": i.id,
                "FoundDate": iso8601(i.time),
                "UserName": i.user,
                "First": side(&i.first),
                "Second": side(&i.second),
                "Action": i.action,
            });
            // A recovery code is kept among the spent factors under its public id.
            match i
                .serial
                .strip_prefix(crate::credentials::recovery::SPENT_PREFIX)
            {
                Some(id) => o["RecoveryCode"] = json!(id),
                None => {
                    o["SerialNumber"] = json!(i.serial);
                    o["Step"] = json!(i.step);
                }
            }
            o
        })
        .collect();
    Ok(Some(json!({ "ReplayIncidents": list })))
}

fn list_tags(ctx: &Ctx, host: Option<String>) -> Out {
    let host = input::hostname(host)?;
    let arn = crate::arn::host(&ctx.store.account_id()?, &host);
    Ok(Some(
        json!({ "HostName": host, "Arn": arn, "Tags": ctx.store.list_host_tags(&host)? }),
    ))
}
