//! Fleet benchmarks on the fleet harness (`tests/fleet_harness`), run by
//! `scripts/bench-fleet` (root: private namespaces). Never a timed test.
//!
//! - `propagation HOSTS CHANGES [agents|light] [sqlite]`: a policy attached or detached
//!   with the `iam` CLI on the PostgreSQL store (or a SQLite file, for comparison), until every host holds it: with `agents`, HOSTS
//!   real `iam-agent`s (each behind its own socat relays, each writing its SQLite
//!   replica: the change is in the replica `account` decides on when the agent logs
//!   the version); with `light`, HOSTS threads long-polling the host API as an agent does,
//!   without writing a replica. p50/p99 over HOSTS × CHANGES, from the CLI's start.
//! - `idle HOSTS SECONDS`: HOSTS light host-API clients (one host credential each) in
//!   long polls against one `iamd`, nothing changing: that `iamd`'s CPU (utime+stime
//!   from /proc, % of one core) and the PostgreSQL transactions per second on the store's
//!   database (pg_stat_database xact_commit + xact_rollback) over SECONDS, twice.
//! - `login PAIRS` and `rate SECONDS CLIENTS ROUNDS`: see `fleet_bench/logins.rs`.

#[path = "../../tests/support/mod.rs"]
#[allow(unused)]
mod support;

#[path = "../tests/fleet_harness/mod.rs"]
mod fleet_harness;

#[path = "fleet_bench/logins.rs"]
mod logins;

use fleet_harness::{Fleet, Host, Options};
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The idle clients' long-poll wait: below iamd's default `idle_timeout` (60 s), which
/// closes a connection with nothing read or written for that long.
const IDLE_WAIT: u64 = 50;

const LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    assert!(
        support::is_root(),
        "bench_fleet needs root (private namespaces)"
    );
    match args.first().map(String::as_str) {
        Some("propagation") => propagation(
            num(1, 100),
            num(2, 20),
            args.iter().any(|m| m == "light"),
            args.iter().any(|m| m == "sqlite"),
            args.iter()
                .find_map(|a| a.strip_prefix("users="))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        ),
        Some("idle") => idle(num(1, 1000), num(2, 60) as u64),
        Some("login") => logins::login_ab(num(1, 100)),
        Some("rate") => logins::rate(num(1, 10) as u64, num(2, 8), num(3, 5)),
        _ => {
            eprintln!(
                "usage: bench_fleet propagation HOSTS CHANGES [agents|light] [sqlite] [users=N] | idle HOSTS SECONDS | login PAIRS | rate SECONDS CLIENTS ROUNDS"
            );
            std::process::exit(2);
        }
    }
}

/// A host credentials file, read.
struct Creds {
    key_id: String,
    secret: String,
}

fn creds(h: &Host) -> Creds {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&h.credentials).unwrap()).unwrap();
    Creds {
        key_id: v["AccessKeyId"].as_str().unwrap().into(),
        secret: v["SecretAccessKey"].as_str().unwrap().into(),
    }
}

/// One signed pull, as the agent makes it: the answer's status and `StoreVersion`.
fn pull(port: u16, c: &Creds, since: Option<i64>, wait: u64) -> Option<(u16, i64)> {
    let query = match since {
        Some(v) => format!("since={v}&wait={wait}"),
        None => "wait=0".into(),
    };
    let (status, body) = pull_raw(port, c, &query, wait)?;
    Some((status, body_version(&body)?))
}

/// The `StoreVersion` of an answer's body.
fn body_version(body: &str) -> Option<i64> {
    let i = body.find("\"StoreVersion\":")? + "\"StoreVersion\":".len();
    body[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect::<String>()
        .parse()
        .ok()
}

/// The `StoreId` of a full answer (servers with deltas send it; older ones do not).
fn body_store_id(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["StoreId"].as_str().map(str::to_string)
}

/// One signed pull with `query`: the status and the body.
fn pull_raw(port: u16, c: &Creds, query: &str, wait: u64) -> Option<(u16, String)> {
    let authority = format!("127.0.0.1:{port}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    let h = iamd::host_api::sign_get(
        &authority,
        iamd::host_api::REPLICA_PATH,
        query,
        &c.key_id,
        c.secret.as_bytes(),
        now,
    )
    .ok()?;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(wait + 10)))
        .ok()?;
    let mut req = format!("GET {}?{query} HTTP/1.1\r\n", iamd::host_api::REPLICA_PATH);
    for (k, v) in h {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1;
    Some((status, body.to_string()))
}

