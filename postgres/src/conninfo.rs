//! Store locations `postgres://USER@HOST[:PORT][,HOST[:PORT]…]/DB?…`, as libpq reads
//! them: multi-host with `target_session_attrs=read-write`, `connect_timeout`, and the
//! parts libpq adds over the client's own parser: the password from a passfile
//! (`passfile=`, `PGPASSFILE`, `~/.pgpass`; never on the command line) and TLS with
//! `sslmode=disable|allow|prefer|require|verify-ca|verify-full`, `sslrootcert`,
//! `sslcert`, `sslkey` (client certificates).

use pam_iam::store::{Result, StoreError};
use postgres::Client;
use postgres::config::Host;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a connection attempt to one host may take unless the URL says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// TLS as `sslmode` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A parsed location: everything needed to connect (again, after a failover).
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    ssl: SslMode,
    rootcert: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    describe: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe)
    }
}

fn bad(url: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Unsupported(format!(
        "{}: not a usable PostgreSQL URL: {why}",
        redact(url)
    ))
}

/// A URL without its password (`postgres://u:secret@h/db` -> `postgres://u:***@h/db`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.split_once('@') {
        Some(x) => x,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Target {
    /// Reads a `postgres://` / `postgresql://` URL.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] naming what is wrong (the password redacted).
    pub fn parse(url: &str) -> Result<Target> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let (mut passfile, mut rootcert, mut cert, mut key) = (None, None, None, None);
        let mut ssl = SslMode::Prefer;
        let mut timeout = false;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(v);
            match k {
                "passfile" => passfile = Some(PathBuf::from(value)),
                "sslrootcert" => rootcert = Some(PathBuf::from(value)),
                "sslcert" => cert = Some(PathBuf::from(value)),
                "sslkey" => key = Some(PathBuf::from(value)),
                "sslmode" => {
                    ssl = match value.as_str() {
                        "disable" => SslMode::Disable,
                        "allow" | "prefer" => SslMode::Prefer,
                        "require" => SslMode::Require,
                        "verify-ca" => SslMode::VerifyCa,
                        "verify-full" => SslMode::VerifyFull,
                        other => return Err(bad(url, format!("unknown sslmode {other:?}"))),
                    }
                }
                "password" => {
                    return Err(bad(
                        url,
                        "a password in the URL would show in process listings; use a passfile (PGPASSFILE, ~/.pgpass or passfile=) or client certificates",
                    ));
                }
                _ => {
                    timeout |= k == "connect_timeout";
                    kept.push(pair.to_string());
                }
            }
        }
        if base.split_once("://").is_some_and(|(_, r)| {
            r.split_once('@')
                .is_some_and(|(auth, _)| auth.contains(':'))
        }) {
            return Err(bad(
                url,
                "a password in the URL would show in process listings; use a passfile (PGPASSFILE, ~/.pgpass or passfile=) or client certificates",
            ));
        }
        kept.push(
            match ssl {
                SslMode::Disable => "sslmode=disable",
                SslMode::Prefer => "sslmode=prefer",
                _ => "sslmode=require",
            }
            .to_string(),
        );
        if !timeout {
            kept.push(format!(
                "connect_timeout={}",
                DEFAULT_CONNECT_TIMEOUT.as_secs()
            ));
        }
        let rebuilt = format!("{base}?{}", kept.join("&"));
        let mut config: postgres::Config = rebuilt.parse().map_err(|e| bad(url, e))?;
        if config.get_application_name().is_none() {
            config.application_name("pam-iam");
        }
        config.options(&session_options(config.get_options()));
        let describe = describe(&config);
        let mut t = Target {
            config,
            ssl,
            rootcert,
            cert,
            key,
            describe,
        };
        if t.config.get_password().is_none() {
            if let Some(pw) = t.passfile_password(passfile.as_deref())? {
                t.config.password(pw);
            }
        }
        Ok(t)
    }

    /// `host:port[,host:port…]/db`, for messages.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    fn user(&self) -> String {
        self.config
            .get_user()
            .map(str::to_string)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".into())
    }

    /// The password libpq would take from the passfile for the first host that has one.
    fn passfile_password(&self, explicit: Option<&Path>) -> Result<Option<Vec<u8>>> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match std::env::var_os("PGPASSFILE") {
                Some(p) => PathBuf::from(p),
                None => match std::env::var_os("HOME") {
                    Some(h) => Path::new(&h).join(".pgpass"),
                    None => return Ok(None),
                },
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                return Ok(None);
            }
            Err(e) => {
                return Err(StoreError::Io { path, source: e });
            }
        };
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        if mode & 0o077 != 0 {
            return Err(StoreError::Insecure {
                path,
                reason: format!(
                    "the password file has mode {:o}; it must not be readable by group or others (chmod 600)",
                    mode & 0o777
                ),
            });
        }
        let user = self.user();
        let db = self
            .config
            .get_dbname()
            .map(str::to_string)
            .unwrap_or_else(|| user.clone());
        let ports = self.config.get_ports();
        for (i, h) in self.config.get_hosts().iter().enumerate() {
            let host = match h {
                Host::Tcp(h) => h.clone(),
                Host::Unix(_) => "localhost".into(),
            };
            let port = ports
                .get(i)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432)
                .to_string();
            for line in text.lines() {
                if line.starts_with('#') || line.trim().is_empty() {
                    continue;
                }
                let f = pgpass_fields(line);
                if f.len() < 5 {
                    continue;
                }
                let m = |pat: &str, v: &str| pat == "*" || pat == v;
                if m(&f[0], &host) && m(&f[1], &port) && m(&f[2], &db) && m(&f[3], &user) {
                    return Ok(Some(f[4].clone().into_bytes()));
                }
            }
        }
        Ok(None)
    }

    /// Connects to the first host that answers (and is writable, when the URL asks for
    /// `target_session_attrs=read-write`).
    ///
    /// # Errors
    /// One line naming the host(s) and what went wrong.
    pub fn connect(&self, _write: bool) -> Result<Client> {
        let cant = |e: postgres::Error| {
            let msg = match crate::db::explain(&e, self) {
                StoreError::Database(m) | StoreError::Unsupported(m) => m,
                other => other.to_string(),
            };
            if let Some(reason) = tls_refusal(&msg) {
                return StoreError::Unsupported(format!(
                    "cannot connect to the PostgreSQL store at {}: TLS: the server's certificate was refused ({reason}): sslrootcert must be the CA that signed it, and with sslmode=verify-full the URL's host a name the certificate carries",
                    self.describe
                ));
            }
            let msg = msg
                .strip_prefix(&format!("PostgreSQL {}: ", self.describe))
                .unwrap_or(&msg)
                .to_string();
            StoreError::Unsupported(format!(
                "cannot connect to the PostgreSQL store at {}: {msg}",
                self.describe
            ))
        };
        // The client's connect_timeout bounds only each TCP connect; a server that
        // accepts but never answers (stopped, overloaded) would hold the handshake
        // forever. The whole connection gets the timeout once per host, plus a second.
        let hosts = u32::try_from(self.config.get_hosts().len().max(1)).unwrap_or(1);
        let per = self
            .config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let limit = per * hosts + Duration::from_secs(1);
        let config = self.config.clone();
        let tls = match self.ssl {
            SslMode::Disable => None,
            _ => Some(self.tls()?),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("pg-connect".into())
            .spawn(move || {
                let r = match tls {
                    None => config.connect(postgres::NoTls),
                    Some(t) => config.connect(t),
                };
                let _ = tx.send(r);
            })
            .map_err(|e| StoreError::Database(format!("cannot start a connection: {e}")))?;
        match rx.recv_timeout(limit) {
            Ok(r) => r.map_err(cant),
            Err(_) => Err(StoreError::Unsupported(format!(
                "cannot connect to the PostgreSQL store at {}: no answer within {} s (server stopped, overloaded or unreachable)",
                self.describe,
                limit.as_secs()
            ))),
        }
    }

    fn tls(&self) -> Result<postgres_openssl::MakeTlsConnector> {
        use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};
        let fail = |what: &str, e: openssl::error::ErrorStack| {
            StoreError::Unsupported(format!(
                "PostgreSQL {}: TLS setup failed: {what}: {e}",
                self.describe
            ))
        };
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let default = |name: &str| {
            home.as_ref()
                .map(|h| h.join(".postgresql").join(name))
                .filter(|p| p.exists())
        };
        let mut b = SslConnector::builder(SslMethod::tls()).map_err(|e| fail("init", e))?;
        let root = self.rootcert.clone().or_else(|| default("root.crt"));
        if let Some(r) = &root {
            b.set_ca_file(r)
                .map_err(|e| fail(&format!("sslrootcert {}", r.display()), e))?;
        }
        // libpq: `require` with a root certificate verifies like `verify-ca`.
        let verify = match self.ssl {
            SslMode::VerifyCa | SslMode::VerifyFull => true,
            SslMode::Require => root.is_some(),
            _ => false,
        };
        b.set_verify(if verify {
            SslVerifyMode::PEER
        } else {
            SslVerifyMode::NONE
        });
        if let Some(c) = self.cert.clone().or_else(|| default("postgresql.crt")) {
            b.set_certificate_chain_file(&c)
                .map_err(|e| fail(&format!("sslcert {}", c.display()), e))?;
            let k = self
                .key
                .clone()
                .or_else(|| default("postgresql.key"))
                .unwrap_or_else(|| c.with_extension("key"));
            b.set_private_key_file(&k, SslFiletype::PEM)
                .map_err(|e| fail(&format!("sslkey {}", k.display()), e))?;
        }
        let mut m = postgres_openssl::MakeTlsConnector::new(b.build());
        let full = self.ssl == SslMode::VerifyFull;
        m.set_callback(move |cfg, _| {
            cfg.set_verify_hostname(full);
            Ok(())
        });
        Ok(m)
    }
}

