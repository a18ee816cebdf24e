//! The HTTP side: axum routes (`POST /` for IAM and STS, `GET /healthz`) over the pool of
//! store threads (`pool`), a batching audit writer, and Prometheus metrics.

use crate::host_api;
use crate::pool::{Pool, spawn_with_store};
use crate::service::{self, ApiError, Env, HttpRequest, Reply};
use crate::xml;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pam_iam::store::{self, AuditEvent, KeyUse, OpenOptions, Store};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Largest request body: a 131,072-character policy URL-encoded (up to 3 bytes per
/// character) plus the other members.
pub const MAX_BODY: usize = 3 * 131_072 + 16 * 1024;

/// The audit trail writer: rows and key uses batched into one transaction (a fixed few
/// round trips per batch, `Store::append_audit_batch`).
pub struct AuditWriter {
    tx: Mutex<mpsc::Sender<AuditItem>>,
}

/// How long the audit writer waits for more rows after one arrives: a transaction's
/// fixed round trips shared by more calls, for a row written at most this much later.
const AUDIT_LINGER: Duration = Duration::from_millis(2);

/// An audit row and/or a key use to note.
type AuditItem = (Option<AuditEvent>, Option<KeyUse>);

impl AuditWriter {
    /// Start the writer thread with its own store.
    ///
    /// # Errors
    /// The store's open error.
    pub fn start(opts: &OpenOptions) -> Result<AuditWriter, store::StoreError> {
        let (tx, rx) = mpsc::channel::<AuditItem>();
        spawn_with_store(opts, "iamd-audit".into(), move |store| {
            while let Ok(first) = rx.recv() {
                // Rows that come within AUDIT_LINGER of the first share its transaction.
                let until = Instant::now() + AUDIT_LINGER;
                let mut batch = vec![first];
                while batch.len() < 512 {
                    let left = until.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(left) {
                        Ok(x) => batch.push(x),
                        Err(_) => break,
                    }
                }
                let (events, uses): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let events: Vec<AuditEvent> = events.into_iter().flatten().collect();
                let uses: Vec<KeyUse> = uses.into_iter().flatten().collect();
                if let Err(e) = store.append_audit_batch(&events, &uses) {
                    eprintln!(
                        "iamd: {} audit rows could not be written: {e}",
                        events.len()
                    );
                }
            }
        })?;
        Ok(AuditWriter { tx: Mutex::new(tx) })
    }

    fn send(&self, e: Option<AuditEvent>, key: Option<KeyUse>) {
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send((e, key));
        }
    }
}

/// Request counts and latency, for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    by_action: Mutex<HashMap<(String, String), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    /// Connection counts, kept by the acceptor (`conn::Limit`).
    pub conns: Arc<crate::conn::ConnStats>,
}

/// Latency histogram bounds, seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

