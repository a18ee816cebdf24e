//! Reconnect, host side: the journal of what this host decided offline
//! ([`crate::offline`], its position in [`crate::offline::journal`]) shipped to `iamd`
//! (`POST /host/v1/journal`, [`pam_iam::fleet::proto::JournalBatch`], signed with the
//! host credentials) once a server answers again, in order and in batches, along the
//! server list.
//!
//! One thread ships ([`Shipper::start`]); the others only wake it: the sync loop after
//! every answered pull, the socket after every answered call and every offline decision.
//! While entries wait it tries again every `retry_seconds`. Per batch: a transport
//! failure moves to the next server; a 5xx too (nothing was applied, and the batch is
//! idempotent), and if no server does better the batch waits for the next try; a 200
//! `{"Ack":N}` moves the position to `N` (kept in offline.db, rows up to it marked
//! shipped); a 409 `JournalGap` moves it to the server's `Ack` and the batch is made
//! again from there; any other refusal (a revoked credential, a batch refused as
//! malformed) stops shipping, logged, until a pull is answered again and a minute has
//! passed.
//!
//! Before a login (or a role session with a code) is forwarded while entries wait, the
//! caller wakes the thread and waits for its attempt, at most [`BEFORE_ONLINE`]: the
//! server then decides with this host's offline failures counted and its offline
//! codes spent (an online login never waits longer for it).

use crate::client;
use crate::config::{HostCredentials, Server};
use crate::offline::Offline;
use crate::offline::journal::{Acked, Batch};
use crate::serve::Shared;
use iamd::host_api;
use pam_iam::fleet::proto::JournalBatch;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The longest a login waits for the journal to be shipped before it is forwarded.
pub const BEFORE_ONLINE: Duration = Duration::from_secs(3);

/// How long a server may take to apply one batch (one store transaction).
const BATCH_TIMEOUT: Duration = Duration::from_secs(30);

/// After a refusal, shipping waits at least this long (seconds) and for an answered
/// pull.
const REFUSED_PAUSE: i64 = 60;

/// Gap refusals followed within one attempt before it gives up until the next.
const MAX_GAPS: usize = 3;

/// What the shipping thread and its callers share.
#[derive(Default)]
struct State {
    /// Wake-ups asked for.
    kicks: u64,
    /// The wake-ups the last finished attempt answered.
    done: u64,
    /// Shipping stopped by a refusal at this time (Unix seconds).
    refused_at: Option<i64>,
}

/// The journal shipper.
pub struct Shipper {
    servers: Vec<Server>,
    creds: HostCredentials,
    offline: Arc<Offline>,
    shared: Arc<Shared>,
    retry: Duration,
    state: Mutex<State>,
    wake: Condvar,
}

/// How one attempt ended.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// Every entry is acknowledged.
    Done,
    /// Entries remain: no server could be reached or none could apply them now.
    Later,
    /// Refused: shipping stops for a while.
    Refused,
}

/// One batch's answer.
enum Sent {
    Ack(i64, String, serde_json::Value),
    Gap(i64, String),
    Later,
    Refused(String),
}

