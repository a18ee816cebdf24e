//! The login benchmarks of `bench_fleet`:
//!
//! - `login PAIRS`: the same login (user, password, argon2id parameters) through
//!   `pam_iam.so` in agent mode (→ `iam-agent` → `iamd` on PostgreSQL) and in local mode
//!   (a SQLite store on the host), each a real `pamtester … authenticate acct_mgmt`,
//!   interleaved A B / B A for PAIRS pairs: medians, p99 and the median added by the
//!   fleet path.
//! - `rate SECONDS CLIENTS ROUNDS`: host-API logins (`POST /host/v1/login`, signed as an
//!   agent signs them) from CLIENTS concurrent clients against one `iamd`, for SECONDS,
//!   against the physical limit cores ÷ argon2id hash time (the store's own parameters,
//!   measured here); each round also measures what `nproc` threads hashing side by side
//!   reach now (the limit under the machine's present load), interleaved with the server
//!   runs.

use crate::fleet_harness::{Fleet, Options};
use crate::{Creds, creds, pct};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "Bench-Fleet-Pa55word!";

const LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

/// `iam --db URL ARGS` with `input` on stdin, which must succeed.
fn iam_stdin(url: &str, args: &[&str], input: &str) {
    let mut c = Command::new(crate::support::bin("iam"))
        .arg("--db")
        .arg(url)
        .args(args)
        .env("PAM_IAM_USERDB", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "iam {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A user with the bench password on the store at `url`.
fn user_with_password(url: &str, name: &str) {
    crate::fleet_harness::iam_at(url, &["create-user", "--user-name", name]);
    iam_stdin(
        url,
        &[
            "create-login-profile",
            "--user-name",
            name,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
}

/// A `login` policy allowing `host:Login` everywhere, attached to `user`.
fn allow_login(url: &str, user: &str) {
    let arn = crate::fleet_harness::iam_at(
        url,
        &[
            "create-policy",
            "--policy-name",
            "login",
            "--policy-document",
            LOGIN,
        ],
    )["Policy"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    crate::fleet_harness::iam_at(
        url,
        &[
            "attach-user-policy",
            "--user-name",
            user,
            "--policy-arn",
            &arn,
        ],
    );
}

/// The argon2id PHC string of `user` on the fleet's PostgreSQL store.
fn pg_hash(f: &Fleet, user: &str) -> String {
    let (primary, _) = f.pg.as_ref().unwrap();
    primary
        .psql(
            "iam",
            &format!(
                "SELECT l.hash FROM login_profiles l JOIN users u ON u.pk = l.user_pk WHERE u.name = '{user}'"
            ),
        )
        .unwrap()
        .trim()
        .to_string()
}

/// The parameter part (`m=…,t=…,p=…`) of a PHC string.
fn phc_params(phc: &str) -> String {
    phc.split('$').nth(3).unwrap_or("?").to_string()
}

pub fn login_ab(pairs: usize) {
    let t_setup = Instant::now();
    let f = Fleet::start(Options {
        hosts: 1,
        servers: 1,
        agents: true,
        wait_seconds: 20,
        sqlite: false,
        show: false,
        ..Options::default()
    });
    user_with_password(&f.url, "alice");
    allow_login(&f.url, "alice");
    let h = &f.hosts[0];
    let mut sb = h.sandbox(&[("alice", 2001)]);
    // The local store: the same user, password and (default) argon2id parameters.
    let local = sb.db();
    crate::fleet_harness::iam_at(&local, &["create-access-key"]);
    user_with_password(&local, "alice");
    allow_login(&local, "alice");
    sb.service(
        "local-login",
        &format!(
            "auth required {{module}} db={{db}} fail_delay=0\naccount required {{module}} db={{db}} host={}\nsession required pam_permit.so\n",
            h.name
        ),
    );
    let local_phc: String = rusqlite::Connection::open(&local)
        .unwrap()
        .query_row(
            "SELECT l.hash FROM login_profiles l JOIN users u ON u.pk = l.user_pk WHERE u.name = 'alice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let fleet_phc = pg_hash(&f, "alice");
    assert_eq!(
        phc_params(&local_phc),
        phc_params(&fleet_phc),
        "both stores hash with the same parameters"
    );
    let h = &f.hosts[0];
    crate::fleet_harness::wait_until(Duration::from_secs(60), "alice in the replica", || {
        h.has_user("alice")
    });
    eprintln!(
        "setup in {:?}; argon2id {} on both stores",
        t_setup.elapsed(),
        phc_params(&fleet_phc)
    );
    // The server's share: the same login as a signed host-API call from here (the
    // host's credential, through its relay as the agent goes), timed one at a time.
    let c = creds(h);
    let mut direct: Vec<f64> = (0..20)
        .map(|_| {
            let t = Instant::now();
            assert!(host_login(h.relay_ports[0], &c, "alice"), "a direct login");
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    eprintln!("direct host-API logins (ms): {direct:.1?}");
    direct.sort_by(f64::total_cmp);
    let input = sb.write("bench.in", &format!("{PASSWORD}\n"), 0o600);
    // A warm-up login each, checked; then the interleaved pairs, timed in the script
    // (bash's $EPOCHREALTIME around each pamtester run, nothing else inside).
    let script = format!(
        r#"
one() {{ pamtester "$1" alice authenticate acct_mgmt < {input} > /dev/null 2>&1; }}
one local-login || {{ echo "warm-up local-login failed"; exit 1; }}
one fleet-login || {{ echo "warm-up fleet-login failed"; exit 1; }}
for i in $(seq {pairs}); do
  if (( i % 2 )); then order="local-login fleet-login"; else order="fleet-login local-login"; fi
  for s in $order; do
    t0=$EPOCHREALTIME; one "$s"; rc=$?; t1=$EPOCHREALTIME
    echo "$s $rc ${{t0/./}} ${{t1/./}}"
  done
done
"#,
        input = input.display()
    );
    let out = sb.run(&script, Duration::from_secs(60 + pairs as u64 * 10));
    assert!(out.ok(), "{out}\n{}", h.agent_log());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut failed = 0;
    for l in out.stdout.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        let &[s, rc, t0, t1] = w.as_slice() else {
            continue;
        };
        let ms = (t1.parse::<f64>().unwrap() - t0.parse::<f64>().unwrap()) / 1e3;
        if rc != "0" {
            failed += 1;
        }
        (if s == "local-login" { &mut a } else { &mut b }).push(ms);
    }
    assert_eq!(failed, 0, "every login succeeds:\n{}", out.stdout);
    if std::env::var_os("BENCH_FLEET_SERIES").is_some() {
        let after: Vec<f64> = (0..10)
            .map(|_| {
                let t = Instant::now();
                assert!(host_login(h.relay_ports[0], &c, "alice"), "a direct login");
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        eprintln!("direct host-API logins after the pairs (ms): {after:.1?}");
        let timed = sb.run(
            &format!(
                "for ph in authenticate acct_mgmt; do for i in 1 2 3; do t0=$EPOCHREALTIME; pamtester fleet-login alice $ph < {} >/dev/null 2>&1; t1=$EPOCHREALTIME; echo \"$ph ${{t0/./}} ${{t1/./}}\"; done; done",
                input.display()
            ),
            Duration::from_secs(120),
        );
        eprintln!("phases alone (µs):\n{}", timed.stdout);
        eprintln!("local, in order (ms): {a:.0?}\nfleet, in order (ms): {b:.0?}");
        eprintln!("agent log:\n{}", h.agent_log());
    }
    let diffs: Vec<f64> = {
        let mut d: Vec<f64> = b.iter().zip(&a).map(|(b, a)| b - a).collect();
        d.sort_by(f64::total_cmp);
        d
    };
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    println!("load: {}", load());
    println!(
        "login (pamtester authenticate + acct_mgmt, password only, argon2id {}), {pairs} interleaved pairs:\n  local store:              median {:.1} ms, p99 {:.1} ms\n  agent + iamd (PostgreSQL): median {:.1} ms, p99 {:.1} ms\n  added by the fleet path:  median {:.1} ms (difference of medians), {:.1} ms (median of pairwise differences)",
        phc_params(&fleet_phc),
        pct(&a, 0.5),
        pct(&a, 0.99),
        pct(&b, 0.5),
        pct(&b, 0.99),
        pct(&b, 0.5) - pct(&a, 0.5),
        pct(&diffs, 0.5),
    );
    println!(
        "  of which iamd's host-API login (signed, from here through the host's relay, one at a time): median {:.1} ms, p99 {:.1} ms",
        pct(&direct, 0.5),
        pct(&direct, 0.99)
    );
}

/// One request on a fresh loopback connection: status and body.
fn call(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    s.set_nodelay(true).ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut all = req.into_bytes();
    all.extend_from_slice(body);
    s.write_all(&all).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_string()))
}

/// A host-API login of `user`, signed with `c`: whether iamd allowed it.
fn host_login(port: u16, c: &Creds, user: &str) -> bool {
    let body =
        serde_json::json!({ "User": user, "Password": PASSWORD, "Service": "bench" }).to_string();
    let now = crate::support::now();
    let Ok(h) = iamd::host_api::sign_post(
        &format!("127.0.0.1:{port}"),
        iamd::host_api::LOGIN_PATH,
        body.as_bytes(),
        &c.key_id,
        c.secret.as_bytes(),
        now,
    ) else {
        return false;
    };
    matches!(
        call(port, "POST", iamd::host_api::LOGIN_PATH, &h, body.as_bytes()),
        Some((200, b)) if b.contains("\"Decision\":\"Allow\"")
    )
}

/// Hashes per second `threads` threads verifying `phc` side by side reach in `secs`.
fn hash_rate(phc: &str, threads: usize, secs: f64) -> f64 {
    let stop = AtomicBool::new(false);
    let n = AtomicUsize::new(0);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    assert!(pam_iam::credentials::verify_password(
                        PASSWORD.as_bytes(),
                        phc
                    ));
                    n.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
    });
    n.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64()
}

/// Allowed host-API logins per second from `clients` concurrent clients over `secs`
/// (and the count of answers that were not an Allow).
fn server_rate(port: u16, c: &Arc<Creds>, clients: usize, secs: f64) -> (f64, usize) {
    let stop = AtomicBool::new(false);
    let (ok, bad) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for i in 0..clients {
            let (stop, ok, bad, c) = (&stop, &ok, &bad, c.clone());
            s.spawn(move || {
                let user = format!("u{i:03}");
                while !stop.load(Ordering::Relaxed) {
                    if host_login(port, &c, &user) {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
    });
    // The logins in flight at the stop finish and count: divide by the whole time.
    (
        ok.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64(),
        bad.load(Ordering::Relaxed),
    )
}

pub fn rate(secs: u64, clients: usize, rounds: usize) {
    let t_setup = Instant::now();
    let f = Fleet::start(Options {
        hosts: 0,
        servers: 1,
        agents: false,
        wait_seconds: 20,
        sqlite: false,
        show: false,
        ..Options::default()
    });
    // One user per client: logins of one user settle one after the other on its row.
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= clients {
                        break;
                    }
                    user_with_password(&f.url, &format!("u{i:03}"));
                }
            });
        }
    });
    let host = f.add_host("bench-rate");
    let c = Arc::new(creds(&host));
    let port = f.servers[0].port;
    assert!(host_login(port, &c, "u000"), "a first login is allowed");
    let phc = pg_hash(&f, "u000");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // One hash at a time: the hash time.
    let mut one: Vec<f64> = (0..30)
        .map(|_| {
            let t = Instant::now();
            assert!(pam_iam::credentials::verify_password(
                PASSWORD.as_bytes(),
                &phc
            ));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    one.sort_by(f64::total_cmp);
    let hash_ms = pct(&one, 0.5);
    let limit = cores as f64 * 1e3 / hash_ms;
    eprintln!(
        "setup in {:?}; argon2id {}: one hash median {hash_ms:.1} ms (min {:.1}), limit {cores} cores ÷ hash time = {limit:.1} logins/s",
        t_setup.elapsed(),
        phc_params(&phc),
        one[0]
    );
    let mut served = Vec::new();
    let mut hashed = Vec::new();
    for r in 0..rounds {
        let hr = hash_rate(&phc, cores, secs as f64);
        let v0 = store_version(&f);
        let (sr, bad) = with_pg_waits(&f, || server_rate(port, &c, clients, secs as f64));
        assert_eq!(bad, 0, "every login is allowed");
        eprintln!("round {r}: store version {v0} -> {}", store_version(&f));
        eprintln!(
            "round {r}: {cores} threads hashing {hr:.1}/s; iamd {sr:.1} logins/s from {clients} clients ({:.0}% of the limit, {:.0}% of the hashing threads); load {}",
            100.0 * sr / limit,
            100.0 * sr / hr,
            load()
        );
        served.push(sr);
        hashed.push(hr);
    }
    served.sort_by(f64::total_cmp);
    hashed.sort_by(f64::total_cmp);
    println!(
        "logins/s: iamd on PostgreSQL, {clients} concurrent host-API clients, {rounds} × {secs} s: median {:.1} logins/s = {:.0}% of the limit {cores} cores ÷ {hash_ms:.1} ms (argon2id {}) = {limit:.1}/s; {cores} bare hashing threads, interleaved: median {:.1}/s ({:.0}%)",
        pct(&served, 0.5),
        100.0 * pct(&served, 0.5) / limit,
        phc_params(&phc),
        pct(&hashed, 0.5),
        100.0 * pct(&served, 0.5) / pct(&hashed, 0.5),
    );
    drop(host);
}

/// The store's version now (the PostgreSQL primary's `store_version`).
fn store_version(f: &Fleet) -> String {
    let (primary, _) = f.pg.as_ref().unwrap();
    primary
        .psql("iam", "SELECT max(version) FROM store_version")
        .unwrap_or_else(|e| e)
        .trim()
        .to_string()
}

/// Run `work`; with `BENCH_FLEET_PGWAITS` set, sample what the store's PostgreSQL
/// backends wait on meanwhile (every 100 ms) and print the counts after (diagnosis only).
fn with_pg_waits<T>(f: &Fleet, work: impl FnOnce() -> T) -> T {
    if std::env::var_os("BENCH_FLEET_PGWAITS").is_none() {
        return work();
    }
    let (primary, _) = f.pg.as_ref().unwrap();
    let stop = AtomicBool::new(false);
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let out = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Ok(o) = primary.psql(
                    "iam",
                    "SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-') || ' ' || state || ' ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 50) || CASE WHEN wait_event IS NULL THEN ' pid ' || pid || ' for ' || (now() - query_start)::text || ' ' || regexp_replace(query, '\\s+', ' ', 'g') ELSE '' END FROM pg_stat_activity WHERE datname = 'iam' AND state <> 'idle' AND pid <> pg_backend_pid()",
                ) {
                    seen.extend(o.lines().map(str::to_string));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        });
        let out = work();
        stop.store(true, Ordering::Relaxed);
        for l in sampler.join().unwrap() {
            *counts.entry(l).or_default() += 1;
        }
        out
    });
    for q in [
        "SELECT relname || ' live ' || n_live_tup || ' dead ' || n_dead_tup || ' hot ' || n_tup_hot_upd || ' upd ' || n_tup_upd FROM pg_stat_user_tables WHERE relname IN ('users', 'login_failures', 'store_version', 'audit_events')",
        "SELECT 'xmin ' || coalesce(backend_xmin::text, '-') || ' ' || coalesce(state, '-') || ' since ' || coalesce((now() - xact_start)::text, '-') || ' ' || coalesce(application_name, '') || ' ' || left(query, 40) FROM pg_stat_activity WHERE backend_xmin IS NOT NULL ORDER BY xact_start LIMIT 5",
        "SELECT 'slot ' || slot_name || ' xmin ' || coalesce(xmin::text, '-') FROM pg_replication_slots",
        "SELECT 'standby feedback xmin ' || coalesce(backend_xmin::text, '-') FROM pg_stat_replication",
        "SHOW jit",
        "SET plan_cache_mode = force_generic_plan; PREPARE q(text) AS SELECT u.pk, u.name, u.user_id, u.path, u.created, p.arn, u.password_last_used, (SELECT coalesce(json_agg(json_build_array(t.key, t.value) ORDER BY t.key), '[]')::text FROM user_tags t WHERE t.user_pk = u.pk), l.hash, l.reset_required, l.created, l.changed, l.user_pk IS NOT NULL, f.failed_attempts, f.last_failure, f.locked_until, d.serial, d.seed_sealed, d.watermark FROM users u LEFT JOIN policies p ON p.pk = u.boundary_pk LEFT JOIN login_profiles l ON l.user_pk = u.pk LEFT JOIN login_failures f ON f.user_pk = u.pk LEFT JOIN mfa_devices d ON d.user_pk = u.pk AND d.enabled IS NOT NULL WHERE u.name = $1; EXPLAIN ANALYZE EXECUTE q('u000')",
    ] {
        eprintln!(
            "  {}",
            primary
                .psql("iam", q)
                .unwrap_or_else(|e| e)
                .trim()
                .replace('\n', "\n  ")
        );
    }
    let mut by: Vec<_> = counts.into_iter().collect();
    by.sort_by_key(|e| std::cmp::Reverse(e.1));
    for (l, n) in by.iter().take(15) {
        eprintln!("  pg wait {n:5} × {l}");
    }
    out
}

/// The load average now (1, 5, 15 minutes).
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
