//! One signed pull from one `iamd` (plain HTTP/1.1 on loopback, `Connection: close`):
//! a transport failure (no connection, timeout, a broken answer) is told apart from an
//! answer, because only the former makes the host offline (a server error answer moves
//! the agent to the next server, but the host stays online).

use crate::config::{HostCredentials, Server};
use iamd::host_api;
use pam_iam::store::replica::{Replica, ReplicaDelta};
use std::io::{Read, Write};
use std::net::TcpStream;
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

/// The server could not be reached or gave no usable answer.
#[derive(Debug)]
pub struct Transport(pub String);

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
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
    .map_err(|e| Transport(format!("cannot sign: {}", e.message)))?;
    let head = format!("GET {}?{query} HTTP/1.1\r\n", host_api::REPLICA_PATH);
    let raw = exchange(server, &head, &headers, b"", Duration::from_secs(wait + 10))?;
    parse_answer(&raw).map_err(|e| Transport(format!("{}: {e}", server.url)))
}

/// One request (`head` is the request line) and the raw answer, `Connection: close`.
fn exchange(
    server: &Server,
    head: &str,
    headers: &[(String, String)],
    body: &[u8],
    read_timeout: Duration,
) -> Result<Vec<u8>, Transport> {
    let addr: std::net::SocketAddr = server
        .authority
        .parse()
        .map_err(|_| Transport(format!("{}: not IP:PORT", server.url)))?;
    let mut c = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .map_err(|e| Transport(format!("{}: {e}", server.url)))?;
    let io = |e: std::io::Error| Transport(format!("{}: {e}", server.url));
    c.set_read_timeout(Some(read_timeout)).map_err(io)?;
    c.set_write_timeout(Some(read_timeout)).map_err(io)?;
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
    let mut raw = Vec::new();
    c.take(MAX_ANSWER).read_to_end(&mut raw).map_err(io)?;
    Ok(raw)
}

/// How long a login call may take at one server (argon2id, a wait for an attempt slot).
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A signed JSON `POST` of the host API: the status and JSON body of the answer.
///
/// # Errors
/// [`Transport`] when the server is down, slow beyond [`LOGIN_TIMEOUT`], or answers
/// something that is not JSON over HTTP.
pub fn post(
    server: &Server,
    creds: &HostCredentials,
    path: &str,
    body: &[u8],
    now: i64,
) -> Result<(u16, serde_json::Value), Transport> {
    post_within(server, creds, path, body, now, LOGIN_TIMEOUT)
}

/// [`post`] waiting up to `timeout` for the answer (a journal batch of 500 entries is
/// one store transaction that may take longer than a login).
///
/// # Errors
/// As [`post`], with `timeout`.
pub fn post_within(
    server: &Server,
    creds: &HostCredentials,
    path: &str,
    body: &[u8],
    now: i64,
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
    .map_err(|e| Transport(format!("cannot sign: {}", e.message)))?;
    let raw = exchange(
        server,
        &format!("POST {path} HTTP/1.1\r\n"),
        &headers,
        body,
        timeout,
    )?;
    split_answer(&raw).map_err(|e| Transport(format!("{}: {e}", server.url)))
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
}