impl Metrics {
    fn observe(&self, action: &str, code: &str, elapsed: Duration) {
        if let Ok(mut m) = self.by_action.lock() {
            *m.entry((action.to_string(), code.to_string())).or_default() += 1;
        }
        let s = elapsed.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP iamd_requests_total API requests by action and result code.\n# TYPE iamd_requests_total counter\n",
        );
        if let Ok(m) = self.by_action.lock() {
            let mut rows: Vec<_> = m.iter().collect();
            rows.sort();
            for ((a, c), n) in rows {
                out.push_str(&format!(
                    "iamd_requests_total{{action=\"{}\",code=\"{}\"}} {n}\n",
                    label(a),
                    label(c)
                ));
            }
        }
        out.push_str("# HELP iamd_request_duration_seconds Time to answer an API request.\n# TYPE iamd_request_duration_seconds histogram\n");
        for (i, b) in BUCKETS.iter().enumerate() {
            out.push_str(&format!(
                "iamd_request_duration_seconds_bucket{{le=\"{b}\"}} {}\n",
                self.buckets[i].load(Ordering::Relaxed)
            ));
        }
        let n = self.count.load(Ordering::Relaxed);
        out.push_str(&format!(
            "iamd_request_duration_seconds_bucket{{le=\"+Inf\"}} {n}\n"
        ));
        out.push_str(&format!(
            "iamd_request_duration_seconds_sum {}\niamd_request_duration_seconds_count {n}\n",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        ));
        for (name, help, v) in [
            ("accepted", "Connections accepted.", &self.conns.accepted),
            (
                "refused",
                "Connections closed at once: max_connections were open.",
                &self.conns.refused,
            ),
            (
                "idle_closed",
                "Connections closed after idle_timeout of silence.",
                &self.conns.idle_closed,
            ),
        ] {
            out.push_str(&format!(
                "# HELP iamd_connections_{name}_total {help}\n# TYPE iamd_connections_{name}_total counter\niamd_connections_{name}_total {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

/// A label value with what Prometheus forbids replaced (actions come from clients).
fn label(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Everything the handlers share.
pub struct AppState {
    /// Store threads.
    pub pool: Pool,
    /// Audit writer.
    pub audit: AuditWriter,
    /// Metrics.
    pub metrics: Metrics,
    /// The sealing key's bytes.
    pub secrets_key: Arc<Zeroizing<Vec<u8>>>,
    /// Its file.
    pub secrets_key_path: PathBuf,
    /// The SQLite file, for the userdb refresh.
    pub store_path: Option<PathBuf>,
    /// The store version, watched for the host API's long polls.
    pub version: tokio::sync::watch::Sender<i64>,
    /// Whether the watcher runs (it starts with the first long poll).
    pub watching: std::sync::Once,
    /// The PostgreSQL store's URL, for the watcher's listening connection
    /// ([`crate::watch`]); `None` on SQLite.
    pub listen_url: Option<String>,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
    /// The longest a host API long poll waits: below the connection idle timeout, so
    /// an answer always leaves before the idle deadline can cut the connection.
    pub longest_wait: Duration,
    /// What a replay incident found in a host's journal does besides being audited.
    pub on_replay: pam_iam::fleet::reconnect::OnReplay,
    /// Users' policy sets, kept per store version.
    pub policies: crate::policy_cache::PolicyCache,
}

/// Build the shared state: store threads, audit writer, the secrets key (created when
/// missing; the stores seal and open MFA seeds with it too). Warns on stderr about
/// access keys that cannot sign requests (made before secrets were sealed).
///
/// # Errors
/// A message naming what could not be opened.
pub fn state(
    opts: &OpenOptions,
    secrets_key_path: PathBuf,
    cfg: &crate::config::Config,
) -> Result<Arc<AppState>, String> {
    let opts = &OpenOptions {
        secrets_key: secrets_key_path.clone(),
        ..opts.clone()
    };
    let pool = Pool::start(opts, cfg.workers, cfg.store_timeout).map_err(|e| e.to_string())?;
    let audit = AuditWriter::start(opts).map_err(|e| e.to_string())?;
    let key = pam_iam::credentials::key_file::load_or_create(&secrets_key_path)?;
    let (tx, rx) = mpsc::channel();
    pool.send(move |s| {
        let _ = tx.send(s.unsealed_access_keys());
    });
    if let Ok(Ok(keys)) = rx.recv() {
        if let Some(w) = pam_iam::cli::rotation_warning(&keys) {
            eprintln!("iamd: warning: {w}");
        }
    }
    Ok(Arc::new(AppState {
        pool,
        audit,
        metrics: Metrics::default(),
        secrets_key: Arc::new(key),
        secrets_key_path,
        store_path: opts
            .location
            .sqlite_path()
            .map(std::path::Path::to_path_buf),
        version: tokio::sync::watch::Sender::new(0),
        watching: std::sync::Once::new(),
        listen_url: match &opts.location {
            pam_iam::store::Location::Postgres(url) => Some(url.clone()),
            pam_iam::store::Location::Sqlite(_) => None,
        },
        body_timeout: cfg.body_timeout,
        longest_wait: longest_wait(cfg.idle_timeout),
        on_replay: cfg.on_replay,
        policies: crate::policy_cache::PolicyCache::default(),
    }))
}

/// The longest a long poll may wait on a connection with `idle` as its idle timeout:
/// [`host_api::MAX_WAIT_SECS`], but always ending a margin (up to 5 s, half the idle
/// timeout at most) before the idle deadline. A waiting long poll reads and writes
/// nothing, so with the two equal (60 s) the idle deadline raced the answer.
pub fn longest_wait(idle: Duration) -> Duration {
    let margin = (idle / 2).min(Duration::from_secs(5));
    Duration::from_secs(host_api::MAX_WAIT_SECS).min(idle - margin)
}

/// The API router.
pub fn api_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", post(api))
        .route("/healthz", get(healthz))
        .route(host_api::REPLICA_PATH, get(host_replica))
        .route(host_api::PROMPTS_PATH, post(host_prompts))
        .route(host_api::LOGIN_PATH, post(host_login))
        .route(crate::host_sts::ASSUME_PATH, post(host_assume))
        .route(crate::host_sts::REVOKE_PATH, post(host_revoke))
        .route(host_api::JOURNAL_PATH, post(host_journal))
        .with_state(state)
}

/// The metrics router.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render() + &st.policies.render(),
    )
        .into_response()
}

/// `GET /healthz`: 200 once a store thread reads the schema version; 503 (at once, or
/// within the store bound) when the store is unavailable or not answering.
async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    match st.pool.run(|s| s.schema_version().is_ok()).await {
        Ok(true) => (StatusCode::OK, "ok\n").into_response(),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response(),
        Err(u) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not ready: {}\n", ApiError::from(u).message),
        )
            .into_response(),
    }
}

