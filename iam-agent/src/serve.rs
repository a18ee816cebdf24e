//! `/run/pam-iam/agent.sock`: the agent serves `pam_iam.so` and `iam-sts` (one
//! request per connection, [`pam_iam::fleet::proto`]). Only root callers and the
//! configured `iam-sts` helper are served (SO_PEERCRED). A login is forwarded to
//! `iamd` ([`iamd::host_api`]) along the server list: any answer from a server is
//! final; only when no server can be reached (no connection, timeout) do the offline
//! rules decide ([`crate::offline`]).

use crate::client;
use crate::config::{Config, HostCredentials, Server};
use crate::offline::{Decided, Offline};
use crate::ship::Shipper;
use iamd::host_api;
use pam_iam::credentials::ExpiryFacts;
use pam_iam::credentials::offline::{Held, Material};
use pam_iam::fleet::proto::{self, Answer, LoginRequest, Request};
use serde::Serialize;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;
use zeroize::Zeroizing;

/// What the replica loop and the socket share.
pub struct Shared {
    /// The server that answered last (tried first).
    pub current: AtomicUsize,
    /// A server answered the last call.
    pub online: AtomicBool,
    /// Connections being served.
    busy: AtomicUsize,
    /// The store version of the replica on disk (0: none yet).
    pub replica_version: AtomicI64,
    /// Unix seconds of the last answer from a server (0: none since the start).
    pub last_contact: AtomicI64,
    /// Unix seconds of the agent's start.
    pub started: i64,
    /// Per server (in the list's order): when (milliseconds since the agent's start,
    /// plus one) the last call to it failed without a connection
    /// ([`client::Reach::Unreached`]), with no answer since; 0 while it is up or not
    /// tried yet. Set by any call that found it so (the sync loop, the shipper, a
    /// login), cleared by any answer.
    down_at: Vec<AtomicI64>,
    /// The clock of `down_at`.
    clock: std::time::Instant,
}

/// A server marked down counts as such for at most this long without a new failure
/// (the sync loop tries it again every `retry_seconds` while every server is down).
const DOWN_FOR: Duration = Duration::from_secs(30);

impl Shared {
    /// Nothing known yet, of `servers` servers.
    pub fn new(servers: usize) -> Shared {
        Shared {
            current: AtomicUsize::new(0),
            online: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            replica_version: AtomicI64::new(0),
            last_contact: AtomicI64::new(0),
            started: crate::now(),
            down_at: (0..servers).map(|_| AtomicI64::new(0)).collect(),
            clock: std::time::Instant::now(),
        }
    }

    /// A server answered now.
    pub fn contact(&self) {
        self.online.store(true, Ordering::SeqCst);
        self.last_contact.fetch_max(crate::now(), Ordering::SeqCst);
    }

    fn millis(&self) -> i64 {
        i64::try_from(self.clock.elapsed().as_millis()).unwrap_or(i64::MAX) + 1
    }

    /// Server `k` answered (`up`), or a call to it failed with `reach`: a failure
    /// without a connection marks it down (unless it is already), an answer up.
    pub fn mark(&self, k: usize, outcome: Result<(), client::Reach>) {
        let Some(d) = self.down_at.get(k) else {
            return;
        };
        match outcome {
            Ok(()) => d.store(0, Ordering::SeqCst),
            Err(client::Reach::Unreached) => d.store(self.millis(), Ordering::SeqCst),
            // It accepted the connection: not down (maybe slow).
            Err(client::Reach::Connected) => {}
        }
    }

    /// Whether server `k` is known to be down: the last call to it found no
    /// connection, within [`DOWN_FOR`], and nothing answered since.
    pub fn known_down(&self, k: usize) -> bool {
        self.down_at.get(k).is_some_and(|d| {
            let at = d.load(Ordering::SeqCst);
            at != 0 && self.millis() - at < i64::try_from(DOWN_FOR.as_millis()).unwrap_or(0)
        })
    }