/// The fields of a passfile line (`:` separates, `\` escapes).
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(s)) = (chars.next(), out.last_mut()) {
                    s.push(n);
                }
            }
            ':' if out.len() < 5 => out.push(String::new()),
            c => {
                if let Some(s) = out.last_mut() {
                    s.push(c);
                }
            }
        }
    }
    out
}

fn describe(c: &postgres::Config) -> String {
    let ports = c.get_ports();
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = ports
                .get(i)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432);
            match h {
                Host::Tcp(h) => format!("{h}:{port}"),
                Host::Unix(p) => format!("{}:{port}", p.display()),
            }
        })
        .collect();
    format!("{}/{}", hosts.join(","), c.get_dbname().unwrap_or(""))
}

/// The reason OpenSSL gave for refusing the server's certificate, if that is why a
/// connection failed (its error stack repeats itself; the reason is the readable part).
fn tls_refusal(msg: &str) -> Option<String> {
    if !msg.contains("certificate verify failed") {
        return None;
    }
    let reason = msg
        .split(": ")
        .map(str::trim)
        .find(|part| {
            !part.is_empty()
                && !part.contains("error:")
                && !part.contains(".c:")
                && !part.starts_with("error performing")
                && !part.starts_with("PostgreSQL ")
        })
        .unwrap_or("certificate verify failed");
    Some(reason.trim_end_matches(':').to_string())
}

