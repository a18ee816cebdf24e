//! Users' policy sets kept between API calls, each for the store version it was read at.
//!
//! A signed call reads its access key, the key's user and the store version in one
//! statement (`Store::access_key_credential`). Store versions are commit-ordered and
//! every change to what makes up a user's policy set (the user's name or boundary, its
//! groups and memberships, policies and their versions, attachments, inline policies)
//! takes a new one, so the policy set read at the credential's version is the one that
//! snapshot holds: reusing it decides exactly as reading it again would, and any change
//! makes every kept set miss. On PostgreSQL that saves a round trip and the statement on
//! every call; a miss reads the set and the version in one snapshot
//! (`Store::versioned_user_policies`).

use pam_iam::store::{PrincipalPolicies, Result, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Most sets kept; past it the cache starts again empty (a miss costs one read).
const MOST: usize = 4096;

/// Policy sets by user name, each with the store version it holds for.
#[derive(Debug, Default)]
pub struct PolicyCache {
    sets: Mutex<HashMap<String, (i64, Arc<PrincipalPolicies>)>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl PolicyCache {
    /// `user`'s policy set at store `version` (the version its credential was read at):
    /// the kept one when it is of that version, else read from `store`. A set read
    /// later than `version` is newer than the credential, as a second read would be.
    ///
    /// # Errors
    /// The store's, when the set has to be read.
    pub fn get(
        &self,
        store: &dyn Store,
        user: &str,
        version: i64,
    ) -> Result<Arc<PrincipalPolicies>> {
        if let Some((v, set)) = self.lock().get(user) {
            if *v == version {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Arc::clone(set));
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let (set, read_at) = store.versioned_user_policies(user)?;
        let set = Arc::new(set);
        let mut sets = self.lock();
        if sets.len() >= MOST {
            sets.clear();
        }
        sets.insert(user.to_string(), (read_at, Arc::clone(&set)));
        Ok(set)
    }

    /// Its counters in Prometheus text, for `/metrics`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, v) in [
            (
                "hits",
                "Policy sets reused at their store version.",
                &self.hits,
            ),
            ("misses", "Policy sets read from the store.", &self.misses),
        ] {
            out.push_str(&format!(
                "# HELP iamd_policy_cache_{name}_total {help}\n# TYPE iamd_policy_cache_{name}_total counter\niamd_policy_cache_{name}_total {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, Arc<PrincipalPolicies>)>> {
        // A panic while holding the lock leaves only a map of complete entries.
        self.sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
