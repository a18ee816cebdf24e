//! `iamd`'s settings: `/etc/pam-iam/iamd.toml` (or `--config PATH`) with the same keys
//! as the command-line flags (`db`, `listen`, `tls_cert`, …); a flag given on the
//! command line wins over the file. Unknown keys and bad values are refused with one
//! line naming the key, so a typo never silently falls back to a default.

use pam_iam::fleet::reconnect::OnReplay;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the packaged configuration lives.
pub const DEFAULT_PATH: &str = "/etc/pam-iam/iamd.toml";

/// Default address when neither the file nor a flag names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// Every key the file takes, in the order `iamd(8)` lists them.
pub const KEYS: &[&str] = &[
    "db",
    "listen",
    "tls_cert",
    "tls_key",
    "http",
    "metrics_listen",
    "secrets_key",
    "workers",
    "max_connections",
    "header_timeout",
    "idle_timeout",
    "body_timeout",
    "on_replay",
    "store_timeout",
];

/// Inclusive bounds of the numeric settings (flags and file alike).
pub const WORKERS: (u64, u64) = (1, 256);
/// See [`WORKERS`].
pub const MAX_CONNECTIONS: (u64, u64) = (1, 1_000_000);
/// Seconds; see [`WORKERS`].
pub const TIMEOUT_SECS: (u64, u64) = (1, 3600);

/// Why the settings are refused: one line, naming the file and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The file is not TOML.
    #[error("{path}: line {line}: {reason}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line of the error.
        line: usize,
        /// The parser's message.
        reason: String,
    },
    /// A key iamd does not know.
    #[error("{path}: unknown key `{key}` (iamd.toml takes: {})", KEYS.join(", "))]
    UnknownKey {
        /// The file.
        path: String,
        /// The key.
        key: String,
    },
    /// A known key with a value of the wrong type or out of range.
    #[error("{path}: `{key}`: {reason}")]
    BadValue {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Settings that cannot go together (after flags and file are merged).
    #[error("{0}")]
    Conflict(String),
}

/// Settings as given by one source (the file, or the flags): `None` where it says
/// nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partial {
    /// Store location.
    pub db: Option<String>,
    /// API address.
    pub listen: Option<SocketAddr>,
    /// TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Plain HTTP.
    pub http: Option<bool>,
    /// Metrics address.
    pub metrics_listen: Option<SocketAddr>,
    /// The secrets key file.
    pub secrets_key: Option<PathBuf>,
    /// Store threads.
    pub workers: Option<usize>,
    /// Open connections at most.
    pub max_connections: Option<usize>,
    /// Seconds to send a request's head.
    pub header_timeout: Option<u64>,
    /// Seconds a connection may sit with nothing read or written.
    pub idle_timeout: Option<u64>,
    /// Seconds to send a request's body.
    pub body_timeout: Option<u64>,
    /// What a replay incident does besides being audited.
    pub on_replay: Option<OnReplay>,
    /// Seconds a request may wait for the store.
    pub store_timeout: Option<u64>,
}

/// The settings iamd runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Store location (SQLite path, `sqlite:PATH`, `postgres://…`).
    pub db: String,
    /// API address.
    pub listen: SocketAddr,
    /// Certificate and key, or `None` for plain HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Metrics address.
    pub metrics_listen: Option<SocketAddr>,
    /// The secrets key file (`None`: beside a SQLite store).
    pub secrets_key: Option<PathBuf>,
    /// Store threads.
    pub workers: usize,
    /// Connections beyond this many are closed at once.
    pub max_connections: usize,
    /// A request head (the first, or the next on a kept-alive connection) must arrive
    /// within this.
    pub header_timeout: Duration,
    /// A connection with nothing read or written for this long is closed.
    pub idle_timeout: Duration,
    /// A request body must arrive within this.
    pub body_timeout: Duration,
    /// What a replay incident found in a host's journal does besides being recorded
    /// and audited (`audit`, `lock`, `lock-and-revoke-sessions`).
    pub on_replay: OnReplay,
    /// A request whose store has not answered for this long (a frozen or unreachable
    /// PostgreSQL server), or that no store thread took up within it, is answered 503
    /// `ServiceUnavailable`.
    pub store_timeout: Duration,
}

/// Read the file at `path`. A missing file is no settings when `explicit` is false (the
/// default path), and an error when the administrator named it.
///
/// # Errors
/// [`ConfigError`] naming the file and the key.
pub fn load(path: &Path, explicit: bool) -> Result<Partial, ConfigError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&shown, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Partial::default()),
        Err(e) => Err(ConfigError::Unreadable {
            path: shown,
            reason: e.to_string(),
        }),
    }
}

