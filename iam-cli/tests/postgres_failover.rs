//! Failover with a streaming standby: a primary and a synchronous standby
//! (`pg_basebackup -R`, `synchronous_standby_names = 'ANY 1 (s1)'`); a loop of `iam`
//! writes through a multi-host URL; `kill -9` the primary; `pg_ctl promote` the standby;
//! the loop goes on with no configuration change; every acknowledged write is on the new
//! primary, none twice. Also: a read-only standby given as the write target is refused
//! with one line naming it.

use pam_iam_postgres::testing::{self, Server};
use std::process::Command;
use std::time::{Duration, Instant};

const IAM: &str = env!("CARGO_BIN_EXE_iam");

fn iam(db: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(IAM)
        .arg("--db")
        .arg(db)
        .args(args)
        .env("PAM_IAM_USERDB", "off")
        .output()
        .expect("run iam");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

struct Stop<'a>(&'a Server);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[test]
fn writes_survive_kill_9_of_the_primary_and_continue_on_the_promoted_standby() {
    if !testing::available() {
        return;
    }
    let primary = Server::start().unwrap_or_else(|e| panic!("{e}"));
    let _p = Stop(&primary);
    // The schema exists before the standby is cloned.
    let (ok, out) = iam(
        &primary.url("iam"),
        &["create-user", "--user-name", "before"],
    );
    assert!(ok, "{out}");
    let standby = Server::standby_of(&primary, "s1").unwrap_or_else(|e| panic!("{e}"));
    let _s = Stop(&standby);
    primary
        .make_synchronous("s1")
        .unwrap_or_else(|e| panic!("{e}"));

    // A standby is no write target: one line naming it.
    let (ok, out) = iam(&standby.url("iam"), &["create-user", "--user-name", "nope"]);
    assert!(!ok);
    assert!(
        out.contains("read-only server") && out.contains(&format!("127.0.0.1:{}", standby.port)),
        "{out}"
    );
    assert_eq!(out.trim().lines().count(), 1, "{out}");

    // Standby listed first: target_session_attrs=read-write finds the primary.
    let url = testing::read_write_url(&[&standby, &primary], "iam");
    let mut acked = Vec::new();
    let mut failures = 0;
    let mut promoted = false;
    for i in 0..40 {
        if i == 15 {
            assert!(primary.pid().is_some(), "primary running");
            primary.signal_and_wait(9); // kill -9 the postmaster
        }
        let name = format!("f{i}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (ok, out) = iam(&url, &["create-user", "--user-name", &name]);
            if ok {
                acked.push(name.clone());
                break;
            }
            // A try whose COMMIT reached the server before it died is there already.
            if out.contains("EntityAlreadyExists") {
                acked.push(name.clone());
                break;
            }
            assert_eq!(out.trim().lines().count(), 1, "{out}");
            failures += 1;
            if !promoted {
                standby.promote().unwrap_or_else(|e| panic!("{e}"));
                promoted = true;
            }
            assert!(Instant::now() < deadline, "no write went through: {out}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    assert!(promoted && failures > 0, "the loop saw the outage");
    let (ok, out) = iam(&standby.url("iam"), &["list-users", "--output", "text"]);
    assert!(ok, "{out}");
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split('\t').find(|f| f.starts_with('f') || *f == "before"))
        .collect();
    for a in &acked {
        assert_eq!(
            names.iter().filter(|n| *n == a).count(),
            1,
            "{a} in {names:?}"
        );
    }
    assert!(names.contains(&"before"));
    assert_eq!(acked.len(), 40);
}
