//! The one second-factor check of the product. PAM logins, `iam-sts assume-role`, sudo's
//! MFA re-prompt and every later caller verify a code here, so they share one window
//! rule, one recovery-code rule, one replay watermark, one lockout state (the same one
//! as password logins) and one per-user rate limit.
//!
//! Read top to bottom: [`verify`] admits the attempt (a locked user is refused before any
//! code is looked at; the attempt takes the user's next free slot) → waits for the slot →
//! checks the code (pure) → settles in one store transaction (re-check the lock, spend
//! the code, clear the failures) or counts the failure → asks for the fail delay.
//!
//! ## The rate limit waits, then refuses
//! Each user has one attempt slot every [`Throttle::interval_ms`], kept in the store so
//! that every process on the host shares it. An attempt whose slot is free within
//! [`Throttle::max_wait_ms`] waits for it (a legitimate user who collides with another
//! attempt just waits a moment); a later one is refused without looking at the code and
//! without counting a failure (nothing was guessed). So however many processes guess in
//! parallel, at most `1000 / interval_ms` codes per second are ever checked for a user,
//! and a parallel burst cannot queue up more than `max_wait_ms` of waiting. The price,
//! as with any per-user limit: while someone hammers a user's codes, that user's own
//! attempts are mostly refused too ("too many attempts, wait"); the audit trail shows
//! it. With lockout on, the hammering locks the user after the configured failures.

use std::time::Duration;

use super::lockout::LockState;
use super::{recovery, totp};
use crate::audit::Event as AuditEvent;

/// The audit row of a store step's result, built inside the transaction that decides
/// the result and written there, so a decision and its audit row commit together or
/// not at all ("no answer without its audit row", and no spent code without it either).
/// `None` from the closure: this result has no row (an admitted attempt decides
/// nothing yet); `None` for the whole: the caller writes its row elsewhere (iam-sts,
/// with the session it issues).
pub type Record<'a, T> = Option<&'a dyn Fn(&T) -> Option<AuditEvent>>;

/// The prompt for a TOTP or recovery code, the same at every caller (the contract
/// fixes it).
pub const CODE_PROMPT: &str = "Verification code: ";

/// Delay after a failed check, for callers that have no libpam to ask (PAM uses
/// pam_fail_delay with its `fail_delay=` option instead).
pub const FAIL_DELAY: Duration = Duration::from_secs(2);

/// The per-user attempt slots: one attempt per `interval_ms`, waiting at most
/// `max_wait_ms` for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Milliseconds between two checked codes of one user.
    pub interval_ms: i64,
    /// Longest an attempt waits for its slot before it is refused.
    pub max_wait_ms: i64,
}

impl Throttle {
    /// Two codes per second per user, waiting at most one second.
    pub const DEFAULT: Throttle = Throttle {
        interval_ms: 500,
        max_wait_ms: 1000,
    };

    /// Decide an attempt at `now_ms` given the user's next free slot. A stored slot
    /// further ahead than one interval plus the longest wait cannot come from this rule:
    /// the clock went back, and the slot restarts at now rather than locking the user
    /// out until the clock catches up.
    pub fn slot(&self, next_free_ms: Option<i64>, now_ms: i64) -> Slot {
        let horizon = now_ms
            .saturating_add(self.interval_ms)
            .saturating_add(self.max_wait_ms);
        let next = match next_free_ms {
            Some(t) if t <= horizon => t,
            _ => now_ms,
        };
        let at = next.max(now_ms);
        let wait_ms = at - now_ms;
        if wait_ms > self.max_wait_ms {
            return Slot::Refuse {
                retry_after_ms: wait_ms - self.max_wait_ms,
            };
        }
        Slot::Take {
            wait_ms,
            next_free_ms: at.saturating_add(self.interval_ms),
        }
    }
}

/// What [`Throttle::slot`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Wait `wait_ms`, then check; the user's next free slot becomes `next_free_ms`.
    Take {
        /// How long to wait before checking the code.
        wait_ms: i64,
        /// The slot the next attempt gets.
        next_free_ms: i64,
    },
    /// No slot soon enough: refuse without checking.
    Refuse {
        /// When a slot will be free within the longest wait again.
        retry_after_ms: i64,
    },
}

