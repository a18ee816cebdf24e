//! `/etc/pam-iam/agent.toml` and the host credentials file it names.

use serde::Deserialize;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/pam-iam/agent.toml";

/// The longest `offline_max_age` (the server issues material for at most this long).
pub const MAX_OFFLINE_AGE: i64 = pam_iam::credentials::offline::MAX_LIFETIME;

/// The agent's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `iamd` base URLs, tried in order (`http://127.0.0.1:8443`).
    pub servers: Vec<String>,
    /// The host credentials file (`iam create-host-credentials --credentials-file`).
    #[serde(default = "default_credentials")]
    pub credentials: PathBuf,
    /// The replica this agent keeps.
    #[serde(default = "default_replica")]
    pub replica: PathBuf,
    /// The socket `pam_iam.so` and `iam-sts` talk to.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// The `iam-sts` helper whose processes may use the socket besides root's.
    #[serde(default = "default_sts_helper")]
    pub sts_helper: Option<PathBuf>,
    /// The host's offline state (material, watermarks, failures, journal); by default
    /// `offline.db` beside the replica (`/var/lib/pam-iam/offline.db`).
    #[serde(default)]
    pub offline: Option<PathBuf>,
    /// Seconds offline material and the replica stay usable while no server answers
    /// (0: never decide offline). Default 3 days.
    #[serde(default = "default_offline_max_age")]
    pub offline_max_age: i64,
    /// Offline failures in a row that lock a user on this host (kept below a fleet's
    /// lockout: a partitioned host has no other brake). Default 3.
    #[serde(default = "default_offline_max_failures")]
    pub offline_max_failures: u32,
    /// How long such a lock lasts. Default 15 minutes.
    #[serde(default = "default_offline_lock_seconds")]
    pub offline_lock_seconds: i64,
    /// How long one pull waits at the server for a change.
    #[serde(default = "default_wait")]
    pub wait_seconds: u64,
    /// Pause before trying again when every server is down or refused.
    #[serde(default = "default_retry")]
    pub retry_seconds: u64,
    /// Offline, role sessions (sudo) are honoured until their expiry but at most this
    /// long after the last answer from a server: a revocation cannot reach a host that
    /// is cut off, so this bounds how long a revoked session may still work there.
    #[serde(default = "default_session_cap")]
    pub offline_session_cap_seconds: u64,
}

fn default_credentials() -> PathBuf {
    PathBuf::from("/etc/pam-iam/host-credentials.json")
}
fn default_replica() -> PathBuf {
    PathBuf::from("/var/lib/pam-iam/replica.db")
}
fn default_socket() -> PathBuf {
    PathBuf::from("/run/pam-iam/agent.sock")
}
fn default_sts_helper() -> Option<PathBuf> {
    Some(PathBuf::from("/usr/bin/iam-sts"))
}
fn default_offline_max_age() -> i64 {
    3 * 86_400
}
fn default_offline_max_failures() -> u32 {
    3
}
fn default_offline_lock_seconds() -> i64 {
    900
}
fn default_wait() -> u64 {
    20
}
fn default_retry() -> u64 {
    2
}
/// One hour.
fn default_session_cap() -> u64 {
    3600
}

/// A server of the list: where to connect and what the `Host` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The URL as configured.
    pub url: String,
    /// `HOST:PORT`.
    pub authority: String,
}

