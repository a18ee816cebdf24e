//! The servers under load, each started here on a free loopback port and stopped when
//! dropped: iamd on a fresh SQLite store, iamd on a throwaway PostgreSQL 15 cluster
//! (`pam_iam_postgres::testing`, as the tests run it), and moto's server.

use crate::sign::Key;
use pam_iam_postgres::testing;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server under load.
pub struct Running {
    /// Its name in the figures (`iamd-sqlite`, `iamd-postgres`, `iamd-postgres-tcp`,
    /// `moto`).
    pub name: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    /// A key allowed everything (iamd's root key; any key for moto).
    pub admin: Key,
    child: Child,
    dir: tempfile::TempDir,
    postgres: Option<testing::Server>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(pg) = &self.postgres {
            pg.stop();
        }
    }
}

impl Running {
    /// The server's process id (for `perf`, CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system, seconds) the server has used so far: iamd's or moto's
    /// process, plus every PostgreSQL process of its cluster (the postmaster and its
    /// children: the backends serving iamd, the WAL writer, …).
    pub fn cpu_seconds(&self) -> Option<f64> {
        let mut total = cpu_of(self.child.id())?.0;
        for pid in self.postgres_pids() {
            total += cpu_of(pid)?.0;
        }
        Some(total)
    }

    /// The processes of its PostgreSQL cluster: the postmaster and its children (the
    /// backends serving iamd, the WAL writer, …); none for the other servers.
    fn postgres_pids(&self) -> Vec<u32> {
        let Some(pm) = self
            .postgres
            .as_ref()
            .and_then(testing::Server::pid)
            .and_then(|p| u32::try_from(p).ok())
        else {
            return Vec::new();
        };
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
            .filter(|&pid| pid == pm || cpu_of(pid).is_some_and(|(_, ppid)| ppid == pm))
            .collect()
    }

    /// Puts the PostgreSQL processes in the measured run's scheduling group weight:
    /// each PostgreSQL process calls `setsid()`, so it is an autogroup of its own at
    /// nice 0 and a run raised with `BENCH_AUTOGROUP_NICE` would leave the database
    /// competing with other sessions' builds while iamd does not. Backends started
    /// later (none in a run: iamd keeps its connections) are not covered.
    ///
    /// # Errors
    /// A process whose autogroup cannot be set (not root).
    pub fn set_postgres_autogroup(&self, nice: i32) -> Result<(), String> {
        for pid in self.postgres_pids() {
            std::fs::write(format!("/proc/{pid}/autogroup"), nice.to_string())
                .map_err(|e| format!("/proc/{pid}/autogroup: {e}"))?;
        }
        Ok(())
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

/// The programs to run.
#[derive(Clone, Debug)]
pub struct Programs {
    /// The `iam` CLI (makes the root key on the store).
    pub iam: PathBuf,
    /// `iamd`.
    pub iamd: PathBuf,
    /// moto's `moto_server`.
    pub moto_server: Option<PathBuf>,
}

/// CPU seconds (user + system) and parent of process `pid`, from /proc/PID/stat.
fn cpu_of(pid: u32) -> Option<(f64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // Linux's USER_HZ (the unit of /proc/PID/stat) is 100 on every Debian architecture.
    Some((ticks / 100.0, ppid))
}

fn free_addr() -> Result<SocketAddr, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))
}

/// Wait until `GET path` answers 200.
fn wait_ready(addr: SocketAddr, path: &str, child: &mut Child, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!(
                "exited ({st}) before answering: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            ));
        }
        if let Ok(mut c) = TcpStream::connect(addr) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            let _ = c.write_all(req.as_bytes());
            let mut s = String::new();
            let _ = c.read_to_string(&mut s);
            if s.starts_with("HTTP/1.1 200") || s.starts_with("HTTP/1.0 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "not ready in 60 s: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    ))
}