    /// The connection timeout of an interactive call to server `k`: the short
    /// [`client::QUICK_CONNECT`] when it is known to be down, so that on a partition
    /// that drops packets each login does not wait the full [`client::CONNECT_TIMEOUT`]
    /// per server again (the sync loop, always waiting the full timeout, marks it up
    /// again once it answers).
    pub fn connect_timeout(&self, k: usize) -> Duration {
        if self.known_down(k) {
            client::QUICK_CONNECT
        } else {
            client::CONNECT_TIMEOUT
        }
    }
}

/// The most connections served at once (each is a PAM conversation's few calls).
const MAX_BUSY: usize = 64;
/// How long a refused caller's request is waited for.
const REFUSED_READ: Duration = Duration::from_millis(200);
/// A caller that sends nothing for this long is dropped.
const CALLER_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a connection needs.
pub(crate) struct Ctx {
    servers: Vec<Server>,
    creds: HostCredentials,
    replica: PathBuf,
    sts_helper: Option<PathBuf>,
    pub(crate) shared: Arc<Shared>,
    offline: Arc<Offline>,
    /// Ships the offline journal (woken by every answer and offline decision).
    pub(crate) shipper: Arc<Shipper>,
    /// Seconds role sessions are honoured offline after the last contact.
    pub(crate) session_cap: u64,
}

/// Bind the socket (root's, in a root-owned 0755 directory; the socket itself 0666 so
/// the peer check, not the file mode, decides) and serve it on a thread.
///
/// # Errors
/// The socket cannot be made.
pub fn start(
    cfg: &Config,
    creds: HostCredentials,
    shared: Arc<Shared>,
    offline: Arc<Offline>,
    shipper: Arc<Shipper>,
) -> Result<(), String> {
    let path = &cfg.socket;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let ctx = Arc::new(Ctx {
        servers: cfg.server_list(),
        creds,
        replica: cfg.replica.clone(),
        sts_helper: cfg.sts_helper.clone(),
        shared,
        offline,
        shipper,
        session_cap: cfg.offline_session_cap_seconds,
    });
    std::thread::Builder::new()
        .name("agent-socket".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                if ctx.shared.busy.fetch_add(1, Ordering::SeqCst) >= MAX_BUSY {
                    ctx.shared.busy.fetch_sub(1, Ordering::SeqCst);
                    crate::log("too many callers at once: dropping one");
                    continue;
                }
                let ctx = Arc::clone(&ctx);
                let spawned = std::thread::Builder::new()
                    .name("agent-caller".into())
                    .spawn(move || {
                        serve_one(&ctx, conn);
                        ctx.shared.busy.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    crate::log("cannot start a thread for a caller");
                }
            }
        })
        .map_err(|e| format!("cannot start the socket thread: {e}"))?;
    Ok(())
}

/// The peer's (pid, uid) from SO_PEERCRED.
fn peer(conn: &UnixStream) -> Option<(i32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the fd is an open socket of `conn`; `cred` and `len` are valid for writes
    // of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &raw mut len,
        )
    };
    (rc == 0).then_some((cred.pid, cred.uid))
}

/// Root, or the `iam-sts` helper (the executable of the peer's pid).
fn allowed(ctx: &Ctx, pid: i32, uid: u32) -> bool {
    if uid == 0 {
        return true;
    }
    let Some(helper) = &ctx.sts_helper else {
        return false;
    };
    std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == *helper)
}

