//! The fleet harness: a whole fleet on one machine, with the real programs. A
//! PostgreSQL primary and its streaming synchronous standby
//! ([`pam_iam_postgres::testing`]), `iamd` instances over that store (a multi-host URL:
//! they follow a promoted standby), and N hosts, each a private directory with its own
//! `iam-agent`, replica, socket path, host credentials and its own `socat` relays to the
//! servers, so that killing one host's relays partitions that host alone.
//!
//! Used by the fleet tests (`iam-agent/tests/fleet_*.rs`), the fleet benchmarks
//! (`iam-agent/examples/bench_fleet.rs`) and the demo (`scripts/demo-fleet`). It sits on
//! the one harness of the whole-program tests (`tests/support`, included as
//! `crate::support`): its binaries, sandboxes, sshd and pamtester.
//!
//! Everything runs in private mount and network namespaces entered by the calling thread
//! ([`enter_private_namespaces`]): its own loopback, and overlays on /etc, /run and
//! /var/lib (the server's secrets key, /etc/pam-iam, /run/pam-iam) that nothing outside
//! sees. Every process is started in a process group of its own and killed by that id
//! (socat's forked children with it); the PostgreSQL servers by their postmaster PID.

#![allow(dead_code)]

pub mod tls;

use crate::support;
use pam_iam_postgres::testing::Server as Pg;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The server's secrets key (sealing host credentials): the default for a server store,
/// inside the namespace's /var/lib overlay.
pub const SECRETS_KEY: &str = pam_iam::store::DEFAULT_SECRETS_KEY;

/// Unshare this thread's mount and network namespaces (children it starts inherit
/// them): a private loopback, and /etc, /run, /var/lib as overlays whose upper layers
/// live in `scratch`. Needs root.
///
/// # Panics
/// When not root or a mount fails.
pub fn enter_private_namespaces(scratch: &Path) {
    // SAFETY: unshare(2) with namespace flags only; CLONE_NEWNS implies CLONE_FS, which
    // a thread of a multi-threaded process may unshare (CLONE_NEWUSER could not).
    let r = unsafe { libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWNET) };
    assert_eq!(
        r,
        0,
        "unshare(CLONE_NEWNS|CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    let mut script = String::from("set -e\nmount --make-rprivate /\nip link set lo up\n");
    for d in ["etc", "run", "var/lib"] {
        let up = scratch.join(format!("ovl/{d}/up"));
        let work = scratch.join(format!("ovl/{d}/work"));
        script += &format!(
            "mkdir -p {up} {work}\nmount -t overlay overlay -o lowerdir=/{d},upperdir={up},workdir={work} /{d}\n",
            up = up.display(),
            work = work.display()
        );
    }
    script += "mkdir -p /etc/pam-iam /run/pam-iam\ninstall -d -m 0700 /var/lib/pam-iam\n";
    sh(&script);
}

