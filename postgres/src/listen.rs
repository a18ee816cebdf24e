//! The store version's notifications (migration 17): the commit-time stamp of every
//! replicated change runs `pg_notify('pam_iam_store_version', version)`, which
//! PostgreSQL delivers to listeners when (and only if) the transaction commits, in
//! commit order. `iamd` listens on one dedicated connection ([`VersionListener`]) instead
//! of reading the version every 100 ms, and goes back to reading it while this
//! connection is down.

use crate::conninfo::Target;
use crate::hosts::STORE_VERSION;
use pam_iam::store::{Result, StoreError};
use postgres::fallible_iterator::FallibleIterator;
use std::time::Duration;

/// The channel the version stamp notifies (the payload is the new version).
pub const CHANNEL: &str = "pam_iam_store_version";

/// The listening connection's `application_name` (how it shows in `pg_stat_activity`).
pub const APPLICATION_NAME: &str = "iamd-version-listener";

/// One connection listening on [`CHANNEL`] (to the writable host of a multi-host URL
/// with `target_session_attrs=read-write`: a standby refuses `LISTEN`).
pub struct VersionListener {
    client: postgres::Client,
    describe: String,
}

impl VersionListener {
    /// Connects to the store at `url` and listens.
    ///
    /// # Errors
    /// The connection failed (one line naming the host), or `LISTEN` was refused.
    pub fn connect(url: &str) -> Result<VersionListener> {
        let target = Target::parse(url)?;
        let mut client = target.connect(true)?;
        let describe = target.describe().to_string();
        client
            .batch_execute(&format!(
                "SET application_name = '{APPLICATION_NAME}'; LISTEN {CHANNEL}"
            ))
            .map_err(|e| failed(&describe, &e))?;
        Ok(VersionListener { client, describe })
    }

    /// The store version now (read after `LISTEN`, so a version committed before the
    /// listener began is not missed; and a round trip that proves the connection alive).
    ///
    /// # Errors
    /// The connection is lost.
    pub fn current(&mut self) -> Result<i64> {
        let r = self
            .client
            .query_one(STORE_VERSION, &[])
            .map_err(|e| failed(&self.describe, &e))?;
        r.try_get(0).map_err(|e| failed(&self.describe, &e))
    }

    /// The highest version notified within `timeout` (`None`: none came).
    ///
    /// # Errors
    /// The connection is lost.
    pub fn wait(&mut self, timeout: Duration) -> Result<Option<i64>> {
        let mut best: Option<i64> = None;
        let mut note = |payload: &str| {
            if let Ok(v) = payload.parse::<i64>() {
                best = Some(best.map_or(v, |b: i64| b.max(v)));
            }
        };
        let mut n = self.client.notifications();
        // Up to `timeout` for the first notice (a closed connection ends it with an
        // error), then whatever else has already arrived.
        let fail = |e: postgres::Error| failed(&self.describe, &e);
        let first = n.timeout_iter(timeout).next().map_err(fail)?;
        if let Some(m) = first {
            note(m.payload());
            let mut rest = n.iter();
            while let Some(m) = rest.next().map_err(fail)? {
                note(m.payload());
            }
        }
        Ok(best)
    }
}

fn failed(describe: &str, e: &postgres::Error) -> StoreError {
    StoreError::Database(format!("the store version listener at {describe}: {e}"))
}