/// The answer of [`FactorStore::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Wait `wait_ms`, then check the code.
    Admitted {
        /// Milliseconds until this attempt's slot.
        wait_ms: i64,
    },
    /// The user is locked (this attempt was counted as a failure).
    Locked {
        /// Unix seconds.
        until: i64,
    },
    /// Too many attempts right now; nothing was counted.
    Throttled {
        /// Milliseconds until an attempt would be admitted.
        retry_after_ms: i64,
    },
}

/// What a successful authentication spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof<'a> {
    /// No second factor (a password-only login, a verified current password).
    Nothing,
    /// A TOTP time step of a device: accepted only above the device's watermark, which
    /// then becomes this step, recorded as spent on `host` (fleet mode's replay check).
    Totp {
        /// The device ARN.
        serial: &'a str,
        /// The matched time step.
        step: i64,
        /// The host the login is on (its name in `host/NAME`).
        host: &'a str,
    },
    /// A one-time recovery code, by hash ([`recovery::hash`]), recorded as spent on
    /// `host` (fleet mode's replay check: a code also accepted offline elsewhere).
    Recovery {
        /// SHA-256 hex of the normalized code.
        code_hash: &'a str,
        /// The host the login is on (its name in `host/NAME`).
        host: &'a str,
    },
}

/// The answer of [`FactorStore::settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Spent, failures cleared.
    Accepted,
    /// The user was locked at the moment of success: nothing spent, nothing cleared, the
    /// attempt counted as a failure.
    Locked {
        /// Unix seconds.
        until: i64,
    },
    /// The proof was already spent (a replayed step, a used or unknown recovery code);
    /// counted as a failure. The state after counting.
    Spent(LockState),
}

/// What the second-factor check needs from a store: three atomic steps on one user's
/// lockout state. Small on purpose, so every store (the SQLite file, a replica, a
/// server's database) can offer it and every caller shares the rules above it.
pub trait FactorStore {
    /// The store's error type.
    type Error;

    /// One write transaction: if `user` is locked at `now_ms`, count the attempt as a
    /// failure and answer `Locked`; else take a slot under `throttle`. The row `audit`
    /// makes of the answer is written in the same transaction.
    ///
    /// # Errors
    /// The store failed; nothing changed (and no row was written).
    fn admit(
        &self,
        user: &str,
        now_ms: i64,
        throttle: &Throttle,
        audit: Record<'_, Admission>,
    ) -> Result<Admission, Self::Error>;

    /// Count one failure under the lockout rule ([`LockState::after_failure`]); the
    /// state after. The row `audit` makes of that state is written in the same
    /// transaction.
    ///
    /// # Errors
    /// The store failed; nothing changed (and no row was written).
    fn count_failure(
        &self,
        user: &str,
        now: i64,
        audit: Record<'_, LockState>,
    ) -> Result<LockState, Self::Error>;

    /// One write transaction (`BEGIN IMMEDIATE`): if `user` is locked at `now`, count a
    /// failure and answer `Locked`; else spend `proof` (or count a failure and answer
    /// `Spent` when it is already spent), clear the failures and, for a login with a
    /// password, note the password's last use; and write the row `audit` makes of the
    /// answer. All of it commits together: a row that cannot be written leaves the proof
    /// unspent (the same code is accepted again).
    ///
    /// # Errors
    /// The store failed; nothing changed (and no row was written).
    fn settle(
        &self,
        user: &str,
        proof: &Proof<'_>,
        password_login: bool,
        now: i64,
        audit: Record<'_, Settled>,
    ) -> Result<Settled, Self::Error>;
}

/// Time for the check: the clock, waiting for a slot, and the delay after a failure.
pub trait Pacing {
    /// Unix milliseconds now.
    fn now_ms(&self) -> i64;
    /// Wait for an attempt slot.
    fn sleep(&self, d: Duration);
    /// Slow down the caller after a failed check.
    fn fail_delay(&self);
}

/// The real clock; sleeps for slots and [`FAIL_DELAY`] after a failure.
pub struct SystemPacing;

impl Pacing for SystemPacing {
    fn now_ms(&self) -> i64 {
        unix_ms()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
    fn fail_delay(&self) {
        std::thread::sleep(FAIL_DELAY);
    }
}

/// Unix milliseconds of the system clock (0 before 1970).
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A user's enabled MFA device.
#[derive(Clone, Copy)]
pub struct Device<'a> {
    /// The device ARN, the watermark's key.
    pub serial: &'a str,
    /// The raw TOTP seed.
    pub seed: &'a [u8],
}

