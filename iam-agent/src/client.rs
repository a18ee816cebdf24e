//! One signed call to one `iamd` (HTTP/1.1, `Connection: close`, over TLS for
//! `https://` servers, plain on loopback): a transport failure (no connection, a failed
//! TLS handshake, timeout, a broken answer) is told apart from an answer, because only
//! the former makes the host offline (a server error answer moves the agent to the next
//! server, but the host stays online).

use crate::config::{HostCredentials, Server};
use iamd::host_api;
use pam_iam::store::replica::{Replica, ReplicaDelta};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What a server answered.
#[derive(Debug)]
pub enum Answer {
    /// The host's view at a new version, and the identity of the store it is of (none
    /// from a server older than deltas).
    Snapshot(Box<Replica>, Option<String>),
    /// The tables changed since the version held, of the store named.
    Delta(Box<ReplicaDelta>, String),
    /// Nothing changed while the server waited.
    Unchanged,
    /// The server answered but cannot serve now (HTTP 5xx: its store is down): another
    /// server may, and the host is online all the same (only a transport failure is
    /// offline).
    ServerError {
        /// HTTP status.
        status: u16,
        /// Message.
        message: String,
    },
    /// The server refused (revoked credential, bad signature, …): final, not retried
    /// elsewhere.
    Refused {
        /// HTTP status.
        status: u16,
        /// Error code.
        code: String,
        /// Message.
        message: String,
    },
}

/// The server could not be reached or gave no usable answer: why, and how far the call
/// got.
#[derive(Debug)]
pub struct Transport(pub String, pub Reach);

/// How far a failed call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// No usable connection: the name did not resolve, the connection was refused or
    /// timed out, or the TLS handshake failed. Any other call to that server now would
    /// fail the same way.
    Unreached,
    /// Connected (and, for TLS, verified), but the exchange failed: a timeout waiting
    /// for the answer, a broken or unreadable answer. The server may have acted on the
    /// request.
    Connected,
}

impl Transport {
    fn unreached(msg: String) -> Transport {
        Transport(msg, Reach::Unreached)
    }
    fn connected(msg: String) -> Transport {
        Transport(msg, Reach::Connected)
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How long a connection to a server may take to open (each of its addresses).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The connection timeout of an interactive call (a login, its prompts, the journal
/// shipped before a login) to a server known to be down (see
/// [`crate::serve::Shared::connect_timeout`]): a live server on a LAN answers a SYN in
/// well under this, and the sync loop, which always waits [`CONNECT_TIMEOUT`], marks it
/// up again as soon as it answers.
pub const QUICK_CONNECT: Duration = Duration::from_millis(500);
/// Largest answer read (a replica of a big account is a few MB).
const MAX_ANSWER: u64 = 256 << 20;

/// Pull once: `since` is the version held (none: a full snapshot now), `store` the
/// store it is of (then the server may answer with a delta).
///
/// # Errors
/// [`Transport`] when the server is down, slow beyond `wait` + 10 s, or answers garbage.
pub fn pull(
    server: &Server,
    creds: &HostCredentials,
    since: Option<i64>,
    store: Option<&str>,
    wait: u64,
    now: i64,
) -> Result<Answer, Transport> {
    let query = match (since, store) {
        (Some(v), Some(id)) => format!("since={v}&store={id}&wait={wait}"),
        (Some(v), None) => format!("since={v}&wait={wait}"),
        (None, _) => "wait=0".to_string(),
    };
    let headers = host_api::sign_get(
        &server.authority,
        host_api::REPLICA_PATH,
        &query,
        &creds.key_id,
        creds.secret.as_bytes(),
        now,
    )
    .map_err(|e| Transport::unreached(format!("cannot sign: {}", e.message)))?;
    let head = format!("GET {}?{query} HTTP/1.1\r\n", host_api::REPLICA_PATH);
    let raw = exchange(
        server,
        &head,
        &headers,
        b"",
        CONNECT_TIMEOUT,
        Duration::from_secs(wait + 10),
    )?;
    parse_answer(&raw).map_err(|e| Transport::connected(format!("{}: {e}", server.url)))
}

/// A connection to a server: plain (loopback) or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(c) => c.read(buf),
            Conn::Tls(c) => c.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(c) => c.write(buf),
            Conn::Tls(c) => c.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(c) => c.flush(),
            Conn::Tls(c) => c.flush(),
        }
    }
}