/// Runs a bash script that must succeed.
pub fn sh(script: &str) -> String {
    let o = Command::new("bash")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    assert!(
        o.status.success(),
        "script failed: {script}\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A child in a process group of its own, killed (the whole group, SIGKILL) and reaped on
/// drop.
pub struct Proc {
    child: Option<Child>,
    /// Its PID (= its process group).
    pub pid: i32,
}

impl Proc {
    /// Starts `cmd` in a new process group.
    ///
    /// # Panics
    /// When it cannot be started.
    pub fn spawn(cmd: &mut Command) -> Proc {
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        Proc {
            pid: child.id() as i32,
            child: Some(child),
        }
    }

    /// SIGKILL to its process group, then reap it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on the process group this harness created for its child.
            unsafe { libc::kill(-self.pid, libc::SIGKILL) };
            let _ = c.wait();
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits up to `limit` for `f`; how long it took.
///
/// # Panics
/// On timeout, naming `what`.
pub fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    loop {
        if f() {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A free port on this namespace's loopback.
pub fn free_port() -> u16 {
    support::sandbox::free_port()
}

/// A raw HTTP/1.1 exchange with 127.0.0.1:`port` (the request must close).
pub fn http(port: u16, req: &str) -> Option<String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    c.write_all(req.as_bytes()).ok()?;
    let mut s = String::new();
    c.read_to_string(&mut s).ok()?;
    Some(s)
}

/// Whether an `iamd` answers `/healthz` on `port`.
pub fn healthy(port: u16) -> bool {
    http(
        port,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .is_some_and(|s| s.starts_with("HTTP/1.1 200"))
}

/// Whether an `iamd` serving TLS answers `/healthz` on `port` (liveness only: the
/// certificate is not checked here, a test may have given it a wrong one on purpose).
pub fn healthy_tls(port: u16) -> bool {
    Command::new("curl")
        .args(["-ksf", "--max-time", "5", "-o", "/dev/null"])
        .arg(format!("https://127.0.0.1:{port}/healthz"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An access key (the account's root key, for the AWS CLI).
#[derive(Debug, Clone)]
pub struct Key {
    /// AKIA…
    pub id: String,
    /// Its secret.
    pub secret: String,
}

/// One row of the store's audit trail (`iam list-audit-events`).
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// The user it is about.
    pub user: String,
    /// `authenticate`, `host:VerifyLogin`, …
    pub action: String,
    /// `allow`, `deny`, `error`.
    pub decision: String,
    /// Why (`host/web-01: …` for a login decided by `iamd`).
    pub reason: String,
    /// PAM_RHOST of the login (a test's attempt tag, see [`login`]).
    pub rhost: String,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many hosts (named `web-01`, `web-02`, …).
    pub hosts: usize,
    /// How many `iamd` instances.
    pub servers: usize,
    /// Start each host's agent (false: the caller drives the host API itself).
    pub agents: bool,
    /// The agents' long-poll wait.
    pub wait_seconds: u64,
    /// A SQLite store file instead of PostgreSQL (for comparisons; no failover).
    pub sqlite: bool,
    /// Print each `iam` and `aws` command before running it (the demo).
    pub show: bool,
    /// The agents' `offline_max_age` (seconds); `None` leaves the agent's default. Each
    /// host always has its own `offline` state file beside its replica.
    pub offline_max_age: Option<i64>,
    /// TLS: each `iamd` serves a certificate for 127.0.0.1 signed by a CA made in the
    /// fleet's directory ([`tls`], openssl); the agents use `https://` and that CA as
    /// `ca_file`, the AWS CLI its `--ca-bundle` (the relays carry the TLS bytes as they
    /// are).
    pub tls: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            hosts: 2,
            servers: 2,
            agents: true,
            wait_seconds: 20,
            sqlite: false,
            show: false,
            offline_max_age: None,
            tls: false,
        }
    }
}

/// One `iamd` over the fleet's store.
pub struct Iamd {
    /// Its port on loopback.
    pub port: u16,
    /// Its log (stderr).
    pub log: PathBuf,
    proc: Option<Proc>,
}

impl Iamd {
    /// Whether it is running.
    pub fn running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(Proc::running)
    }

    /// Its PID (while running).
    pub fn pid(&self) -> Option<i32> {
        self.proc.as_ref().map(|p| p.pid)
    }
}

/// One host: a private directory with its agent, replica, socket, credentials, relays.
pub struct Host {
    /// Host name (`web-01`).
    pub name: String,
    /// Its private directory.
    pub dir: PathBuf,
    /// Its host credentials file (0600).
    pub credentials: PathBuf,
    /// Its replica.
    pub replica: PathBuf,
    /// Its agent's offline state (material, watermarks, journal).
    pub offline: PathBuf,
    /// The socket its agent serves.
    pub socket: PathBuf,
    /// agent.toml.
    pub config: PathBuf,
    /// Its `pam_iam.conf` (agent mode: its socket and replica), named by `conf=` on the
    /// pam_iam lines of its PAM services.
    pub pam_conf: PathBuf,
    /// The agent's log (stderr).
    pub log: PathBuf,
    /// The relays' listening ports (one per server, in the servers' order).
    pub relay_ports: Vec<u16>,
    upstream: Vec<u16>,
    relays: Vec<Proc>,
    /// While [`Host::drop_packets`] holds the relay ports: their listeners and the
    /// connections that fill their queues.
    droppers: Vec<(std::net::TcpListener, TcpStream)>,
    agent: Option<Proc>,
}

impl Host {
    /// Cut this host off: kill its relays (and the connections they carry).
    pub fn partition(&mut self) {
        for r in &mut self.relays {
            r.kill();
        }
        self.relays.clear();
    }

    /// Cut this host off by a partition that drops packets rather than refusing them:
    /// its relays are killed and each relay port is held by a listener whose accept
    /// queue (backlog 0) is filled by one connection and never served, so the kernel
    /// drops every further SYN and the agent's connections time out, as behind a
    /// firewall's DROP.
    pub fn drop_packets(&mut self) {
        self.partition();
        for &p in &self.relay_ports {
            // The relay's forked children, killed with it, may hold its socket a moment.
            let mut l = None;
            wait_until(Duration::from_secs(10), "the relay port free", || {
                l = backlog_zero_listener(p);
                l.is_some()
            });
            let l = l.unwrap();
            let filler = TcpStream::connect(("127.0.0.1", p)).expect("fill the queue");
            self.droppers.push((l, filler));
        }
        // Checked: a new connection is not accepted.
        for &p in &self.relay_ports {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], p));
            assert!(
                TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
                "port {p} still accepts"
            );
        }
    }

    /// Whether its relays run.
    pub fn connected(&self) -> bool {
        !self.relays.is_empty()
    }

    /// Start its relays again, on the same ports.
    pub fn reconnect(&mut self) {
        self.droppers.clear();
        assert!(self.relays.is_empty(), "{} is connected", self.name);
        for (&listen, &to) in self.relay_ports.iter().zip(&self.upstream) {
            self.relays.push(relay(listen, to));
        }
        for &p in &self.relay_ports {
            wait_until(Duration::from_secs(10), "a relay to listen", || {
                TcpStream::connect(("127.0.0.1", p)).is_ok()
            });
        }
    }

    /// Start its agent (configured by [`Fleet::start`]).
    pub fn start_agent(&mut self) {
        assert!(self.agent.is_none(), "{}'s agent runs", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        self.agent = Some(Proc::spawn(
            Command::new(support::bin("iam-agent"))
                .arg("--config")
                .arg(&self.config)
                .stdout(Stdio::null())
                .stderr(log),
        ));
    }

    /// Kill its agent.
    pub fn stop_agent(&mut self) {
        self.agent = None;
    }

    /// The agent's log so far.
    pub fn agent_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The store version the replica holds.
    pub fn replica_version(&self) -> Option<i64> {
        self.query("SELECT version FROM store_version", |r| r.get(0))
    }

    /// Whether `sql` (a `SELECT count(*) …`) counts more than 0 rows in the replica.
    pub fn replica_has(&self, sql: &str) -> bool {
        self.query(sql, |r| r.get::<_, i64>(0))
            .is_some_and(|n| n > 0)
    }

    /// One row of `sql` on the replica (read-only), or `None` when it cannot be read.
    pub fn query<T>(
        &self,
        sql: &str,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<T> {
        let c = rusqlite::Connection::open_with_flags(
            &self.replica,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()?;
        // By pragma: rusqlite's busy_timeout() needs SQLite 3.44 (Debian 12 has 3.40).
        c.execute_batch("PRAGMA busy_timeout = 5000").ok()?;
        c.query_row(sql, [], f).ok()
    }

    /// Whether the replica has user `name`.
    pub fn has_user(&self, name: &str) -> bool {
        self.replica_has(&format!(
            "SELECT count(*) FROM users WHERE name = '{}'",
            name.replace('\'', "''")
        ))
    }

    /// `iam --db REPLICA ARGS` (read-only use of the replica by the local tools).
    pub fn iam(&self, args: &[&str]) -> Output {
        Command::new(support::bin("iam"))
            .arg("--db")
            .arg(&self.replica)
            .args(args)
            .env("PAM_IAM_USERDB", "off")
            .output()
            .unwrap()
    }
}

impl Host {
    /// The PAM stack of this host in agent mode (auth and account through `pam_iam.so`
    /// with this host's `pam_iam.conf`; `host=` its name).
    pub fn stack(&self) -> String {
        format!(
            "auth required {{module}} conf={c} fail_delay=0\naccount required {{module}} conf={c} host={h}\nsession required pam_permit.so\n",
            c = self.pam_conf.display(),
            h = self.name
        )
    }

    /// A sandbox for this host's logins: the Linux accounts `users` (name, uid), PAM
    /// services `fleet-login` and `sshd` with [`Host::stack`].
    pub fn sandbox(&self, users: &[(&str, u32)]) -> support::sandbox::Sandbox {
        let mut sb = support::sandbox::Sandbox::new();
        for (u, uid) in users {
            sb.user(u, *uid);
        }
        let stack = self.stack();
        sb.service("fleet-login", &stack).service("sshd", &stack);
        sb
    }

    /// Whether the agent serves its socket.
    pub fn serving(&self) -> bool {
        self.socket.exists()
    }
}

/// How a login ended, from pamtester's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// authenticate and acct_mgmt succeeded.
    Allowed,
    /// Refused as wrong (PAM_AUTH_ERR, PAM_PERM_DENIED, …): a decision.
    Denied,
    /// Nothing decided (PAM_AUTHINFO_UNAVAIL: no agent or no server answer).
    Unavailable,
}

/// pamtester's outcome, classified.
pub fn classify(out: &support::Outcome) -> Login {
    let all = format!("{}{}", out.stdout, out.stderr);
    if out.ok() && all.contains("successfully authenticated") {
        Login::Allowed
    } else if all.contains("Authentication information cannot be recovered")
        || all.contains("Authentication service cannot retrieve")
    {
        Login::Unavailable
    } else {
        Login::Denied
    }
}

/// One login on a host: pamtester `fleet-login USER authenticate acct_mgmt` in that
/// host's sandbox ([`Host::sandbox`]), answering the prompts with `answers`, with
/// PAM_RHOST = `tag` (letters, digits, `-`, `.`): the store's audit row of the attempt
/// carries it as its remote host, so rows can be counted per attempt.
pub fn login(
    sb: &support::sandbox::Sandbox,
    user: &str,
    answers: &[&str],
    tag: &str,
) -> support::Outcome {
    assert!(
        tag.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
        "{tag:?}"
    );
    let input = sb.write(
        &format!("answers.{tag}"),
        &(answers.join("\n") + "\n"),
        0o600,
    );
    let out = sb.run(
        &format!(
            "timeout 60 pamtester -v -I rhost={tag} fleet-login {user} authenticate acct_mgmt < {}",
            input.display()
        ),
        Duration::from_secs(90),
    );
    let _ = std::fs::remove_file(&input);
    out
}

/// A listener on 127.0.0.1:`port` with a backlog of 0 (std's has 128): one queued
/// connection fills it. `None` while the port is still in use.
fn backlog_zero_listener(port: u16) -> Option<std::net::TcpListener> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns; on success it is
    // handed to a TcpListener, which closes it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&raw const one).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let r = libc::bind(
            fd,
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let l = std::net::TcpListener::from_raw_fd(fd);
        if r != 0 {
            return None;
        }
        assert_eq!(
            libc::listen(fd, 0),
            0,
            "listen: {}",
            std::io::Error::last_os_error()
        );
        Some(l)
    }
}

/// A `socat` relay 127.0.0.1:`listen` → 127.0.0.1:`to`, one forked child per connection,
/// all in one process group.
fn relay(listen: u16, to: u16) -> Proc {
    Proc::spawn(
        Command::new("socat")
            .arg(format!("TCP-LISTEN:{listen},bind=127.0.0.1,reuseaddr,fork"))
            .arg(format!("TCP:127.0.0.1:{to}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// The fleet.
pub struct Fleet {
    /// Everything lives here (removed on drop).
    pub dir: tempfile::TempDir,
    /// The PostgreSQL servers: primary, then its synchronous standby (none for a SQLite
    /// store).
    pub pg: Option<(Pg, Pg)>,
    /// The store URL every server and the `iam` CLI use: both PostgreSQL servers,
    /// whichever is writable.
    pub url: String,
    /// The account's root key (for the AWS CLI against `iamd`).
    pub root_key: Key,
    /// The account id.
    pub account: String,
    /// The key sealing secrets at rest, shared by `iamd` and the `iam` CLI (beside a
    /// SQLite store; the server default, in the namespace's /var/lib, for PostgreSQL).
    pub secrets_key: PathBuf,
    /// The servers.
    pub servers: Vec<Iamd>,
    /// The hosts.
    pub hosts: Vec<Host>,
    /// With [`Options::tls`]: the CA (each host's `ca_file`) and the certificate the
    /// servers start with (a test may put another one here, then restart a server).
    pub tls: Option<(tls::Ca, tls::ServerCert)>,
    opts: Options,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.hosts.clear();
        self.servers.clear();
        if let Some((primary, standby)) = &self.pg {
            standby.stop();
            primary.stop();
        }
    }
}

/// A host's name: `web-01` … `web-NN`.
pub fn host_name(i: usize) -> String {
    format!("web-{:02}", i + 1)
}

impl Fleet {
    /// Builds and starts the fleet in this thread's private namespaces (entered here):
    /// PostgreSQL primary + synchronous standby, `opts.servers` × `iamd`, `opts.hosts`
    /// hosts with relays and (when `opts.agents`) running agents.
    ///
    /// # Panics
    /// When any part cannot start (with its log).
    pub fn start(opts: Options) -> Fleet {
        let dir = tempfile::Builder::new()
            .prefix("pam-iam-fleet.")
            .tempdir()
            .unwrap();
        enter_private_namespaces(dir.path());
        let (pg, url, account, root) = if opts.sqlite {
            let db = dir.path().join("server/iam.db");
            std::fs::create_dir_all(db.parent().unwrap()).unwrap();
            std::fs::set_permissions(db.parent().unwrap(), std::fs::Permissions::from_mode(0o700))
                .unwrap();
            let url = db.display().to_string();
            let root = iam_at(&url, &["create-access-key"]);
            let account = rusqlite::Connection::open(&db)
                .and_then(|c| c.query_row("SELECT account_id FROM account", [], |r| r.get(0)))
                .unwrap();
            (None, url, account, root)
        } else {
            postgres_pair()
        };
        let root_key = Key {
            id: root["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
            secret: root["AccessKey"]["SecretAccessKey"]
                .as_str()
                .unwrap()
                .into(),
        };
        let secrets_key = if opts.sqlite {
            PathBuf::from(&url).with_file_name(pam_iam::store::SECRETS_KEY_FILE)
        } else {
            PathBuf::from(SECRETS_KEY)
        };
        let tls = opts.tls.then(|| {
            let d = dir.path().join("tls");
            let ca = tls::make_ca(&d, "fleet");
            let cert = tls::issue(&ca, &d, "iamd", "IP:127.0.0.1");
            (ca, cert)
        });
        let mut f = Fleet {
            tls,
            dir,
            pg,
            url,
            root_key,
            account,
            secrets_key,
            servers: Vec::new(),
            hosts: Vec::new(),
            opts: opts.clone(),
        };
        for _ in 0..opts.servers {
            let port = free_port();
            let s = f.start_iamd(port);
            f.servers.push(s);
        }
        for i in 0..opts.hosts {
            let h = f.add_host(&host_name(i));
            f.hosts.push(h);
        }
        if opts.agents {
            for h in &mut f.hosts {
                h.start_agent();
            }
        }
        f
    }

    /// A path in the fleet's directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn start_iamd(&self, port: u16) -> Iamd {
        let log = self.path(&format!("iamd-{port}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut cmd = Command::new(support::bin("iamd"));
        cmd.args(["--db", &self.url, "--secrets-key"])
            .arg(&self.secrets_key)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        match &self.tls {
            Some((_, c)) => cmd
                .arg("--tls-cert")
                .arg(&c.cert)
                .arg("--tls-key")
                .arg(&c.key),
            None => cmd.arg("--http"),
        };
        let mut p = Proc::spawn(
            cmd.env("PAM_IAM_USERDB", "off")
                .stdout(Stdio::null())
                .stderr(out),
        );
        let t0 = Instant::now();
        let up = |port| {
            if self.tls.is_some() {
                healthy_tls(port)
            } else {
                healthy(port)
            }
        };
        while !up(port) {
            assert!(
                p.running() && t0.elapsed() < Duration::from_secs(30),
                "iamd did not become healthy: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Iamd {
            port,
            log,
            proc: Some(p),
        }
    }

    /// Kill `iamd` number `i` (SIGKILL).
    pub fn kill_iamd(&mut self, i: usize) {
        self.servers[i].proc = None;
    }

    /// Start `iamd` number `i` again on its port.
    pub fn restart_iamd(&mut self, i: usize) {
        assert!(self.servers[i].proc.is_none(), "iamd {i} runs");
        let s = self.start_iamd(self.servers[i].port);
        self.servers[i] = s;
    }

    /// A new host: its directory, credentials (issued on the store), relays and
    /// agent.toml (the agent is not started).
    pub fn add_host(&self, name: &str) -> Host {
        let dir = self.path(&format!("hosts/{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        // The replica's directory: root only, as the store's safety checks demand.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let credentials = dir.join("host-credentials.json");
        self.iam(&[
            "create-host-credentials",
            "--host-name",
            name,
            "--credentials-file",
            credentials.to_str().unwrap(),
        ]);
        let upstream: Vec<u16> = self.servers.iter().map(|s| s.port).collect();
        let relay_ports: Vec<u16> = upstream.iter().map(|_| free_port()).collect();
        let replica = dir.join("replica.db");
        // Always the host's own offline state, whatever the agent's default.
        let offline = dir.join("offline.db");
        let socket = dir.join("agent.sock");
        let config = dir.join("agent.toml");
        let pam_conf = dir.join("pam_iam.conf");
        std::fs::write(
            &pam_conf,
            format!(
                "# {name}: logins through this host's iam-agent\nmode = agent\nsocket = {}\nreplica = {}\ntimeout_seconds = 20\n",
                socket.display(),
                replica.display()
            ),
        )
        .unwrap();
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let servers: Vec<String> = relay_ports
            .iter()
            .map(|p| format!("\"{scheme}://127.0.0.1:{p}\""))
            .collect();
        let ca_file = self.tls.as_ref().map_or(String::new(), |(ca, _)| {
            format!("ca_file = {:?}\n", ca.cert)
        });
        std::fs::write(
            &config,
            format!(
                "servers = [{}]\n{ca_file}credentials = {:?}\nreplica = {:?}\nsocket = {:?}\noffline = {:?}\nwait_seconds = {}\nretry_seconds = 1\n{}",
                servers.join(", "),
                credentials,
                replica,
                socket,
                offline,
                self.opts.wait_seconds,
                self.opts
                    .offline_max_age
                    .map_or(String::new(), |age| format!("offline_max_age = {age}\n")),
            ),
        )
        .unwrap();
        let mut h = Host {
            name: name.into(),
            log: dir.join("agent.log"),
            dir,
            credentials,
            replica,
            offline,
            socket,
            config,
            pam_conf,
            relay_ports,
            upstream,
            relays: Vec::new(),
            droppers: Vec::new(),
            agent: None,
        };
        h.reconnect();
        h
    }

    /// `iam ARGS` on the fleet's store, which must succeed; its JSON (or null).
    ///
    /// # Panics
    /// When it fails.
    pub fn iam(&self, args: &[&str]) -> Value {
        self.show("iam", args);
        iam_at(&self.url, args)
    }

    fn show(&self, prog: &str, args: &[&str]) {
        if self.opts.show {
            let quoted: Vec<String> = args
                .iter()
                .map(|a| {
                    if a.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c))
                    {
                        a.to_string()
                    } else {
                        support::shell_quote(a)
                    }
                })
                .collect();
            println!("\x1b[2m$ {prog} {}\x1b[0m", quoted.join(" "));
        }
    }

    /// `iam ARGS` on the fleet's store: the raw output.
    pub fn iam_out(&self, args: &[&str]) -> Output {
        iam_cmd(&self.url, args).output().unwrap()
    }

    /// The AWS CLI (`IAMD_AWS_VENV`) against `iamd` number `server`, as the root key.
    /// `None` when the venv is absent outside CI (the caller skips).
    ///
    /// # Panics
    /// Under `CI=true` without the venv.
    pub fn aws(&self, server: usize, args: &[&str]) -> Option<Output> {
        let venv = aws_venv()?;
        self.show("aws", args);
        let (scheme, bundle) = match &self.tls {
            Some((ca, _)) => ("https", vec!["--ca-bundle".into(), ca.cert.clone()]),
            None => ("http", vec![]),
        };
        Some(
            Command::new(venv.join("bin/aws"))
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("AWS_ACCESS_KEY_ID", &self.root_key.id)
                .env("AWS_SECRET_ACCESS_KEY", &self.root_key.secret)
                .env("AWS_DEFAULT_REGION", "eu-west-1")
                .env("AWS_CONFIG_FILE", "/dev/null")
                .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
                .env("AWS_MAX_ATTEMPTS", "1")
                .arg("--endpoint-url")
                .arg(format!(
                    "{scheme}://127.0.0.1:{}",
                    self.servers[server].port
                ))
                .args(bundle)
                .args(["--output", "json"])
                .args(args)
                .output()
                .unwrap(),
        )
    }

    /// [`Fleet::aws`], which must succeed; its JSON (or null).
    pub fn aws_ok(&self, server: usize, args: &[&str]) -> Option<Value> {
        let o = self.aws(server, args)?;
        assert!(
            o.status.success(),
            "aws {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        Some(serde_json::from_slice(&o.stdout).unwrap_or(Value::Null))
    }

    /// With the AWS CLI (`iamd` number 0): user `name` with `password` (no reset
    /// required), in group `web` ([`Fleet::aws_web_group`]). `None` when the AWS CLI is
    /// absent outside CI.
    pub fn aws_password_user(&self, name: &str, password: &str) -> Option<()> {
        self.aws_ok(0, &["iam", "create-user", "--user-name", name])?;
        self.aws_ok(
            0,
            &[
                "iam",
                "create-login-profile",
                "--user-name",
                name,
                "--password",
                password,
                "--no-password-reset-required",
            ],
        )?;
        self.aws_web_group(name)
    }

    /// With the AWS CLI (`iamd` number 0): user `name` with `password` and an enabled
    /// virtual MFA device, in group `web` whose inline policy allows `host:Login` on
    /// `host/web-*` (made on first use). Returns the device's base32 seed, or `None`
    /// when the AWS CLI is absent outside CI.
    pub fn aws_mfa_user(&self, name: &str, password: &str) -> Option<String> {
        self.aws_password_user(name, password)?;
        let seed_file = self.path(&format!("{name}.seed"));
        self.aws_ok(
            0,
            &[
                "iam",
                "create-virtual-mfa-device",
                "--virtual-mfa-device-name",
                name,
                "--outfile",
                seed_file.to_str().unwrap(),
                "--bootstrap-method",
                "Base32StringSeed",
            ],
        )?;
        let seed = std::fs::read_to_string(&seed_file)
            .unwrap()
            .trim()
            .to_string();
        let now = support::now();
        self.aws_ok(
            0,
            &[
                "iam",
                "enable-mfa-device",
                "--user-name",
                name,
                "--serial-number",
                &format!("arn:aws:iam::{}:mfa/{name}", self.account),
                "--authentication-code1",
                &support::totp::code_at(&seed, now - 60),
                "--authentication-code2",
                &support::totp::code_at(&seed, now - 30),
            ],
        )?;
        Some(seed)
    }

    /// With the AWS CLI: `name` joins group `web` (allowed `host:Login` on `host/web-*`).
    pub fn aws_web_group(&self, name: &str) -> Option<()> {
        let listed = self.aws_ok(0, &["iam", "list-groups"])?;
        if !listed.to_string().contains("\"web\"") {
            self.aws_ok(0, &["iam", "create-group", "--group-name", "web"])?;
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"host:Login","Resource":"arn:aws:iam::{}:host/web-*"}}]}}"#,
                self.account
            );
            self.aws_ok(
                0,
                &[
                    "iam",
                    "put-group-policy",
                    "--group-name",
                    "web",
                    "--policy-name",
                    "web-login",
                    "--policy-document",
                    &doc,
                ],
            )?;
        }
        self.aws_ok(
            0,
            &[
                "iam",
                "add-user-to-group",
                "--group-name",
                "web",
                "--user-name",
                name,
            ],
        )?;
        Some(())
    }

    /// The store's audit rows (of `user`, or all), oldest first.
    pub fn audit(&self, user: Option<&str>) -> Vec<AuditRow> {
        let mut args = vec!["list-audit-events"];
        if let Some(u) = user {
            args.extend(["--user-name", u]);
        }
        let v = self.iam(&args);
        let rows = v["Events"].as_array().cloned().unwrap_or_default();
        rows.iter()
            .map(|e| {
                let f = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                AuditRow {
                    user: f("UserName"),
                    action: f("Action"),
                    decision: f("Decision"),
                    reason: f("Reason"),
                    rhost: f("RemoteHost"),
                }
            })
            .collect()
    }

    /// Wait until every host's replica satisfies `f`; the time each took.
    pub fn wait_all(
        &self,
        limit: Duration,
        what: &str,
        f: impl Fn(&Host) -> bool,
    ) -> Vec<Duration> {
        let t0 = Instant::now();
        let mut done: Vec<Option<Duration>> = vec![None; self.hosts.len()];
        while done.iter().any(Option::is_none) {
            for (i, h) in self.hosts.iter().enumerate() {
                if done[i].is_none() && f(h) {
                    done[i] = Some(t0.elapsed());
                }
            }
            if t0.elapsed() > limit {
                let late: Vec<&str> = self
                    .hosts
                    .iter()
                    .zip(&done)
                    .filter(|(_, d)| d.is_none())
                    .map(|(h, _)| h.name.as_str())
                    .collect();
                panic!(
                    "timed out after {limit:?} waiting for {what} on {late:?}; first agent log:\n{}",
                    self.hosts
                        .iter()
                        .find(|h| late.contains(&h.name.as_str()))
                        .map(Host::agent_log)
                        .unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        done.into_iter().flatten().collect()
    }

    /// `kill -9` the primary's postmaster (its backends follow it).
    pub fn kill_primary(&self) {
        let (primary, _) = self.pg.as_ref().expect("a PostgreSQL fleet");
        assert!(primary.pid().is_some(), "the primary runs");
        primary.signal_and_wait(libc::SIGKILL);
    }

    /// Promote the standby (the store URL names both: every client finds the new
    /// primary by itself).
    pub fn promote_standby(&self) {
        let (_, standby) = self.pg.as_ref().expect("a PostgreSQL fleet");
        standby.promote().unwrap_or_else(|e| panic!("promote: {e}"));
    }
}

/// A PostgreSQL primary with the store's schema and a root key, and its synchronous
/// standby: the servers, the URL naming both, the account id, `create-access-key`'s JSON.
fn postgres_pair() -> (Option<(Pg, Pg)>, String, String, Value) {
    let primary = Pg::start().unwrap_or_else(|e| panic!("PostgreSQL primary: {e}"));
    // The schema and the root key exist before the standby is cloned.
    let root = iam_at(&primary.url("iam"), &["create-access-key"]);
    let account = primary
        .psql("iam", "SELECT account_id FROM account")
        .unwrap_or_else(|e| panic!("{e}"))
        .trim()
        .to_string();
    let standby = Pg::standby_of(&primary, "s1").unwrap_or_else(|e| panic!("standby: {e}"));
    primary
        .make_synchronous("s1")
        .unwrap_or_else(|e| panic!("{e}"));
    let url = pam_iam_postgres::testing::read_write_url(&[&standby, &primary], "iam");
    (Some((primary, standby)), url, account, root)
}

/// The AWS CLI venv (`IAMD_AWS_VENV`, made by scripts/test), or `None` (skip) outside CI.
///
/// # Panics
/// Under `CI=true` when it is missing.
pub fn aws_venv() -> Option<PathBuf> {
    match std::env::var_os("IAMD_AWS_VENV") {
        Some(p) if Path::new(&p).join("bin/aws").exists() => Some(PathBuf::from(p)),
        _ => {
            support::skip("set IAMD_AWS_VENV to the AWS CLI venv scripts/test makes");
            None
        }
    }
}

fn iam_cmd(url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(support::bin("iam"));
    c.arg("--db")
        .arg(url)
        .args(args)
        .env("PAM_IAM_USERDB", "off")
        .stdin(Stdio::null());
    c
}

/// `iam --db URL ARGS`, which must succeed; its JSON (or null).
///
/// # Panics
/// When it fails.
pub fn iam_at(url: &str, args: &[&str]) -> Value {
    let o = iam_cmd(url, args).output().unwrap();
    assert!(
        o.status.success(),
        "iam {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}
