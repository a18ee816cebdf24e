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
//! Before a login (or a role session with a code) is forwarded to a server while
//! entries wait, the caller ships them to that server itself ([`Shipper::before_login`],
//! within [`BEFORE_ONLINE`] of the call's start): the server then decides with this
//! host's offline failures counted and its offline codes spent. A server that cannot be
//! reached for it is not sent the login either, so on a partition the login pays one
//! connection attempt per server, as without a journal, not also a wait for the
//! shipping thread. Every call marks its server up or down
//! ([`crate::serve::Shared::mark`]).

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

/// The longest a login ships the journal before it is forwarded anyway.
pub const BEFORE_ONLINE: Duration = Duration::from_secs(3);

/// How shipping before a login to one server went.
#[derive(Debug)]
pub enum Probe {
    /// Nothing waits (any more): the server holds this host's journal.
    Shipped,
    /// The server cannot be reached (no connection, a failed TLS handshake): the login
    /// would fail there the same way.
    Unreached(String),
    /// The server was reached but did not take everything in time (slow, an error
    /// answer, a refusal): the login goes to it anyway.
    NotYet(String),
}

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
    /// From one server only: it could not be reached.
    Unreached(String),
}

/// What one answered batch did to the position.
enum Took {
    /// Entries remain: the next batch.
    More,
    /// All acknowledged.
    Done,
    /// The position could not be kept.
    Failed,
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

