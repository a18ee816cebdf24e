//! Expired host role sessions are deleted here, periodically: a session issued for a
//! host (fleet mode) rides that host's replica, so without this every snapshot would
//! carry every session ever issued. Deleted a day past their expiry
//! (`store::rules::HOST_SESSIONS_KEPT`, `SessionStore::prune_host_sessions`), once at
//! the start and then every hour, on a store thread; the deletion moves the store
//! version, so the hosts drop them by the normal sync. Every `iamd` sharing a store may
//! run it: the deletion is idempotent.

use crate::server::AppState;
use pam_iam::store::rules::HOST_SESSIONS_KEPT;
use std::sync::Arc;
use std::time::Duration;

/// How often expired host sessions are looked for.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Start the pruning task (inside the runtime).
pub fn start(st: Arc<AppState>) {
    tokio::spawn(async move {
        loop {
            let before = now().saturating_sub(HOST_SESSIONS_KEPT);
            match st.pool.run(move |s| s.prune_host_sessions(before)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => eprintln!(
                    "iamd: deleted {n} host role session(s) expired more than {HOST_SESSIONS_KEPT} s ago"
                ),
                Ok(Err(e)) => eprintln!("iamd: cannot delete expired host role sessions: {e}"),
                Err(e) => eprintln!("iamd: cannot delete expired host role sessions: {e:?}"),
            }
            tokio::time::sleep(PRUNE_EVERY).await;
        }
    });
}
