//! The `iam` CLI driver: a temporary store, the real binary, and assertions on what an
//! administrator sees (stdout JSON, one stderr line, exit status, and that a failed
//! command left the store byte-for-byte unchanged).
//!
//! The backend switch: `PAM_IAM_TEST_BACKEND=postgres` runs the same test bodies on a
//! fresh database of a throwaway PostgreSQL cluster (`pam_iam_postgres::testing`, one
//! server per test binary) instead of a temporary SQLite file. Tests about the SQLite
//! file itself use [`Cli::sqlite`] and are named `sqlite_…`; the PostgreSQL run skips
//! them (`--skip sqlite_`, scripts/test).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `iam` binary under test.
pub fn iam() -> PathBuf {
    super::bin("iam")
}

/// Which store backend the CLI tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file (the default).
    Sqlite,
    /// A fresh database on the test binary's throwaway PostgreSQL server.
    Postgres,
}

/// The backend `PAM_IAM_TEST_BACKEND` selects (`sqlite`, the default, or `postgres`).
pub fn backend() -> Backend {
    match std::env::var("PAM_IAM_TEST_BACKEND").as_deref() {
        Err(_) | Ok("" | "sqlite") => Backend::Sqlite,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => panic!("PAM_IAM_TEST_BACKEND={other:?}: use sqlite or postgres"),
    }
}

/// A store (temporary, or one a test set up) and helpers to run `iam` against it.
pub struct Cli {
    /// Holds a temporary directory (the SQLite store's, or the test's own files).
    tmp: Option<tempfile::TempDir>,
    /// The SQLite store's path (unused on PostgreSQL: see [`Cli::location`]).
    pub db: PathBuf,
    /// What `PAM_IAM_DB` gets: the SQLite path or the PostgreSQL URL.
    pub location: String,
    /// The PostgreSQL database (port, name) when the store is one.
    pg: Option<(u16, String)>,
}

impl Default for Cli {
    fn default() -> Self {
        Self::new()
    }
}

impl Cli {
    /// A fresh store on the selected [`backend`]: a path in a new temporary directory
    /// (created by the first command that writes), or a new PostgreSQL database.
    pub fn new() -> Cli {
        match backend() {
            Backend::Sqlite => Cli::sqlite(),
            Backend::Postgres => Cli::postgres_on(pam_iam_postgres::testing::shared().expect(
                "PAM_IAM_TEST_BACKEND=postgres needs PostgreSQL 15 (apt-get install postgresql)",
            )),
        }
    }

    /// A fresh database on `server` whatever the backend switch says: for tests about
    /// PostgreSQL itself (a server of their own to stop or to hold).
    pub fn postgres_on(server: &pam_iam_postgres::testing::Server) -> Cli {
        let name = server.fresh_db_name().unwrap();
        let dir = tempfile::tempdir().unwrap();
        Cli {
            db: dir.path().join("not-a-sqlite-store"),
            tmp: Some(dir),
            location: server.url(&name),
            pg: Some((server.port, name)),
        }
    }

    /// The PostgreSQL database's name, when the store is one.
    pub fn pg_database(&self) -> Option<&str> {
        self.pg.as_ref().map(|(_, n)| n.as_str())
    }