fn serve_one(ctx: &Ctx, mut conn: UnixStream) {
    let _ = conn.set_read_timeout(Some(CALLER_TIMEOUT));
    let _ = conn.set_write_timeout(Some(CALLER_TIMEOUT));
    let answer = match peer(&conn) {
        Some((pid, uid)) if allowed(ctx, pid, uid) => {
            match proto::read_frame::<_, Request>(&mut conn) {
                Ok(req) => answer(ctx, req),
                Err(e) => Answer::Error {
                    reason: format!("bad request: {e}"),
                },
            }
        }
        Some((pid, uid)) => {
            // The request is read (briefly, and dropped) before the refusal, so a caller
            // still writing it gets the answer rather than a broken pipe.
            let _ = conn.set_read_timeout(Some(REFUSED_READ));
            let _ = proto::read_frame::<_, serde_json::Value>(&mut conn);
            crate::log(&format!(
                "refused a caller on the socket: pid {pid} uid {uid} is neither root nor the iam-sts helper"
            ));
            Answer::Error {
                reason: "iam-agent serves root and the iam-sts helper only".into(),
            }
        }
        None => Answer::Error {
            reason: "cannot read the caller's credentials".into(),
        },
    };
    let _ = proto::write_frame(&mut conn, &answer);
}

fn answer(ctx: &Ctx, req: Request) -> Answer {
    match req {
        Request::Status => Answer::Status {
            online: ctx.shared.online.load(Ordering::SeqCst),
        },
        Request::Prompts { user } => {
            let body = serde_json::json!({ "User": user }).to_string();
            match forward(ctx, host_api::PROMPTS_PATH, body.as_bytes()) {
                Forwarded::Answer(v) => Answer::Prompts {
                    known: v["Known"] == true,
                    mfa: v["Mfa"] == true,
                },
                Forwarded::Final(reason) => Answer::Error { reason },
                Forwarded::Unreachable => {
                    let (known, mfa) = ctx
                        .offline
                        .prompts(&user, replica_has_user(&ctx.replica, &user));
                    Answer::Prompts { known, mfa }
                }
            }
        }
        Request::Login(l) => login(ctx, &l),
        Request::AssumeRole(a) => crate::sessions::assume(ctx, &a),
        Request::SessionWindow => crate::sessions::window(ctx),
        Request::RevokeSession(r) => crate::sessions::revoke(ctx, &r),
    }
}

/// The host API's login body (secrets borrowed, serialised into a zeroizing buffer).
#[derive(Serialize)]
struct LoginBodyOut<'a> {
    #[serde(rename = "User")]
    user: &'a str,
    #[serde(rename = "Password", skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(rename = "Code", skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(rename = "Service")]
    service: Option<&'a str>,
    #[serde(rename = "Rhost")]
    rhost: Option<&'a str>,
    #[serde(rename = "Tty")]
    tty: Option<&'a str>,
    #[serde(rename = "CodeOnly")]
    code_only: bool,
    #[serde(rename = "OfflineSeconds")]
    offline_seconds: i64,
    #[serde(rename = "OfflineHeld", skip_serializing_if = "Option::is_none")]
    offline_held: Option<Held>,
}

