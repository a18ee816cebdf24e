//! The fleet story end to end, on the fleet harness (`tests/fleet_harness`), printed for
//! a newcomer: run by `sudo ./scripts/demo-fleet` (which installs what it needs). A
//! PostgreSQL primary and its synchronous standby, two `iamd`, two hosts each with
//! `iam-agent`, replica, socket, host credentials, socat relays and a real sshd; the AWS
//! CLI creates a user with a password and an MFA device; she logs in with ssh on both
//! hosts; a code counts once across the fleet; both hosts are cut off and she logs in
//! offline; on reconnect the hosts catch up and a code accepted on both during the
//! outage is reported as a replay incident; the primary is killed and the standby
//! promoted, one `iamd` killed, and logins go on; the audit trail on the store.
//! Everything runs in private mount and network namespaces; every process started is
//! stopped by its id at the end.

#[path = "../../tests/support/mod.rs"]
#[allow(unused)]
mod support;

#[path = "../tests/fleet_harness/mod.rs"]
mod fleet_harness;

use fleet_harness::{Fleet, Login, Options, classify};
use std::time::{Duration, Instant};
use support::totp;

const PASSWORD: &str = "correct horse battery staple 7!";

fn bold(s: &str) {
    println!("\n\x1b[1m== {s}\x1b[0m");
}

fn note(s: &str) {
    println!("   {s}");
}

