//! `iam-agent [--config /etc/pam-iam/agent.toml] [--once]`: the fleet-mode host daemon.
//! It keeps this host's replica (a SQLite store with the same schema, holding only what
//! a host may know) in step with `iamd` by long polls signed with the host's
//! credentials, fails over along the server list, and keeps the last good replica while
//! every server is down.

mod client;
mod config;
mod offline;
mod serve;
mod sessions;
mod ship;
mod tls;

use clap::Parser;
use client::Answer;
use config::{Config, HostCredentials};
use pam_iam::store::{self, OpenMode, OpenOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Keep this host's pam-iam replica in step with iamd.
#[derive(Debug, Parser)]
#[command(name = "iam-agent", version, about)]
struct Args {
    /// The configuration file.
    #[arg(long, default_value = config::DEFAULT_CONFIG)]
    config: PathBuf,
    /// Pull once (no waiting) and exit: 0 when the replica is current.
    #[arg(long)]
    once: bool,
    /// Check the configuration and the host credentials file, then exit: 0 when the
    /// agent could start, 78 (what the unit does not restart on) when not.
    #[arg(long, conflicts_with = "once")]
    check: bool,
}

/// The exit status for a configuration the agent cannot start with (EX_CONFIG): the
/// systemd unit does not restart on it, so a host without a usable agent.toml or
/// credentials file stays stopped with the reason in the journal, not in a loop.
const EXIT_CONFIG: u8 = 78;

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn log(msg: &str) {
    eprintln!("iam-agent: {msg}");
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Checked before anything starts, so a broken file is told apart from a failure
    // later on (which the unit restarts).
    let checked = Config::load(&args.config)
        .and_then(|c| HostCredentials::load(&c.credentials).map(|h| (c.servers.len(), h.host)));
    match checked {
        Err(e) => {
            log(&e.to_string());
            return ExitCode::from(EXIT_CONFIG);
        }
        Ok((servers, host)) if args.check => {
            println!(
                "{}: host {host}, {servers} server(s): the agent can start",
                args.config.display()
            );
            return ExitCode::SUCCESS;
        }
        Ok(_) => {}
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(&e);
            ExitCode::from(1)
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let cfg = Config::load(&args.config).map_err(|e| e.to_string())?;
    let creds = HostCredentials::load(&cfg.credentials).map_err(|e| e.to_string())?;
    let opts = OpenOptions {
        insecure_ok: std::env::var(store::ENV_INSECURE).is_ok_and(|v| v == "1"),
        ..OpenOptions::new(cfg.replica.as_path(), OpenMode::ReadWrite)
    };
    let replica = store::open(&opts).map_err(|e| format!("the replica: {e}"))?;
    let servers = cfg.server_list();
    let shared = std::sync::Arc::new(serve::Shared::new(servers.len()));
    let mut offline_state = None;
    let mut shipper = None;
    if !args.once {
        let creds = HostCredentials::load(&cfg.credentials).map_err(|e| e.to_string())?;
        let mut off = offline::Offline::open(
            &cfg.offline_path(),
            &creds.host,
            cfg.offline_max_age,
            cfg.offline_lockout(),
        )?;
        off.journal_max = cfg.journal_max_entries;
        let off = std::sync::Arc::new(off);
        // The cap on role sessions offline counts from the last contact before a restart.
        shared.last_contact.store(
            off.last_contact()?.unwrap_or(0),
            std::sync::atomic::Ordering::SeqCst,
        );
        let ship = ship::Shipper::start(
            servers.clone(),
            HostCredentials::load(&cfg.credentials).map_err(|e| e.to_string())?,
            std::sync::Arc::clone(&off),
            std::sync::Arc::clone(&shared),
            Duration::from_secs(cfg.retry_seconds),
        )?;
        serve::start(
            &cfg,
            creds,
            std::sync::Arc::clone(&shared),
            std::sync::Arc::clone(&off),
            std::sync::Arc::clone(&ship),
        )?;
        offline_state = Some(off);
        shipper = Some(ship);
    }
    // A pull answered: the replica is current, and the journal can go.
    let synced = |off: &Option<std::sync::Arc<offline::Offline>>| {
        if let Some(o) = off {
            o.note_sync(now());
        }
        if let Some(s) = &shipper {
            s.resume();
            s.kick();
        }
    };
    log(&format!(
        "host {} keeping {} from {} server(s), serving {}",
        creds.host,
        cfg.replica.display(),
        servers.len(),
        cfg.socket.display()
    ));
    // The first pull after a start is always a full snapshot: the version a replica
    // holds says nothing about which store it came from. Then the store's identity from
    // that answer goes with each pull, and the server may answer with a delta.
    let mut since: Option<i64> = None;
    let mut store_id: Option<String> = None;
    let mut current = 0usize;
    loop {
        let wait = if args.once || since.is_none() {
            0
        } else {
            cfg.wait_seconds
        };
        let mut answered = false;
        let mut server_error = false;
        for i in 0..servers.len() {
            let k = (current + i) % servers.len();
            let s = &servers[k];
            let pulled = client::pull(s, &creds, since, store_id.as_deref(), wait, now());
            shared.mark(k, pulled.as_ref().map(|_| ()).map_err(|e| e.1));
            match pulled {
                Ok(Answer::Delta(d, id)) => {
                    shared.contact();
                    if d.replica.host != creds.host {
                        return Err(format!(
                            "{} sent the view of host {}, not {}: refusing it",
                            s.url, d.replica.host, creds.host
                        ));
                    }
                    // Applied in one transaction; any failure leaves the replica as it
                    // was and the next pull is a full snapshot, at once.
                    let applied = if store_id.as_deref() == Some(id.as_str()) {
                        replica.apply_replica_delta(&d).map_err(|e| e.to_string())
                    } else {
                        Err(format!("a delta of store {id}, not of the one held"))
                    };
                    match applied {
                        Ok(()) => {
                            synced(&offline_state);
                            log(&format!(
                                "replica at store version {} from {} (delta from {}: {} table(s))",
                                d.replica.store_version,
                                s.url,
                                d.from_version,
                                d.replica.tables.len()
                            ));
                            since = Some(d.replica.store_version);
                            shared.replica_version.store(
                                d.replica.store_version,
                                std::sync::atomic::Ordering::SeqCst,
                            );
                        }
                        Err(e) => {
                            log(&format!(
                                "cannot apply the delta (keeping the old replica, resyncing fully): {e}"
                            ));
                            since = None;
                            store_id = None;
                        }
                    }
                    current = k;
                    answered = true;
                    break;
                }
                Ok(Answer::Snapshot(r, id)) => {
                    shared.contact();
                    if r.host != creds.host {
                        return Err(format!(
                            "{} sent the view of host {}, not {}: refusing it",
                            s.url, r.host, creds.host
                        ));
                    }
                    match replica.import_replica(&r) {
                        Ok(()) => {
                            synced(&offline_state);
                            log(&format!(
                                "replica at store version {} from {}",
                                r.store_version, s.url
                            ));
                            since = Some(r.store_version);
                            store_id = id;
                            shared
                                .replica_version
                                .store(r.store_version, std::sync::atomic::Ordering::SeqCst);
                        }
                        Err(e) => log(&format!(
                            "cannot write the replica (keeping the old one): {e}"
                        )),
                    }
                    current = k;
                    answered = true;
                    break;
                }
                Ok(Answer::Unchanged) => {
                    synced(&offline_state);
                    shared.contact();
                    current = k;
                    answered = true;
                    break;
                }
                Ok(Answer::Refused {
                    status,
                    code,
                    message,
                }) => {
                    // An answer is final: every server shares the store and says the same
                    // (and the host is online: it was answered).
                    shared.contact();
                    log(&format!(
                        "refused by {} (HTTP {status} {code}: {message}); keeping the replica at version {}",
                        s.url,
                        since.map_or("none".into(), |v| v.to_string())
                    ));
                    if args.once {
                        return Err(format!("refused: {code}"));
                    }
                    std::thread::sleep(Duration::from_secs(cfg.retry_seconds.max(1)));
                    answered = true;
                    break;
                }
                Ok(Answer::ServerError { status, message }) => {
                    // An answer: this host is online (only a transport failure is
                    // offline), though this server cannot serve now; another may.
                    shared.contact();
                    if let Some(o) = &offline_state {
                        o.note_contact(now());
                    }
                    log(&format!(
                        "{} answered HTTP {status} ({message}); online, keeping the replica at version {}",
                        s.url,
                        since.map_or("none".into(), |v| v.to_string())
                    ));
                    server_error = true;
                }
                Err(e) => log(&format!("server unreachable: {e}")),
            }
        }
        if args.once {
            return if since.is_some() {
                Ok(())
            } else {
                Err("no server answered".into())
            };
        }
        if !answered {
            if !server_error {
                shared
                    .online
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                log(&format!(
                    "every server is down; keeping the replica at version {}",
                    since.map_or("none".into(), |v| v.to_string())
                ));
            }
            std::thread::sleep(Duration::from_secs(cfg.retry_seconds.max(1)));
        }
    }
}