fn login(ctx: &Ctx, l: &LoginRequest) -> Answer {
    let out = LoginBodyOut {
        user: &l.user,
        password: l.password.as_deref().map(String::as_str),
        code: l.code.as_deref().map(String::as_str),
        service: l.service.as_deref(),
        rhost: l.rhost.as_deref(),
        tty: l.tty.as_deref(),
        code_only: l.code_only,
        offline_seconds: if l.password.is_some() {
            ctx.offline.max_age
        } else {
            0
        },
        offline_held: ctx.offline.held(&l.user),
    };
    let mut body = Zeroizing::new(Vec::with_capacity(4096));
    if let Err(e) = serde_json::to_writer(&mut *body, &out) {
        return Answer::Error {
            reason: format!("cannot encode the login: {e}"),
        };
    }
    // The server decides knowing what this host decided offline (its failures counted,
    // its codes spent): the journal goes first to the server the login goes to.
    match forward_with(ctx, host_api::LOGIN_PATH, &body, true) {
        Forwarded::Answer(v) => match v["Decision"].as_str() {
            Some("Allow") => {
                if let Some(e) = v["OfflineError"].as_str() {
                    crate::log(&format!("no new offline material for {:?}: {e}", l.user));
                }
                let material = match v.get("Offline") {
                    None => None,
                    Some(m) => match serde_json::from_value::<Material>(m.clone()) {
                        Ok(mut m) => {
                            // The recovery tags travel beside the material (older
                            // agents would refuse them inside it).
                            m.recovery = serde_json::from_value(v["OfflineRecovery"].clone())
                                .unwrap_or_default();
                            Some(m)
                        }
                        Err(e) => {
                            crate::log(&format!("unreadable offline material: {e}"));
                            None
                        }
                    },
                };
                let expiry: Option<ExpiryFacts> =
                    serde_json::from_value(v["Expiry"].clone()).unwrap_or(None);
                if let Err(e) = ctx.offline.online_success(
                    &l.user,
                    material,
                    v["Watermark"].as_i64(),
                    expiry.as_ref(),
                ) {
                    crate::log(&format!("cannot keep the offline material: {e}"));
                }
                Answer::Allow {
                    reason: v["Reason"].as_str().unwrap_or("").to_string(),
                    mfa: v["Mfa"] == true,
                    offline: false,
                    auth_time: v["AuthTime"].as_i64().unwrap_or_else(crate::now),
                    expiry,
                }
            }
            Some("Deny") => Answer::Deny {
                reason: v["Reason"].as_str().unwrap_or("").to_string(),
                offline: false,
                message: None,
            },
            Some("Unknown") => {
                ctx.offline.forget(&l.user);
                Answer::Unknown
            }
            _ => Answer::Error {
                reason: format!("iamd answered an unknown decision: {v}"),
            },
        },
        Forwarded::Final(reason) => Answer::Error { reason },
        Forwarded::Unreachable => offline_login(ctx, l),
    }
}

/// A login decided by the offline rules ([`crate::offline`]); a user the replica does
/// not know is not an IAM user, offline as online.
fn offline_login(ctx: &Ctx, l: &LoginRequest) -> Answer {
    let device = match replica_user(&ctx.replica, &l.user) {
        None => {
            ctx.offline.forget(&l.user);
            return Answer::Unknown;
        }
        Some(Ok(device)) => device,
        Some(Err(e)) => {
            return Answer::Error {
                reason: format!("cannot read the user's MFA device in the replica: {e}"),
            };
        }
    };
    let decided = ctx.offline.decide(l, crate::now(), device.as_ref());
    // Journaled: shipped once a server answers again.
    ctx.shipper.kick();
    match decided {
        Ok(Decided::Allow {
            reason,
            mfa,
            expiry,
        }) => Answer::Allow {
            reason,
            mfa,
            offline: true,
            auth_time: crate::now(),
            expiry: Some(expiry),
        },
        Ok(Decided::Deny { reason }) => Answer::Deny {
            reason,
            offline: true,
            message: None,
        },
        Ok(Decided::Full { reason }) => Answer::Deny {
            reason,
            offline: true,
            message: Some(JOURNAL_FULL_MESSAGE.into()),
        },
        Err(reason) => Answer::Error { reason },
    }
}

/// What the user is told (PAM_ERROR_MSG) when an offline login is refused because the
/// journal is full.
pub const JOURNAL_FULL_MESSAGE: &str = "This host cannot reach iamd and its offline journal is full, so offline logins are refused here until the host is reconnected to iamd. Try again once the network is back, or log in on another host; tell your administrator (iam-agent's log says more).";

/// How a call to the servers went.
pub(crate) enum Forwarded {
    /// A 200 answer.
    Answer(serde_json::Value),
    /// A refusal or a server error: final, never decided offline.
    Final(String),
    /// No server could be reached: the offline rules decide.
    Unreachable,
}

/// Call the servers from the current one on; a 5xx moves to the next server (its store
/// may be down) but, if no server does better, is final.
pub(crate) fn forward(ctx: &Ctx, path: &str, body: &[u8]) -> Forwarded {
    forward_with(ctx, path, body, false)
}