fn request_id() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    let h = crate::sigv4::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn xml_response(status: u16, body: String, rid: &str) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(rid) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

async fn api(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let rid = request_id();
    let (parts, body) = req.into_parts();
    let error = |e: ApiError, action: &str| {
        st.metrics.observe(action, &e.code, started.elapsed());
        xml_response(
            e.status,
            xml::error(xml::IAM_NS, e.status, &e.code, &e.message, &rid),
            &rid,
        )
    };
    let body =
        match tokio::time::timeout(st.body_timeout, axum::body::to_bytes(body, MAX_BODY)).await {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => {
                return error(
                    ApiError::new(
                        "RequestEntityTooLarge",
                        format!("Request body is larger than {MAX_BODY} bytes"),
                    ),
                    "-",
                );
            }
            Err(_) => {
                return error(
                    ApiError::new("RequestTimeout", "Request body was not sent in time"),
                    "-",
                );
            }
        };
    let http = http_request(&parts, &body, peer);
    let key = Arc::clone(&st.secrets_key);
    let key_path = st.secrets_key_path.clone();
    let store_path = st.store_path.clone();
    let state = Arc::clone(&st);
    let reply = st
        .pool
        .run(move |s| {
            let env = Env {
                secrets_key: &key,
                secrets_key_path: &key_path,
                store_path: store_path.as_deref(),
                now: now(),
                policies: &state.policies,
            };
            service::handle(s, &env, &http)
        })
        .await;
    let reply: Reply = match reply {
        Ok(r) => r,
        Err(u) => return error(u.into(), "-"),
    };
    let key_use =
        reply
            .key_used
            .clone()
            .filter(|_| reply.result.is_ok())
            .map(|(key_id, service)| KeyUse {
                key_id,
                service: service.into(),
                time: now(),
            });
    st.audit.send(reply.audit, key_use);
    let ns = reply.service.namespace();
    match reply.result {
        Ok(v) => {
            st.metrics.observe(&reply.action, "OK", started.elapsed());
            xml_response(
                200,
                xml::response(ns, &reply.action, v.as_ref(), &rid),
                &rid,
            )
        }
        Err(e) => {
            st.metrics
                .observe(&reply.action, &e.code, started.elapsed());
            xml_response(
                e.status,
                xml::error(ns, e.status, &e.code, &e.message, &rid),
                &rid,
            )
        }
    }
}

/// A request as the service layer takes it (owned: it crosses to a store thread).
fn http_request(parts: &axum::http::request::Parts, body: &[u8], peer: SocketAddr) -> HttpRequest {
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let ip = match peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.to_string(), |v| v.to_string()),
        v4 => v4.to_string(),
    };
    HttpRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body: body.to_vec(),
        source_ip: ip,
    }
}