/// The store version now, as a fresh pull of `probe` sees it.
fn version_now(port: u16, probe: &Creds) -> i64 {
    let (s, v) = pull(port, probe, None, 0).expect("probe pull");
    assert_eq!(s, 200, "probe pull");
    v
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// The highest "replica at store version N" an agent logged (reading from `*off`).
fn logged_version(h: &Host, off: &mut u64, best: &mut i64) -> i64 {
    use std::io::Seek;
    if let Ok(mut f) = std::fs::File::open(&h.log) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len > *off && f.seek(std::io::SeekFrom::Start(*off)).is_ok() {
            let mut s = String::new();
            let _ = f.read_to_string(&mut s);
            // Only whole lines count.
            let upto = s.rfind('\n').map_or(0, |i| i + 1);
            for l in s[..upto].lines() {
                if let Some(rest) = l.strip_prefix("iam-agent: replica at store version ") {
                    if let Some(v) = rest.split_whitespace().next().and_then(|v| v.parse().ok()) {
                        *best = (*best).max(v);
                    }
                }
            }
            *off += upto as u64;
        }
    }
    *best
}

/// `users` more users (two tags and a Linux id each) and a policy for every ten, made
/// with the CLI four at a time: a store of some size, so a full snapshot weighs what an
/// account's does.
fn seed(f: &Fleet, users: usize) {
    let t = Instant::now();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= users {
                        break;
                    }
                    f.iam(&[
                        "create-user",
                        "--user-name",
                        &format!("u{i:05}"),
                        "--path",
                        "/staff/",
                        "--tags",
                        &format!("Key=team,Value=team-{}", i % 17),
                        &format!("Key=site,Value=site-{}", i % 5),
                    ]);
                    if i % 10 == 0 {
                        f.iam(&[
                            "create-policy",
                            "--policy-name",
                            &format!("p{i:05}"),
                            "--policy-document",
                            &LOGIN.replace("\"*\"", &format!("\"arn:aws:iam::*:host/web-{i}\"")),
                        ]);
                    }
                }
            });
        }
    });
    eprintln!("seeded {users} users in {:?}", t.elapsed());
}

