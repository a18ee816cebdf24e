//! Logins in agent mode on the whole fleet ([`fleet_harness`]: PostgreSQL primary +
//! synchronous standby, two `iamd`, hosts with their own `iam-agent`, socket, replica,
//! credentials and socat relays): `pam_iam.so` → agent → `iamd` → PostgreSQL, with
//! pamtester per host and the real sshd + ssh client on two hosts. Proves: a user the
//! AWS CLI created logs into two hosts (pamtester and ssh, password + code); a code used
//! on one host is refused on the other online; with the PostgreSQL primary killed (-9),
//! the standby promoted and one `iamd` killed during a run of logins, no decision is
//! wrong (a wrong password is never let in, a right one never refused as wrong) and every
//! decided login has its audit row on the store.

#[path = "../../tests/support/mod.rs"]
mod support;

mod fleet_harness;

use fleet_harness::{Fleet, Login, Options, classify};
use std::time::Duration;
use support::totp;

const PASSWORD: &str = "Correct-Horse-9-battery";

#[test]
fn an_aws_cli_user_logs_into_two_hosts_and_a_code_counts_once_across_the_fleet() {
    require_root!();
    let f = Fleet::start(Options::default());
    let Some(alice) = f.aws_mfa_user("alice", PASSWORD) else {
        return;
    };
    let bob = f.aws_mfa_user("bob", PASSWORD).unwrap();
    f.wait_all(Duration::from_secs(20), "alice and bob", |h| {
        h.has_user("alice") && h.has_user("bob") && h.serving()
    });
    let users = [("alice", 2001), ("bob", 2002)];
    let (a, b) = (&f.hosts[0], &f.hosts[1]);
    let (sa, sb) = (a.sandbox(&users), b.sandbox(&users));
    let login = |sb: &support::sandbox::Sandbox, user: &str, answers: &[&str]| {
        sb.pamtester("fleet-login", user, &["authenticate", "acct_mgmt"], answers)
    };

    // pamtester: alice on web-01 with this step's code; the same code on web-02 is a
    // replay, refused by the server; the next step's code on web-02 gets her in.
    totp::wait_for_fresh_step(20);
    let (now, next) = totp::code_pair(&alice, 0);
    let out = login(&sa, "alice", &[PASSWORD, &now]);
    assert_eq!(classify(&out), Login::Allowed, "{out}\n{}", a.agent_log());
    let out = login(&sb, "alice", &[PASSWORD, &now]);
    assert_eq!(classify(&out), Login::Denied, "a replayed code: {out}");
    let out = login(&sb, "alice", &[PASSWORD, &next]);
    assert_eq!(classify(&out), Login::Allowed, "{out}\n{}", b.agent_log());
    let out = login(&sa, "alice", &["wrong-password", &next]);
    assert_eq!(classify(&out), Login::Denied, "a wrong password: {out}");

    // The real sshd and ssh client: bob on both hosts, one code each.
    let (bnow, bnext) = totp::code_pair(&bob, 0);
    for (sandbox, code) in [(&sa, &bnow), (&sb, &bnext)] {
        let sshd = sandbox.start_sshd("AuthenticationMethods keyboard-interactive");
        let l = sshd.login(
            "bob",
            &[("Password:", PASSWORD), ("Verification code:", code)],
            &[],
        );
        assert!(l.ok(), "{l}\n{}", sshd.log());
        assert!(l.out.stdout.contains("LOGIN-OK bob"), "{l}");
    }

    // Every decision is on the store's audit trail, attributed to the host by the
    // server.
    let audit = f.audit("alice");
    let auth: Vec<_> = audit.iter().filter(|r| r.0 == "authenticate").collect();
    assert_eq!(auth.len(), 4, "{audit:?}");
    assert!(
        auth.iter().any(|r| r.2.contains("host/web-01"))
            && auth.iter().any(|r| r.2.contains("host/web-02")),
        "{audit:?}"
    );
    assert_eq!(
        f.audit("bob")
            .iter()
            .filter(|r| r.0 == "authenticate" && r.1 == "Allow")
            .count(),
        2
    );
}

#[test]
fn logins_through_a_primary_kill_and_an_iamd_kill_are_never_wrong_and_all_audited() {
    require_root!();
    let mut f = Fleet::start(Options::default());
    // dave: password only (a code would allow one login per step).
    if f.aws_ok(0, &["iam", "create-user", "--user-name", "dave"])
        .is_none()
    {
        return;
    }
    f.aws_ok(
        0,
        &[
            "iam",
            "create-login-profile",
            "--user-name",
            "dave",
            "--password",
            PASSWORD,
            "--no-password-reset-required",
        ],
    );
    f.aws_web_group("dave");
    f.wait_all(Duration::from_secs(20), "dave", |h| {
        h.has_user("dave") && h.serving()
    });
    let sandboxes: Vec<_> = f
        .hosts
        .iter()
        .map(|h| h.sandbox(&[("dave", 2004)]))
        .collect();
    let mut outcomes = Vec::new();
    let mut promoted = false;
    for i in 0..24 {
        if i == 6 {
            f.kill_primary();
        }
        if i == 16 {
            f.kill_iamd(0);
        }
        let right = i % 3 != 2;
        let pw = if right { PASSWORD } else { "not-his-password" };
        let h = i % 2;
        let out =
            sandboxes[h].pamtester("fleet-login", "dave", &["authenticate", "acct_mgmt"], &[pw]);
        let got = classify(&out);
        if got == Login::Unavailable && !promoted {
            // The outage is seen: the standby is promoted (an operator's or a failover
            // manager's step).
            f.promote_standby();
            promoted = true;
        }
        eprintln!(
            "login {i:2} on {} ({}): {got:?}",
            f.hosts[h].name,
            if right { "right" } else { "wrong" }
        );
        // Never wrong: a wrong password is never let in, a right one never refused as
        // wrong; an outage may only leave it undecided.
        match (right, got) {
            (false, Login::Allowed) => panic!("a wrong password let in: {out}"),
            (true, Login::Denied) => panic!(
                "the right password refused: {out}\n{}",
                f.hosts[h].agent_log()
            ),
            _ => {}
        }
        outcomes.push((right, got));
    }
    assert!(promoted, "the logins saw the outage: {outcomes:?}");
    // After the outage every login decides again.
    let tail = &outcomes[outcomes.len() - 4..];
    assert!(
        tail.iter().all(|(_, g)| *g != Login::Unavailable),
        "{outcomes:?}"
    );
    // Every decided login has its audit row on the (promoted) store.
    let decided = outcomes
        .iter()
        .filter(|(_, g)| *g != Login::Unavailable)
        .count();
    let rows = f
        .audit("dave")
        .iter()
        .filter(|r| r.0 == "authenticate" && (r.1 == "Allow" || r.1 == "Deny"))
        .count();
    assert_eq!(rows, decided, "audit rows vs decided logins: {outcomes:?}");
}
