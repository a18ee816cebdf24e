//! Concurrency on a real PostgreSQL 15: 100 concurrent `iam` writers and 100 concurrent
//! watermark advances on one device: exact counts, no lost update, exactly one winner
//! per TOTP step.

use pam_iam::credentials::second_factor::{Proof, Settled};
use pam_iam::store::*;
use pam_iam_postgres::testing;
use std::process::{Command, Stdio};

const IAM: &str = env!("CARGO_BIN_EXE_iam");
const N: usize = 100;

/// Runs `N` `iam` processes at once (argument lists from `args(i)`); their outputs.
fn race(db: &str, args: impl Fn(usize) -> Vec<String>) -> Vec<std::process::Output> {
    let children: Vec<_> = (0..N)
        .map(|i| {
            Command::new(IAM)
                .arg("--db")
                .arg(db)
                .args(args(i))
                .env("PAM_IAM_USERDB", "off")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn iam")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_hundred_concurrent_iam_writers_lose_nothing_and_quotas_hold() {
    let Some(server) = testing::shared() else {
        return;
    };
    let db = server.fresh_db().unwrap();
    let s = pam_iam_postgres::open(&OpenOptions::new(db.as_str(), OpenMode::ReadWrite)).unwrap();
    s.create_group("g", "/", 1).unwrap();

    let outs = race(&db, |i| {
        vec!["create-user".into(), "--user-name".into(), format!("c{i}")]
    });
    for o in &outs {
        assert!(o.status.success(), "{}", stderr(o));
    }
    assert_eq!(s.list_users("/").unwrap().len(), N);

    let outs = race(&db, |i| {
        vec![
            "add-user-to-group".into(),
            "--group-name".into(),
            "g".into(),
            "--user-name".into(),
            format!("c{i}"),
        ]
    });
    for o in &outs {
        assert!(o.status.success(), "{}", stderr(o));
    }
    assert_eq!(s.group_members("g").unwrap().len(), N);

    // One user, a quota of 50 tags: exactly 50 of a hundred racing writers win, every
    // other one is refused with AWS's LimitExceeded (not a serialization error).
    let outs = race(&db, |i| {
        vec![
            "tag-user".into(),
            "--user-name".into(),
            "c0".into(),
            "--tags".into(),
            format!("Key=k{i},Value=v"),
        ]
    });
    let won = outs.iter().filter(|o| o.status.success()).count();
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert!(stderr(o).contains("LimitExceeded"), "{}", stderr(o));
    }
    assert_eq!(won, 50);
    assert_eq!(s.list_tags(TagTarget::User, "c0").unwrap().len(), 50);
    // Every write was audited, once.
    let audited = s
        .list_audit(&AuditFilter::default())
        .unwrap()
        .iter()
        .filter(|e| e.service == "iam")
        .count();
    assert_eq!(audited, N + N + 50);
}

#[test]
fn a_hundred_concurrent_watermark_advances_have_one_winner_per_step() {
    let Some(server) = testing::shared() else {
        return;
    };
    let db = server.fresh_db().unwrap();
    let open = || pam_iam_postgres::open(&server.options(&db)).unwrap();
    let s = open();
    s.create_user(
        &NewUser {
            name: "alice".into(),
            path: "/".into(),
            ..Default::default()
        },
        1,
    )
    .unwrap();
    let d = s
        .create_virtual_mfa_device("alice", "/", &[7; 20], 1)
        .unwrap();
    s.enable_mfa_device("alice", &d.serial_number, 0, &[], 1)
        .unwrap();
    const STEPS: i64 = 5;
    let barrier = std::sync::Barrier::new(N);
    let results: Vec<Vec<(i64, bool)>> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let (barrier, serial, open) = (&barrier, d.serial_number.as_str(), &open);
                sc.spawn(move || {
                    let st = open();
                    barrier.wait();
                    (1..=STEPS)
                        .map(|step| {
                            let r = st
                                .settle_success(
                                    "alice",
                                    &Proof::Totp {
                                        serial,
                                        step,
                                        host: "web-01",
                                    },
                                    false,
                                    2,
                                    None,
                                )
                                .unwrap_or_else(|e| panic!("{e}"));
                            (step, r == Settled::Accepted)
                        })
                        .collect()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for step in 1..=STEPS {
        let winners = results
            .iter()
            .flatten()
            .filter(|(s, won)| *s == step && *won)
            .count();
        assert_eq!(winners, 1, "step {step}");
    }
    assert_eq!(s.mfa_secret(&d.serial_number).unwrap().watermark, STEPS);
}
