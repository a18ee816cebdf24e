//! Connection hygiene against slow and idle clients: at most `max_connections` open at
//! once (one more is closed as soon as it is accepted, so descriptors stay bounded); a
//! connection that sends nothing within `header_timeout` of being accepted is closed
//! (hyper's own header read timeout only starts once the first bytes have told HTTP/1
//! from HTTP/2), and so is one with nothing read or written for `idle_timeout` (HTTP/1
//! and HTTP/2 alike, a client that stops reading its response too). Later request heads
//! have hyper's header read timeout (set in `main`), bodies the handler's deadline.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Counts shown on `/metrics`.
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Connections accepted and served.
    pub accepted: AtomicU64,
    /// Connections closed at once because `max_connections` were open.
    pub refused: AtomicU64,
    /// Connections closed for idleness.
    pub idle_closed: AtomicU64,
}

/// The acceptor in front of HTTP (or TLS): takes a slot or closes the connection.
#[derive(Clone)]
pub struct Limit {
    slots: Arc<Semaphore>,
    max: usize,
    first: Duration,
    idle: Duration,
    stats: Arc<ConnStats>,
}

impl Limit {
    /// A limit of `max` open connections, each closed if silent for `first` after it is
    /// accepted or for `idle` later.
    pub fn new(max: usize, first: Duration, idle: Duration, stats: Arc<ConnStats>) -> Limit {
        Limit {
            slots: Arc::new(Semaphore::new(max)),
            max,
            first,
            idle,
            stats,
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.max - self.slots.available_permits()
    }
}

impl<S: Send + 'static> axum_server::accept::Accept<TcpStream, S> for Limit {
    type Stream = Guarded;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Guarded, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => {
                self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                let _ = stream.set_nodelay(true);
                std::future::ready(Ok((
                    Guarded {
                        inner: stream,
                        _permit: permit,
                        idle: self.idle,
                        deadline: Box::pin(tokio::time::sleep(self.first.min(self.idle))),
                        stats: Arc::clone(&self.stats),
                    },
                    service,
                )))
            }
            // Dropping the stream closes it: the client sees the connection end at once
            // instead of waiting in the backlog.
            Err(_) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                std::future::ready(Err(io::Error::other("too many connections")))
            }
        }
    }
}

/// A connection holding its slot (released when hyper drops it), with its idle deadline.
pub struct Guarded {
    inner: TcpStream,
    _permit: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    stats: Arc<ConnStats>,
}

impl Guarded {
    fn touch(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    /// `Pending` from the socket: still pending, unless the idle deadline has passed.
    fn pending_or_idle<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => this.pending_or_idle(cx),
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    this.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => this.pending_or_idle(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.pending_or_idle(cx),
            r => r,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    this.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => this.pending_or_idle(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Raise the soft limit on open files to the hard limit, so `max_connections` is not cut
/// short by a default of 1,024; answers the soft limit in force.
pub fn raise_nofile_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        if r.rlim_cur < r.rlim_max {
            let want = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
    }
    r.rlim_cur
}