fn propagation(hosts: usize, changes: usize, light: bool, sqlite: bool, users: usize) {
    let t_setup = Instant::now();
    let mut f = Fleet::start(Options {
        hosts,
        servers: 2,
        agents: !light,
        wait_seconds: 20,
        sqlite,
        show: false,
        ..Options::default()
    });
    let probe_host = f.add_host("bench-probe");
    let probe = creds(&probe_host);
    let port = f.servers[0].port;
    seed(&f, users);
    f.iam(&["create-user", "--user-name", "alice"]);
    let arn = f.iam(&[
        "create-policy",
        "--policy-name",
        "login",
        "--policy-document",
        LOGIN,
    ])["Policy"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    eprintln!(
        "setup: {hosts} hosts ({}) in {:?}",
        if light {
            "light host-API clients"
        } else {
            "iam-agent each"
        },
        t_setup.elapsed()
    );
    // Light clients: one thread per host, each long-polling through its host's relay
    // and publishing the newest version it holds.
    let stop = Arc::new(AtomicBool::new(false));
    let held: Vec<Arc<AtomicI64>> = (0..hosts).map(|_| Arc::new(AtomicI64::new(-1))).collect();
    let mut threads = Vec::new();
    if light {
        for (i, h) in f.hosts.iter().enumerate() {
            let c = creds(h);
            let port = h.relay_ports[0];
            let (stop, held) = (stop.clone(), held[i].clone());
            threads.push(
                std::thread::Builder::new()
                    .stack_size(256 << 10)
                    .spawn(move || {
                        let mut since = None;
                        while !stop.load(Ordering::Relaxed) {
                            match pull(port, &c, since, 20) {
                                Some((200, v)) => {
                                    since = Some(v);
                                    held.store(v, Ordering::SeqCst);
                                }
                                _ => std::thread::sleep(Duration::from_millis(200)),
                            }
                        }
                    })
                    .unwrap(),
            );
        }
    }
    let mut offs = vec![0u64; hosts];
    let mut best = vec![-1i64; hosts];
    let current = |f: &Fleet, i: usize, offs: &mut [u64], best: &mut [i64]| -> i64 {
        if light {
            held[i].load(Ordering::SeqCst)
        } else {
            logged_version(&f.hosts[i], &mut offs[i], &mut best[i])
        }
    };
    let v0 = version_now(port, &probe);
    let t = Instant::now();
    while (0..hosts).any(|i| current(&f, i, &mut offs, &mut best) < v0) {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the hosts never reached version {v0}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("every host current (version {v0}) after {:?}", t.elapsed());
    let mut all_ms = Vec::new();
    let mut cli_ms = Vec::new();
    // What one host is sent for one change: the probe pulls since the version before
    // the change (with the store id when the server sent one: then a delta may come),
    // and a full snapshot for comparison. The servers' CPU over the changes.
    let (_, full0) = pull_raw(port, &probe, "wait=0", 0).expect("probe pull");
    let store_id = body_store_id(&full0);
    let pids: Vec<i32> = f.servers.iter().filter_map(|s| s.pid()).collect();
    let cpu0: f64 = pids.iter().map(|p| cpu_seconds(*p)).sum();
    let mut pulled = Vec::new();
    let mut prev = v0;
    for k in 0..changes {
        std::thread::sleep(Duration::from_millis(300));
        let verb = if k % 2 == 0 {
            "attach-user-policy"
        } else {
            "detach-user-policy"
        };
        let t0 = Instant::now();
        f.iam(&[verb, "--user-name", "alice", "--policy-arn", &arn]);
        cli_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        let v = version_now(port, &probe);
        let q = match &store_id {
            Some(id) => format!("since={prev}&wait=0&store={id}"),
            None => format!("since={prev}&wait=0"),
        };
        if let Some((200, body)) = pull_raw(port, &probe, &q, 0) {
            pulled.push(body.len());
        }
        prev = v;
        let mut done = vec![None; hosts];
        while done.iter().any(Option::is_none) {
            for (i, d) in done.iter_mut().enumerate() {
                if d.is_none() && current(&f, i, &mut offs, &mut best) >= v {
                    *d = Some(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "change {k} never reached every host"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut round: Vec<f64> = done.into_iter().flatten().collect();
        round.sort_by(f64::total_cmp);
        eprintln!(
            "change {k:2} ({verb}): CLI {:.0} ms, every host after {:.0} ms (p50 {:.0})",
            cli_ms[k],
            round[round.len() - 1],
            pct(&round, 0.5)
        );
        all_ms.extend(round);
    }
    let cpu = pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>() - cpu0;
    let (_, full1) = pull_raw(port, &probe, "wait=0", 0).expect("probe pull");
    pulled.sort_unstable();
    println!(
        "bytes per pull for one policy change: median {} (min {}, max {}; a full snapshot is {} bytes); iamd CPU (both servers) {:.1} ms per change across {hosts} hosts ({:.2} s over {changes} changes)",
        pulled.get(pulled.len() / 2).copied().unwrap_or(0),
        pulled.first().copied().unwrap_or(0),
        pulled.last().copied().unwrap_or(0),
        full1.len(),
        1e3 * cpu / changes as f64,
        cpu
    );
    stop.store(true, Ordering::Relaxed);
    all_ms.sort_by(f64::total_cmp);
    cli_ms.sort_by(f64::total_cmp);
    println!(
        "propagation to {hosts} hosts ({}), {changes} policy changes, from the `iam` CLI's start: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} samples; the CLI itself: median {:.0} ms)",
        if light {
            "light host-API clients"
        } else {
            "iam-agent + replica each"
        },
        pct(&all_ms, 0.5),
        pct(&all_ms, 0.99),
        all_ms[all_ms.len() - 1],
        all_ms.len(),
        pct(&cli_ms, 0.5)
    );
    // The light threads end at their next answer (at most the long-poll wait).
    f.hosts.clear();
    drop(f);
    for t in threads {
        let _ = t.join();
    }
    drop(probe_host);
}

/// utime + stime of `pid`, in seconds.
fn cpu_seconds(pid: i32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn xacts(f: &Fleet) -> i64 {
    let (primary, _) = f.pg.as_ref().unwrap();
    primary
        .psql(
            "postgres",
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'iam'",
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn idle(hosts: usize, seconds: u64) {
    let t_setup = Instant::now();
    let f = Fleet::start(Options {
        hosts: 0,
        servers: 1,
        agents: false,
        wait_seconds: IDLE_WAIT,
        sqlite: false,
        show: false,
        ..Options::default()
    });
    f.iam(&["create-user", "--user-name", "alice"]);
    // One credential per simulated host, issued with the CLI, four at a time.
    let dir = f.path("idle");
    std::fs::create_dir_all(&dir).unwrap();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= hosts {
                        break;
                    }
                    let file = dir.join(format!("h{i}.json"));
                    f.iam(&[
                        "create-host-credentials",
                        "--host-name",
                        &format!("idle-{i:04}"),
                        "--credentials-file",
                        file.to_str().unwrap(),
                    ]);
                }
            });
        }
    });
    eprintln!("{hosts} host credentials in {:?}", t_setup.elapsed());
    let port = f.servers[0].port;
    let pid = f.servers[0].pid().unwrap();
    let waiting = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for i in 0..hosts {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("h{i}.json"))).unwrap())
                .unwrap();
        let c = Creds {
            key_id: v["AccessKeyId"].as_str().unwrap().into(),
            secret: v["SecretAccessKey"].as_str().unwrap().into(),
        };
        let (waiting, answers, stop) = (waiting.clone(), answers.clone(), stop.clone());
        threads.push(
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || {
                    // A first snapshot, as an agent's start makes; then idle long polls,
                    // the first one shorter by host so that the polls spread over the
                    // wait as agents started at different times do (not all at once).
                    let mut since = None;
                    let mut counted = false;
                    let mut first_wait = 1 + (i as u64 * IDLE_WAIT) / hosts as u64;
                    while !stop.load(Ordering::Relaxed) {
                        let wait = match since {
                            None => 0,
                            Some(_) => std::mem::replace(&mut first_wait, IDLE_WAIT),
                        };
                        match pull(port, &c, since, wait) {
                            Some((200, v)) => {
                                since = Some(v);
                                if !counted {
                                    counted = true;
                                    waiting.fetch_add(1, Ordering::SeqCst);
                                }
                                answers.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => std::thread::sleep(Duration::from_secs(1)),
                        }
                    }
                })
                .unwrap(),
        );
    }
    let t = Instant::now();
    while waiting.load(Ordering::SeqCst) < hosts {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "only {} of {hosts} clients got their first snapshot",
            waiting.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "{hosts} clients past their first snapshot after {:?}",
        t.elapsed()
    );
    // Let the start-up burst and the first, shorter polls pass, then measure idle
    // windows.
    std::thread::sleep(Duration::from_secs(IDLE_WAIT + 5));
    for w in 0..2 {
        let (c0, x0, a0, t0) = (
            cpu_seconds(pid),
            xacts(&f),
            answers.load(Ordering::Relaxed),
            Instant::now(),
        );
        std::thread::sleep(Duration::from_secs(seconds));
        let el = t0.elapsed().as_secs_f64();
        let (c1, x1, a1) = (cpu_seconds(pid), xacts(&f), answers.load(Ordering::Relaxed));
        println!(
            "idle window {w}: {hosts} hosts in long polls ({IDLE_WAIT} s) against one iamd for {el:.0} s: iamd CPU {:.2}% of one core, PostgreSQL {:.1} transactions/s, {:.1} answers/s to the hosts; load {}",
            100.0 * (c1 - c0) / el,
            (x1 - x0) as f64 / el,
            (a1 - a0) as f64 / el,
            logins::load()
        );
    }
    stop.store(true, Ordering::Relaxed);
    // The clients end with their next answer (within the long-poll wait) or when the server
    // is gone: stop the fleet first.
    drop(f);
    for t in threads {
        let _ = t.join();
    }
}
