//! Contract cases of issue 14: a login's decision and its audit row commit in one
//! transaction. The fault is the database's own: the fixture's `refuse_audit` makes
//! every insert into the audit table fail (a trigger raising an error), so these cases
//! see what a store that cannot write its audit trail does mid-login.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::audit::Decision;
use crate::credentials::LockState;
use crate::credentials::second_factor::{self, Attempt, Device, Outcome, Pacing};
use crate::credentials::totp;
use std::time::Duration;

/// "Now" of these cases; the TOTP code is the real one of [`SEED`] at this time.
const NOW: i64 = 1_800_000_000;
const SEED: [u8; 20] = [9u8; 20];

/// A clock stopped at `NOW`, with no waiting (slots and fail delays cost nothing here).
struct Stopped;

impl Pacing for Stopped {
    fn now_ms(&self) -> i64 {
        NOW * 1000
    }
    fn sleep(&self, _: Duration) {}
    fn fail_delay(&self) {}
}

fn row(user: &str, decision: Decision, reason: String) -> AuditEvent {
    AuditEvent {
        time: NOW,
        user: user.into(),
        service: "sshd".into(),
        rhost: Some("10.0.0.9".into()),
        tty: None,
        action: "authenticate".into(),
        decision,
        reason,
    }
}

/// The login's row of a second-factor outcome (what `pam::verify` makes of it).
fn outcome_row(o: &Outcome) -> AuditEvent {
    let decision = if o.accepted() {
        Decision::Allow
    } else {
        Decision::Deny
    };
    row("alice", decision, o.reason())
}

fn rows(s: &dyn Store, user: &str) -> Vec<AuditEvent> {
    s.list_audit(&AuditFilter {
        user: Some(user.into()),
        ..Default::default()
    })
    .unwrap()
}

/// The one second-factor check with a real code, whose Allow row cannot be written:
/// nothing is spent (watermark, spent step, failures, PasswordLastUsed unchanged) and
/// no row exists, so the same code is accepted when asked again, leaving exactly one
/// row; its replay is refused with its own row. A password-only settle likewise.
pub fn a_settle_whose_audit_row_fails_spends_nothing_and_a_settle_that_commits_leaves_one_row(
    f: &Fixture,
) {
    let s = &*f.store;
    user(s, "alice");
    let d = s.create_virtual_mfa_device("alice", "/", &SEED, 1).unwrap();
    s.enable_mfa_device("alice", &d.serial_number, -1, &[], 2)
        .unwrap();
    // An earlier failure, which a committed success clears.
    s.record_failure("alice", NOW - 5, None).unwrap();
    let code = totp::StepCodes::new(&SEED).unwrap().at(NOW / 30).unwrap();
    let attempt = Attempt {
        user: "alice",
        device: Device {
            serial: &d.serial_number,
            seed: &SEED,
        },
        answer: &code,
        window: totp::LOGIN_WINDOW,
        password_login: true,
        host: "web-01",
        record: Some(&outcome_row),
    };
    let check = || second_factor::verify(s, &Stopped, &attempt);
    let watermark = || s.enabled_mfa("alice").unwrap().unwrap().watermark;
    let failures = || s.lock_state("alice").unwrap().failed_attempts;

    (f.refuse_audit)(true);
    let e = check().expect_err("the Allow's row cannot be written");
    (f.refuse_audit)(false);
    assert_eq!(watermark(), -1, "the code is not spent ({e})");
    assert!(s.spent_steps(&d.serial_number).unwrap().is_empty());
    assert_eq!(failures(), 1, "failures not cleared");
    assert_eq!(s.get_user("alice").unwrap().password_last_used, None);
    assert!(rows(s, "alice").is_empty(), "no row");

    // The host asks again (here, or another server on the same store): the same code.
    assert_eq!(check().unwrap(), Outcome::Totp);
    assert_eq!(watermark(), NOW / 30);
    assert_eq!(s.spent_steps(&d.serial_number).unwrap().len(), 1);
    assert_eq!(failures(), 0);
    assert_eq!(s.get_user("alice").unwrap().password_last_used, Some(NOW));
    let r = rows(s, "alice");
    assert_eq!(r.len(), 1, "exactly one row: {r:?}");
    assert_eq!(
        (r[0].decision, r[0].reason.as_str()),
        (Decision::Allow, "verification code")
    );
    // Now it is spent: the replay is refused, with its own row.
    assert_eq!(check().unwrap(), Outcome::Replayed);
    let r = rows(s, "alice");
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[1].decision, Decision::Deny);
    assert_eq!(failures(), 1);

    // A password-only success (nothing to spend) likewise: its row or nothing.
    user(s, "bob");
    s.record_failure("bob", NOW - 5, None).unwrap();
    let allow = |_: &Settled| Some(row("bob", Decision::Allow, "password".into()));
    (f.refuse_audit)(true);
    assert!(
        s.settle_success("bob", &Proof::Nothing, true, NOW, Some(&allow))
            .is_err()
    );
    (f.refuse_audit)(false);
    assert_eq!(s.lock_state("bob").unwrap().failed_attempts, 1);
    assert_eq!(s.get_user("bob").unwrap().password_last_used, None);
    assert!(rows(s, "bob").is_empty());
    assert_eq!(
        s.settle_success("bob", &Proof::Nothing, true, NOW, Some(&allow))
            .unwrap(),
        Settled::Accepted
    );
    assert_eq!(s.lock_state("bob").unwrap().failed_attempts, 0);
    assert_eq!(rows(s, "bob").len(), 1);
}

/// A counted failure (and a locked user's admission, which counts one) commits with its
/// deny row or not at all; a step without a row is untouched by the fault.
pub fn a_failure_whose_audit_row_fails_counts_nothing(f: &Fixture) {
    let s = &*f.store;
    user(s, "bob");
    let failures = || s.lock_state("bob").unwrap().failed_attempts;
    let wrong = |_: &LockState| Some(row("bob", Decision::Deny, "wrong password".into()));
    let locked = |a: &Admission| {
        matches!(a, Admission::Locked { .. })
            .then(|| row("bob", Decision::Deny, "account locked".into()))
    };

    (f.refuse_audit)(true);
    assert!(s.record_failure("bob", NOW, Some(&wrong)).is_err());
    assert_eq!(failures(), 0, "not counted without its row");
    // The fault is the audit table's only.
    s.record_failure("bob", NOW, None).unwrap();
    assert_eq!(failures(), 1);
    s.lock_user_until("bob", NOW + 100).unwrap();
    assert!(
        s.admit_attempt("bob", NOW * 1000, &Throttle::DEFAULT, Some(&locked))
            .is_err()
    );
    assert_eq!(
        failures(),
        1,
        "the locked attempt is not counted without its row"
    );
    (f.refuse_audit)(false);
    assert!(rows(s, "bob").is_empty());

    assert!(matches!(
        s.admit_attempt("bob", NOW * 1000, &Throttle::DEFAULT, Some(&locked))
            .unwrap(),
        Admission::Locked { .. }
    ));
    assert_eq!(failures(), 2);
    s.record_failure("bob", NOW + 1, Some(&wrong)).unwrap();
    assert_eq!(failures(), 3);
    let r = rows(s, "bob");
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r.iter().all(|e| e.decision == Decision::Deny));
}
