//! Temporary stores for the unit tests of the store's callers (PAM, iam-sts, sudo): the
//! real SQLite store in a private temporary directory, removed when dropped, with a
//! fixed account id and cheap argon2 parameters.

use std::path::PathBuf;

use super::*;

/// The account id of every temporary store.
pub(crate) const ACCOUNT: &str = "123456789012";

/// A store file in its own temporary directory.
pub(crate) struct TempStore {
    /// The database file.
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TempStore {
    /// A fresh, migrated store of account [`ACCOUNT`] with cheap password hashes.
    pub fn new() -> TempStore {
        let dir = sqlite::safe_open::private_tempdir();
        let path = dir.path().join("iam.db");
        drop(open_path(&path, OpenMode::ReadWrite).expect("temporary store"));
        let t = TempStore { path, _dir: dir };
        t.sql(&format!("UPDATE account SET account_id = '{ACCOUNT}'"));
        t.open()
            .set_hash_params(&crate::credentials::HashParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            })
            .expect("hash params");
        t
    }

    /// Another connection to the store, as a login process opens it.
    pub fn open(&self) -> Box<dyn Store> {
        open(&OpenOptions::for_login(&self.path)).expect("open temporary store")
    }

    /// Runs raw SQL on the file: for tests that damage the store behind its back.
    pub fn sql(&self, sql: &str) {
        rusqlite::Connection::open(&self.path)
            .and_then(|c| c.execute_batch(sql))
            .expect("raw SQL");
    }
}
