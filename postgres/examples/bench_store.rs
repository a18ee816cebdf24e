//! Benchmark (never a timed test): what a login reads, and the contract suite's mix of
//! store operations, SQLite and PostgreSQL side by side, interleaved round by round, on
//! a throwaway PostgreSQL 15 started here (loopback, fsync=off as in the tests). Run by
//! scripts/bench-postgres; figures in docs/postgres.md.
//!
//! usage: bench_store [FILLER_USERS] [ROUNDS]

use pam_iam::store::*;
use pam_iam_postgres::testing::Server;
use std::time::{Duration, Instant};

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"arn:aws:iam::*:host/web-*"}]}"#;

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p95(v: &mut [Duration]) -> Duration {
    v.sort();
    v[(v.len() * 95 / 100).min(v.len() - 1)]
}

/// A user in 10 groups, each with 2 attached managed policies (20), plus an inline one.
fn seed_login_user(s: &dyn Store) {
    s.create_user(
        &NewUser {
            name: "bench".into(),
            path: "/".into(),
            tags: vec![Tag {
                key: "team".into(),
                value: "ops".into(),
            }],
            ..Default::default()
        },
        1,
    )
    .unwrap();
    s.create_login_profile(
        "bench",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        false,
        1,
    )
    .unwrap();
    let d = s
        .create_virtual_mfa_device("bench", "/", &[7; 20], 1)
        .unwrap();
    s.enable_mfa_device("bench", &d.serial_number, 0, &[], 1)
        .unwrap();
    s.put_inline_policy(PrincipalKind::User, "bench", "own", DOC)
        .unwrap();
    for g in 0..10 {
        let gname = format!("bg{g}");
        s.create_group(&gname, "/", 1).unwrap();
        s.add_user_to_group(&gname, "bench").unwrap();
        for k in 0..2 {
            let p = s
                .create_policy(
                    &NewPolicy {
                        name: format!("bp{g}_{k}"),
                        path: "/".into(),
                        document: DOC.into(),
                        ..Default::default()
                    },
                    1,
                )
                .unwrap();
            s.attach_policy(PrincipalKind::Group, &gname, &p.arn)
                .unwrap();
        }
    }
}

fn filler(s: &dyn Store, n: usize) {
    // Batches of 1,000 users per transaction, so seeding 100,000 takes seconds.
    for chunk in 0..n.div_ceil(1000) {
        atomically(s, |tx| {
            for i in chunk * 1000..((chunk + 1) * 1000).min(n) {
                tx.create_user(
                    &NewUser {
                        name: format!("u{i}"),
                        path: "/".into(),
                        ..Default::default()
                    },
                    1,
                )?;
            }
            Ok(())
        })
        .unwrap();
    }
}

fn login_read(s: &dyn Store) {
    let a = s.auth_info("bench").unwrap().unwrap();
    let p = s.user_policies("bench").unwrap();
    assert!(a.mfa.is_some() && p.identity.len() == 21);
}

fn main() {
    pam_iam::store::register_server_backend(pam_iam_postgres::open);
    let args: Vec<String> = std::env::args().collect();
    let fillers: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let server = Server::start().expect("PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let sqlite = dir.path().join("bench.db");
    let sq = open(&OpenOptions::new(sqlite.as_path(), OpenMode::ReadWrite)).unwrap();
    let pg_url = server.url("iam");
    let pg = pam_iam_postgres::PgStore::open(&server.options(&pg_url)).unwrap();
    let t = Instant::now();
    for s in [&*sq, &pg as &dyn Store] {
        seed_login_user(s);
        filler(s, fillers);
    }
    eprintln!(
        "seeded {fillers} filler users in each store in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Warm up (statement cache, page cache), then interleave.
    for _ in 0..50 {
        login_read(&*sq);
        login_read(&pg);
    }
    let trips0 = pg.round_trips();
    let (mut a, mut b) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let t = Instant::now();
        login_read(&*sq);
        a.push(t.elapsed());
        let t = Instant::now();
        login_read(&pg);
        b.push(t.elapsed());
    }
    let trips = (pg.round_trips() - trips0) as f64 / rounds as f64;
    println!(
        "login read (user + credentials + lock + MFA + groups + 21 policies), {fillers} other users, {rounds} interleaved rounds"
    );
    println!(
        "  SQLite      median {:>8.3} ms   p95 {:>8.3} ms",
        median(&mut a).as_secs_f64() * 1e3,
        p95(&mut a).as_secs_f64() * 1e3
    );
    println!(
        "  PostgreSQL  median {:>8.3} ms   p95 {:>8.3} ms   {trips:.2} round trips",
        median(&mut b).as_secs_f64() * 1e3,
        p95(&mut b).as_secs_f64() * 1e3
    );

    // The contract suite's mix: all 12 cases, each on a fresh store (made untimed).
    let mix_rounds = 5;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut trips = 0;
    for r in 0..mix_rounds {
        let sqs: Vec<Box<dyn Store>> = (0..CASES.len())
            .map(|i| {
                let p = dir.path().join(format!("mix{r}_{i}.db"));
                open(&OpenOptions::new(p.as_path(), OpenMode::ReadWrite)).unwrap()
            })
            .collect();
        let pgs: Vec<pam_iam_postgres::PgStore> = (0..CASES.len())
            .map(|_| {
                let url = server.fresh_db().unwrap();
                pam_iam_postgres::PgStore::open(&server.options(&url)).unwrap()
            })
            .collect();
        let t = Instant::now();
        for (case, s) in CASES.iter().zip(&sqs) {
            case(&**s);
        }
        a.push(t.elapsed());
        let before: u64 = pgs.iter().map(|s| s.round_trips()).sum();
        let t = Instant::now();
        for (case, s) in CASES.iter().zip(&pgs) {
            case(s);
        }
        b.push(t.elapsed());
        trips = pgs.iter().map(|s| s.round_trips()).sum::<u64>() - before;
    }
    println!(
        "contract-suite mix (12 cases, {trips} PostgreSQL round trips), {mix_rounds} interleaved rounds"
    );
    println!(
        "  SQLite      median {:>8.1} ms per mix",
        median(&mut a).as_secs_f64() * 1e3
    );
    println!(
        "  PostgreSQL  median {:>8.1} ms per mix",
        median(&mut b).as_secs_f64() * 1e3
    );
    drop(sq);
    drop(pg);
    server.stop();
}

use pam_iam::store::contract as c;

/// The contract suite's cases (src/store/contract.rs), in its order.
const CASES: [fn(&dyn Store); 12] = [
    c::user_lifecycle_and_conflicts,
    c::password_history_and_lockout,
    c::mfa_watermark_and_recovery_codes,
    c::policies_versions_attachments,
    c::roles_tags_hosts_audit_sessions_ids,
    c::access_keys_limit,
    c::a_locked_user_is_refused_and_counted_at_admission_and_at_success,
    c::ids_are_bound_to_entities_never_reused_and_skip_local_ones,
    c::session_policy_round_trip_and_mfa_update,
    c::a_session_for_a_replaced_role_or_user_is_refused,
    c::min_duration_setting_is_bounded,
    c::atomically_is_all_or_nothing,
];
