//! 500 concurrent pamtester logins against one store, right and wrong answers mixed over
//! many users (so no per-user throttle can make a right login fail): every right one
//! succeeds, every wrong one fails, each counter is exact, each decision audited.
//! Latency percentiles are printed, never asserted (scripts/faults-bench reports them
//! with the default argon2 parameters: `FAULTS_DEFAULT_ARGON2=1`).

mod support;

use std::time::Duration;
use support::sandbox::Sandbox;
use support::store::Iam;
use support::totp;

const STACK: &str = "auth required {module} db={db} fail_delay=0
account required {module} db={db} host=web-1
";

/// Password-only users with the right password, logins each.
const RIGHT_USERS: usize = 40;
const RIGHT_EACH: usize = 5;
/// MFA users, one right password + code each (a code is accepted once).
const MFA_USERS: usize = 50;
/// Users given wrong answers, logins each (half wrong password, half a wrong code).
const WRONG_USERS: usize = 50;
const WRONG_EACH: usize = 5;

/// Spawns every login at once, reaps them as they finish, prints one line per login:
/// `TAG RC LATENCY_MS`.
const DRIVER: &str = r#"
import os, subprocess, sys, time
jobs = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
procs = {}
for tag, user, answers in jobs:
    r, w = os.pipe()
    os.write(w, answers.replace("\\n", "\n").encode())
    os.close(w)
    t = time.monotonic()
    p = subprocess.Popen(["pamtester", "iam-test", user, "authenticate", "acct_mgmt"], stdin=r,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(r)
    procs[p.pid] = (tag, t, p)
while procs:
    pid, status = os.wait()
    if pid in procs:
        tag, t, p = procs.pop(pid)
        p.returncode = 0
        print(tag, os.waitstatus_to_exitcode(status), "%.1f" % ((time.monotonic() - t) * 1000), flush=True)
"#;

/// A six-digit code outside the window (oathtool's codes for the previous, current and
/// next step), so a "wrong code" is never right by chance.
fn wrong_code(seed: &str) -> String {
    let window: Vec<String> = (-1..=1).map(|k| totp::code(seed, 30 * k)).collect();
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|c| !window.contains(c))
        .unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[test]
fn five_hundred_concurrent_logins_decide_right_and_count_exactly() {
    require_root!();
    let mut sb = Sandbox::new();
    sb.service("iam-test", STACK);
    let params = support::store::fault_params();
    let iam = Iam::create_with(&sb.db(), params);
    iam.lockout(1000, 900);
    let mut names = Vec::new();
    let mut seeds = Vec::new();
    let mut uid = 4000;
    for (prefix, n) in [("r", RIGHT_USERS), ("m", MFA_USERS), ("w", WRONG_USERS)] {
        for i in 0..n {
            let name = format!("{prefix}{i}");
            sb.user(&name, uid);
            uid += 1;
            iam.user(&name, Some(&format!("{name}-Passw0rd")));
            if prefix != "r" && (prefix == "m" || i % 2 == 1) {
                seeds.push((name.clone(), iam.mfa(&name).0));
            }
            names.push(name);
        }
    }
    iam.web_group(&names.iter().map(String::as_str).collect::<Vec<_>>());
    let seed_of = |u: &str| &seeds.iter().find(|(n, _)| n == u).unwrap().1;

    totp::wait_for_fresh_step(25);
    let mut jobs = Vec::new();
    for i in 0..RIGHT_USERS {
        for j in 0..RIGHT_EACH {
            jobs.push(format!("right.r{i}.{j}\tr{i}\tr{i}-Passw0rd\\n"));
        }
    }
    for i in 0..MFA_USERS {
        let code = totp::code(seed_of(&format!("m{i}")), 0);
        jobs.push(format!("right.m{i}.0\tm{i}\tm{i}-Passw0rd\\n{code}\\n"));
    }
    for i in 0..WRONG_USERS {
        // even users: wrong password; odd users (with MFA): right password, wrong code
        let answers = if i % 2 == 0 {
            "not-the-password\\n".to_string()
        } else {
            format!(
                "w{i}-Passw0rd\\n{}\\n",
                wrong_code(seed_of(&format!("w{i}")))
            )
        };
        for j in 0..WRONG_EACH {
            jobs.push(format!("wrong.w{i}.{j}\tw{i}\t{answers}"));
        }
    }
    assert_eq!(jobs.len(), 500);
    // Interleave right and wrong so both kinds run side by side.
    let (mut right, mut wrong): (Vec<_>, Vec<_>) =
        jobs.into_iter().partition(|j| j.starts_with("right"));
    let mut mixed = Vec::new();
    while !right.is_empty() || !wrong.is_empty() {
        mixed.extend(right.pop());
        mixed.extend(wrong.pop());
    }
    sb.write("jobs.tsv", &(mixed.join("\n") + "\n"), 0o644);
    sb.write("driver.py", DRIVER, 0o644);
    let out = sb.run(
        "cd $T && python3 driver.py jobs.tsv > results.txt 2> driver.err; echo $? > driver.rc",
        Duration::from_secs(1200),
    );
    assert!(out.ok(), "{out}");
    let read = |f: &str| std::fs::read_to_string(sb.path(f)).unwrap_or_default();
    assert_eq!(read("driver.rc").trim(), "0", "{}", read("driver.err"));
    let results = read("results.txt");
    let mut latencies = Vec::new();
    let mut bad = Vec::new();
    for line in results.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (tag, rc, ms) = (f[0], f[1], f[2].parse::<f64>().unwrap());
        latencies.push(ms);
        if (rc == "0") != tag.starts_with("right") {
            bad.push(line.to_string());
        }
    }
    assert_eq!(latencies.len(), 500, "{results}");
    let log = sb.syslog();
    assert!(bad.is_empty(), "wrong outcomes: {bad:?}\n{log}");
    for name in &names {
        let want = if name.starts_with('w') {
            WRONG_EACH as u32
        } else {
            0
        };
        // Wrong codes of one user in parallel: beyond the per-user code throttle they are
        // refused unchecked and uncounted (nothing was guessed), so the counter is
        // exactly the codes checked.
        let audit = iam.audit(name);
        let throttled = audit
            .iter()
            .filter(|(_, _, r)| r.contains("rate limit"))
            .count() as u32;
        assert_eq!(
            iam.failures(name) + throttled,
            want,
            "failure counter of {name}: {audit:?}"
        );
    }
    assert!(!log.contains("database is locked"), "{log}");
    let allow = log.matches("authenticate allow").count();
    let deny = log.matches("authenticate deny").count();
    assert_eq!(
        (allow, deny),
        (
            RIGHT_USERS * RIGHT_EACH + MFA_USERS,
            WRONG_USERS * WRONG_EACH
        )
    );
    let audited = iam
        .store
        .list_audit(&pam_iam::store::AuditFilter::default())
        .unwrap();
    let count = |action: &str, decision: &str| {
        audited
            .iter()
            .filter(|e| e.action == action && e.decision == decision)
            .count()
    };
    assert_eq!(count("authenticate", "allow"), allow);
    assert_eq!(count("authenticate", "deny"), deny);
    assert_eq!(count("host:Login", "allow"), allow);
    latencies.sort_by(f64::total_cmp);
    println!(
        "500 concurrent logins (argon2 m={} KiB t={}): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        params.memory_kib,
        params.iterations,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
}