/// What is wrong with the configuration or the credentials file.
#[derive(Debug)]
pub enum ConfigError {
    /// The file cannot be read.
    Read(PathBuf, std::io::Error),
    /// The file is not valid.
    Invalid(PathBuf, String),
    /// The credentials file may be read by others.
    Exposed(PathBuf, String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Read(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            ConfigError::Invalid(p, e) => write!(f, "{}: {e}", p.display()),
            ConfigError::Exposed(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Read and check `path`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file and what is wrong.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.into(), e))?;
        let c: Config =
            toml::from_str(&text).map_err(|e| ConfigError::Invalid(path.into(), e.to_string()))?;
        if c.servers.is_empty() {
            return Err(ConfigError::Invalid(
                path.into(),
                "servers is empty: list at least one iamd URL".into(),
            ));
        }
        for s in &c.servers {
            parse_server(s).map_err(|e| ConfigError::Invalid(path.into(), e))?;
        }
        if c.offline_max_age < 0 || c.offline_max_age > MAX_OFFLINE_AGE {
            return Err(ConfigError::Invalid(
                path.into(),
                format!(
                    "offline_max_age = {} is out of range: 0 (never offline) to {MAX_OFFLINE_AGE} seconds",
                    c.offline_max_age
                ),
            ));
        }
        if c.offline_max_failures == 0 || c.offline_lock_seconds <= 0 {
            return Err(ConfigError::Invalid(
                path.into(),
                "offline_max_failures and offline_lock_seconds must be positive: offline guessing needs a brake".into(),
            ));
        }
        Ok(c)
    }

    /// The offline state file.
    pub fn offline_path(&self) -> PathBuf {
        self.offline
            .clone()
            .unwrap_or_else(|| self.replica.with_file_name("offline.db"))
    }

    /// The offline lockout of this host.
    pub fn offline_lockout(&self) -> pam_iam::credentials::LockoutSettings {
        pam_iam::credentials::LockoutSettings {
            max_failed_attempts: self.offline_max_failures,
            lockout_duration_seconds: self.offline_lock_seconds,
        }
    }

    /// The servers, parsed (checked by [`Config::load`]).
    pub fn server_list(&self) -> Vec<Server> {
        self.servers
            .iter()
            .filter_map(|s| parse_server(s).ok())
            .collect()
    }
}

/// `http://HOST:PORT` on a loopback address (TLS is not built yet, and a replica must
/// never cross a network in clear: whoever could alter it in flight could grant logins).
fn parse_server(s: &str) -> Result<Server, String> {
    let Some(rest) = s.strip_prefix("http://") else {
        return Err(format!(
            "server {s:?}: only http:// on a loopback address is supported yet (TLS comes next)"
        ));
    };
    let authority = rest.trim_end_matches('/');
    let addr: std::net::SocketAddr = authority
        .parse()
        .map_err(|_| format!("server {s:?}: give http://IP:PORT"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "server {s:?}: plain HTTP is refused off loopback (TLS comes next)"
        ));
    }
    Ok(Server {
        url: s.to_string(),
        authority: authority.to_string(),
    })
}

/// The host credentials the agent signs with.
#[derive(Deserialize)]
pub struct HostCredentials {
    /// Host name.
    #[serde(rename = "HostName")]
    pub host: String,
    /// `HKIA…`
    #[serde(rename = "AccessKeyId")]
    pub key_id: String,
    /// The secret.
    #[serde(rename = "SecretAccessKey")]
    pub secret: Zeroizing<String>,
}

impl HostCredentials {
    /// Read the credentials file, which must be this user's (root's) and closed to
    /// everyone else.
    ///
    /// # Errors
    /// A [`ConfigError`] saying what to fix.
    pub fn load(path: &Path) -> Result<HostCredentials, ConfigError> {
        let md = std::fs::metadata(path).map_err(|e| ConfigError::Read(path.into(), e))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        if md.uid() != euid || md.mode() & 0o077 != 0 {
            return Err(ConfigError::Exposed(
                path.into(),
                format!(
                    "the credentials file must be owned by uid {euid} with mode 0600 (it is uid {}, mode {:o}): chown root {p}; chmod 600 {p}",
                    md.uid(),
                    md.mode() & 0o7777,
                    p = path.display()
                ),
            ));
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.into(), e))?,
        );
        serde_json::from_str(&text).map_err(|e| ConfigError::Invalid(path.into(), e.to_string()))
    }
}