/// One answer to check.
#[derive(Clone, Copy)]
pub struct Attempt<'a> {
    /// The IAM user.
    pub user: &'a str,
    /// Their device.
    pub device: Device<'a>,
    /// What they typed: 6 digits (TOTP) or a recovery code.
    pub answer: &'a str,
    /// TOTP steps accepted either side of now ([`totp::LOGIN_WINDOW`] unless configured).
    pub window: u16,
    /// This attempt completes a password login (PasswordLastUsed is noted on success).
    pub password_login: bool,
    /// The host the attempt is made on (its name in `host/NAME`): an accepted step is
    /// recorded as spent there.
    pub host: &'a str,
    /// The audit row of each outcome, written by the store in the transaction that
    /// decides it (`None`: the caller audits elsewhere, as iam-sts does with the
    /// session it issues).
    pub record: Option<&'a dyn Fn(&Outcome) -> AuditEvent>,
}

/// How a check went. Every failure but `Throttled` was counted toward lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A TOTP code, spent.
    Totp,
    /// A recovery code, spent.
    Recovery,
    /// Not a valid code.
    Wrong,
    /// A valid code whose time step was already used.
    Replayed,
    /// The user is locked (whatever the answer was).
    Locked {
        /// Unix seconds.
        until: i64,
    },
    /// Too many attempts for this user right now; the code was not checked.
    Throttled {
        /// Milliseconds until an attempt would be admitted.
        retry_after_ms: i64,
    },
}

impl Outcome {
    /// The second factor is proven.
    pub fn accepted(&self) -> bool {
        matches!(self, Outcome::Totp | Outcome::Recovery)
    }

    /// Audit text.
    pub fn reason(&self) -> String {
        match self {
            Outcome::Totp => "verification code".to_string(),
            Outcome::Recovery => "recovery code".to_string(),
            Outcome::Wrong => "wrong verification code".to_string(),
            Outcome::Replayed => "verification code already used (replay)".to_string(),
            Outcome::Locked { until } => format!("account locked until {until}"),
            Outcome::Throttled { .. } => {
                "too many verification attempts (rate limit), code not checked".to_string()
            }
        }
    }
}

/// Check one answer for a user: the only place a second factor is verified.
///
/// # Errors
/// The store failed; the caller fails closed.
pub fn verify<S: FactorStore + ?Sized>(
    store: &S,
    pacing: &dyn Pacing,
    a: &Attempt<'_>,
) -> Result<Outcome, S::Error> {
    let outcome = check(store, pacing, a)?;
    if !outcome.accepted() {
        pacing.fail_delay();
    }
    Ok(outcome)
}

fn check<S: FactorStore + ?Sized>(
    store: &S,
    pacing: &dyn Pacing,
    a: &Attempt<'_>,
) -> Result<Outcome, S::Error> {
    let row = |o: Outcome| a.record.map(|r| r(&o));
    let admitted = |adm: &Admission| admission_outcome(*adm).and_then(row);
    let admission = store.admit(a.user, pacing.now_ms(), &Throttle::DEFAULT, Some(&admitted))?;
    if let Some(decided) = admission_outcome(admission) {
        return Ok(decided);
    }
    if let Admission::Admitted { wait_ms } = admission {
        if wait_ms > 0 {
            pacing.sleep(Duration::from_millis(wait_ms.unsigned_abs()));
        }
    }
    let now = pacing.now_ms().div_euclid(1000);
    let answer = a.answer.trim();
    let hash;
    let (proof, found) = if answer.len() == 6 && answer.bytes().all(|b| b.is_ascii_digit()) {
        // Times before 1970 and unusable seeds never verify.
        match totp::verify(a.device.seed, answer, now, a.window)
            .ok()
            .flatten()
        {
            Some(step) => (
                Proof::Totp {
                    serial: a.device.serial,
                    step,
                    host: a.host,
                },
                Outcome::Totp,
            ),
            None => return failed(store, a, now, Outcome::Wrong),
        }
    } else if recovery::looks_like_code(answer) {
        hash = recovery::hash(answer);
        (
            Proof::Recovery {
                code_hash: &hash,
                host: a.host,
            },
            Outcome::Recovery,
        )
    } else {
        return failed(store, a, now, Outcome::Wrong);
    };
    let settled_row = |s: &Settled| row(settled_outcome(*s, found, now));
    let settled = store.settle(a.user, &proof, a.password_login, now, Some(&settled_row))?;
    Ok(settled_outcome(settled, found, now))
}

