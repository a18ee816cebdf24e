//! A deadline on waiting for the server: a stopped (frozen) server's kernel still
//! acknowledges TCP, so a statement waits forever. Each thread's connection marks when a
//! round trip starts and when the server has answered, and each write transaction its
//! phase (open, or COMMIT sent), so a watchdog can end the wait after a while and say
//! whether the change was committed:
//!
//! - a single-operation process (the `iam` CLI) asks [`stalled`] and exits;
//! - a server (iamd) asks the [`Waits`] of the store thread running a request
//!   ([`Waits::give_up_if_stalled`]), answers the client, and the thread's transaction
//!   is then refused its next round trip (so a change reported as not committed never
//!   commits when the server wakes up).

use pam_iam::store::StoreError;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How far the current transaction has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No transaction, or begun with COMMIT not sent: nothing is changed if it ends here.
    Open,
    /// COMMIT sent, its answer not yet read: the outcome is the server's.
    CommitSent,
}

#[derive(Debug)]
struct State {
    target: String,
    phase: Phase,
    /// A round trip in flight since then (`None`: the server has answered).
    waiting: Option<Instant>,
    /// The wait was given up: the next round trip fails instead of starting.
    given_up: bool,
}

/// One thread's waits on the server (its store connection is used on that thread only).
#[derive(Debug)]
pub struct Waits(Mutex<State>);

/// Every thread's [`Waits`], for [`stalled`].
static ALL: Mutex<Vec<Weak<Waits>>> = Mutex::new(Vec::new());

thread_local! {
    static MINE: Arc<Waits> = {
        let w = Arc::new(Waits(Mutex::new(State {
            target: String::new(),
            phase: Phase::Open,
            waiting: None,
            given_up: false,
        })));
        let mut all = ALL.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&w));
        w
    };
}

fn with<T>(f: impl FnOnce(&mut State) -> T) -> T {
    MINE.with(|w| w.with(f))
}

/// The refusal of a round trip after the wait was given up.
fn given_up(target: &str) -> StoreError {
    StoreError::Database(format!(
        "the PostgreSQL server {target} answered after the wait for it was given up: not committed, nothing was changed"
    ))
}

/// A transaction on `target` begins.
pub(crate) fn begin(target: &str) {
    with(|s| {
        if s.target != target {
            s.target = target.to_string();
        }
        s.phase = Phase::Open;
    });
}

/// A round trip to `target` starts (the server answered the previous one).
///
/// # Errors
/// The wait was given up ([`Waits::give_up_if_stalled`]): nothing more is sent.
pub(crate) fn progress(target: &str) -> Result<(), StoreError> {
    with(|s| {
        if s.given_up {
            return Err(given_up(target));
        }
        if s.target != target {
            s.target = target.to_string();
        }
        s.waiting = Some(Instant::now());
        Ok(())
    })
}

/// COMMIT is about to be sent.
///
/// # Errors
/// As [`progress`]: a transaction whose wait was given up is never committed.
pub(crate) fn commit_sent() -> Result<(), StoreError> {
    with(|s| {
        if s.given_up {
            return Err(given_up(&s.target));
        }
        s.phase = Phase::CommitSent;
        s.waiting = Some(Instant::now());
        Ok(())
    })
}

/// The server has answered; nothing is in flight.
pub(crate) fn answered() {
    with(|s| s.waiting = None);
}

/// The transaction ended (committed, rolled back, or settled).
pub(crate) fn end() {
    with(|s| s.phase = Phase::Open);
}

impl Waits {
    /// The calling thread's waits (what a server's store thread hands its watchdog).
    pub fn this_thread() -> Arc<Waits> {
        MINE.with(Arc::clone)
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// One line when a round trip has waited longer than `limit` for the server: names
    /// the server and says whether the change was committed.
    pub fn stalled(&self, limit: Duration) -> Option<String> {
        self.with(|s| line(s, limit))
    }

    /// As [`Waits::stalled`], and when stalled, gives the wait up in the same step: the
    /// thread's next round trip (once the server answers) fails, so a transaction that
    /// had not sent COMMIT rolls back and what the line says stays true.
    pub fn give_up_if_stalled(&self, limit: Duration) -> Option<String> {
        self.with(|s| {
            let l = line(s, limit)?;
            s.given_up = true;
            Some(l)
        })
    }

    /// A new unit of work starts on this thread: a wait given up before is forgotten.
    pub fn fresh(&self) {
        self.with(|s| s.given_up = false);
    }
}

fn line(s: &State, limit: Duration) -> Option<String> {
    if s.waiting?.elapsed() < limit {
        return None;
    }
    let waited = limit.as_secs();
    Some(match s.phase {
        Phase::Open => format!(
            "the PostgreSQL server {} has not answered for {waited} s (stopped, overloaded or unreachable): not committed, nothing was changed",
            s.target
        ),
        Phase::CommitSent => format!(
            "the PostgreSQL server {} has not answered for {waited} s (stopped, overloaded or unreachable): unknown — COMMIT was sent; check with a read (e.g. iam get-user) once the server answers, before retrying",
            s.target
        ),
    })
}

/// The deadline from `PAM_IAM_DB_TIMEOUT` (seconds; default 30; `0` turns it off).
pub fn timeout_from_env() -> Option<Duration> {
    let secs = match std::env::var("PAM_IAM_DB_TIMEOUT") {
        Ok(v) => v.trim().parse::<u64>().unwrap_or(30),
        Err(_) => 30,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// One line when some thread's round trip has waited longer than `limit` for the
/// server (see [`Waits::stalled`]); for a process doing one operation (the `iam` CLI).
pub fn stalled(limit: Duration) -> Option<String> {
    let all: Vec<Arc<Waits>> = ALL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    all.iter().find_map(|w| w.stalled(limit)).map(|l| {
        if l.ends_with("nothing was changed") {
            format!("{l} (PAM_IAM_DB_TIMEOUT sets the wait)")
        } else {
            l
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_up_wait_refuses_the_next_round_trip_until_fresh() {
        let me = Waits::this_thread();
        let none = Duration::ZERO;
        assert_eq!(me.stalled(none), None, "nothing in flight");
        begin("db1:5432/iam");
        progress("db1:5432/iam").unwrap();
        assert!(me.stalled(Duration::from_secs(60)).is_none());
        let line = me.give_up_if_stalled(none).unwrap();
        assert!(
            line.contains("db1:5432/iam") && line.ends_with("not committed, nothing was changed"),
            "{line}"
        );
        // The server answers; the transaction may not go on, nor commit.
        answered();
        let e = progress("db1:5432/iam").unwrap_err().to_string();
        assert!(e.contains("given up") && e.contains("not committed"), "{e}");
        assert!(commit_sent().is_err());
        end();
        me.fresh();
        begin("db1:5432/iam");
        progress("db1:5432/iam").unwrap();
        commit_sent().unwrap();
        let line = me.stalled(none).unwrap();
        assert!(line.contains("unknown — COMMIT was sent"), "{line}");
        assert!(stalled(none).is_some(), "the process-wide view sees it");
        answered();
        end();
        assert_eq!(me.stalled(none), None);
    }
}
