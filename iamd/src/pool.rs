//! Store threads, each with its own store connection: every store call is blocking and
//! runs there, never on the async runtime. A request's wait for the store is bounded
//! (`store_timeout`): a store that has not answered a round trip for that long (a
//! PostgreSQL server stopped or cut off while its kernel still holds the TCP connection),
//! or a request no thread took up within it, is answered 503 `ServiceUnavailable`
//! instead of hanging. Whether a round trip is overdue, and whether its transaction had
//! sent COMMIT, is the PostgreSQL backend's watchdog (`pam_iam_postgres::watch`, the
//! one the `iam` CLI uses); a given-up transaction is refused its next round trip, so a
//! change answered "not committed" never commits when the server wakes up.

use crate::service::ApiError;
use pam_iam::store::{self, OpenOptions, Store};
use pam_iam_postgres::watch::Waits;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce(&dyn Store) + Send>;

/// Where a request's job is.
enum Status {
    /// In the queue.
    Queued,
    /// On a store thread, whose waits are these.
    Running(Arc<Waits>),
    /// Finished, or given up by the request (a queued job given up never runs).
    Over,
}

/// A job and the request's view of it.
struct Queued {
    job: Job,
    status: Arc<Mutex<Status>>,
}

/// Why a request got no answer from its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unanswered {
    /// The job panicked or the threads are gone.
    Failed,
    /// The store has not answered within the bound: what the watchdog says (the
    /// server, and whether the change was committed).
    Stalled(String),
    /// No store thread took the job up within the bound: it never runs.
    NotStarted(Duration),
}

impl From<Unanswered> for ApiError {
    fn from(u: Unanswered) -> ApiError {
        match u {
            Unanswered::Failed => {
                ApiError::new("ServiceFailure", "the request failed inside the server")
            }
            Unanswered::Stalled(line) => ApiError::new(
                "ServiceUnavailable",
                format!("the store is not answering: {line}"),
            ),
            Unanswered::NotStarted(d) => ApiError::new(
                "ServiceUnavailable",
                format!(
                    "no store thread could take the request within {} s (each is busy or waiting on the store): not started, nothing was changed",
                    d.as_secs()
                ),
            ),
        }
    }
}

/// How often a waiting request looks at its job.
const LOOK: Duration = Duration::from_millis(100);

/// Store threads: each opens its own store and runs jobs from one queue.
pub struct Pool {
    tx: Mutex<mpsc::Sender<Queued>>,
    /// Each thread's waits on the store.
    waits: Vec<Arc<Waits>>,
    bound: Duration,
}

impl Pool {
    /// Start `n` threads on the store at `opts`; a request waits at most `bound` for
    /// the store.
    ///
    /// # Errors
    /// The first thread's open error (bad location, permissions, schema).
    pub fn start(opts: &OpenOptions, n: usize, bound: Duration) -> Result<Pool, store::StoreError> {
        let (tx, rx) = mpsc::channel::<Queued>();
        let rx = Arc::new(Mutex::new(rx));
        let mut waits = Vec::new();
        for i in 0..n.max(1) {
            let rx = Arc::clone(&rx);
            let (wtx, wrx) = mpsc::channel();
            spawn_with_store(opts, format!("iamd-store-{i}"), move |store| {
                let mine = Waits::this_thread();
                let _ = wtx.send(Arc::clone(&mine));
                loop {
                    let q = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    let Ok(q) = q else { return };
                    mine.fresh();
                    {
                        let mut st = q.status.lock().unwrap_or_else(|e| e.into_inner());
                        if matches!(*st, Status::Over) {
                            // Its request was answered while it queued.
                            continue;
                        }
                        *st = Status::Running(Arc::clone(&mine));
                    }
                    // A panicking job answers nothing (its caller sees a 500) and the
                    // thread goes on serving.
                    let job = q.job;
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(store)));
                    *q.status.lock().unwrap_or_else(|e| e.into_inner()) = Status::Over;
                }
            })?;
            if let Ok(w) = wrx.recv() {
                waits.push(w);
            }
        }
        Ok(Pool {
            tx: Mutex::new(tx),
            waits,
            bound,
        })
    }

    /// What the watchdog says when every store thread has waited on the store for
    /// longer than the bound (nothing can be served now); `None` otherwise.
    pub fn all_stalled(&self) -> Option<String> {
        let mut line = None;
        for w in &self.waits {
            line = Some(w.stalled(self.bound)?);
        }
        line
    }

    /// Queue `f` without waiting for it (start-up work).
    pub fn send(&self, f: impl FnOnce(&dyn Store) + Send + 'static) {
        let q = Queued {
            job: Box::new(f),
            status: Arc::new(Mutex::new(Status::Queued)),
        };
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send(q);
        }
    }

    /// Run `f` on a store thread and wait for it without blocking the runtime, at most
    /// until the store has not answered for the bound (or no thread took `f` up within
    /// it).
    ///
    /// # Errors
    /// [`Unanswered`]: why there is no answer.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> T + Send + 'static,
    ) -> Result<T, Unanswered> {
        if let Some(line) = self.all_stalled() {
            return Err(Unanswered::Stalled(line));
        }
        let (otx, mut orx) = tokio::sync::oneshot::channel();
        let status = Arc::new(Mutex::new(Status::Queued));
        let q = Queued {
            job: Box::new(move |s| {
                let _ = otx.send(f(s));
            }),
            status: Arc::clone(&status),
        };
        self.tx
            .lock()
            .map_err(|_| Unanswered::Failed)?
            .send(q)
            .map_err(|_| Unanswered::Failed)?;
        let queued = Instant::now();
        loop {
            match tokio::time::timeout(LOOK, &mut orx).await {
                Ok(out) => return out.map_err(|_| Unanswered::Failed),
                Err(_) => {
                    let mut st = status.lock().unwrap_or_else(|e| e.into_inner());
                    let given_up = match &*st {
                        Status::Queued if queued.elapsed() >= self.bound => {
                            Some(Unanswered::NotStarted(self.bound))
                        }
                        Status::Running(w) => {
                            w.give_up_if_stalled(self.bound).map(Unanswered::Stalled)
                        }
                        _ => None,
                    };
                    if let Some(u) = given_up {
                        *st = Status::Over;
                        return Err(u);
                    }
                }
            }
        }
    }
}

/// Start thread `name` that opens its own store (a store is not `Send`: it is made and
/// used on one thread) and runs `body` with it; the open error is returned here.
pub(crate) fn spawn_with_store(
    opts: &OpenOptions,
    name: String,
    body: impl FnOnce(&dyn Store) + Send + 'static,
) -> Result<(), store::StoreError> {
    let opts = opts.clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(name)
        .stack_size(8 << 20)
        .spawn(move || match store::open(&opts) {
            Ok(store) => {
                let _ = ready_tx.send(Ok(()));
                body(&*store);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| store::StoreError::Database(format!("cannot start a store thread: {e}")))?;
    ready_rx
        .recv()
        .map_err(|_| store::StoreError::Database("a store thread died at start".into()))?
}