/// The server settings of every store session, before the URL's own `options=` (which
/// win). JIT off: the store runs only short statements by key, where compiling never
/// pays, and a planner's estimate gone wrong on a tiny table (a generic plan after
/// autovacuum analyzed `users`, costed in millions) made PostgreSQL spend over a second
/// of CPU compiling each login's user lookup.
fn session_options(url_options: Option<&str>) -> String {
    match url_options {
        Some(o) if !o.trim().is_empty() => format!("-c jit=off {o}"),
        _ => "-c jit=off".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_session_runs_without_jit_unless_the_url_says_otherwise() {
        let t = Target::parse("postgres://u@h/iam?sslmode=disable").unwrap();
        assert_eq!(t.config.get_options(), Some("-c jit=off"));
        let t = Target::parse("postgres://u@h/iam?options=-c%20jit%3Don").unwrap();
        assert_eq!(
            t.config.get_options(),
            Some("-c jit=off -c jit=on"),
            "the URL's own options come last and win"
        );
    }

    #[test]
    fn passfile_fields_unescape() {
        assert_eq!(
            pgpass_fields(r"h:5432:db:u:pa\:ss\\w:x"),
            vec!["h", "5432", "db", "u", r"pa:ss\w:x"]
        );
    }

    #[test]
    fn urls_refuse_passwords_and_name_hosts() {
        assert!(Target::parse("postgres://u:secret@h/db").is_err_and(|e| {
            let m = e.to_string();
            !m.contains("secret") && m.contains("passfile")
        }));
        let t = Target::parse(
            "postgres://u@a:1,b:2/iam?target_session_attrs=read-write&sslmode=disable&passfile=/nonexistent",
        );
        assert!(
            t.is_err(),
            "an explicit passfile that is missing is an error"
        );
        let t = Target::parse(
            "postgres://u@a:1,b:2/iam?target_session_attrs=read-write&sslmode=verify-full",
        )
        .unwrap();
        assert_eq!(t.describe(), "a:1,b:2/iam");
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT)
        );
    }
}