/// A TCP connection to the server (each of its addresses in turn, `connect_timeout`
/// each), with `timeout` for every read and write, then the TLS handshake for `https://`.
fn connect(
    server: &Server,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<Conn, Transport> {
    let addrs: Vec<std::net::SocketAddr> = (server.host.as_str(), server.port)
        .to_socket_addrs()
        .map_err(|e| {
            Transport::unreached(format!(
                "{}: cannot resolve {}: {e}",
                server.url, server.host
            ))
        })?
        .collect();
    let mut last = None;
    let mut tcp = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, connect_timeout) {
            Ok(c) => {
                tcp = Some(c);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(tcp) = tcp else {
        return Err(Transport::unreached(format!(
            "{}: {}",
            server.url,
            last.map_or("no address".to_string(), |e| e.to_string())
        )));
    };
    let io = |e: std::io::Error| Transport::unreached(format!("{}: {e}", server.url));
    tcp.set_read_timeout(Some(timeout)).map_err(io)?;
    tcp.set_write_timeout(Some(timeout)).map_err(io)?;
    match &server.tls {
        None => Ok(Conn::Plain(tcp)),
        Some(trust) => trust
            .connect(&server.url, &server.host, tcp)
            .map(|s| Conn::Tls(Box::new(s)))
            .map_err(Transport::unreached),
    }
}

/// One request (`head` is the request line) and the raw answer, `Connection: close`.
fn exchange(
    server: &Server,
    head: &str,
    headers: &[(String, String)],
    body: &[u8],
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Result<Vec<u8>, Transport> {
    let mut c = connect(server, connect_timeout, read_timeout)?;
    let io = |e: std::io::Error| Transport::connected(format!("{}: {e}", server.url));
    let mut req = head.to_string();
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("connection: close\r\n\r\n");
    c.write_all(req.as_bytes()).map_err(io)?;
    c.write_all(body).map_err(io)?;
    c.flush().map_err(io)?;
    read_answer(&mut c).map_err(io)
}

/// The raw answer: up to the end of its `content-length` body (so a TLS peer that
/// closes without `close_notify` after a whole answer is no failure), else to the end
/// of the stream; at most [`MAX_ANSWER`] bytes.
fn read_answer(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut total: Option<usize> = None;
    let mut scanned = 0usize;
    loop {
        if total.is_none() {
            // Look for the end of the headers in what arrived since the last look.
            let from = scanned.saturating_sub(3);
            if let Some(i) = raw[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                let end = from + i + 4;
                total = content_length(&raw[..end]).map(|n| end.saturating_add(n));
                if total.is_none() {
                    // No length: read to the end of the stream.
                    total = Some(usize::MAX);
                }
            }
            scanned = raw.len();
        }
        if let Some(t) = total
            && raw.len() >= t
        {
            raw.truncate(t);
            return Ok(raw);
        }
        if raw.len() as u64 > MAX_ANSWER {
            return Err(std::io::Error::other("the answer is too large"));
        }
        match r.read(&mut buf) {
            Ok(0) => return Ok(raw),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The `content-length` of a header block.
fn content_length(head: &[u8]) -> Option<usize> {
    String::from_utf8_lossy(head).lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())
            .flatten()
    })
}

/// How long a login call may take at one server (argon2id, a wait for an attempt slot).
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A signed JSON `POST` of the host API: the status and JSON body of the answer, with
/// `connect` to open the connection and `timeout` for the answer ([`LOGIN_TIMEOUT`]
/// for a login; a journal batch of 500 entries is one store transaction that may take
/// longer).
///
/// # Errors
/// [`Transport`] when the server is down, slow beyond these timeouts, or answers
/// something that is not JSON over HTTP.
pub fn post_within(
    server: &Server,
    creds: &HostCredentials,
    path: &str,
    body: &[u8],
    now: i64,
    connect: Duration,
    timeout: Duration,
) -> Result<(u16, serde_json::Value), Transport> {
    let headers = host_api::sign_post(
        &server.authority,
        path,
        body,
        &creds.key_id,
        creds.secret.as_bytes(),
        now,
    )
    .map_err(|e| Transport::unreached(format!("cannot sign: {}", e.message)))?;
    let raw = exchange(
        server,
        &format!("POST {path} HTTP/1.1\r\n"),
        &headers,
        body,
        connect,
        timeout,
    )?;
    split_answer(&raw).map_err(|e| Transport::connected(format!("{}: {e}", server.url)))
}

/// Status and JSON body of a raw HTTP answer.
fn split_answer(raw: &[u8]) -> Result<(u16, serde_json::Value), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer ended before its headers did")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status line")?;
    if head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:"))
    {
        return Err("a chunked answer (iamd sends a length)".into());
    }
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("HTTP {status} with a body that is not JSON: {e}"))?;
    Ok((status, v))
}

fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let (status, v) = split_answer(raw)?;
    if status == 200 {
        if v["Unchanged"] == true {
            return Ok(Answer::Unchanged);
        }
        let store = v["StoreId"].as_str().map(str::to_string);
        if !v["Delta"].is_null() {
            let d = ReplicaDelta {
                from_version: v["FromVersion"]
                    .as_i64()
                    .ok_or("a delta without FromVersion")?,
                replica: serde_json::from_value(v["Delta"].clone())
                    .map_err(|e| format!("delta: {e}"))?,
            };
            return Ok(Answer::Delta(
                Box::new(d),
                store.ok_or("a delta without StoreId")?,
            ));
        }
        let r: Replica =
            serde_json::from_value(v["Replica"].clone()).map_err(|e| format!("replica: {e}"))?;
        return Ok(Answer::Snapshot(Box::new(r), store));
    }
    if status >= 500 {
        return Ok(Answer::ServerError {
            status,
            message: v["Error"]["Message"].as_str().unwrap_or("").to_string(),
        });
    }
    Ok(Answer::Refused {
        status,
        code: v["Error"]["Code"].as_str().unwrap_or("?").to_string(),
        message: v["Error"]["Message"].as_str().unwrap_or("").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_is_an_answer_and_only_garbage_is_a_transport_failure() {
        let raw = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 62\r\n\r\n{\"Error\":{\"Code\":\"ServiceFailure\",\"Message\":\"store down\"}}";
        match parse_answer(raw) {
            Ok(Answer::ServerError { status, message }) => {
                assert_eq!((status, message.as_str()), (503, "store down"));
            }
            other => panic!("a 5xx is an answer: {other:?}"),
        }
        assert!(parse_answer(b"HTTP/1.1 503 Service Unavailable\r\n").is_err());
    }

    #[test]
    fn an_answer_ends_at_its_length_and_a_cut_one_is_incomplete() {
        struct Cut<'a>(&'a [u8]);
        impl Read for Cut<'_> {
            // Hands out 7 bytes at a time, then an unclean end (a TLS peer gone
            // without close_notify).
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                let n = self.0.len().min(7).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n{\"Unchanged\":true}";
        let raw = read_answer(&mut Cut(whole)).unwrap();
        assert!(matches!(parse_answer(&raw), Ok(Answer::Unchanged)));
        assert!(read_answer(&mut Cut(&whole[..whole.len() - 1])).is_err());
    }
}
