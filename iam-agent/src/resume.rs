//! An agent's start from the replica it kept (migration 18, `replica_origin`): when the
//! replica is intact and of this host and credential, its first pull names the store
//! and version it holds, so the server answers a delta (or the whole view when its
//! store is another one or its change log no longer reaches that far); any other
//! replica is emptied before anything is decided on it, and the whole view is pulled.
//!
//! Until the first answer after the start, a resumed replica is exactly the view the
//! host last synced, so the offline rules decide on it as they would have before the
//! restart: from the last sync kept in offline.db (never reset by a restart, so
//! `offline_max_age` and "the local clock earlier than the last sync" count from the
//! real last answer), and with the host offline (`pam-iam:Offline` true, the session
//! cap from the kept last contact) until a server answers. An emptied replica knows no
//! user: nothing is decided offline until a server has sent the whole view.

use crate::config::HostCredentials;
use pam_iam::store::Store;
use pam_iam::store::replica::{self, Held, Replica, Unresumable};

/// What the first pull may name: `Some` to resume from, `None` for the whole view (the
/// replica then holds nothing). Logs which and why.
///
/// # Errors
/// The replica cannot be read, or cannot be emptied (then it must not be served).
pub fn at_start(store: &dyn Store, creds: &HostCredentials) -> Result<Option<Held>, String> {
    let err = |e: pam_iam::store::StoreError| format!("the replica: {e}");
    let origin = store.replica_origin().map_err(err)?;
    let holds = store.store_version().map_err(err)?;
    let schema = store.schema_version().map_err(err)?;
    match replica::resume(origin.as_ref(), &creds.host, &creds.key_id, holds, schema) {
        Ok(held) => {
            crate::log(&format!(
                "resuming from the replica at store version {} of store {} (host {}): the first pull asks for what changed since",
                held.version, held.store_id, creds.host
            ));
            Ok(Some(held))
        }
        Err(why) => {
            if why == Unresumable::NoOrigin && holds == 0 {
                crate::log("no replica yet: pulling the whole view");
                return Ok(None);
            }
            // Emptied before the socket is served: a view of another host or store
            // (or one the agent did not write) never decides a login here.
            let empty = Replica {
                account_id: store.account_id().map_err(err)?,
                schema_version: schema,
                store_version: 0,
                host: creds.host.clone(),
                tables: Vec::new(),
            };
            store
                .import_replica(&empty)
                .map_err(|e| format!("cannot empty the replica ({why}): {e}"))?;
            crate::log(&format!(
                "discarded the kept replica (store version {holds}): {why}; nothing is decided on it, pulling the whole view"
            ));
            Ok(None)
        }
    }
}
