//! A deadline on waiting for the server: a stopped (frozen) server's kernel still
//! acknowledges TCP, so a statement waits forever. Each round trip marks progress and
//! each write transaction its phase (open, or COMMIT sent), so a watchdog in a
//! single-operation process (the `iam` CLI) can end the wait after a while and say
//! whether the change was committed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far the current transaction has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Begun; COMMIT not sent: nothing is changed if it ends here.
    Open,
    /// COMMIT sent, its answer not yet read: the outcome is the server's.
    CommitSent,
}

struct State {
    target: String,
    phase: Phase,
    last: Instant,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn with(f: impl FnOnce(&mut Option<State>)) {
    f(&mut STATE.lock().unwrap_or_else(|e| e.into_inner()));
}

/// A transaction on `target` begins.
pub(crate) fn begin(target: &str) {
    with(|s| {
        *s = Some(State {
            target: target.to_string(),
            phase: Phase::Open,
            last: Instant::now(),
        })
    });
}

/// A round trip starts: the server answered the previous one.
pub(crate) fn progress() {
    with(|s| {
        if let Some(s) = s {
            s.last = Instant::now();
        }
    });
}

/// COMMIT is about to be sent.
pub(crate) fn commit_sent() {
    with(|s| {
        if let Some(s) = s {
            s.phase = Phase::CommitSent;
            s.last = Instant::now();
        }
    });
}

/// The transaction ended (committed, rolled back, or settled).
pub(crate) fn end() {
    with(|s| *s = None);
}

/// The deadline from `PAM_IAM_DB_TIMEOUT` (seconds; default 30; `0` turns it off).
pub fn timeout_from_env() -> Option<Duration> {
    let secs = match std::env::var("PAM_IAM_DB_TIMEOUT") {
        Ok(v) => v.trim().parse::<u64>().unwrap_or(30),
        Err(_) => 30,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// One line when a transaction has waited longer than `limit` for the server: names
/// the server and says whether the change was committed.
pub fn stalled(limit: Duration) -> Option<String> {
    let g = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let s = g.as_ref()?;
    if s.last.elapsed() < limit {
        return None;
    }
    let waited = limit.as_secs();
    Some(match s.phase {
        Phase::Open => format!(
            "the PostgreSQL server {} has not answered for {waited} s (stopped, overloaded or unreachable): not committed, nothing was changed (PAM_IAM_DB_TIMEOUT sets the wait)",
            s.target
        ),
        Phase::CommitSent => format!(
            "the PostgreSQL server {} has not answered for {waited} s (stopped, overloaded or unreachable): unknown — COMMIT was sent; check with a read (e.g. iam get-user) once the server answers, before retrying",
            s.target
        ),
    })
}
