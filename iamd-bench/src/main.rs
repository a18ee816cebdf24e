//! `iamd-bench`: the load generator of scripts/bench-iamd (docs/iamd.md "Performance").
//!
//!     iamd-bench compare [--targets iamd-sqlite,iamd-postgres,moto] [--moto-server PATH]
//!         [--actions GetUser,ListUsers] [--clients 1,50,200] [--seconds 5] [--rounds 3]
//!     iamd-bench load --addr 127.0.0.1:PORT --key AKIA… --secret … --action GetUser
//!         --clients 50 --seconds 5
//!     iamd-bench seed --addr 127.0.0.1:PORT --key ROOTKEY --secret … [--users 100]

use clap::{Parser, Subcommand};
use iamd_bench::check::Action;
use iamd_bench::load::{self, Stats, Target};
use iamd_bench::seed;
use iamd_bench::servers::{self, PgLink, Programs, Running};
use iamd_bench::sign::Key;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "iamd-bench",
    about = "Signed GetUser / ListUsers load on iamd and moto"
)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the servers, seed each the same way, and run every case on each in turn
    /// (A B C A B C …), then print the medians.
    Compare {
        /// Servers: iamd-sqlite, iamd-postgres (over its Unix socket),
        /// iamd-postgres-tcp (over loopback TCP), moto.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "iamd-sqlite,iamd-postgres,moto"
        )]
        targets: Vec<String>,
        /// The `iam` CLI [default: beside this program].
        #[arg(long)]
        iam: Option<PathBuf>,
        /// `iamd` [default: beside this program].
        #[arg(long)]
        iamd: Option<PathBuf>,
        /// moto's `moto_server` (needed for the moto target).
        #[arg(long)]
        moto_server: Option<PathBuf>,
        /// More iamd flags, e.g. `--iamd-arg=--workers=8`.
        #[arg(long, allow_hyphen_values = true)]
        iamd_arg: Vec<String>,
        #[command(flatten)]
        run: RunArgs,
        /// Users in each store (`bench` included): a full `ListUsers` page.
        #[arg(long, default_value_t = iamd_bench::check::PAGE)]
        users: usize,
    },
    /// Load one running server with one key.
    Load {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Make the benchmark's users on a running server (as its root key); prints the
    /// `bench` user's key as `KEY SECRET`.
    Seed {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, default_value_t = iamd_bench::check::PAGE)]
        users: usize,
    },
}

/// A running server and the key to call it with.
#[derive(clap::Args, Clone)]
struct ServerArgs {
    /// Its loopback address.
    #[arg(long)]
    addr: SocketAddr,
    /// Access key id.
    #[arg(long)]
    key: String,
    /// Secret access key.
    #[arg(long)]
    secret: String,
}