/// Parse the text of a configuration file (`path` names it in errors).
///
/// # Errors
/// [`ConfigError`]: not TOML, an unknown key, a bad value.
pub fn parse(path: &str, text: &str) -> Result<Partial, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_string(),
        line: e.span().map_or(1, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        }),
        reason: e.message().trim().replace('\n', " "),
    })?;
    let mut p = Partial::default();
    for (key, value) in table {
        let bad = |reason: String| ConfigError::BadValue {
            path: path.to_string(),
            key: key.clone(),
            reason,
        };
        fn typed<T: DeserializeOwned>(v: toml::Value, what: &str) -> Result<T, String> {
            let shown = v.to_string();
            v.try_into::<T>()
                .map_err(|e| format!("{} (expected {what}, got {shown})", e.message().trim()))
        }
        let count = |v: toml::Value, (lo, hi): (u64, u64)| -> Result<u64, ConfigError> {
            let n: i64 = typed(v, "an integer").map_err(bad)?;
            u64::try_from(n)
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| bad(format!("must be between {lo} and {hi}, not {n}")))
        };
        let path_value = |v: toml::Value| -> Result<PathBuf, ConfigError> {
            let s: String = typed(v, "a path").map_err(bad)?;
            if s.is_empty() {
                return Err(bad("must not be empty".into()));
            }
            Ok(PathBuf::from(s))
        };
        let addr = |v: toml::Value| -> Result<SocketAddr, ConfigError> {
            let s: String = typed(v, "\"ADDR:PORT\"").map_err(bad)?;
            s.parse()
                .map_err(|_| bad(format!("{s:?} is not ADDR:PORT (e.g. \"127.0.0.1:8443\")")))
        };
        match key.as_str() {
            "db" => {
                let s: String = typed(value, "a store location").map_err(bad)?;
                if s.is_empty() {
                    return Err(bad("must not be empty".into()));
                }
                p.db = Some(s);
            }
            "listen" => p.listen = Some(addr(value)?),
            "metrics_listen" => p.metrics_listen = Some(addr(value)?),
            "tls_cert" => p.tls_cert = Some(path_value(value)?),
            "tls_key" => p.tls_key = Some(path_value(value)?),
            "secrets_key" => p.secrets_key = Some(path_value(value)?),
            "http" => p.http = Some(typed(value, "true or false").map_err(bad)?),
            "workers" => p.workers = Some(to_usize(count(value, WORKERS)?)),
            "max_connections" => {
                p.max_connections = Some(to_usize(count(value, MAX_CONNECTIONS)?));
            }
            "header_timeout" => p.header_timeout = Some(count(value, TIMEOUT_SECS)?),
            "idle_timeout" => p.idle_timeout = Some(count(value, TIMEOUT_SECS)?),
            "body_timeout" => p.body_timeout = Some(count(value, TIMEOUT_SECS)?),
            "on_replay" => {
                let v: String = typed(value, "a string").map_err(bad)?;
                p.on_replay = Some(OnReplay::parse(&v).map_err(bad)?);
            }
            "store_timeout" => p.store_timeout = Some(count(value, TIMEOUT_SECS)?),
            _ => {
                return Err(ConfigError::UnknownKey {
                    path: path.to_string(),
                    key,
                });
            }
        }
    }
    Ok(p)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl Config {
    /// Flags over file over defaults. A transport chosen by a flag (`--http`, or
    /// `--tls-cert`/`--tls-key`) replaces the file's: the two never mix.
    ///
    /// # Errors
    /// [`ConfigError::Conflict`]: half a TLS pair, TLS and `http` together, no transport,
    /// plain HTTP on a non-loopback address.
    pub fn merge(flags: Partial, file: Partial, default_db: &str) -> Result<Config, ConfigError> {
        let flag_transport =
            flags.http == Some(true) || flags.tls_cert.is_some() || flags.tls_key.is_some();
        let (http, cert, key) = if flag_transport {
            (flags.http.unwrap_or(false), flags.tls_cert, flags.tls_key)
        } else {
            (file.http.unwrap_or(false), file.tls_cert, file.tls_key)
        };
        let listen = match flags.listen.or(file.listen) {
            Some(a) => a,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|_| ConfigError::Conflict("bad built-in address".into()))?,
        };
        let tls = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Conflict(
                    "tls_cert is given without tls_key (--tls-key)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::Conflict(
                    "tls_key is given without tls_cert (--tls-cert)".into(),
                ));
            }
        };
        if http && tls.is_some() {
            return Err(ConfigError::Conflict(
                "http = true and tls_cert/tls_key cannot go together: choose one".into(),
            ));
        }
        if http && !listen.ip().is_loopback() {
            return Err(ConfigError::Conflict(format!(
                "--http serves plain HTTP and is refused on {listen}: use a loopback address or --tls-cert/--tls-key"
            )));
        }
        if !http && tls.is_none() {
            return Err(ConfigError::Conflict(
                "give --tls-cert and --tls-key (or --http on a loopback address), or tls_cert/tls_key in iamd.toml".into(),
            ));
        }
        let secs =
            |a: Option<u64>, b: Option<u64>, d: u64| Duration::from_secs(a.or(b).unwrap_or(d));
        Ok(Config {
            db: flags
                .db
                .or(file.db)
                .unwrap_or_else(|| default_db.to_string()),
            listen,
            tls,
            metrics_listen: flags.metrics_listen.or(file.metrics_listen),
            secrets_key: flags.secrets_key.or(file.secrets_key),
            workers: flags.workers.or(file.workers).unwrap_or(4),
            max_connections: flags
                .max_connections
                .or(file.max_connections)
                .unwrap_or(4096),
            header_timeout: secs(flags.header_timeout, file.header_timeout, 10),
            idle_timeout: secs(flags.idle_timeout, file.idle_timeout, 60),
            body_timeout: secs(flags.body_timeout, file.body_timeout, 10),
            on_replay: flags.on_replay.or(file.on_replay).unwrap_or_default(),
            store_timeout: secs(flags.store_timeout, file.store_timeout, 10),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse("iamd.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn every_key() {
        let p = parse(
            "f",
            r#"
db = "/var/lib/pam-iam/iam.db"
listen = "0.0.0.0:8443"
tls_cert = "/etc/pam-iam/iamd.crt"
tls_key = "/etc/pam-iam/iamd.key"
http = false
metrics_listen = "127.0.0.1:9464"
secrets_key = "/var/lib/pam-iam/pam_iam_secrets.key"
workers = 8
max_connections = 100
header_timeout = 5
idle_timeout = 30
body_timeout = 7
on_replay = "lock-and-revoke-sessions"
store_timeout = 4
"#,
        )
        .unwrap();
        assert_eq!(p.workers, Some(8));
        assert_eq!(p.listen, Some("0.0.0.0:8443".parse().unwrap()));
        let c = Config::merge(Partial::default(), p, "x").unwrap();
        assert_eq!(c.db, "/var/lib/pam-iam/iam.db");
        assert_eq!(c.max_connections, 100);
        assert_eq!(c.header_timeout, Duration::from_secs(5));
        assert_eq!(c.store_timeout, Duration::from_secs(4));
        assert!(c.tls.is_some());
        assert_eq!(c.on_replay, OnReplay::LockAndRevokeSessions);
        assert_eq!(parse("f", "# nothing\n").unwrap(), Partial::default());
        assert!(
            err("on_replay = \"lock-device\"").starts_with(
                "iamd.toml: `on_replay`: \"lock-device\" is not one of \"audit\", \"lock\""
            ),
            "{}",
            err("on_replay = \"lock-device\"")
        );
    }

    #[test]
    fn refusals_name_the_key() {
        assert_eq!(
            err("listen = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n"),
            format!(
                "iamd.toml: unknown key `listen_addr` (iamd.toml takes: {})",
                KEYS.join(", ")
            )
        );
        assert_eq!(
            err("listen = \"localhost\""),
            "iamd.toml: `listen`: \"localhost\" is not ADDR:PORT (e.g. \"127.0.0.1:8443\")"
        );
        assert!(
            err("workers = 0")
                .starts_with("iamd.toml: `workers`: must be between 1 and 256, not 0")
        );
        assert!(
            err("workers = \"4\"").starts_with("iamd.toml: `workers`: "),
            "{}",
            err("workers = \"4\"")
        );
        assert!(err("http = \"yes\"").starts_with("iamd.toml: `http`: "));
        assert!(
            err("header_timeout = -1").contains("`header_timeout`: must be between 1 and 3600")
        );
        assert!(err("tls_cert = \"\"").contains("`tls_cert`: must not be empty"));
        assert!(err("[db]\nx = 1").starts_with("iamd.toml: `db`: "));
        let syntax = err("db = \"a\"\nlisten = \n");
        assert!(syntax.starts_with("iamd.toml: line 2: "), "{syntax}");
        for e in [err("bogus = 1"), err("workers = 0"), syntax] {
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn flags_win() {
        let file = parse(
            "f",
            "db = \"/file.db\"\nlisten = \"127.0.0.1:1\"\ntls_cert = \"c\"\ntls_key = \"k\"\nworkers = 2\n",
        )
        .unwrap();
        let flags = Partial {
            db: Some("/flag.db".into()),
            http: Some(true),
            workers: Some(3),
            ..Partial::default()
        };
        let c = Config::merge(flags, file.clone(), "d").unwrap();
        assert_eq!((c.db.as_str(), c.workers, c.tls), ("/flag.db", 3, None));
        assert_eq!(c.listen, "127.0.0.1:1".parse().unwrap());
        let c = Config::merge(Partial::default(), file, "d").unwrap();
        assert_eq!(c.tls, Some(("c".into(), "k".into())));
        // No file, no flags: the store default, and a transport must be chosen.
        let e = Config::merge(Partial::default(), Partial::default(), "d").unwrap_err();
        assert!(e.to_string().contains("--tls-cert"));
        let http_anywhere = Partial {
            http: Some(true),
            listen: Some("0.0.0.0:80".parse().unwrap()),
            ..Partial::default()
        };
        assert!(
            Config::merge(Partial::default(), http_anywhere, "d")
                .unwrap_err()
                .to_string()
                .contains("refused on 0.0.0.0:80")
        );
        let both = parse("f", "http = true\ntls_cert = \"c\"\ntls_key = \"k\"\n").unwrap();
        assert!(Config::merge(Partial::default(), both, "d").is_err());
        let half = parse("f", "tls_cert = \"c\"\n").unwrap();
        assert!(
            Config::merge(Partial::default(), half, "d")
                .unwrap_err()
                .to_string()
                .contains("without tls_key")
        );
    }
}
