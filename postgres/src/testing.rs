//! Throwaway PostgreSQL servers for tests (docs/postgres.md, "Tests"): `initdb` in a
//! temporary directory (as the `postgres` user when root), started on a free loopback
//! port, stopped by the PID in `postmaster.pid`. One shared server per test binary
//! ([`shared`]), stopped at exit; a watchdog stops it too if the test binary dies.
//! Under `CI=true` a missing PostgreSQL is a failure, elsewhere a skip with a message.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where Debian's PostgreSQL 15 keeps its server programs.
pub const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running throwaway server.
#[derive(Debug)]
pub struct Server {
    /// Its directory (data directory `data/`, log `log`, socket).
    pub dir: PathBuf,
    /// Its loopback port.
    pub port: u16,
    /// The data directory.
    pub data: PathBuf,
}

fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `prog args…`, as the `postgres` user when root (initdb refuses root).
pub fn pg_command(prog: &str) -> Command {
    let path = Path::new(BIN).join(prog);
    if as_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ]);
        c.arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn run(mut c: Command, what: &str) -> Result<String, String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A free loopback port (bound and released: another process may take it first, so
/// starting retries).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(55432)
}

/// A fresh 0700 directory under /var/tmp (owned by `postgres` when root).
///
/// # Errors
/// What failed.
pub fn temp_dir() -> Result<PathBuf, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let d = PathBuf::from(format!(
        "/var/tmp/pam-iam-pg.{}.{nanos:x}",
        std::process::id()
    ));
    std::fs::create_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    if as_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(&d);
                c
            },
            "chown",
        )?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    Ok(d)
}

impl Server {
    /// Creates and starts a fresh cluster with database `iam`.
    ///
    /// # Errors
    /// What failed, with the server log.
    pub fn start() -> Result<Server, String> {
        Server::start_in(temp_dir()?, None)
    }

    /// Like [`Server::start`], in `dir` (a directory the server user owns, e.g. a small
    /// filesystem mounted there) and, when given, with the WAL in `waldir` elsewhere.
    ///
    /// # Errors
    /// What failed, with the server log.
    pub fn start_in(dir: PathBuf, waldir: Option<&Path>) -> Result<Server, String> {
        let data = dir.join("data");
        let mut c = pg_command("initdb");
        if let Some(w) = waldir {
            c.arg("-X").arg(w);
        }
        c.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        run(c, "initdb")?;
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let s = Server {
                dir: dir.clone(),
                port,
                data: data.clone(),
            };
            match s.pg_ctl_start("") {
                Ok(()) => {
                    s.watchdog();
                    s.psql("postgres", "CREATE DATABASE iam")?;
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(last)
    }

    /// Starts (again) with the same data directory and port.
    ///
    /// # Errors
    /// What failed, with the server log.
    pub fn pg_ctl_start(&self, extra: &str) -> Result<(), String> {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off -c max_connections=250 -c max_wal_senders=4 -c wal_level=replica {extra}",
            self.port,
            self.dir.display()
        );
        let mut c = pg_command("pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60", "-o", &opts, "start"]);
        run(c, "pg_ctl start").map(|_| ()).map_err(|e| {
            format!(
                "{e}\n{}",
                std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
            )
        })
    }