/// `iam create-access-key` (a root key) on the store at `db`.
fn root_key(iam: &Path, db: &str, secrets: &Path) -> Result<Key, String> {
    let out = Command::new(iam)
        .args(["--db", db, "create-access-key"])
        .env("PAM_IAM_SECRETS_KEY", secrets)
        .env("PAM_IAM_INSECURE_STORE", "1")
        .env("PAM_IAM_USERDB", "off")
        .env_remove("PAM_IAM_DB")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", iam.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "iam create-access-key: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("iam create-access-key: {e}: {text}"))?;
    match (
        v["AccessKey"]["AccessKeyId"].as_str(),
        v["AccessKey"]["SecretAccessKey"].as_str(),
    ) {
        (Some(id), Some(secret)) => Ok(Key {
            id: id.into(),
            secret: secret.into(),
        }),
        _ => Err(format!("iam create-access-key printed no key: {text}")),
    }
}

fn iamd(
    name: &'static str,
    p: &Programs,
    dir: tempfile::TempDir,
    db: &str,
    extra: &[String],
    postgres: Option<testing::Server>,
) -> Result<Running, String> {
    let secrets = dir.path().join("secrets.key");
    let admin = root_key(&p.iam, db, &secrets)?;
    let addr = free_addr()?;
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(&p.iamd)
        .args(["--db", db, "--http", "--listen", &addr.to_string()])
        .arg("--secrets-key")
        .arg(&secrets)
        .args(extra)
        .env("PAM_IAM_INSECURE_STORE", "1")
        .env("PAM_IAM_USERDB", "off")
        .env_remove("PAM_IAM_DB")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("{}: {e}", p.iamd.display()))?;
    if let Err(e) = wait_ready(addr, "/healthz", &mut child, &log_path) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("{name}: {e}"));
    }
    Ok(Running {
        name,
        addr,
        admin,
        child,
        dir,
        postgres,
    })
}

/// iamd on a fresh SQLite store; `extra` are more iamd flags (`--workers N`).
///
/// # Errors
/// What could not be started.
pub fn iamd_sqlite(p: &Programs, extra: &[String]) -> Result<Running, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("iam.db");
    let db = db
        .to_str()
        .ok_or("a temporary path that is not UTF-8")?
        .to_string();
    iamd("iamd-sqlite", p, dir, &db, extra, None)
}

/// How iamd reaches its PostgreSQL cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgLink {
    /// The cluster's Unix socket, as iamd on the database's own host would connect.
    Socket,
    /// TCP over loopback (`127.0.0.1`), as to a database elsewhere.
    Tcp,
}

/// iamd on a fresh throwaway PostgreSQL 15 cluster (`fsync=off` as in the tests; as the
/// `postgres` user when run as root), reached over `link`.
///
/// # Errors
/// PostgreSQL missing or not starting, or iamd not starting.
pub fn iamd_postgres(p: &Programs, extra: &[String], link: PgLink) -> Result<Running, String> {
    if !Path::new(testing::BIN).join("initdb").exists() {
        return Err(format!(
            "PostgreSQL 15 is not installed ({}): apt-get install postgresql",
            testing::BIN
        ));
    }
    let pg = testing::Server::start()?;
    let (name, url) = match link {
        PgLink::Tcp => ("iamd-postgres-tcp", pg.url("iam")),
        PgLink::Socket => {
            let socket_dir = pg
                .dir
                .to_str()
                .ok_or("a temporary path that is not UTF-8")?
                .replace('%', "%25")
                .replace('/', "%2F");
            (
                "iamd-postgres",
                format!("postgres://postgres@{socket_dir}:{}/iam", pg.port),
            )
        }
    };
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    iamd(name, p, dir, &url, extra, Some(pg))
}

/// moto's server (`moto_server`), which checks no signature and enforces no policy.
///
/// # Errors
/// It could not be started.
pub fn moto(p: &Programs) -> Result<Running, String> {
    let prog = p.moto_server.as_ref().ok_or("no moto_server given")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let addr = free_addr()?;
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(prog)
        .args(["-H", "127.0.0.1", "-p", &addr.port().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("{}: {e}", prog.display()))?;
    if let Err(e) = wait_ready(addr, "/moto-api/", &mut child, &log_path) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("moto: {e}"));
    }
    Ok(Running {
        name: "moto",
        addr,
        admin: Key {
            id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        },
        child,
        dir,
        postgres: None,
    })
}
