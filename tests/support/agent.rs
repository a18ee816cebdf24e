//! Fleet mode on one machine for the host-side suites: an `iamd` serving a SQLite store
//! over plain HTTP on loopback, and `iam-agent`s keeping replicas of it. Waits read the
//! store's own version, so a test never races the agent's next sync.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Proc, bin, wait_until};

/// The line an agent logs after each replica it writes, followed by the store version.
const SYNCED: &str = "replica at store version ";

/// `iamd --http` on the store `db`, listening on 127.0.0.1:`port`, its stderr in `log`;
/// returns once it accepts connections.
pub fn spawn_iamd(db: &Path, port: u16, log: &Path) -> Proc {
    let p = Proc(
        Command::new(bin("iamd"))
            .arg("--db")
            .arg(db)
            .arg("--http")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("PAM_IAM_USERDB", "off")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_until(Duration::from_secs(30), "iamd listening", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    p
}

/// `iam-agent --config cfg`, its stderr in `log`; returns once its first replica is
/// written and its socket exists.
pub fn spawn_agent(cfg: &Path, log: &Path, socket: &Path) -> Proc {
    let p = Proc(
        Command::new(bin("iam-agent"))
            .arg("--config")
            .arg(cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_until(Duration::from_secs(30), "the agent's first replica", || {
        replica_version(log).is_some() && socket.exists()
    });
    p
}

/// `iam-agent --config cfg` started again, its stderr appended to `log`; returns at once
/// (a restarted agent may have no server to reach).
pub fn respawn_agent(cfg: &Path, log: &Path) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Proc(
        Command::new(bin("iam-agent"))
            .arg("--config")
            .arg(cfg)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// The store version of the SQLite store `db`: what a replica must reach to carry every
/// change committed so far.
pub fn store_version(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("SELECT version FROM store_version WHERE id = 1", [], |r| {
        r.get(0)
    })
    .unwrap()
}

/// The store version of the last replica the agent logging to `log` wrote.
pub fn replica_version(log: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .filter_map(|l| l.split_once(SYNCED))
        .filter_map(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .next_back()
}

/// Waits until the agent logging to `log` holds a replica at least as new as the store
/// `db` is now (so every change committed before the call has reached the host).
pub fn wait_for_replica(db: &Path, log: &Path, what: &str) {
    let want = store_version(db);
    wait_until(Duration::from_secs(30), what, || {
        replica_version(log).is_some_and(|v| v >= want)
    });
}