/// The outcome an admission decides (`None`: admitted, the code is checked next).
fn admission_outcome(adm: Admission) -> Option<Outcome> {
    match adm {
        Admission::Locked { until } => Some(Outcome::Locked { until }),
        Admission::Throttled { retry_after_ms } => Some(Outcome::Throttled { retry_after_ms }),
        Admission::Admitted { .. } => None,
    }
}

/// The outcome of a settle of the proof `found` stood for.
fn settled_outcome(s: Settled, found: Outcome, now: i64) -> Outcome {
    match s {
        Settled::Accepted => found,
        Settled::Locked { until } => Outcome::Locked { until },
        Settled::Spent(state) => after_failure(state, now, spent_as(found)),
    }
}

fn spent_as(found: Outcome) -> Outcome {
    match found {
        // A used or unknown recovery code is simply not a valid code.
        Outcome::Recovery => Outcome::Wrong,
        _ => Outcome::Replayed,
    }
}

/// Count the failure (with its audit row); report `Locked` when the user is locked
/// after it, so a wrong code and a right one look the same once the lock is in place.
fn failed<S: FactorStore + ?Sized>(
    store: &S,
    a: &Attempt<'_>,
    now: i64,
    outcome: Outcome,
) -> Result<Outcome, S::Error> {
    let row = |st: &LockState| a.record.map(|r| r(&after_failure(*st, now, outcome)));
    let state = store.count_failure(a.user, now, Some(&row))?;
    Ok(after_failure(state, now, outcome))
}

fn after_failure(state: LockState, now: i64, outcome: Outcome) -> Outcome {
    match state.locked_until {
        Some(until) if state.is_locked(now) => Outcome::Locked { until },
        _ => outcome,
    }
}

/// An in-memory [`FactorStore`] with the real lockout rule, for unit tests of every
/// caller.
#[cfg(test)]
pub(crate) mod memory {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::convert::Infallible;
    use std::time::Duration;

    use super::*;
    use crate::credentials::LockoutSettings;

    /// Users' lock states, throttle slots, device watermarks and recovery code hashes.
    #[derive(Default)]
    pub(crate) struct MemoryFactors {
        pub settings: Cell<Option<LockoutSettings>>,
        pub locks: RefCell<HashMap<String, LockState>>,
        pub slots: RefCell<HashMap<String, i64>>,
        pub watermarks: RefCell<HashMap<String, i64>>,
        pub recovery: RefCell<HashMap<String, Vec<String>>>,
        pub password_used: RefCell<HashMap<String, i64>>,
        pub admissions: Cell<u32>,
        /// The audit rows the steps wrote.
        pub audit: RefCell<Vec<AuditEvent>>,
    }

    impl MemoryFactors {
        pub fn with_lockout(max: u32, secs: i64) -> MemoryFactors {
            let m = MemoryFactors::default();
            m.settings.set(Some(LockoutSettings {
                max_failed_attempts: max,
                lockout_duration_seconds: secs,
            }));
            m
        }
        pub fn lock(&self, user: &str) -> LockState {
            self.locks.borrow().get(user).copied().unwrap_or_default()
        }
        pub fn failures(&self, user: &str) -> u32 {
            self.lock(user).failed_attempts
        }
        pub fn add_recovery(&self, user: &str, code: &str) {
            self.recovery
                .borrow_mut()
                .entry(user.to_string())
                .or_default()
                .push(recovery::hash(code));
        }
        fn write<T>(&self, audit: Record<'_, T>, out: T) -> T {
            if let Some(row) = audit.and_then(|f| f(&out)) {
                self.audit.borrow_mut().push(row);
            }
            out
        }
        fn fail(&self, user: &str, now: i64) -> LockState {
            let next = self
                .lock(user)
                .after_failure(&self.settings.get().unwrap_or_default(), now);
            self.locks.borrow_mut().insert(user.to_string(), next);
            next
        }
    }

