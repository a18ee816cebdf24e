//! The fleet's replicas with the real programs ([`fleet_harness`]): PostgreSQL primary +
//! synchronous standby, two `iamd`, hosts each with an `iam-agent` and its own `socat`
//! relays. Proves: a policy detach made with the AWS CLI reaches every host; a host cut
//! off by its relay keeps its last replica and catches up on reconnect; a revoked host
//! credential is refused (the host keeps its replica, the others go on); the primary
//! killed (-9) and the standby promoted, then one `iamd` killed, mid-run: every host
//! still ends with every acknowledged change (0 lost).

#[path = "../../tests/support/mod.rs"]
mod support;

mod fleet_harness;

use fleet_harness::{Fleet, Host, Options};
use std::time::{Duration, Instant};

const LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

fn attached(h: &Host) -> bool {
    h.replica_has(
        "SELECT count(*) FROM user_attached a JOIN users u ON u.pk = a.owner_pk WHERE u.name = 'alice'",
    )
}

/// Whether the replica's policy set for alice allows `host:Login` (a decision made on
/// the replica by the local tools, as `account` makes it).
fn login_allowed(h: &Host, account: &str) -> bool {
    let o = h.iam(&[
        "simulate-principal-policy",
        "--policy-source-arn",
        &format!("arn:aws:iam::{account}:user/alice"),
        "--action-names",
        "host:Login",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).contains("\"allowed\"")
}

#[test]
fn a_policy_detach_made_with_the_aws_cli_reaches_every_host() {
    require_root!();
    let f = Fleet::start(Options {
        hosts: 3,
        ..Options::default()
    });
    let Some(_) = f.aws_ok(0, &["iam", "create-user", "--user-name", "alice"]) else {
        return;
    };
    let p = f
        .aws_ok(
            1,
            &[
                "iam",
                "create-policy",
                "--policy-name",
                "login",
                "--policy-document",
                LOGIN,
            ],
        )
        .unwrap();
    let arn = p["Policy"]["Arn"].as_str().unwrap().to_string();
    f.aws_ok(
        0,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &arn,
        ],
    );
    f.wait_all(Duration::from_secs(20), "the attachment", attached);
    for h in &f.hosts {
        assert!(login_allowed(h, &f.account), "{} before the detach", h.name);
    }
    let t0 = Instant::now();
    f.aws_ok(
        1,
        &[
            "iam",
            "detach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &arn,
        ],
    );
    let cli = t0.elapsed();
    let took = f.wait_all(Duration::from_secs(20), "the detach", |h| !attached(h));
    eprintln!(
        "detach on {} hosts, after the AWS CLI returned ({cli:?}): {took:?}",
        f.hosts.len()
    );
    for h in &f.hosts {
        assert!(!login_allowed(h, &f.account), "{} after the detach", h.name);
    }
}