    /// A streaming standby of `primary` (`pg_basebackup -R`), started on its own port
    /// with `cluster_name` = `name` (the name `synchronous_standby_names` lists).
    ///
    /// # Errors
    /// What failed, with the server log.
    pub fn standby_of(primary: &Server, name: &str) -> Result<Server, String> {
        let dir = temp_dir()?;
        let data = dir.join("data");
        let mut c = pg_command("pg_basebackup");
        c.arg("-D")
            .arg(&data)
            .args([
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .arg("-p")
            .arg(primary.port.to_string());
        run(c, "pg_basebackup")?;
        let s = Server {
            dir,
            port: free_port(),
            data,
        };
        s.pg_ctl_start(&format!("-c cluster_name={name}"))?;
        s.watchdog();
        Ok(s)
    }

    /// Makes the standby started by [`Server::standby_of`] with `name` synchronous
    /// (`synchronous_standby_names = 'ANY 1 (name)'`: a commit is acknowledged once it is
    /// on both) and waits until `pg_stat_replication` says so.
    ///
    /// # Errors
    /// psql's output, or a standby that is not synchronous within 30 s.
    pub fn make_synchronous(&self, name: &str) -> Result<(), String> {
        self.psql(
            "postgres",
            &format!("ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 ({name})'"),
        )?;
        self.psql("postgres", "SELECT pg_reload_conf()")?;
        let t = Instant::now();
        let q =
            format!("SELECT sync_state FROM pg_stat_replication WHERE application_name = '{name}'");
        while self.psql("postgres", &q)?.trim() != "quorum" {
            if t.elapsed() > Duration::from_secs(30) {
                return Err(format!("standby {name} never became synchronous"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// `pg_ctl promote -w`: the standby becomes a primary.
    ///
    /// # Errors
    /// pg_ctl's output.
    pub fn promote(&self) -> Result<(), String> {
        let mut c = pg_command("pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "promote"]);
        run(c, "pg_ctl promote").map(|_| ())
    }

    /// A `postgres://` URL for database `db` as the superuser.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Runs one SQL command with psql.
    ///
    /// # Errors
    /// psql's output when it fails.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut c = pg_command("psql");
        c.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .arg("-p")
        .arg(self.port.to_string())
        .arg("-d")
        .arg(db)
        .arg("-c")
        .arg(sql);
        run(c, &format!("psql {sql}"))
    }

    /// A new empty database; its URL.
    ///
    /// # Errors
    /// psql's output when it fails.
    pub fn fresh_db(&self) -> Result<String, String> {
        Ok(self.url(&self.fresh_db_name()?))
    }

    /// A new empty database; its name.
    ///
    /// # Errors
    /// psql's output when it fails.
    pub fn fresh_db_name(&self) -> Result<String, String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("t{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(name)
    }

    /// The postmaster's PID, from `postmaster.pid`.
    pub fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Sends `sig` to the postmaster and, unless it is SIGKILL's aftermath that the
    /// caller waits for itself, waits up to 30 s for it to exit.
    pub fn signal_and_wait(&self, sig: i32) {
        let Some(pid) = self.pid() else { return };
        // SAFETY: kill has no memory preconditions; pid is the postmaster's.
        unsafe {
            libc::kill(pid, sig);
        }
        let t = Instant::now();
        while alive(pid) && t.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig` to the postmaster and every backend (its children): SIGSTOP freezes
    /// the whole server while its kernel keeps the TCP connections open, SIGCONT
    /// resumes it.
    pub fn signal_all(&self, sig: i32) {
        let Some(pid) = self.pid() else { return };
        let children = Command::new("pgrep")
            .args(["-P", &pid.to_string()])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let pids = std::iter::once(pid).chain(
            children
                .lines()
                .filter_map(|l| l.trim().parse::<i32>().ok()),
        );
        for p in pids {
            // SAFETY: kill has no memory preconditions; p is this cluster's process.
            unsafe {
                libc::kill(p, sig);
            }
        }
    }

    /// Stops the server (fast shutdown, by PID) and removes its directory.
    pub fn stop(&self) {
        self.signal_and_wait(libc::SIGINT);
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// A shell that stops this server and removes its directory once this process is
    /// gone, however it ends.
    fn watchdog(&self) {
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; p=$(head -1 {data}/postmaster.pid 2>/dev/null) && kill -INT $p 2>/dev/null; sleep 3; rm -rf {dir}",
            me = std::process::id(),
            data = self.data.display(),
            dir = self.dir.display()
        );
        let _ = Command::new("setsid")
            .args(["-f", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .and_then(|mut c| c.wait());
    }
}

/// Whether process `pid` runs: it exists and is not a zombie. In a PID namespace whose
/// init does not reap (`unshare -p -f`, as CI runs the suites), a killed postmaster
/// stays a zombie, which signal 0 still finds.
fn alive(pid: i32) -> bool {
    // SAFETY: kill has no memory preconditions; signal 0 only checks that it exists.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    // The state follows the command name in parentheses, which may hold spaces.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// A multi-host URL for database `db` on `servers` that connects to whichever is
/// writable (`target_session_attrs=read-write`, 2 s connect timeout): what a client
/// that must follow a promoted standby is given.
pub fn read_write_url(servers: &[&Server], db: &str) -> String {
    let hosts: Vec<String> = servers
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect();
    format!(
        "postgres://postgres@{}/{db}?target_session_attrs=read-write&sslmode=disable&connect_timeout=2",
        hosts.join(",")
    )
}

/// Whether PostgreSQL is installed; under `CI=true` its absence is a failure.
pub fn available() -> bool {
    if Path::new(BIN).join("initdb").exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("PostgreSQL 15 is required under CI=true: apt-get install postgresql");
    }
    eprintln!("skipped: PostgreSQL 15 is not installed ({BIN}); apt-get install postgresql");
    false
}

static SHARED: OnceLock<Option<Server>> = OnceLock::new();

extern "C" fn stop_shared() {
    if let Some(Some(s)) = SHARED.get() {
        s.stop();
    }
}

/// The server this test binary shares (started on first use, stopped at exit); `None`
/// when PostgreSQL is not installed outside CI.
///
/// # Panics
/// When the server cannot start.
pub fn shared() -> Option<&'static Server> {
    SHARED
        .get_or_init(|| {
            if !available() {
                return None;
            }
            let s = Server::start().unwrap_or_else(|e| panic!("PostgreSQL test server: {e}"));
            // SAFETY: registering a plain extern "C" function with no arguments.
            unsafe {
                libc::atexit(stop_shared);
            }
            Some(s)
        })
        .as_ref()
}

/// A fresh, empty, migrated store in a new database of the shared server.
///
/// # Panics
/// When it cannot be made.
pub fn fresh_store() -> Option<(String, Box<dyn pam_iam::store::Store>)> {
    let s = shared()?;
    let url = s.fresh_db().unwrap_or_else(|e| panic!("{e}"));
    let store = crate::open(&s.options(&url)).unwrap_or_else(|e| panic!("{url}: {e}"));
    Some((url, store))
}

/// The SQL of the login's user lookup (`$1` = the user name), for plan tests.
pub fn login_lookup_sql() -> String {
    crate::login::auth_info_sql()
}

/// The SQL of the first `n` migrations (an older store's schema, for migration tests;
/// the schema table and account row are the caller's).
pub fn migrations_sql(n: usize) -> String {
    crate::migrate::MIGRATIONS[..n].join("\n")
}

impl Server {
    /// Read-write options for database URL `url` of this server, with the secrets key
    /// in the server's directory (never the host's /var/lib/pam-iam).
    pub fn options(&self, url: &str) -> pam_iam::store::OpenOptions {
        pam_iam::store::OpenOptions {
            secrets_key: self.dir.join("pam_iam_secrets.key"),
            ..pam_iam::store::OpenOptions::new(url, pam_iam::store::OpenMode::ReadWrite)
        }
    }
}

/// What a [`Proxy`] does to the next `COMMIT` once armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitFault {
    /// Forward it, then cut the connection before the answer comes back (the server
    /// committed; the client does not know).
    DropAnswer,
    /// As `DropAnswer`, and refuse every later connection (the client cannot ask).
    DropAnswerThenRefuse,
    /// Cut the connection instead of forwarding it (the server never commits).
    DropCommit,
}

/// A loopback TCP proxy in front of a server that can lose one `COMMIT` (see
/// [`CommitFault`]): the fault a server restart or a network cut makes, at the one
/// moment that decides whether a write happened.
pub struct Proxy {
    /// The port clients connect to.
    pub port: u16,
    state: std::sync::Arc<std::sync::Mutex<ProxyState>>,
}

#[derive(Default)]
struct ProxyState {
    armed: Option<CommitFault>,
    refuse: bool,
}

impl Proxy {
    /// A proxy to `127.0.0.1:upstream`.
    ///
    /// # Panics
    /// When it cannot listen.
    pub fn start(upstream: u16) -> Proxy {
        use std::net::{Shutdown, TcpListener, TcpStream};
        let l = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        let port = l.local_addr().expect("addr").port();
        let state = std::sync::Arc::new(std::sync::Mutex::new(ProxyState::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(client) = c else { continue };
                if st.lock().map(|s| s.refuse).unwrap_or(true) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                    (Ok(a), Ok(b)) => (a, b),
                    _ => continue,
                };
                let st2 = st.clone();
                // Set before a COMMIT goes through whose answer must not come back.
                let mute = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let mute2 = mute.clone();
                // client -> server, watching for COMMIT
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let (mut from, mut to) = (client, server);
                    let mut buf = [0u8; 65536];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buf[..n];
                        let is_commit = chunk.first() == Some(&b'Q')
                            && chunk.windows(6).any(|w| w == b"COMMIT");
                        let fault = if is_commit {
                            st2.lock().ok().and_then(|mut s| s.armed.take())
                        } else {
                            None
                        };
                        match fault {
                            Some(CommitFault::DropCommit) => {}
                            Some(f) => {
                                if f == CommitFault::DropAnswerThenRefuse {
                                    if let Ok(mut s) = st2.lock() {
                                        s.refuse = true;
                                    }
                                }
                                mute.store(true, std::sync::atomic::Ordering::SeqCst);
                                let _ = to.write_all(chunk);
                                // Give the server time to commit before the cut.
                                std::thread::sleep(Duration::from_millis(300));
                            }
                            None => {
                                if to.write_all(chunk).is_err() {
                                    break;
                                }
                                continue;
                            }
                        }
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                        break;
                    }
                });
                // server -> client
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let (mut from, mut to) = (s2, c2);
                    let mut buf = [0u8; 65536];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if mute2.load(std::sync::atomic::Ordering::SeqCst) {
                            // The other pump cuts both sides once the server committed.
                            return;
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Both);
                });
            }
        });
        Proxy { port, state }
    }

    /// The next `COMMIT` meets `fault`.
    pub fn arm(&self, fault: CommitFault) {
        if let Ok(mut s) = self.state.lock() {
            s.armed = Some(fault);
        }
    }

    /// `url` (of the proxied server) with this proxy's port.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable&connect_timeout=2",
            self.port
        )
    }
}