/// [`forward`]; with `journal_first` (a login, a role session with a code: the server's
/// one second-factor check decides), while journal entries wait, each server is first
/// sent the journal ([`Shipper::before_login`], within [`crate::ship::BEFORE_ONLINE`]
/// of the call's start): a server that cannot be reached for it is not sent the call
/// either (the journal's attempt was the call's), so a partition costs the call no more
/// than it costs one without a journal; a server that took the journal decides with
/// this host's offline codes spent and failures counted. A server known to be down is
/// given [`client::QUICK_CONNECT`] to connect ([`Shared::connect_timeout`]).
pub(crate) fn forward_with(ctx: &Ctx, path: &str, body: &[u8], journal_first: bool) -> Forwarded {
    let n = ctx.servers.len();
    let first = ctx.shared.current.load(Ordering::SeqCst);
    let mut server_error = None;
    let deadline = std::time::Instant::now() + crate::ship::BEFORE_ONLINE;
    for i in 0..n {
        let k = (first + i) % n;
        let s = &ctx.servers[k];
        let connect = ctx.shared.connect_timeout(k);
        if journal_first {
            match ctx.shipper.before_login(k, connect, deadline) {
                crate::ship::Probe::Shipped => {}
                crate::ship::Probe::Unreached(e) => {
                    crate::log(&format!("server unreachable: {e}"));
                    continue;
                }
                crate::ship::Probe::NotYet(why) => crate::log(&format!(
                    "the journal is not shipped yet ({why}): forwarding the call to {} anyway",
                    s.url
                )),
            }
        }
        let answer = client::post_within(
            s,
            &ctx.creds,
            path,
            body,
            crate::now(),
            connect,
            client::LOGIN_TIMEOUT,
        );
        ctx.shared
            .mark(k, answer.as_ref().map(|_| ()).map_err(|e| e.1));
        match answer {
            Ok((status, v)) => {
                ctx.shared.contact();
                ctx.offline.note_contact(crate::now());
                if ctx.offline.journal_pending() {
                    ctx.shipper.kick();
                }
                ctx.shared.current.store(k, Ordering::SeqCst);
                let why = format!(
                    "{} answered HTTP {status} {}: {}",
                    s.url,
                    v["Error"]["Code"].as_str().unwrap_or(""),
                    v["Error"]["Message"].as_str().unwrap_or("")
                );
                if status == 200 {
                    return Forwarded::Answer(v);
                }
                if status < 500 {
                    crate::log(&why);
                    return Forwarded::Final(why);
                }
                crate::log(&why);
                server_error = Some(why);
            }
            Err(e) => crate::log(&format!("server unreachable: {e}")),
        }
    }
    match server_error {
        Some(why) => Forwarded::Final(why),
        None => {
            ctx.shared.online.store(false, Ordering::SeqCst);
            Forwarded::Unreachable
        }
    }
}

/// The replica, read-only.
fn open_replica(replica: &Path) -> pam_iam::store::Result<Box<dyn pam_iam::store::Store>> {
    let opts = pam_iam::store::OpenOptions {
        insecure_ok: std::env::var(pam_iam::store::ENV_INSECURE).is_ok_and(|v| v == "1"),
        ..pam_iam::store::OpenOptions::new(replica, pam_iam::store::OpenMode::ReadOnly)
    };
    pam_iam::store::open(&opts)
}

/// Whether the replica knows `user` (the prompts offline for a user without material).
fn replica_has_user(replica: &Path, user: &str) -> bool {
    open_replica(replica)
        .and_then(|s| s.auth_info(user))
        .is_ok_and(|u| u.is_some())
}

/// The replica's view of `user` for an offline login: `None` when it does not know the
/// user (or cannot be read: as [`replica_has_user`]), else the MFA device it shows the
/// user enabled, or why that cannot be read (the login is then refused, never allowed
/// on material that might not cover the user's device).
fn replica_user(
    replica: &Path,
    user: &str,
) -> Option<Result<Option<pam_iam::store::ReplicaMfaDevice>, String>> {
    let s = open_replica(replica).ok()?;
    if !s.auth_info(user).is_ok_and(|u| u.is_some()) {
        return None;
    }
    Some(s.replica_mfa_device(user).map_err(|e| e.to_string()))
}
