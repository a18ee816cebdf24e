//! The load: N clients, each on its own kept-alive HTTP/1 connection, for a fixed time.
//! Closed loop (the default): each sends its next request as soon as the last is
//! answered, so the figures are the server's most and the latency its queue at that
//! load. Open loop (`--rate R`): the clients together send R requests a second on a
//! fixed schedule, and a request's latency runs from when it was due, so a server that
//! falls behind is charged for the wait (no coordinated omission). Every request is
//! signed anew (fresh `X-Amz-Date`); latency ends at the last byte of the answer,
//! signing excluded.

use crate::check::{self, Action};
use crate::sign::{Key, Signer};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every how many answers one is also parsed as XML in full (the first always is).
const PARSE_EVERY: u64 = 16;

/// Where to send the load, as whom.
#[derive(Clone, Debug)]
pub struct Target {
    /// The server's loopback address.
    pub addr: SocketAddr,
    /// The caller's access key.
    pub key: Key,
}

/// One run's outcome.
#[derive(Debug, Default)]
pub struct Stats {
    /// Answers received (good or bad).
    pub requests: u64,
    /// Answers that were not a good 200, plus transport failures.
    pub errors: u64,
    /// The first error's description.
    pub first_error: Option<String>,
    /// Connections opened after the first one of each client (the server closed one).
    pub reconnects: u64,
    /// From the start signal to the last answer.
    pub elapsed: Duration,
    /// Every answer's latency, sorted, in microseconds.
    pub micros: Vec<u32>,
}

impl Stats {
    /// Answers per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0–1) of latency, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return 0.0;
        }
        let i = ((self.micros.len() as f64 * q) as usize).min(self.micros.len() - 1);
        f64::from(self.micros[i]) / 1000.0
    }

    /// The slowest answer, in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.micros.last().map_or(0.0, |m| f64::from(*m) / 1000.0)
    }
}

#[derive(Default)]
struct ClientOut {
    micros: Vec<u32>,
    connects: u64,
    errors: u64,
    first_error: Option<String>,
}

impl ClientOut {
    fn error(&mut self, e: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e);
        }
    }
}

pub(crate) type Sender = http1::SendRequest<Full<Bytes>>;

pub(crate) async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("handshake {addr}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One signed call on `conn`, connecting first when there is no open connection (the
/// server closed the last one: moto answers every request with `Connection: close`); the
/// time taken includes that connect. Returns (status, body, time taken, connected).
pub(crate) async fn one(
    conn: &mut Option<Sender>,
    addr: SocketAddr,
    signer: &Signer,
    body: &Bytes,
) -> Result<(u16, Bytes, Duration, bool), String> {
    let host = addr.to_string();
    let headers = signer.headers(&host, body)?;
    let mut b = http::Request::builder().method("POST").uri("/");
    for (k, v) in &headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let req = b.body(Full::new(body.clone())).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut connected = false;
    if conn.as_ref().is_none_or(Sender::is_closed) {
        *conn = Some(connect(addr).await?);
        connected = true;
    }
    let Some(sender) = conn.as_mut() else {
        return Err("no connection".into());
    };
    let sent = async {
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("answer body: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, bytes))
    }
    .await;
    match sent {
        Ok((status, bytes)) => Ok((status, bytes, started.elapsed(), connected)),
        Err(e) => {
            *conn = None;
            Err(e)
        }
    }
}

/// When a client's requests are due: `None`, each as soon as the last is answered; else
/// the first at `first` and then one every `every`.
#[derive(Clone, Copy)]
struct Schedule {
    first: Instant,
    every: Option<Duration>,
}

impl Schedule {
    fn due(&self, n: u64) -> Option<Instant> {
        let every = self.every?;
        Some(self.first + every.mul_f64(n as f64))
    }
}

async fn client(
    sender: Sender,
    target: Arc<Target>,
    signer: Arc<Signer>,
    action: Action,
    deadline: Instant,
    schedule: Schedule,
) -> ClientOut {
    let body = Bytes::from(action.body());
    let mut out = ClientOut::default();
    let mut conn = Some(sender);
    let mut n = 0u64;
    while Instant::now() < deadline {
        let due = schedule.due(n);
        if let Some(at) = due {
            if at >= deadline {
                break;
            }
            tokio::time::sleep_until(at.into()).await;
        }
        match one(&mut conn, target.addr, &signer, &body).await {
            Ok((status, answer, took, connected)) => {
                let took = due.map_or(took, |at| at.elapsed());
                out.micros
                    .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                out.connects += u64::from(connected);
                let mut r = action.check(status, &answer);
                if r.is_ok() && n % PARSE_EVERY == 0 {
                    r = check::well_formed(&answer);
                }
                if let Err(e) = r {
                    out.error(e);
                }
                n += 1;
            }
            Err(e) => {
                out.error(e);
                n += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    out
}

/// A tokio runtime of `threads` threads (1: the current thread only).
///
/// # Errors
/// The runtime's message.
pub(crate) fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .map_err(|e| format!("tokio runtime: {e}"))
}

/// Run `clients` concurrent clients calling `action` on `target` for `duration`, on a
/// tokio runtime of `threads` threads (1: one thread, the least CPU taken from a server
/// on the same machine); with `rate`, the clients together offer that many requests a
/// second (open loop), each client its share, evenly staggered.
///
/// # Errors
/// A client could not connect at the start, or the runtime could not be built.
pub fn run(
    target: &Target,
    action: Action,
    clients: usize,
    duration: Duration,
    threads: usize,
    rate: Option<f64>,
) -> Result<Stats, String> {
    let rt = runtime(threads)?;
    let target = Arc::new(target.clone());
    let signer = Arc::new(Signer::new(&target.key, "iam", "us-east-1"));
    rt.block_on(async move {
        let mut senders = Vec::with_capacity(clients);
        for _ in 0..clients {
            senders.push(connect(target.addr).await?);
        }
        let start = Instant::now();
        let deadline = start + duration;
        // Each client's requests are `clients / rate` apart; client i starts i/rate in.
        let every = rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(clients as f64 / r));
        let tasks: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let schedule = Schedule {
                    first: start
                        + every.map_or(Duration::ZERO, |e| e.mul_f64(i as f64 / clients as f64)),
                    every,
                };
                tokio::spawn(client(
                    s,
                    Arc::clone(&target),
                    Arc::clone(&signer),
                    action,
                    deadline,
                    schedule,
                ))
            })
            .collect();
        let mut stats = Stats::default();
        for t in tasks {
            let out = t.await.map_err(|e| format!("a client task failed: {e}"))?;
            stats.requests += out.micros.len() as u64;
            stats.errors += out.errors;
            stats.reconnects += out.connects;
            if stats.first_error.is_none() {
                stats.first_error = out.first_error;
            }
            stats.micros.extend(out.micros);
        }
        stats.elapsed = start.elapsed();
        stats.micros.sort_unstable();
        Ok(stats)
    })
}