    /// A temporary SQLite store whatever the backend switch says: for tests about the
    /// store file itself (its modes, its bytes, an old file's migration).
    pub fn sqlite() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store/iam.db");
        Cli {
            location: db.display().to_string(),
            tmp: Some(dir),
            db,
            pg: None,
        }
    }

    /// The SQLite store at `db`, which the test owns.
    pub fn at(db: impl Into<PathBuf>) -> Cli {
        let db = db.into();
        Cli {
            tmp: None,
            location: db.display().to_string(),
            db,
            pg: None,
        }
    }

    /// Whether the store is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The environment `iam` needs for this store (`PAM_IAM_DB`, and for PostgreSQL,
    /// which is not a file, where its secrets key lives).
    pub fn envs(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        let mut v = vec![("PAM_IAM_DB", self.location.clone().into())];
        if self.is_postgres() {
            v.push((
                "PAM_IAM_SECRETS_KEY",
                self.dir().join("pam_iam_secrets.key").into_os_string(),
            ));
        }
        v
    }

    /// The store, opened in-process (for what only PAM or iamd would write: failures,
    /// audit rows from other services).
    pub fn store(&self) -> Box<dyn pam_iam::store::Store> {
        pam_iam::store::register_server_backend(pam_iam_postgres::open);
        let mut opts = pam_iam::store::OpenOptions::new(
            self.location.as_str(),
            pam_iam::store::OpenMode::ReadWrite,
        );
        if self.is_postgres() {
            // The key `iam` and iamd get (see [`Cli::envs`]), never the host's.
            opts.secrets_key = self.dir().join("pam_iam_secrets.key");
        }
        pam_iam::store::open(&opts).unwrap_or_else(|e| panic!("{}: {e}", self.location))
    }

    /// A directory for the test's own files: the temporary directory, or the store's.
    pub fn dir(&self) -> &Path {
        match &self.tmp {
            Some(t) => t.path(),
            None => self.db.parent().expect("a store path has a parent"),
        }
    }

    /// `iam ARGS` on this store, not yet run.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(iam());
        c.args(args)
            .envs(self.envs())
            .env_remove("PAM_IAM_INSECURE_STORE");
        c
    }

    /// Run with stdin text (or /dev/null).
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        super::spawn(&mut self.cmd(args), stdin)
            .wait_with_output()
            .unwrap()
    }

    /// Run with stdin from /dev/null.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, None)
    }

    /// Succeeds; returns parsed stdout JSON (Null when nothing printed).
    pub fn ok(&self, args: &[&str]) -> Value {
        self.ok_with(args, None)
    }

    /// [`Cli::ok`] with stdin text.
    pub fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let out = self.run_with(args, stdin);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "iam {args:?} failed: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "iam {args:?} wrote to stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
        }
    }

    /// Succeeds; returns raw stdout.
    pub fn ok_raw(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "iam {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The database content (a `.dump`), to prove a failed command changed nothing.
    pub fn dump(&self) -> String {
        if let Some((port, name)) = &self.pg {
            return pg_dump(*port, name);
        }
        if !self.db.exists() {
            return String::new();
        }
        let c = rusqlite::Connection::open_with_flags(
            &self.db,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut out = String::new();
        let mut tables = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let names: Vec<String> = tables
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for t in names {
            let mut st = c
                .prepare(&format!("SELECT * FROM \"{t}\" ORDER BY 1, 2"))
                .unwrap();
            let n = st.column_count();
            let rows: Vec<String> = st
                .query_map([], |r| {
                    Ok((0..n)
                        .map(|i| cell(r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            out.push_str(&format!("{t}: {rows:?}\n"));
        }
        out
    }

    /// Runs one SQL statement on the store's database, on either backend, and returns
    /// its rows (columns joined by `|`, one row a line): for a state no command
    /// makes (a key of an old schema, another account id) and for reading raw tables.
    pub fn sql(&self, sql: &str) -> String {
        let rows: Vec<String> = if let Some((port, name)) = &self.pg {
            let mut c = pg_client(*port, name);
            c.simple_query(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or("NULL").to_string())
                            .collect::<Vec<_>>()
                            .join("|"),
                    ),
                    _ => None,
                })
                .collect()
        } else {
            let c = rusqlite::Connection::open(&self.db).unwrap();
            let mut st = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            let n = st.column_count();
            let mut out = Vec::new();
            let mut rows = st.raw_query();
            while let Some(r) = rows.next().unwrap_or_else(|e| panic!("{sql}: {e}")) {
                out.push(
                    (0..n)
                        .map(|i| cell(r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"),
                );
            }
            out
        };
        rows.iter().map(|r| format!("{r}\n")).collect()
    }

    /// Fails with `code` (exit 254, one stderr line naming the code) and changes nothing.
    pub fn err(&self, args: &[&str], code: &str) -> String {
        self.err_with(args, None, code)
    }

    /// [`Cli::err`] with stdin text.
    pub fn err_with(&self, args: &[&str], stdin: Option<&str>, code: &str) -> String {
        let before = self.dump();
        let out = self.run_with(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(254),
            "iam {args:?}: expected failure {code}, got {:?}: {stderr}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "iam {args:?}: stderr must be one line: {stderr}"
        );
        assert!(
            stderr.contains(&format!("({code})")),
            "iam {args:?}: expected {code}: {stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "iam {args:?}: printed on failure: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(
            before,
            self.dump(),
            "iam {args:?} changed the store although it failed"
        );
        stderr
    }

    /// The store's account id (creating the store if it does not exist yet).
    pub fn account(&self) -> String {
        let u = self.ok(&["get-account-summary"]);
        assert!(u["SummaryMap"].is_object());
        let v = self.ok(&["list-host-tags", "--host-name", "x"]);
        v["Arn"]
            .as_str()
            .unwrap()
            .split(':')
            .nth(4)
            .unwrap()
            .to_string()
    }

    /// `iam create-user --user-name NAME`.
    pub fn user(&self, name: &str) -> Value {
        self.ok(&["create-user", "--user-name", name])
    }
}

/// Allows host:Login everywhere.
pub const ALLOW_LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;
/// Trusts every principal to assume the role.
pub const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;

fn cell(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef::*;
    match v {
        Null => "NULL".into(),
        Integer(i) => i.to_string(),
        Real(f) => f.to_string(),
        Text(t) => String::from_utf8_lossy(t).into_owned(),
        Blob(b) => format!("{b:?}"),
    }
}

/// A client of database `name` on the test server at `port`.
fn pg_client(port: u16, name: &str) -> postgres::Client {
    postgres::Client::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname={name}"),
        postgres::NoTls,
    )
    .unwrap()
}

/// Every table's rows of a PostgreSQL database, in a stable order (sequences, which a
/// failed INSERT may advance, are not content).
fn pg_dump(port: u16, name: &str) -> String {
    let mut c = pg_client(port, name);
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = String::new();
    for t in tables {
        let rows: Vec<String> = c
            .query(&format!("SELECT t::text FROM \"{t}\" t ORDER BY 1"), &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        out.push_str(&format!("{t}: {rows:?}\n"));
    }
    out
}
