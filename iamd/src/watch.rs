//! The store-version watcher behind the host API's long polls: it publishes each new
//! store version to the waiting pulls ([`crate::server::AppState::version`]).
//!
//! On PostgreSQL it listens ([`pam_iam_postgres::listen`]): the version stamp notifies
//! at commit, on one dedicated connection per `iamd`, so a change wakes the pulls at
//! once and an idle store costs one round trip every [`LIVENESS`] (the listener reads
//! the version then: it proves the connection alive and catches anything missed). While
//! that connection is down (not yet made, lost, a failover, a frozen server), the
//! watcher reads the version through the store threads every [`VERSION_POLL`], as every
//! `iamd` did before, until the listener is back. On SQLite (one host, no server to
//! notify) it always reads the version every [`VERSION_POLL`]: one indexed read of one
//! row, and `PRAGMA data_version` would save little.

use crate::server::AppState;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How often the watcher reads the store version while nothing notifies it.
pub const VERSION_POLL: Duration = Duration::from_millis(100);

/// How often the listener reads the version (liveness); it counts as down when it has
/// not done so for twice as long.
pub const LIVENESS: Duration = Duration::from_secs(2);

/// Start the watcher once (the first long poll does).
pub fn start(st: &Arc<AppState>) {
    st.watching.call_once(|| {
        // Unix ms of the listener's last round trip (0: none).
        let alive = Arc::new(AtomicI64::new(0));
        if let Some(url) = st.listen_url.clone() {
            let (st, alive) = (Arc::clone(st), Arc::clone(&alive));
            let spawned = std::thread::Builder::new()
                .name("version-listen".into())
                .spawn(move || listen(&url, &st, &alive));
            if let Err(e) = spawned {
                eprintln!("iamd: cannot start the store version listener ({e}); polling");
            }
        }
        let st = Arc::clone(st);
        tokio::spawn(async move {
            loop {
                let fresh = now_ms() - alive.load(Ordering::SeqCst) < 2 * ms(LIVENESS);
                if !fresh {
                    if let Ok(Ok(v)) = st.pool.run(|s| s.store_version()).await {
                        exact(&st, v);
                    }
                }
                tokio::time::sleep(VERSION_POLL).await;
            }
        });
    });
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, ms)
}

/// The version read from the store: authoritative (it may also go down, a store
/// restored).
fn exact(st: &AppState, v: i64) {
    st.version.send_if_modified(|old| {
        let changed = *old != v;
        *old = v;
        changed
    });
}

/// A version notified: committed, so at least this.
fn at_least(st: &AppState, v: i64) {
    st.version.send_if_modified(|old| {
        let changed = v > *old;
        if changed {
            *old = v;
        }
        changed
    });
}

/// The listener's thread: connect, read the version, wait for notices; on any error,
/// say so once, leave the polling to the watcher, and connect again a second later.
fn listen(url: &str, st: &AppState, alive: &AtomicI64) {
    let mut down_said = false;
    loop {
        let mut l = match pam_iam_postgres::listen::VersionListener::connect(url) {
            Ok(l) => l,
            Err(e) => {
                if !down_said {
                    eprintln!(
                        "iamd: store version listener: {e}; reading the version every 100 ms until it is back"
                    );
                    down_said = true;
                }
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let lost = loop {
            match l.current() {
                Ok(v) => {
                    exact(st, v);
                    alive.store(now_ms(), Ordering::SeqCst);
                }
                Err(e) => break e,
            }
            if down_said {
                eprintln!("iamd: store version listener connected: woken by notifications");
                down_said = false;
            }
            match l.wait(LIVENESS) {
                Ok(Some(v)) => at_least(st, v),
                Ok(None) => {}
                Err(e) => break e,
            }
        };
        alive.store(0, Ordering::SeqCst);
        eprintln!(
            "iamd: store version listener: {lost}; reading the version every 100 ms until it is back"
        );
        down_said = true;
        std::thread::sleep(Duration::from_secs(1));
    }
}
