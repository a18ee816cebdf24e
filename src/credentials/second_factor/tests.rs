//! The second-factor check's cases: slots, outcomes, replay, lockout, throttling.

use super::memory::{FakeClock, MemoryFactors, code};
use super::*;

const SEED: &[u8] = b"12345678901234567890";
const SERIAL: &str = "arn:aws:iam::123456789012:mfa/alice";
const T0: i64 = 1_700_000_010;

fn attempt(answer: &str) -> Attempt<'_> {
    Attempt {
        user: "alice",
        device: Device {
            serial: SERIAL,
            seed: SEED,
        },
        answer,
        window: totp::LOGIN_WINDOW,
        password_login: false,
        host: "web-01",
        record: None,
    }
}

fn run(s: &MemoryFactors, clock: &FakeClock, answer: &str) -> Outcome {
    match verify(s, clock, &attempt(answer)) {
        Ok(o) => o,
        Err(e) => match e {},
    }
}

#[test]
fn throttle_slots() {
    struct Case {
        next: Option<i64>,
        now: i64,
        want: Slot,
    }
    let t = Throttle::DEFAULT;
    let take = |wait_ms, next_free_ms| Slot::Take {
        wait_ms,
        next_free_ms,
    };
    let cases = [
        // A first attempt, or one long after the last: now, no wait.
        Case {
            next: None,
            now: 10_000,
            want: take(0, 10_500),
        },
        Case {
            next: Some(9_000),
            now: 10_000,
            want: take(0, 10_500),
        },
        // Inside the interval of the last one: wait for the slot.
        Case {
            next: Some(10_300),
            now: 10_000,
            want: take(300, 10_800),
        },
        // Exactly the longest wait: still taken.
        Case {
            next: Some(11_000),
            now: 10_000,
            want: take(1_000, 11_500),
        },
        // Beyond the longest wait: refused.
        Case {
            next: Some(11_400),
            now: 10_000,
            want: Slot::Refuse {
                retry_after_ms: 400,
            },
        },
        // A slot further ahead than the rule can make: the clock went back.
        Case {
            next: Some(3_600_000),
            now: 10_000,
            want: take(0, 10_500),
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        assert_eq!(t.slot(c.next, c.now), c.want, "case {i}");
    }
}

#[test]
fn outcomes() {
    struct Case {
        name: &'static str,
        answer: String,
        want: Outcome,
        failures: u32,
    }
    let good = code(SEED, T0);
    let cases = [
        Case {
            name: "the code of now",
            answer: good.clone(),
            want: Outcome::Totp,
            failures: 0,
        },
        Case {
            name: "with spaces around",
            answer: format!("  {good}\n"),
            want: Outcome::Totp,
            failures: 0,
        },
        Case {
            name: "last step's code (window 1)",
            answer: code(SEED, T0 - 30),
            want: Outcome::Totp,
            failures: 0,
        },
        Case {
            name: "two steps back",
            answer: code(SEED, T0 - 60),
            want: Outcome::Wrong,
            failures: 1,
        },
        Case {
            name: "wrong digits",
            answer: if good == "000000" { "111111" } else { "000000" }.to_string(),
            want: Outcome::Wrong,
            failures: 1,
        },
        Case {
            name: "empty",
            answer: String::new(),
            want: Outcome::Wrong,
            failures: 1,
        },
        Case {
            name: "five digits",
            answer: "12345".to_string(),
            want: Outcome::Wrong,
            failures: 1,
        },
        Case {
            name: "the recovery code, any case, any dashes",
            answer: "ABCD-efgh-2345-6777".to_string(),
            want: Outcome::Recovery,
            failures: 0,
        },
        Case {
            name: "an unknown recovery code",
            answer: "zzzz-zzzz-zzzz-zzzz".to_string(),
            want: Outcome::Wrong,
            failures: 1,
        },
    ];
    for c in cases {
        let s = MemoryFactors::with_lockout(5, 60);
        s.add_recovery("alice", "abcd-efgh-2345-6777");
        let clock = FakeClock::at(T0);
        assert_eq!(run(&s, &clock, &c.answer), c.want, "{}", c.name);
        assert_eq!(s.failures("alice"), c.failures, "{}", c.name);
        let delays = u32::from(!c.want.accepted());
        assert_eq!(clock.delays.get(), delays, "{}: fail delay", c.name);
    }
}

#[test]
fn a_code_and_a_recovery_code_work_once() {
    let s = MemoryFactors::with_lockout(0, 60);
    s.add_recovery("alice", "abcd-efgh-2345-6777");
    let clock = FakeClock::at(T0);
    let good = code(SEED, T0);
    assert_eq!(run(&s, &clock, &good), Outcome::Totp);
    clock.advance_ms(2_000);
    assert_eq!(run(&s, &clock, &good), Outcome::Replayed);
    // The previous step's code is inside the window but below the watermark.
    clock.advance_ms(2_000);
    assert_eq!(run(&s, &clock, &code(SEED, T0 - 30)), Outcome::Replayed);
    clock.advance_ms(30_000);
    assert_eq!(run(&s, &clock, &code(SEED, T0 + 34)), Outcome::Totp);
    clock.advance_ms(2_000);
    assert_eq!(run(&s, &clock, "abcd-efgh-2345-6777"), Outcome::Recovery);
    clock.advance_ms(2_000);
    assert_eq!(run(&s, &clock, "abcd-efgh-2345-6777"), Outcome::Wrong);
}

#[test]
fn failures_lock_and_a_locked_user_is_refused_before_any_check() {
    let s = MemoryFactors::with_lockout(3, 900);
    let clock = FakeClock::at(T0);
    for i in 0..2 {
        assert_eq!(run(&s, &clock, "000000"), Outcome::Wrong, "failure {i}");
        clock.advance_ms(1_000);
    }
    // The third failure locks: reported as the lock.
    assert!(matches!(run(&s, &clock, "000000"), Outcome::Locked { .. }));
    clock.advance_ms(1_000);
    // The right code while locked: refused at admission, never checked or spent.
    let good = code(SEED, clock.now_ms() / 1000);
    assert!(matches!(run(&s, &clock, &good), Outcome::Locked { .. }));
    assert!(s.watermarks.borrow().is_empty(), "nothing spent");
    assert_eq!(s.failures("alice"), 4, "the refusal is counted");
    // Once the lock is over, the right code works and clears the count.
    clock.advance_ms(901_000);
    let good = code(SEED, clock.now_ms() / 1000);
    assert_eq!(run(&s, &clock, &good), Outcome::Totp);
    assert_eq!(s.failures("alice"), 0);
}

#[test]
fn a_lock_reached_while_waiting_wins_over_a_right_code() {
    // Admitted before the lock, settled after it (the PAM race of issue 10 item 2).
    let s = MemoryFactors::with_lockout(3, 900);
    let clock = FakeClock::at(T0);
    let good = code(SEED, T0);
    for _ in 0..3 {
        s.count_failure("alice", T0, None)
            .unwrap_or_else(|e| match e {});
    }
    let got = s
        .settle(
            "alice",
            &Proof::Totp {
                serial: SERIAL,
                step: T0 / 30,
                host: "web-01",
            },
            true,
            T0,
            None,
        )
        .unwrap_or_else(|e| match e {});
    assert!(matches!(got, Settled::Locked { .. }), "{got:?}");
    assert_eq!(s.failures("alice"), 4, "not reset, counted");
    assert!(s.password_used.borrow().is_empty());
    assert!(s.watermarks.borrow().is_empty());
    // and through verify: locked at admission already
    assert!(matches!(run(&s, &clock, &good), Outcome::Locked { .. }));
}

#[test]
fn parallel_guessing_is_bounded_by_the_slots() {
    // 50 attempts arriving at the same instant, lockout off: the first waits for
    // nothing, the next two wait for their slots, the rest are refused unchecked.
    let s = MemoryFactors::with_lockout(0, 60);
    let mut checked = 0;
    let mut throttled = 0;
    for _ in 0..50 {
        let clock = FakeClock::at(T0);
        match run(&s, &clock, "000000") {
            Outcome::Wrong => checked += 1,
            Outcome::Throttled { .. } => throttled += 1,
            o => panic!("{o:?}"),
        }
        assert_eq!(clock.delays.get(), 1, "every failure is delayed");
    }
    assert_eq!((checked, throttled), (3, 47));
    assert_eq!(s.failures("alice"), 3, "throttled attempts are not counted");
    // Hammering for a minute checks at most two codes a second.
    let s = MemoryFactors::with_lockout(0, 60);
    let clock = FakeClock::at(T0);
    let mut checked = 0;
    while clock.now_ms() < (T0 + 60) * 1000 {
        if run(&s, &clock, "000000") == Outcome::Wrong {
            checked += 1;
        }
        clock.advance_ms(10);
    }
    assert!((119..=121).contains(&checked), "{checked} codes in 60 s");
}

#[test]
fn a_patient_user_waits_instead_of_being_refused() {
    let s = MemoryFactors::with_lockout(0, 60);
    let clock = FakeClock::at(T0);
    assert_eq!(run(&s, &clock, "000000"), Outcome::Wrong);
    // 100 ms later: the slot is 400 ms away, so this attempt waits for it.
    clock.advance_ms(100);
    let good = code(SEED, T0);
    assert_eq!(run(&s, &clock, &good), Outcome::Totp);
    assert_eq!(
        clock.slept.borrow().as_slice(),
        [Duration::from_millis(400)]
    );
}

#[test]
fn every_outcome_writes_its_one_audit_row_in_the_step_that_decides_it() {
    let row = |o: &Outcome| AuditEvent {
        time: T0,
        user: "alice".into(),
        service: "test".into(),
        rhost: None,
        tty: None,
        action: "authenticate".into(),
        decision: if o.accepted() {
            crate::audit::Decision::Allow
        } else {
            crate::audit::Decision::Deny
        },
        reason: o.reason(),
    };
    let recorded = |s: &MemoryFactors, clock: &FakeClock, answer: &str| -> Outcome {
        let before = s.audit.borrow().len();
        let a = Attempt {
            record: Some(&row),
            ..attempt(answer)
        };
        let o = verify(s, clock, &a).unwrap_or_else(|e| match e {});
        let rows = s.audit.borrow();
        assert_eq!(rows.len(), before + 1, "one row for {o:?}");
        assert_eq!(rows[before].reason, o.reason());
        o
    };
    let s = MemoryFactors::with_lockout(0, 60);
    let clock = FakeClock::at(T0);
    let good = code(SEED, T0);
    assert_eq!(recorded(&s, &clock, "000000"), Outcome::Wrong);
    assert_eq!(recorded(&s, &clock, "not a code"), Outcome::Wrong);
    clock.advance_ms(1000);
    assert_eq!(recorded(&s, &clock, &good), Outcome::Totp);
    clock.advance_ms(1000);
    assert_eq!(recorded(&s, &clock, &good), Outcome::Replayed);
    // Attempts at one instant from parallel processes: the third is throttled.
    let outcomes: Vec<Outcome> = (0..3)
        .map(|_| recorded(&s, &FakeClock::at(T0 + 2), "000000"))
        .collect();
    assert!(
        matches!(outcomes[2], Outcome::Throttled { .. }),
        "{outcomes:?}"
    );
    // Locked by this failure, then refused at admission.
    let s = MemoryFactors::with_lockout(1, 900);
    let clock = FakeClock::at(T0);
    assert!(matches!(
        recorded(&s, &clock, "000000"),
        Outcome::Locked { .. }
    ));
    clock.advance_ms(1000);
    assert!(matches!(
        recorded(&s, &clock, &good),
        Outcome::Locked { .. }
    ));
    // A caller that audits elsewhere (iam-sts) leaves no row.
    let s = MemoryFactors::default();
    assert_eq!(run(&s, &FakeClock::at(T0), &good), Outcome::Totp);
    assert!(s.audit.borrow().is_empty());
}
