//! Clock jumps, with libfaketime (apt `faketime`) shifting CLOCK_REALTIME for pamtester
//! and the module in it: a clock moved back cannot make a used code valid again; a clock
//! moved forward unlocks a lock only once its end has passed (each attempt during a lock
//! counts and re-arms it) and accepts no code outside the window. Each test first proves the shift reached the module (the audit row's
//! time). Role session expiry under a user-set clock: tests/sudo_roles.rs.

mod support;

use std::time::Duration;
use support::now;
use support::sandbox::Sandbox;
use support::store::Iam;
use support::totp;

const STACK: &str = "auth required {module} db={db} fail_delay=0
account required {module} db={db} host=web-1
";

fn world() -> (Sandbox, Iam, String) {
    let mut sb = Sandbox::new();
    sb.user("alice", 2001)
        .user("bob", 2002)
        .service("iam-test", STACK);
    let iam = Iam::create(&sb.db());
    iam.user("alice", Some("alice-Passw0rd"))
        .user("bob", Some("bob-Passw0rd"))
        .lockout(3, 900)
        .web_group(&["alice", "bob"]);
    let (seed, _) = iam.mfa("alice");
    (sb, iam, seed)
}

/// pamtester under `faketime -f OFFSET` (e.g. "-10m"; "" for the real clock).
fn login(sb: &Sandbox, offset: &str, user: &str, answers: &[&str]) -> support::Outcome {
    let input = sb.write("in", &(answers.join("\n") + "\n"), 0o600);
    let fake = if offset.is_empty() {
        String::new()
    } else {
        format!("faketime -f '{offset}' ")
    };
    sb.run(
        &format!(
            "{fake}pamtester -v iam-test {user} authenticate acct_mgmt < {}",
            input.display()
        ),
        Duration::from_secs(60),
    )
}

/// The newest authenticate row of `user`: (time, reason). By row id: `list_audit` sorts
/// by time, which the jumps here reorder.
fn last_audit(iam: &Iam, user: &str) -> (i64, String) {
    let c = rusqlite::Connection::open(&iam.path).unwrap();
    c.query_row(
        "SELECT time, reason FROM audit_events WHERE user = ?1 AND action = 'authenticate' ORDER BY id DESC LIMIT 1",
        [user],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// The newest authenticate row was written at about `now + offset` seconds.
fn assert_clock(iam: &Iam, user: &str, offset: i64) {
    let (t, ..) = last_audit(iam, user);
    let want = now() + offset;
    assert!(
        (t - want).abs() < 20,
        "the module saw time {t}, expected about {want}: faketime did not reach it"
    );
}

#[test]
fn a_clock_moved_back_cannot_make_a_used_code_valid_again() {
    require_root!();
    let (sb, iam, seed) = world();
    totp::wait_for_fresh_step(15);
    let used = totp::code(&seed, 0);
    let out = login(&sb, "", "alice", &["alice-Passw0rd", &used]);
    assert!(out.ok(), "{out}");
    let used_at = now();

    // Ten minutes back: the code of that moment was never used, but its step is below
    // the watermark the last login left.
    let back = totp::code(&seed, -600);
    let out = login(&sb, "-10m", "alice", &["alice-Passw0rd", &back]);
    assert!(!out.ok(), "{out}");
    assert_clock(&iam, "alice", -600);
    assert_eq!(
        last_audit(&iam, "alice").1,
        "verification code already used (replay)"
    );
    // The used code, at the moment it is current again on the moved-back clock.
    let out = login(
        &sb,
        &format!("@{}", fmt_time(used_at)),
        "alice",
        &["alice-Passw0rd", &used],
    );
    assert!(!out.ok(), "{out}");
    assert_clock(&iam, "alice", used_at - now());
    assert_eq!(
        last_audit(&iam, "alice").1,
        "verification code already used (replay)"
    );
    // A recovery path still exists: the next fresh code on the real clock works.
    wait_for_next_step(used_at);
    let out = login(&sb, "", "alice", &["alice-Passw0rd", &totp::code(&seed, 0)]);
    assert!(out.ok(), "{out}\n{}", sb.syslog());
}

#[test]
fn a_clock_moved_forward_unlocks_only_after_the_lock_ends_and_takes_no_code_outside_the_window() {
    require_root!();
    let (sb, iam, seed) = world();
    for _ in 0..3 {
        assert!(!login(&sb, "", "bob", &["nope"]).ok());
    }
    assert!(iam.store.lock_state("bob").unwrap().is_locked(now()));
    // 10 minutes on: the 15-minute lock still holds, even for the right password.
    let out = login(&sb, "+10m", "bob", &["bob-Passw0rd"]);
    assert!(!out.ok(), "{out}");
    assert_clock(&iam, "bob", 600);
    assert!(
        last_audit(&iam, "bob")
            .1
            .starts_with("account locked until")
    );
    // That attempt during the lock counted, so the lock now ends 15 minutes after it:
    // still locked at +24m (which re-arms it once more), over at +40m, by that clock.
    let out = login(&sb, "+24m", "bob", &["bob-Passw0rd"]);
    assert!(!out.ok(), "{out}");
    assert_clock(&iam, "bob", 1440);
    let out = login(&sb, "+40m", "bob", &["bob-Passw0rd"]);
    assert!(out.ok(), "{out}\n{}", sb.syslog());
    assert_clock(&iam, "bob", 2400);

    // Codes: 10 minutes on, the real clock's code is outside the window.
    totp::wait_for_fresh_step(15);
    let out = login(
        &sb,
        "+10m",
        "alice",
        &["alice-Passw0rd", &totp::code(&seed, 0)],
    );
    assert!(!out.ok(), "{out}");
    assert_clock(&iam, "alice", 600);
    assert_eq!(last_audit(&iam, "alice").1, "wrong verification code");
    // That clock's own code works, and a forward jump used once burns the codes up to
    // it: back on the real clock they are refused until it catches up (fail closed).
    let out = login(
        &sb,
        "+10m",
        "alice",
        &["alice-Passw0rd", &totp::code(&seed, 600)],
    );
    assert!(out.ok(), "{out}");
    let out = login(&sb, "", "alice", &["alice-Passw0rd", &totp::code(&seed, 0)]);
    assert!(!out.ok(), "{out}");
    assert_eq!(
        last_audit(&iam, "alice").1,
        "verification code already used (replay)"
    );
}

/// `@YYYY-MM-DD HH:MM:SS` for faketime's absolute start (UTC; faketime reads local time,
/// and the harness runs with TZ unset, i.e. UTC on these machines).
fn fmt_time(t: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%d %H:%M:%S"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Sleep until the TOTP step after the one holding `t` has begun (plus a margin).
fn wait_for_next_step(t: i64) {
    let next = (t / 30 + 1) * 30 + 1;
    while now() < next {
        std::thread::sleep(Duration::from_millis(200));
    }
}