fn main() {
    assert!(support::is_root(), "run as root: sudo ./scripts/demo-fleet");
    let t_all = Instant::now();
    bold(
        "1. The store: PostgreSQL 15, a primary and a streaming synchronous standby; two iamd over it",
    );
    let mut f = Fleet::start(Options {
        hosts: 2,
        servers: 2,
        agents: true,
        wait_seconds: 20,
        show: true,
        ..Options::default()
    });
    note(&format!(
        "store URL (both servers, whichever is writable): {}",
        f.url
    ));
    for (i, s) in f.servers.iter().enumerate() {
        note(&format!(
            "iamd #{i}: http://127.0.0.1:{} (IAM, STS and the host API)",
            s.port
        ));
    }

    bold(
        "2. Two hosts, web-01 and web-02: each its own host credentials, iam-agent, replica, socket and socat relays",
    );
    for h in &f.hosts {
        note(&format!(
            "{}: relays {:?} -> iamd, replica {}, socket {}",
            h.name,
            h.relay_ports,
            h.replica.display(),
            h.socket.display()
        ));
    }
    note(&format!(
        "web-01's agent.toml:\n{}",
        indent(&std::fs::read_to_string(&f.hosts[0].config).unwrap())
    ));
    note(&format!(
        "web-01's pam_iam.conf (the pam.d files are the same in both modes):\n{}",
        indent(&std::fs::read_to_string(&f.hosts[0].pam_conf).unwrap())
    ));

    bold("3. An administrator creates alice with the AWS CLI, against iamd");
    let Some(seed) = f.aws_mfa_user("alice", PASSWORD) else {
        eprintln!("the AWS CLI is missing: set IAMD_AWS_VENV (scripts/demo-fleet does)");
        std::process::exit(1);
    };
    note("(the TOTP seed went to alice's phone; the demo keeps it to type codes with oathtool)");

    bold("4. The change reaches both replicas; a replica holds no password hash and no TOTP seed");
    let took = f.wait_all(Duration::from_secs(30), "alice", |h| {
        h.has_user("alice") && h.serving()
    });
    for (h, d) in f.hosts.iter().zip(&took) {
        let secrets = h
            .query(
                "SELECT (SELECT count(*) FROM login_profiles) + (SELECT count(*) FROM mfa_devices)",
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(-1);
        note(&format!(
            "{}: alice in the replica after {d:?}; login profiles + MFA devices in it: {secrets}",
            h.name
        ));
    }

    bold("5. alice logs in with ssh (password, then a code) on web-01 and on web-02");
    let users = [("alice", 2001)];
    let boxes: Vec<_> = f.hosts.iter().map(|h| h.sandbox(&users)).collect();
    let sshds: Vec<_> = boxes
        .iter()
        .map(|b| b.start_sshd("AuthenticationMethods keyboard-interactive"))
        .collect();
    let mut codes = Codes { seed, last: 0 };
    let names: Vec<String> = f.hosts.iter().map(|h| h.name.clone()).collect();
    let ssh = |i: usize, code: &str| {
        let l = sshds[i].login(
            "alice",
            &[("Password:", PASSWORD), ("Verification code:", code)],
            &[],
        );
        println!(
            "\x1b[2m$ ssh -p {} alice@127.0.0.1   # {}, code {code}\x1b[0m\n   prompts {:?} -> {}",
            sshds[i].port,
            names[i],
            l.prompts,
            if l.ok() {
                l.out.stdout.trim().to_string()
            } else {
                format!("refused (exit {})", l.out.code)
            }
        );
        note(&format!(
            "{}'s syslog: {}",
            names[i],
            last_line(&boxes[i].syslog(), "authenticate ")
        ));
        l.ok()
    };
    let c0 = codes.fresh();
    ssh(0, &c0);

    bold(
        "6. The code she just used on web-01 is refused on web-02: one watermark for the whole fleet",
    );
    ssh(1, &c0);
    note("with the next step's code:");
    ssh(1, &codes.fresh());

    bold("7. An outage: both hosts' relays are cut (partitioned from both iamd)");
    for h in &mut f.hosts {
        h.partition();
    }
    f.iam(&["create-user", "--user-name", "carol"]);
    note(
        "carol, created meanwhile at the server, reaches neither host; each keeps its last replica",
    );
    note(
        "offline, a host decides alone: only a user who logged in there before (the server gave \
         that host her offline material then: a host-bound verifier and keyed hashes of the \
         coming steps' codes, never the seed), with her password and a code above the watermarks",
    );
    let c2 = codes.fresh();
    ssh(0, &c2);
    note("the same code on web-02, which cannot see web-01's use while both are cut off:");
    ssh(1, &c2);

    bold("8. The servers come back: the hosts catch up and their journals arrive");
    for h in &mut f.hosts {
        h.reconnect();
    }
    let took = f.wait_all(Duration::from_secs(60), "carol", |h| h.has_user("carol"));
    note(&format!("both replicas have carol again after {took:?}"));
    // Each agent ships its journal once a server answers it again (its own thread,
    // woken by the first answered pull): the journals arrive within seconds.
    let t = Instant::now();
    let incidents = loop {
        let found: Vec<_> = f
            .audit(Some("alice"))
            .into_iter()
            .filter(|r| r.action == pam_iam::fleet::reconnect::REPLAY_ACTION)
            .collect();
        if !found.is_empty() || t.elapsed() > Duration::from_secs(60) {
            break found;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for h in &f.hosts {
        note(&format!(
            "{}'s agent: {}",
            h.name,
            last_line(&h.agent_log(), " shipped to ")
        ));
    }
    for r in f
        .audit(Some("alice"))
        .iter()
        .filter(|r| r.reason.contains(" offline (journal entry "))
    {
        note(&format!("{} {}: {}", r.action, r.decision, r.reason));
    }
    println!(
        "\x1b[2m$ iam list-audit-events --user-name alice   # the {:?} rows\x1b[0m",
        pam_iam::fleet::reconnect::REPLAY_ACTION
    );
    for r in &incidents {
        note(&r.reason);
    }
    println!("\x1b[2m$ iam list-replay-incidents\x1b[0m");
    let listed = f.iam_out(&["list-replay-incidents"]);
    print!("{}", indent(&String::from_utf8_lossy(&listed.stdout)));
    println!();
    if incidents.is_empty() {
        for h in &f.hosts {
            eprintln!("{}'s agent log:\n{}", h.name, h.agent_log());
        }
        eprintln!(
            "demo-fleet: no replay incident within 60 s of the reconnect: the journals did not arrive"
        );
        std::process::exit(1);
    }

    bold("9. The PostgreSQL primary is killed (kill -9), the standby promoted, and iamd #0 killed");
    f.kill_primary();
    note("primary killed");
    f.promote_standby();
    note("standby promoted (pg_ctl promote): the store URL names both, nothing is reconfigured");
    f.kill_iamd(0);
    note("iamd #0 killed: the agents move to iamd #1");
    let code = codes.fresh();
    let t = Instant::now();
    let mut ok = false;
    while !ok && t.elapsed() < Duration::from_secs(60) {
        let out = fleet_harness::login(&boxes[1], "alice", &[PASSWORD, &code], "after-failover");
        ok = classify(&out) == Login::Allowed;
        if !ok {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    println!("\x1b[2m$ pamtester fleet-login alice authenticate acct_mgmt   # web-02\x1b[0m");
    note(&format!(
        "alice on web-02 after the failover: {}",
        if ok { "logged in" } else { "refused" }
    ));

    bold(
        "10. The audit trail, on the (promoted) store: every login, attributed to its host by the server",
    );
    let o = f.iam_out(&[
        "list-audit-events",
        "--user-name",
        "alice",
        "--output",
        "table",
    ]);
    println!("\x1b[2m$ iam list-audit-events --user-name alice --output table\x1b[0m");
    print!("{}", String::from_utf8_lossy(&o.stdout));

    bold(&format!(
        "Done in {:.0} s; stopping every process started (by its id)",
        t_all.elapsed().as_secs_f64()
    ));
    drop(sshds);
    drop(boxes);
    drop(f);
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn last_line(s: &str, containing: &str) -> String {
    s.lines()
        .rev()
        .find(|l| l.contains(containing))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// alice's codes, each for a step after the last one used (codes count once,
/// fleet-wide): the next step's code while it is within the ±1 step window, else after
/// a wait.
struct Codes {
    seed: String,
    last: i64,
}

impl Codes {
    fn fresh(&mut self) -> String {
        loop {
            let step = support::now() / 30;
            let s = (self.last + 1).max(step);
            if s <= step + 1 {
                self.last = s;
                return totp::code_at(&self.seed, s * 30);
            }
            let left = totp::seconds_left();
            note(&format!(
                "(waiting {left} s for the next TOTP step: each code counts once, fleet-wide)"
            ));
            std::thread::sleep(Duration::from_secs(left + 1));
        }
    }
}