impl Shipper {
    /// Start the shipping thread.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn start(
        servers: Vec<Server>,
        creds: HostCredentials,
        offline: Arc<Offline>,
        shared: Arc<Shared>,
        retry: Duration,
    ) -> Result<Arc<Shipper>, String> {
        let s = Arc::new(Shipper {
            servers,
            creds,
            offline,
            shared,
            retry: retry.max(Duration::from_secs(1)),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        if s.offline.journal_pending() {
            match s.offline.journal_position() {
                Ok((id, ack)) => crate::log(&format!(
                    "journal {id}: entries above {ack} wait to be shipped"
                )),
                Err(e) => crate::log(&format!("cannot read the journal: {e}")),
            }
        }
        let me = Arc::clone(&s);
        std::thread::Builder::new()
            .name("agent-ship".into())
            .spawn(move || me.run())
            .map_err(|e| format!("cannot start the journal thread: {e}"))?;
        Ok(s)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere leaves the counters consistent: keep them.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wake the thread (a server answered, or an offline decision was journaled); the
    /// wake-up's number.
    pub fn kick(&self) -> u64 {
        let mut st = self.state();
        st.kicks += 1;
        self.wake.notify_all();
        st.kicks
    }

    /// A pull was answered: shipping stopped by a refusal may go on (a minute after it).
    pub fn resume(&self) {
        let mut st = self.state();
        if st
            .refused_at
            .is_some_and(|t| crate::now() - t >= REFUSED_PAUSE)
        {
            st.refused_at = None;
            self.wake.notify_all();
        }
    }

    /// Before an online decision: when entries wait, wake the thread and wait for its
    /// attempt, at most [`BEFORE_ONLINE`].
    pub fn before_online(&self) {
        if !self.offline.journal_pending() || self.state().refused_at.is_some() {
            return;
        }
        let want = self.kick();
        let t0 = Instant::now();
        let mut st = self.state();
        while st.done < want && st.refused_at.is_none() {
            let left = BEFORE_ONLINE.saturating_sub(t0.elapsed());
            if left.is_zero() {
                crate::log("the journal is not shipped yet: forwarding the login anyway");
                return;
            }
            st = self
                .wake
                .wait_timeout(st, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn run(&self) {
        let mut seen = 0;
        loop {
            {
                let mut st = self.state();
                let wait = if self.offline.journal_pending() {
                    self.retry
                } else {
                    Duration::from_secs(3600)
                };
                if st.kicks == seen {
                    st = self
                        .wake
                        .wait_timeout(st, wait)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
                seen = st.kicks;
                if st.refused_at.is_some() {
                    st.done = seen;
                    self.wake.notify_all();
                    continue;
                }
            }
            let got = if self.offline.journal_pending() {
                self.attempt()
            } else {
                Attempt::Done
            };
            let mut st = self.state();
            if got == Attempt::Refused {
                st.refused_at = Some(crate::now());
            }
            st.done = seen;
            self.wake.notify_all();
        }
    }

    /// Ship batches until none is left, no server can take one, or one is refused.
    fn attempt(&self) -> Attempt {
        let mut gaps = 0;
        loop {
            let batch = match self.offline.next_batch() {
                Ok(Some(b)) => b,
                Ok(None) => return Attempt::Done,
                Err(e) => {
                    crate::log(&format!("cannot read the journal: {e}"));
                    return Attempt::Later;
                }
            };
            let (first, last) = (
                batch.entries.first().map_or(0, |e| e.seq),
                batch.entries.last().map_or(0, |e| e.seq),
            );
            let (ack, gap) = match self.send(&batch) {
                Sent::Ack(ack, url, v) => {
                    crate::log(&format!(
                        "journal {} entries {first}..{last} shipped to {url}: {} applied, {} replay incident(s), acknowledged up to {ack}",
                        batch.journal,
                        v["Applied"].as_i64().unwrap_or(0),
                        v["ReplayIncidents"].as_i64().unwrap_or(0)
                    ));
                    (ack, false)
                }
                Sent::Gap(ack, url) => {
                    crate::log(&format!(
                        "{url} holds journal {} only up to entry {ack} (JournalGap): shipping again from entry {}",
                        batch.journal,
                        ack + 1
                    ));
                    (ack, true)
                }
                Sent::Later => return Attempt::Later,
                Sent::Refused(why) => {
                    crate::log(&format!(
                        "the journal is refused ({why}); keeping its entries, shipping again after the next answered sync"
                    ));
                    return Attempt::Refused;
                }
            };
            match self.offline.journal_acked(&batch, ack, crate::now()) {
                Ok(Acked::Moved { rest: false }) => return Attempt::Done,
                Ok(Acked::Moved { rest: true } | Acked::Stale) => {}
                Ok(Acked::Restarted { journal }) => crate::log(&format!(
                    "the server acknowledged entry {ack} of journal {}, beyond the {last} entries this host wrote (offline.db restored from a copy?): shipping from row {} as a new journal {journal}",
                    batch.journal, batch.first_row
                )),
                Err(e) => {
                    crate::log(&format!("cannot keep the journal's position: {e}"));
                    return Attempt::Later;
                }
            }
            if gap {
                gaps += 1;
                if gaps > MAX_GAPS {
                    return Attempt::Later;
                }
            }
        }
    }

    /// One batch along the server list, from the one that answered last.
    fn send(&self, batch: &Batch) -> Sent {
        let wire = JournalBatch {
            journal: batch.journal.clone(),
            entries: batch.entries.clone(),
        };
        let body = match serde_json::to_vec(&wire) {
            Ok(b) => b,
            Err(e) => return Sent::Refused(format!("cannot encode a batch: {e}")),
        };
        let n = self.servers.len();
        let first = self.shared.current.load(Ordering::SeqCst);
        for i in 0..n {
            let s = &self.servers[(first + i) % n];
            let answer = client::post_within(
                s,
                &self.creds,
                host_api::JOURNAL_PATH,
                &body,
                crate::now(),
                BATCH_TIMEOUT,
            );
            let (status, v) = match answer {
                Ok(a) => a,
                Err(e) => {
                    crate::log(&format!("journal: server unreachable: {e}"));
                    continue;
                }
            };
            self.shared.contact();
            self.offline.note_contact(crate::now());
            let code = v["Error"]["Code"].as_str().unwrap_or("");
            let why = format!(
                "{} answered HTTP {status} {code}: {}",
                s.url,
                v["Error"]["Message"].as_str().unwrap_or("")
            );
            match (status, v["Ack"].as_i64()) {
                (200, Some(ack)) => return Sent::Ack(ack, s.url.clone(), v),
                (409, Some(ack)) if code == "JournalGap" => return Sent::Gap(ack, s.url.clone()),
                (500.., _) => crate::log(&format!("journal: {why}")),
                _ => return Sent::Refused(why),
            }
        }
        Sent::Later
    }
}