    impl FactorStore for MemoryFactors {
        type Error = Infallible;
        fn admit(
            &self,
            user: &str,
            now_ms: i64,
            t: &Throttle,
            audit: Record<'_, Admission>,
        ) -> Result<Admission, Infallible> {
            let out = self.admit_step(user, now_ms, t);
            Ok(self.write(audit, out))
        }
        fn count_failure(
            &self,
            user: &str,
            now: i64,
            audit: Record<'_, LockState>,
        ) -> Result<LockState, Infallible> {
            let out = self.fail(user, now);
            Ok(self.write(audit, out))
        }
        fn settle(
            &self,
            user: &str,
            proof: &Proof<'_>,
            password_login: bool,
            now: i64,
            audit: Record<'_, Settled>,
        ) -> Result<Settled, Infallible> {
            let out = self.settle_step(user, proof, password_login, now);
            Ok(self.write(audit, out))
        }
    }

    impl MemoryFactors {
        fn admit_step(&self, user: &str, now_ms: i64, t: &Throttle) -> Admission {
            self.admissions.set(self.admissions.get() + 1);
            let now = now_ms.div_euclid(1000);
            if self.lock(user).is_locked(now) {
                let st = self.fail(user, now);
                return Admission::Locked {
                    until: st.locked_until.unwrap_or(now),
                };
            }
            let next = self.slots.borrow().get(user).copied();
            match t.slot(next, now_ms) {
                Slot::Take {
                    wait_ms,
                    next_free_ms,
                } => {
                    self.slots
                        .borrow_mut()
                        .insert(user.to_string(), next_free_ms);
                    Admission::Admitted { wait_ms }
                }
                Slot::Refuse { retry_after_ms } => Admission::Throttled { retry_after_ms },
            }
        }
        fn settle_step(
            &self,
            user: &str,
            proof: &Proof<'_>,
            password_login: bool,
            now: i64,
        ) -> Settled {
            if self.lock(user).is_locked(now) {
                let st = self.fail(user, now);
                return Settled::Locked {
                    until: st.locked_until.unwrap_or(now),
                };
            }
            let spent = match proof {
                Proof::Nothing => true,
                Proof::Totp { serial, step, .. } => {
                    let mut w = self.watermarks.borrow_mut();
                    let cur = w.entry(serial.to_string()).or_insert(-1);
                    let ok = *step > *cur;
                    if ok {
                        *cur = *step;
                    }
                    ok
                }
                Proof::Recovery { code_hash, .. } => {
                    let mut r = self.recovery.borrow_mut();
                    let codes = r.entry(user.to_string()).or_default();
                    let before = codes.len();
                    codes.retain(|c| c != code_hash);
                    codes.len() < before
                }
            };
            if !spent {
                return Settled::Spent(self.fail(user, now));
            }
            self.locks.borrow_mut().remove(user);
            if password_login {
                self.password_used
                    .borrow_mut()
                    .insert(user.to_string(), now);
            }
            Settled::Accepted
        }
    }

    /// A clock that only moves when slept on; counts the fail delays asked for.
    pub(crate) struct FakeClock {
        pub ms: Cell<i64>,
        pub slept: RefCell<Vec<Duration>>,
        pub delays: Cell<u32>,
    }

    impl FakeClock {
        pub fn at(secs: i64) -> FakeClock {
            FakeClock {
                ms: Cell::new(secs * 1000),
                slept: RefCell::default(),
                delays: Cell::new(0),
            }
        }
        pub fn advance_ms(&self, ms: i64) {
            self.ms.set(self.ms.get() + ms);
        }
    }

    impl Pacing for FakeClock {
        fn now_ms(&self) -> i64 {
            self.ms.get()
        }
        fn sleep(&self, d: Duration) {
            self.slept.borrow_mut().push(d);
            self.advance_ms(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        }
        fn fail_delay(&self) {
            self.delays.set(self.delays.get() + 1);
        }
    }

    /// A clock shared between a backend that waits on it and the test that moves it.
    impl Pacing for std::rc::Rc<FakeClock> {
        fn now_ms(&self) -> i64 {
            (**self).now_ms()
        }
        fn sleep(&self, d: Duration) {
            (**self).sleep(d);
        }
        fn fail_delay(&self) {
            (**self).fail_delay();
        }
    }

    /// The TOTP code of `seed` at unix second `t`, from totp-rs.
    pub(crate) fn code(seed: &[u8], t: i64) -> String {
        totp::code_at(seed, t).expect("seed").to_string()
    }
}

#[cfg(test)]
mod tests;