impl ServerArgs {
    fn target(self) -> Target {
        Target {
            addr: self.addr,
            key: Key {
                id: self.key,
                secret: self.secret,
            },
        }
    }
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Actions: GetUser, ListUsers.
    #[arg(long, value_delimiter = ',', default_value = "GetUser,ListUsers")]
    actions: Vec<String>,
    /// Concurrent clients, one connection each.
    #[arg(long, value_delimiter = ',', default_value = "1,50,200")]
    clients: Vec<usize>,
    /// Seconds per run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Runs of each case on each server.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Open loop: the clients together offer this many requests a second (latency from
    /// when each was due); without it each client sends as soon as it is answered.
    #[arg(long)]
    rate: Option<f64>,
    /// Load generator threads (1 takes the least CPU from the server).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

impl RunArgs {
    fn actions(&self) -> Result<Vec<Action>, String> {
        self.actions.iter().map(|a| Action::parse(a)).collect()
    }
}

/// The scheduling-group nice scripts/bench-iamd gave this run (`BENCH_AUTOGROUP_NICE`),
/// which the PostgreSQL processes (each its own session) must be given too.
fn autogroup_nice() -> Option<i32> {
    std::env::var("BENCH_AUTOGROUP_NICE")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The 1-minute load average.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn line(name: &str, action: Action, clients: usize, round: usize, s: &Stats, cpu_us: Option<f64>) {
    let cpu = cpu_us.map_or_else(|| "-".into(), |c| format!("{c:.0}"));
    println!(
        "{:<9} clients={clients:<3} round={round} {name:<17} {:>7.0} req/s  p50 {:>6.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  errors {}  reconnects {}  server CPU {cpu} µs/req  load {}",
        action.name(),
        s.rate(),
        s.quantile_ms(0.5),
        s.quantile_ms(0.99),
        s.max_ms(),
        s.errors,
        s.reconnects,
        load_average()
    );
    if let Some(e) = &s.first_error {
        println!("    first error: {e}");
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

struct Row {
    rate: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    max: f64,
    errors: u64,
    cpu: Vec<f64>,
}

fn compare(
    targets: &[String],
    programs: &Programs,
    iamd_args: &[String],
    run: &RunArgs,
    users: usize,
) -> Result<u64, String> {
    let actions = run.actions()?;
    println!(
        "# iamd-bench compare: {} core(s), load average {} at start, {} s per run, {} rounds, generator threads {}, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
        run.seconds,
        run.rounds,
        run.threads,
        run.rate.map_or("closed loop".to_string(), |r| format!(
            "open loop at {r} req/s offered"
        ))
    );
    let mut servers: Vec<(Running, Key)> = Vec::new();
    for t in targets {
        let s = match t.as_str() {
            "iamd-sqlite" => servers::iamd_sqlite(programs, iamd_args)?,
            "iamd-postgres" => servers::iamd_postgres(programs, iamd_args, PgLink::Socket)?,
            "iamd-postgres-tcp" => servers::iamd_postgres(programs, iamd_args, PgLink::Tcp)?,
            "moto" => servers::moto(programs)?,
            other => return Err(format!("unknown target {other:?}")),
        };
        let admin = Target {
            addr: s.addr,
            key: s.admin.clone(),
        };
        let key = seed::seed(&admin, users).map_err(|e| format!("{t}: seeding: {e}"))?;
        println!(
            "# {t} on {} (pid {}), {users} users seeded",
            s.addr,
            s.pid()
        );
        if let Some(nice) = autogroup_nice() {
            s.set_postgres_autogroup(nice)?;
        }
        servers.push((s, key));
    }
    let duration = Duration::from_secs_f64(run.seconds);
    let mut total_errors = 0;
    let mut table = Vec::new();
    for &action in &actions {
        for &clients in &run.clients {
            let mut rows: Vec<Row> = servers
                .iter()
                .map(|_| Row {
                    rate: vec![],
                    p50: vec![],
                    p99: vec![],
                    max: 0.0,
                    errors: 0,
                    cpu: vec![],
                })
                .collect();
            for round in 1..=run.rounds {
                for (i, (s, key)) in servers.iter().enumerate() {
                    let target = Target {
                        addr: s.addr,
                        key: key.clone(),
                    };
                    let before = s.cpu_seconds();
                    let stats =
                        load::run(&target, action, clients, duration, run.threads, run.rate)
                            .map_err(|e| format!("{}: {e}", s.name))?;
                    let cpu_us = match (before, s.cpu_seconds()) {
                        (Some(a), Some(b)) if stats.requests > 0 => {
                            Some((b - a) * 1e6 / stats.requests as f64)
                        }
                        _ => None,
                    };
                    line(s.name, action, clients, round, &stats, cpu_us);
                    let r = &mut rows[i];
                    r.rate.push(stats.rate());
                    r.p50.push(stats.quantile_ms(0.5));
                    r.p99.push(stats.quantile_ms(0.99));
                    r.max = r.max.max(stats.max_ms());
                    r.errors += stats.errors;
                    if let Some(c) = cpu_us {
                        r.cpu.push(c);
                    }
                    total_errors += stats.errors;
                }
            }
            table.push((action, clients, rows));
        }
    }
    println!(
        "\n# medians over {} rounds (max: the slowest answer of all rounds); load average {} at the end\n",
        run.rounds,
        load_average()
    );
    println!(
        "| call | clients | server | req/s | p50 ms | p99 ms | max ms | errors | server CPU µs/req | × moto |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (action, clients, mut rows) in table {
        let moto_rate = servers
            .iter()
            .position(|(s, _)| s.name == "moto")
            .map(|i| median(&mut rows[i].rate.clone()));
        for (i, r) in rows.iter_mut().enumerate() {
            let rate = median(&mut r.rate);
            let ratio = match moto_rate {
                Some(m) if m > 0.0 && servers[i].0.name != "moto" => format!("{:.1}×", rate / m),
                _ => "—".into(),
            };
            let cpu = if r.cpu.is_empty() {
                "—".into()
            } else {
                format!("{:.0}", median(&mut r.cpu))
            };
            println!(
                "| {} | {clients} | {} | {rate:.0} | {:.2} | {:.2} | {:.1} | {} | {cpu} | {ratio} |",
                action.name(),
                servers[i].0.name,
                median(&mut r.p50),
                median(&mut r.p99),
                r.max,
                r.errors
            );
        }
    }
    Ok(total_errors)
}

fn beside_me(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.cmd {
        Cmd::Compare {
            targets,
            iam,
            iamd,
            moto_server,
            iamd_arg,
            run,
            users,
        } => {
            let programs = Programs {
                iam: iam.unwrap_or_else(|| beside_me("iam")),
                iamd: iamd.unwrap_or_else(|| beside_me("iamd")),
                moto_server,
            };
            compare(&targets, &programs, &iamd_arg, &run, users)
        }
        Cmd::Load { server, run } => (|| {
            let target = server.target();
            let mut errors = 0;
            for action in run.actions()? {
                for &c in &run.clients {
                    for round in 1..=run.rounds {
                        let s = load::run(
                            &target,
                            action,
                            c,
                            Duration::from_secs_f64(run.seconds),
                            run.threads,
                            run.rate,
                        )?;
                        line(&target.addr.to_string(), action, c, round, &s, None);
                        errors += s.errors;
                    }
                }
            }
            Ok(errors)
        })(),
        Cmd::Seed { server, users } => seed::seed(&server.target(), users).map(|k| {
            println!("{} {}", k.id, k.secret);
            0
        }),
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("iamd-bench: {n} errors (every answer must be a good 200)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("iamd-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
