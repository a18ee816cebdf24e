//! The benchmark's load generator (iamd-bench, scripts/bench-iamd) runs against a real
//! iamd: a second of each benchmarked call gets only good answers, signed by `aws-sigv4`
//! and checked; a wrong secret is counted as errors, not as throughput. No timing is
//! asserted (figures come from scripts/bench-iamd, docs/iamd.md "Performance").

use iamd_bench::check::{Action, PAGE};
use iamd_bench::load::{self, Target};
use iamd_bench::seed;
use iamd_bench::servers::{self, Programs, Running};
use std::path::PathBuf;
use std::time::Duration;

fn programs() -> Programs {
    let exe = std::env::current_exe().unwrap();
    Programs {
        iam: exe.parent().unwrap().parent().unwrap().join("iam"),
        iamd: PathBuf::from(env!("CARGO_BIN_EXE_iamd")),
        moto_server: None,
    }
}

fn one_second_of_each_call_and_a_wrong_secret(s: &Running) {
    let admin = Target {
        addr: s.addr,
        key: s.admin.clone(),
    };
    let key = seed::seed(&admin, PAGE).unwrap_or_else(|e| panic!("{e}\n{}", s.log()));
    let target = Target { addr: s.addr, key };
    for (action, clients) in [(Action::GetUser, 4), (Action::ListUsers, 2)] {
        let st = load::run(&target, action, clients, Duration::from_secs(1), 1, None).unwrap();
        assert_eq!(
            st.errors,
            0,
            "{action:?}: {:?}\n{}",
            st.first_error,
            s.log()
        );
        assert!(st.requests > 0, "{action:?}: no answer");
        assert_eq!(st.reconnects, 0, "iamd keeps connections alive");
    }
    // Open loop: 5 clients offering 100 requests a second send about 100 in a second,
    // not as many as they can.
    let st = load::run(
        &target,
        Action::GetUser,
        5,
        Duration::from_secs(1),
        1,
        Some(100.0),
    )
    .unwrap();
    assert_eq!(st.errors, 0, "{:?}", st.first_error);
    assert!((90..=100).contains(&st.requests), "paced: {st:?}");
    let mut wrong = target.clone();
    wrong.key.secret.push('x');
    let st = load::run(
        &wrong,
        Action::GetUser,
        1,
        Duration::from_millis(200),
        1,
        None,
    )
    .unwrap();
    assert!(st.requests > 0 && st.errors == st.requests, "{st:?}");
    let e = st.first_error.unwrap();
    assert!(
        e.contains("GetUser 403") && e.contains("SignatureDoesNotMatch"),
        "{e}"
    );
}

#[test]
fn the_load_generator_gets_only_good_answers_from_iamd_on_sqlite() {
    let s = servers::iamd_sqlite(&programs(), &[]).unwrap();
    one_second_of_each_call_and_a_wrong_secret(&s);
}

#[test]
fn the_load_generator_gets_only_good_answers_from_iamd_on_postgres() {
    if !pam_iam_postgres::testing::available() {
        return;
    }
    // Over the cluster's Unix socket, as the benchmark runs it.
    let s = servers::iamd_postgres(&programs(), &[], servers::PgLink::Socket).unwrap();
    one_second_of_each_call_and_a_wrong_secret(&s);
}