    /// Before a login to server `k` (its connection timeout `connect`): when entries
    /// wait, ship them to it, until `deadline`.
    pub fn before_login(&self, k: usize, connect: Duration, deadline: Instant) -> Probe {
        if !self.offline.journal_pending() {
            return Probe::Shipped;
        }
        if self.state().refused_at.is_some() {
            return Probe::NotYet("shipping is stopped after a refusal".into());
        }
        let mut gaps = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Probe::NotYet(format!("not all taken within {BEFORE_ONLINE:?}"));
            }
            let batch = match self.offline.next_batch() {
                Ok(Some(b)) => b,
                Ok(None) => return Probe::Shipped,
                Err(e) => return Probe::NotYet(format!("cannot read the journal: {e}")),
            };
            let sent = self.send_to(k, &batch, connect, left.min(BATCH_TIMEOUT));
            let gap = matches!(sent, Sent::Gap(..));
            match sent {
                Sent::Unreached(e) => return Probe::Unreached(e),
                Sent::Later => return Probe::NotYet("the server could not apply it now".into()),
                Sent::Refused(why) => {
                    self.refused(&why);
                    return Probe::NotYet(why);
                }
                Sent::Ack(..) | Sent::Gap(..) => match self.took(&batch, sent) {
                    Took::Done => {
                        // The thread's waiters (none today) and its next wait see it.
                        self.wake.notify_all();
                        return Probe::Shipped;
                    }
                    Took::Failed => return Probe::NotYet("cannot keep the position".into()),
                    Took::More => {}
                },
            }
            if gap {
                gaps += 1;
                if gaps > MAX_GAPS {
                    return Probe::NotYet("the server keeps answering JournalGap".into());
                }
            }
        }
    }

    /// A refusal: shipping stops (logged) until a pull is answered and a minute passed.
    fn refused(&self, why: &str) {
        crate::log(&format!(
            "the journal is refused ({why}); keeping its entries, shipping again after the next answered sync"
        ));
        self.state().refused_at = Some(crate::now());
        self.wake.notify_all();
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
            let sent = self.send(&batch);
            let gap = matches!(sent, Sent::Gap(..));
            match sent {
                Sent::Later | Sent::Unreached(_) => return Attempt::Later,
                Sent::Refused(why) => {
                    crate::log(&format!(
                        "the journal is refused ({why}); keeping its entries, shipping again after the next answered sync"
                    ));
                    return Attempt::Refused;
                }
                Sent::Ack(..) | Sent::Gap(..) => match self.took(&batch, sent) {
                    Took::Done => return Attempt::Done,
                    Took::Failed => return Attempt::Later,
                    Took::More => {}
                },
            }
            if gap {
                gaps += 1;
                if gaps > MAX_GAPS {
                    return Attempt::Later;
                }
            }
        }
    }

    /// An acknowledgment (or a gap's `Ack`) of `batch`: logged, and the position moved.
    fn took(&self, batch: &Batch, sent: Sent) -> Took {
        let (first, last) = (
            batch.entries.first().map_or(0, |e| e.seq),
            batch.entries.last().map_or(0, |e| e.seq),
        );
        let ack = match sent {
            Sent::Ack(ack, url, v) => {
                crate::log(&format!(
                    "journal {} entries {first}..{last} shipped to {url}: {} applied, {} replay incident(s), acknowledged up to {ack}",
                    batch.journal,
                    v["Applied"].as_i64().unwrap_or(0),
                    v["ReplayIncidents"].as_i64().unwrap_or(0)
                ));
                ack
            }
            Sent::Gap(ack, url) => {
                crate::log(&format!(
                    "{url} holds journal {} only up to entry {ack} (JournalGap): shipping again from entry {}",
                    batch.journal,
                    ack + 1
                ));
                ack
            }
            _ => return Took::Failed,
        };
        match self.offline.journal_acked(batch, ack, crate::now()) {
            Ok(Acked::Moved { rest: false }) => Took::Done,
            Ok(Acked::Moved { rest: true } | Acked::Stale) => Took::More,
            Ok(Acked::Restarted { journal }) => {
                crate::log(&format!(
                    "the server acknowledged entry {ack} of journal {}, beyond the {last} entries this host wrote (offline.db restored from a copy?): shipping from row {} as a new journal {journal}",
                    batch.journal, batch.first_row
                ));
                Took::More
            }
            Err(e) => {
                crate::log(&format!("cannot keep the journal's position: {e}"));
                Took::Failed
            }
        }
    }

    /// One batch along the server list, from the one that answered last.
    fn send(&self, batch: &Batch) -> Sent {
        let n = self.servers.len();
        let first = self.shared.current.load(Ordering::SeqCst);
        for i in 0..n {
            match self.send_to(
                (first + i) % n,
                batch,
                client::CONNECT_TIMEOUT,
                BATCH_TIMEOUT,
            ) {
                Sent::Unreached(_) | Sent::Later => {}
                other => return other,
            }
        }
        Sent::Later
    }

    /// One batch to server `k`; `Later` for a 5xx or a failure after connecting.
    fn send_to(&self, k: usize, batch: &Batch, connect: Duration, timeout: Duration) -> Sent {
        let wire = JournalBatch {
            journal: batch.journal.clone(),
            entries: batch.entries.clone(),
        };
        let body = match serde_json::to_vec(&wire) {
            Ok(b) => b,
            Err(e) => return Sent::Refused(format!("cannot encode a batch: {e}")),
        };
        let Some(s) = self.servers.get(k) else {
            return Sent::Later;
        };
        let answer = client::post_within(
            s,
            &self.creds,
            host_api::JOURNAL_PATH,
            &body,
            crate::now(),
            connect,
            timeout,
        );
        self.shared
            .mark(k, answer.as_ref().map(|_| ()).map_err(|e| e.1));
        let (status, v) = match answer {
            Ok(a) => a,
            Err(e) => {
                crate::log(&format!("journal: server unreachable: {e}"));
                return match e.1 {
                    client::Reach::Unreached => Sent::Unreached(e.0),
                    client::Reach::Connected => Sent::Later,
                };
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
            (200, Some(ack)) => Sent::Ack(ack, s.url.clone(), v),
            (409, Some(ack)) if code == "JournalGap" => Sent::Gap(ack, s.url.clone()),
            (500.., _) => {
                crate::log(&format!("journal: {why}"));
                Sent::Later
            }
            _ => Sent::Refused(why),
        }
    }
}