#[test]
fn a_partitioned_host_keeps_its_replica_and_catches_up_on_reconnect() {
    require_root!();
    let mut f = Fleet::start(Options::default());
    f.iam(&["create-user", "--user-name", "before"]);
    f.wait_all(Duration::from_secs(20), "the first user", |h| {
        h.has_user("before")
    });
    f.hosts[0].partition();
    f.iam(&["create-user", "--user-name", "during"]);
    // The other host gets it; the cut-off one says it is cut off and keeps what it had.
    fleet_harness::wait_until(Duration::from_secs(20), "web-02 to see it", || {
        f.hosts[1].has_user("during")
    });
    let a = &f.hosts[0];
    fleet_harness::wait_until(Duration::from_secs(30), "web-01 to notice", || {
        a.agent_log()
            .contains("every server is down; keeping the replica")
    });
    assert!(a.has_user("before"), "{}", a.agent_log());
    assert!(!a.has_user("during"));
    // The replica stays a store the local tools read.
    let o = a.iam(&["get-user", "--user-name", "before"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    f.hosts[0].reconnect();
    let a = &f.hosts[0];
    let d = fleet_harness::wait_until(Duration::from_secs(20), "the catch-up", || {
        a.has_user("during")
    });
    eprintln!("caught up {d:?} after the relay came back");
}

/// Deltas through real `iamd` and agents (migration 17): a connected host takes each
/// change as a delta of the tables it changed; a host cut off while more versions went
/// by than the change log keeps gets a full snapshot when it is back, and holds exactly
/// the view the other host holds.
#[test]
fn hosts_take_deltas_and_one_behind_the_pruned_log_resyncs_fully() {
    require_root!();
    let mut f = Fleet::start(Options::default());
    f.iam(&["create-user", "--user-name", "before"]);
    f.wait_all(Duration::from_secs(20), "the first user", |h| {
        h.has_user("before")
    });
    f.iam(&["create-user", "--user-name", "small"]);
    f.wait_all(Duration::from_secs(20), "the second user", |h| {
        h.has_user("small")
    });
    for h in &f.hosts {
        assert!(
            h.agent_log().contains("(delta from"),
            "{}: a change comes as a delta\n{}",
            h.name,
            h.agent_log()
        );
    }
    f.hosts[0].partition();
    f.iam(&["create-user", "--user-name", "during"]);
    // More versions than the change log keeps: one transaction each.
    let n = pam_iam::store::replica::CHANGE_LOG_VERSIONS + 150;
    let sql: String = (0..n)
        .map(|i| {
            format!("BEGIN; INSERT INTO host_tags (host, key, value) VALUES ('elsewhere', 'k{i}', 'v'); COMMIT; ")
        })
        .collect();
    let (primary, _) = f.pg.as_ref().unwrap();
    primary.psql("iam", &sql).unwrap();
    f.iam(&["create-user", "--user-name", "last"]);
    fleet_harness::wait_until(
        Duration::from_secs(20),
        "web-02 to see the last user",
        || f.hosts[1].has_user("last"),
    );
    let log_before = f.hosts[0].agent_log().len();
    f.hosts[0].reconnect();
    let a = &f.hosts[0];
    // The replica is written before the agent logs it.
    fleet_harness::wait_until(Duration::from_secs(30), "the catch-up", || {
        a.has_user("last") && a.agent_log()[log_before..].contains("replica at store version")
    });
    let caught_up = a.agent_log()[log_before..].to_string();
    let line = caught_up
        .lines()
        .find(|l| l.starts_with("iam-agent: replica at store version"))
        .unwrap_or_else(|| panic!("no sync logged:\n{caught_up}"));
    assert!(
        !line.contains("(delta"),
        "a host behind the change log resyncs fully: {line}"
    );
    let b = &f.hosts[1];
    assert_eq!(a.replica_version(), b.replica_version());
    for sql in [
        "SELECT count(*) FROM users",
        "SELECT count(*) FROM user_tags",
        "SELECT count(*) FROM host_tags",
        "SELECT count(*) FROM store_changes",
    ] {
        let count = |h: &Host| h.query(sql, |r| r.get::<_, i64>(0));
        assert_eq!(count(a), count(b), "{sql}");
    }
    assert_eq!(
        a.query("SELECT count(*) FROM store_changes", |r| r.get::<_, i64>(0)),
        Some(0),
        "a replica keeps no change log"
    );
}

#[test]
fn a_revoked_host_credential_is_refused_and_the_other_hosts_go_on() {
    require_root!();
    let f = Fleet::start(Options::default());
    f.iam(&["create-user", "--user-name", "erin"]);
    f.wait_all(Duration::from_secs(20), "the first user", |h| {
        h.has_user("erin")
    });
    f.iam(&["delete-host-credentials", "--host-name", "web-01"]);
    f.iam(&["create-user", "--user-name", "frank"]);
    let (a, b) = (&f.hosts[0], &f.hosts[1]);
    fleet_harness::wait_until(Duration::from_secs(20), "web-02 to see frank", || {
        b.has_user("frank")
    });
    fleet_harness::wait_until(Duration::from_secs(30), "web-01 to be refused", || {
        a.agent_log().contains("InvalidClientTokenId")
    });
    assert!(
        a.has_user("erin") && !a.has_user("frank"),
        "{}",
        a.agent_log()
    );
    // The refusal is audited as a denial of the host API.
    let audit = f.iam(&["list-audit-events"]).to_string();
    assert!(
        audit.contains("host:GetReplica") && audit.contains("InvalidClientTokenId"),
        "{audit}"
    );
}

#[test]
fn the_primary_killed_and_one_iamd_killed_mid_run_lose_no_change() {
    require_root!();
    let mut f = Fleet::start(Options::default());
    let mut acked = Vec::new();
    let mut failures = 0;
    let mut promoted = false;
    for i in 0..30 {
        if i == 10 {
            f.kill_primary();
        }
        if i == 20 {
            f.kill_iamd(0);
        }
        let name = format!("u{i:02}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let o = f.iam_out(&["create-user", "--user-name", &name]);
            let err = String::from_utf8_lossy(&o.stderr);
            // A try whose COMMIT reached the server before it died is there already.
            if o.status.success() || err.contains("EntityAlreadyExists") {
                acked.push(name.clone());
                break;
            }
            failures += 1;
            // The outage is seen: promote the standby (what an operator or a failover
            // manager does), as late as that.
            if !promoted {
                f.promote_standby();
                promoted = true;
            }
            assert!(Instant::now() < deadline, "no write went through: {err}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    assert!(promoted && failures > 0, "the writer saw the outage");
    let took = f.wait_all(Duration::from_secs(60), "every acknowledged user", |h| {
        acked.iter().all(|u| h.has_user(u))
    });
    eprintln!(
        "{} changes, {failures} failed tries; hosts current after {took:?}",
        acked.len()
    );
    for h in &f.hosts {
        let n = h
            .query("SELECT count(*) FROM users WHERE name LIKE 'u%'", |r| {
                r.get::<_, i64>(0)
            })
            .unwrap();
        assert_eq!(
            n,
            acked.len() as i64,
            "{}: each change exactly once",
            h.name
        );
        assert!(
            h.agent_log()
                .contains(&format!("127.0.0.1:{}", h.relay_ports[1])),
            "{} moved to the second server: {}",
            h.name,
            h.agent_log()
        );
    }
}
