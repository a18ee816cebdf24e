//! `/etc/pam-iam/agent.toml` and the host credentials file it names.

use crate::tls::Trust;
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
    /// `iamd` base URLs, tried in order: `https://HOST:PORT` (verified against
    /// `ca_file`), or `http://` on a loopback address only.
    pub servers: Vec<String>,
    /// The PEM bundle of the CA(s) that sign the servers' certificates (required for
    /// `https://` servers: the system's roots are not trusted for `iamd`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The TLS client built from `ca_file` by [`Config::load`].
    #[serde(skip)]
    trust: Option<Trust>,
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
    /// The most rows offline.db's journal holds (each at most 6 KiB of text, typically
    /// about 250 bytes). Rows are never dropped unshipped: at the bound, offline logins
    /// are refused (the host fails closed) until a server takes the journal; a warning
    /// is logged from 80% on. Default 100,000.
    #[serde(default = "default_journal_max_entries")]
    pub journal_max_entries: i64,
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
fn default_journal_max_entries() -> i64 {
    crate::offline::journal::DEFAULT_MAX_ENTRIES
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
#[derive(Debug, Clone)]
pub struct Server {
    /// The URL as configured.
    pub url: String,
    /// `HOST:PORT` as the URL gives it (the `Host` header, signed).
    pub authority: String,
    /// The host to connect to and, for TLS, the name its certificate must carry (a DNS
    /// name or an IP address, without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
    /// TLS (`https://`): the trust to verify the server with; `None` for loopback HTTP.
    pub tls: Option<Trust>,
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
        let mut c: Config =
            toml::from_str(&text).map_err(|e| ConfigError::Invalid(path.into(), e.to_string()))?;
        if c.servers.is_empty() {
            return Err(ConfigError::Invalid(
                path.into(),
                "servers is empty: list at least one iamd URL".into(),
            ));
        }
        let mut https = None;
        for s in &c.servers {
            if parse_server(s)
                .map_err(|e| ConfigError::Invalid(path.into(), e))?
                .https
            {
                https.get_or_insert(s);
            }
        }
        match (&c.ca_file, https) {
            (Some(ca), _) => {
                c.trust = Some(Trust::load(ca).map_err(|e| ConfigError::Invalid(path.into(), e))?);
            }
            (None, Some(s)) => {
                return Err(ConfigError::Invalid(
                    path.into(),
                    format!(
                        "server {s:?} is https:// but agent.toml has no ca_file: add ca_file = \"/etc/pam-iam/iamd-ca.pem\", the PEM of the CA that signed iamd's certificate (the system's roots are not trusted for iamd)"
                    ),
                ));
            }
            (None, None) => {}
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
        let max = crate::offline::journal::MAX_MAX_ENTRIES;
        if !(1..=max).contains(&c.journal_max_entries) {
            return Err(ConfigError::Invalid(
                path.into(),
                format!(
                    "journal_max_entries = {} is out of range: 1 to {max} (at the bound offline logins are refused until the journal is shipped)",
                    c.journal_max_entries
                ),
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
            .map(|u| Server {
                url: u.url,
                authority: u.authority,
                host: u.host,
                port: u.port,
                tls: if u.https { self.trust.clone() } else { None },
            })
            .collect()
    }
}

/// A server URL, parsed.
struct Url {
    url: String,
    https: bool,
    authority: String,
    host: String,
    port: u16,
}

/// `https://HOST[:PORT]` (a DNS name, an IPv4 address or `[IPv6]`; port 443 when none
/// is given), or `http://IP:PORT` on a loopback address: the password and code of each
/// login travel in the request, and whoever can answer in the server's place can grant
/// logins and write the replica, so plain HTTP never leaves the machine.
fn parse_server(s: &str) -> Result<Url, String> {
    let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!(
            "server {s:?}: give https://HOST:PORT (or http:// on a loopback address)"
        ));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "server {s:?}: give the server's base URL only, scheme://HOST:PORT"
        ));
    }
    if !https {
        let addr: std::net::SocketAddr = authority
            .parse()
            .map_err(|_| format!("server {s:?}: http:// needs a loopback IP:PORT (127.0.0.1:8443); off this machine use https://"))?;
        if !addr.ip().is_loopback() {
            return Err(format!(
                "server {s:?}: plain http:// is refused off loopback (logins would send the password and code in clear, and anyone on the path could answer for iamd): use https:// with ca_file"
            ));
        }
        return Ok(Url {
            url: s.to_string(),
            https,
            authority: authority.to_string(),
            host: addr.ip().to_string(),
            port: addr.port(),
        });
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (ip, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("server {s:?}: an unclosed [IPv6 address]"))?;
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("server {s:?}: {ip:?} is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("server {s:?}: give https://[IPv6]:PORT"))?,
            ),
        };
        (ip, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err(format!(
                    "server {s:?}: write an IPv6 address in brackets, https://[IPv6]:PORT"
                ));
            }
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => 443,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("server {s:?}: {p:?} is not a port"))?,
    };
    rustls::pki_types::ServerName::try_from(host)
        .map_err(|_| format!("server {s:?}: {host:?} is not a DNS name or IP address"))?;
    Ok(Url {
        url: s.to_string(),
        https,
        authority: authority.to_string(),
        host: host.to_string(),
        port,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA certificate (P-256, valid until 2126) for parsing only: nothing is verified
    /// with it here (the handshakes are tested with openssl-made certificates in
    /// tests/fleet_tls.rs).
    const CA: &str = "-----BEGIN CERTIFICATE-----
MIIBtDCCAVugAwIBAgIUaSj4YVHriL8gyqz1tgsw+mhzxicwCgYIKoZIzj0EAwIw
JzElMCMGA1UEAwwccGFtLWlhbSBhZ2VudCBjb25maWcgdGVzdCBDQTAgFw0yNjEy
MDIwMjIxMzlaGA8yMTI2MTEwODAyMjEzOVowJzElMCMGA1UEAwwccGFtLWlhbSBh
Z2VudCBjb25maWcgdGVzdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABKZI
WG2VgVdbrCaISBpgG1WjAm8U0Wk92PxCzRXBKgZob5/pcZ7iYZxi/OjSuBQdn4n9
/fD1FqQHTNOSwv5q+MCjYzBhMB0GA1UdDgQWBBQrYP709gNFqSltspjaqU7f/ZGT
hDAfBgNVHSMEGDAWgBQrYP709gNFqSltspjaqU7f/ZGThDAPBgNVHRMBAf8EBTAD
AQH/MA4GA1UdDwEB/wQEAwICBDAKBggqhkjOPQQDAgNHADBEAiAqNecVvy49SGKA
EW+IghRr3GT87arRYPrwVnUPfrJfUAIgHf9vSl1n1nC/QGmOlSA6s6GPSPepSmwc
NexUWtyE4jA=
-----END CERTIFICATE-----
";

    /// `agent.toml` with `servers` and the extra lines `more`, loaded.
    fn load(dir: &Path, servers: &[&str], more: &str) -> Result<Config, String> {
        let list: Vec<String> = servers.iter().map(|s| format!("{s:?}")).collect();
        let p = dir.join("agent.toml");
        std::fs::write(&p, format!("servers = [{}]\n{more}", list.join(", "))).unwrap();
        Config::load(&p).map_err(|e| e.to_string())
    }

    fn ca(dir: &Path, text: &str, mode: u32) -> String {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("ca.pem");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        format!("ca_file = {:?}\n", p)
    }

    #[test]
    fn https_is_accepted_with_a_ca_file_and_names_what_to_verify() {
        let d = tempfile::tempdir().unwrap();
        let ca = ca(d.path(), CA, 0o644);
        let c = load(
            d.path(),
            &[
                "https://iamd-1.example.net:8443",
                "https://10.0.0.7:8443/",
                "https://[fd00::7]:9443",
                "https://iamd.example.net",
                "http://127.0.0.1:8444",
            ],
            &ca,
        )
        .unwrap();
        let got: Vec<(String, String, u16, bool)> = c
            .server_list()
            .into_iter()
            .map(|s| (s.authority, s.host, s.port, s.tls.is_some()))
            .collect();
        let want = [
            ("iamd-1.example.net:8443", "iamd-1.example.net", 8443, true),
            ("10.0.0.7:8443", "10.0.0.7", 8443, true),
            ("[fd00::7]:9443", "fd00::7", 9443, true),
            ("iamd.example.net", "iamd.example.net", 443, true),
            ("127.0.0.1:8444", "127.0.0.1", 8444, false),
        ];
        let want: Vec<(String, String, u16, bool)> = want
            .iter()
            .map(|(a, h, p, t)| (a.to_string(), h.to_string(), *p, *t))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn https_without_a_ca_file_is_refused_saying_to_add_one() {
        let d = tempfile::tempdir().unwrap();
        let e = load(d.path(), &["https://iamd.example.net:8443"], "").unwrap_err();
        assert!(e.contains("no ca_file") && e.contains("ca_file = "), "{e}");
    }

    #[test]
    fn plain_http_is_refused_off_loopback_and_says_use_https() {
        let d = tempfile::tempdir().unwrap();
        for s in [
            "http://10.0.0.7:8443",
            "http://192.168.1.2:80",
            "http://[fd00::7]:8443",
        ] {
            let e = load(d.path(), &[s], "").unwrap_err();
            assert!(
                e.contains("refused off loopback") && e.contains("use https://"),
                "{s}: {e}"
            );
        }
        // A name could resolve anywhere: plain HTTP takes a loopback address only.
        let e = load(d.path(), &["http://iamd.example.net:8443"], "").unwrap_err();
        assert!(e.contains("use https://"), "{e}");
        let e = load(d.path(), &["ftp://10.0.0.7"], "").unwrap_err();
        assert!(e.contains("https://HOST:PORT"), "{e}");
        // Loopback HTTP stays (the tests and the fleet harness's relays).
        let c = load(
            d.path(),
            &["http://127.0.0.1:8443", "http://[::1]:8444"],
            "",
        )
        .unwrap();
        assert!(c.server_list().iter().all(|s| s.tls.is_none()));
    }

    #[test]
    fn malformed_https_urls_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let ca = ca(d.path(), CA, 0o644);
        for s in [
            "https://",
            "https://iamd.example.net:0",
            "https://iamd.example.net:port",
            "https://iamd.example.net:8443/api",
            "https://user@iamd.example.net:8443",
            "https://fd00::7:8443",
            "https://[fd00::7:8443",
            "https://bad_name!:8443",
        ] {
            assert!(load(d.path(), &[s], &ca).is_err(), "{s} was accepted");
        }
    }

    #[test]
    fn a_ca_file_must_hold_a_ca_and_be_closed_to_writers() {
        let d = tempfile::tempdir().unwrap();
        let s = ["https://iamd.example.net:8443"];
        let e = load(d.path(), &s, &ca(d.path(), "no PEM here\n", 0o644)).unwrap_err();
        assert!(e.contains("holds no certificate"), "{e}");
        let e = load(d.path(), &s, &ca(d.path(), CA, 0o666)).unwrap_err();
        assert!(e.contains("writable by no one else"), "{e}");
        let e = load(d.path(), &s, "ca_file = \"/nonexistent/ca.pem\"\n").unwrap_err();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