fn json_response(status: u16, v: &serde_json::Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// What a store thread answers a pull with.
enum Pulled {
    Snapshot(Box<pam_iam::store::replica::Pulled>),
    Unchanged(i64),
}

/// `GET /host/v1/replica`: authenticate the host, answer its view now when the version
/// moved, else wait for a change (see [`host_api`]).
async fn host_replica(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let (parts, _) = req.into_parts();
    let http = http_request(&parts, &[], peer);
    let pull = match host_api::parse_pull(&http.query) {
        Ok(p) => p,
        Err(e) => return json_response(e.status, &host_api::error_body(&e)),
    };
    crate::watch::start(&st);
    let mut changes = st.version.subscribe();
    let key = Arc::clone(&st.secrets_key);
    let req2 = http.clone();
    let held = pull.held();
    let held2 = held.clone();
    let (since, wait_secs) = (pull.since, pull.wait);
    let first = st
        .pool
        .run(
            move |s| -> Result<
                (host_api::HostCaller, Pulled),
                (Option<host_api::HostCaller>, service::ApiError),
            > {
                let caller =
                    host_api::authenticate(s, &key, &req2, now()).map_err(|e| (None, e))?;
                let pulled = (|| {
                    let v = s.store_version()?;
                    if since == Some(v) && wait_secs > 0 {
                        return Ok(Pulled::Unchanged(v));
                    }
                    Ok(Pulled::Snapshot(Box::new(
                        s.export_replica_since(&caller.host, held2.as_ref())?,
                    )))
                })()
                .map_err(|e: pam_iam::store::StoreError| (Some(caller.clone()), e.into()))?;
                Ok((caller, pulled))
            },
        )
        .await;
    let result = match first {
        Err(u) => Err((None, u.into())),
        Ok(r) => r,
    };
    let result = match result {
        Ok((caller, Pulled::Unchanged(v))) => {
            // Wait for a newer version (the watcher may lag the read), then snapshot.
            let wait = Duration::from_secs(wait_secs).min(st.longest_wait);
            let moved = matches!(
                tokio::time::timeout(wait, changes.wait_for(|x| *x > v)).await,
                Ok(Ok(_))
            );
            if !moved {
                st.metrics
                    .observe("host:GetReplica", "Unchanged", started.elapsed());
                return json_response(200, &host_api::unchanged_body(v));
            }
            // The credential is checked again: it may have been deleted while the
            // request waited, and a revoked host gets nothing more.
            let (host, key_id) = (caller.host.clone(), caller.key_id.clone());
            let after_wait = st
                .pool
                .run(move |s| match s.host_credential(&key_id) {
                    Ok(_) => s.export_replica_since(&host, held.as_ref()),
                    Err(pam_iam::store::StoreError::NoSuchEntity(_)) => {
                        Err(pam_iam::store::StoreError::NoSuchEntity(String::new()))
                    }
                    Err(e) => Err(e),
                })
                .await;
            let after_wait = match after_wait {
                Ok(Err(pam_iam::store::StoreError::NoSuchEntity(_))) => {
                    let e: ApiError = crate::sigv4::SigError::UnknownKey.into();
                    st.audit.send(
                        Some(host_api::audit(
                            "host:GetReplica",
                            Some(&caller),
                            &caller.key_id,
                            &http.source_ip,
                            now(),
                            &Err(e.clone()),
                        )),
                        None,
                    );
                    return json_response(e.status, &host_api::error_body(&e));
                }
                other => other,
            };
            match after_wait {
                Ok(Ok(r)) => Ok((caller, Pulled::Snapshot(Box::new(r)))),
                Ok(Err(e)) => Err((Some(caller), e.into())),
                Err(u) => Err((Some(caller), u.into())),
            }
        }
        other => other,
    };
    match result {
        Ok((caller, Pulled::Snapshot(r))) => {
            let body = host_api::snapshot_body(&r);
            st.audit.send(
                Some(host_api::audit(
                    "host:GetReplica",
                    Some(&caller),
                    &caller.key_id,
                    &http.source_ip,
                    now(),
                    &Ok(()),
                )),
                None,
            );
            // A full view is "OK" as before; a delta is counted apart.
            let outcome = match r.exported {
                pam_iam::store::replica::Exported::Full(_) => "OK",
                pam_iam::store::replica::Exported::Delta(_) => "Delta",
            };
            st.metrics
                .observe("host:GetReplica", outcome, started.elapsed());
            json_response(200, &body)
        }
        Ok((_, Pulled::Unchanged(v))) => json_response(200, &host_api::unchanged_body(v)),
        Err((caller, e)) => {
            st.audit.send(
                Some(host_api::audit(
                    "host:GetReplica",
                    caller.as_ref(),
                    &host_api::key_hint(&http),
                    &http.source_ip,
                    now(),
                    &Err(e.clone()),
                )),
                None,
            );
            st.metrics
                .observe("host:GetReplica", &e.code, started.elapsed());
            json_response(e.status, &host_api::error_body(&e))
        }
    }
}

/// `POST /host/v1/prompts`.
async fn host_prompts(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    host_post(
        st,
        peer,
        req,
        "host:Prompts",
        host_api::MAX_LOGIN_BODY,
        host_api::serve_prompts,
    )
    .await
}

/// `POST /host/v1/login`: a host's login verified on a store thread (argon2id there too).
async fn host_login(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    host_post(
        st,
        peer,
        req,
        "host:VerifyLogin",
        host_api::MAX_LOGIN_BODY,
        host_api::serve_login,
    )
    .await
}

/// `POST /host/v1/journal`: a host's offline journal merged on a store thread.
async fn host_journal(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let on_replay = st.on_replay;
    host_post(
        st,
        peer,
        req,
        "host:ShipJournal",
        host_api::MAX_JOURNAL_BODY,
        move |s, key, http, now| host_api::serve_journal(s, key, http, now, on_replay),
    )
    .await
}

/// `POST /host/v1/assume-role`: a host's `iam-sts assume-role` (see [`crate::host_sts`]).
async fn host_assume(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    host_post(
        st,
        peer,
        req,
        "host:AssumeRole",
        host_api::MAX_LOGIN_BODY,
        crate::host_sts::serve_assume,
    )
    .await
}

/// `POST /host/v1/revoke-session`: a host's `iam-sts revoke-session` (see
/// [`crate::host_sts`]).
async fn host_revoke(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let serve = crate::host_sts::serve_revoke;
    host_post(
        st,
        peer,
        req,
        "host:RevokeSession",
        host_api::MAX_LOGIN_BODY,
        serve,
    )
    .await
}

/// A signed JSON `POST` of the host API: read the body, serve it on a store thread, audit
/// a refused credential.
async fn host_post(
    st: Arc<AppState>,
    peer: SocketAddr,
    req: Request,
    action: &'static str,
    max_body: usize,
    serve: impl FnOnce(&dyn Store, &[u8], &HttpRequest, i64) -> host_api::Served + Send + 'static,
) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, max_body).await else {
        let e = ApiError::new("InvalidParameterValue", "the request body is too large");
        return json_response(e.status, &host_api::error_body(&e));
    };
    let http = http_request(&parts, &bytes, peer);
    // The body may hold a password: wiped once served.
    drop(bytes);
    let key = Arc::clone(&st.secrets_key);
    let hint = host_api::key_hint(&http);
    let ip = http.source_ip.clone();
    let mut http = http;
    let served = st
        .pool
        .run(move |s| {
            let out = serve(s, &key, &http, now());
            zeroize::Zeroize::zeroize(&mut http.body);
            out
        })
        .await;
    let served = match served {
        Ok(s) => s,
        Err(u) => {
            let e = ApiError::from(u);
            return json_response(e.status, &host_api::error_body(&e));
        }
    };
    let code = served.body["Error"]["Code"].as_str().map(str::to_string);
    if let (None, Some(c)) = (&served.caller, &code) {
        let e = ApiError::new(c, served.body["Error"]["Message"].as_str().unwrap_or(""));
        st.audit.send(
            Some(host_api::audit(action, None, &hint, &ip, now(), &Err(e))),
            None,
        );
    }
    st.metrics
        .observe(action, code.as_deref().unwrap_or("OK"), started.elapsed());
    json_response(served.status, &served.body)
}
