//! TLS to `iamd` for `https://` servers: rustls (ring provider, as `iamd` serves with)
//! over a blocking std `TcpStream`, no async runtime. The server is authenticated by a
//! certificate chain to a CA of agent.toml's `ca_file` and its name (the URL's host, as a
//! DNS name or an IP address SAN). The system's roots are never used: any public CA
//! could then issue a certificate that answers for `iamd`.
//!
//! A failed handshake is a transport failure, like a refused connection (the host may go
//! offline), but its message says which server and why, because it is usually a
//! misconfiguration (wrong CA, wrong name, expired certificate), not an outage.
//!
//! `ca_file` is read at start and again, at the next connection, whenever it changed
//! (its device, inode, size, modification or status-change time): a CA added or
//! replaced needs no restart. Each reading checks the owner and mode again; a changed
//! file that fails them, or holds no usable CA, is used by no connection (each fails,
//! logged, as a handshake would) until it changes again: the roots read before are not
//! kept, since the change may have been made to remove a CA.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The trust of `https://` servers: the client configuration built from `ca_file`
/// (shared by every server of the list and every thread: a reading after a change
/// serves all of them).
#[derive(Debug, Clone)]
pub struct Trust {
    /// The file the roots come from (named in handshake errors).
    pub ca_file: PathBuf,
    loaded: Arc<Mutex<Loaded>>,
}

/// What `ca_file` gave when it was last read.
#[derive(Debug)]
struct Loaded {
    /// The file as it was then.
    id: FileId,
    /// rustls' client configuration (roots = the CAs of the file, TLS 1.2 and 1.3), or
    /// why that version of the file cannot be used.
    config: Result<Arc<ClientConfig>, String>,
}

/// What tells one version of a file from another.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    fn of(md: &std::fs::Metadata) -> FileId {
        FileId {
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime: (md.mtime(), md.mtime_nsec()),
            ctime: (md.ctime(), md.ctime_nsec()),
        }
    }
}

impl Trust {
    /// Read `ca_file` (see [`read`]) at start: any fault is a configuration error.
    ///
    /// # Errors
    /// What is wrong with the file, for the configuration error.
    pub fn load(ca_file: &Path) -> Result<Trust, String> {
        let (id, config) = read(ca_file)?;
        Ok(Trust {
            ca_file: ca_file.to_path_buf(),
            loaded: Arc::new(Mutex::new(Loaded {
                id,
                config: Ok(config),
            })),
        })
    }

    /// The configuration to connect with: `ca_file` read again when it changed since it
    /// was last read (logged).
    ///
    /// # Errors
    /// The file as it is now cannot be used (why, naming it).
    fn current(&self) -> Result<Arc<ClientConfig>, String> {
        let shown = self.ca_file.display();
        let md = std::fs::metadata(&self.ca_file).map_err(|e| format!("ca_file {shown}: {e}"))?;
        let mut l = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if l.id != FileId::of(&md) {
            match read(&self.ca_file) {
                Ok((id, config)) => {
                    crate::log(&format!(
                        "ca_file {shown} changed: its CA certificates are used from now on"
                    ));
                    *l = Loaded {
                        id,
                        config: Ok(config),
                    };
                }
                Err(e) => {
                    crate::log(&format!(
                        "ca_file changed and cannot be used: {e}; no TLS connection to iamd until it is fixed (offline rules apply)"
                    ));
                    *l = Loaded {
                        id: FileId::of(&md),
                        config: Err(e),
                    };
                }
            }
        }
        l.config.clone()
    }
}

/// Read `ca_file` (a PEM bundle of one or more CA certificates), which must be root's
/// and writable by no one else: whoever can add a CA to it can answer for `iamd`
/// (grant logins, write the replica). The file's identity as it was read, and the
/// client configuration.
///
/// # Errors
/// What is wrong with the file.
fn read(ca_file: &Path) -> Result<(FileId, Arc<ClientConfig>), String> {
    let shown = ca_file.display();
    let md = std::fs::metadata(ca_file).map_err(|e| format!("ca_file {shown}: {e}"))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if md.uid() != euid || md.mode() & 0o022 != 0 {
        return Err(format!(
            "ca_file {shown} must be owned by uid {euid} and writable by no one else (it is uid {}, mode {:o}): whoever can add a CA to it can answer for iamd",
            md.uid(),
            md.mode() & 0o7777
        ));
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
        .and_then(Iterator::collect)
        .map_err(|e| format!("ca_file {shown}: not a PEM bundle: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "ca_file {shown} holds no certificate (-----BEGIN CERTIFICATE-----): give the PEM of the CA that signed iamd's certificate"
        ));
    }
    let mut roots = RootCertStore::empty();
    for (i, c) in certs.into_iter().enumerate() {
        roots.add(c).map_err(|e| {
            format!(
                "ca_file {shown}: certificate {} is not a usable CA certificate: {e}",
                i + 1
            )
        })?;
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok((FileId::of(&md), Arc::new(config)))
}

impl Trust {
    /// The TLS session with `host` over `tcp`, its handshake completed (within the
    /// socket's read and write timeouts).
    ///
    /// # Errors
    /// Why the handshake failed, naming `url` and what to check.
    pub fn connect(
        &self,
        url: &str,
        host: &str,
        mut tcp: TcpStream,
    ) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("{url}: {host:?} is not a DNS name or IP address: {e}"))?;
        let config = self.current().map_err(|e| format!("{url}: {e}"))?;
        let mut conn =
            ClientConnection::new(config, name).map_err(|e| format!("{url}: TLS: {e}"))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)
                .map_err(|e| self.handshake_error(url, host, &e))?;
        }
        Ok(StreamOwned::new(conn, tcp))
    }

    /// The log line of a failed handshake.
    fn handshake_error(&self, url: &str, host: &str, e: &std::io::Error) -> String {
        let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
            // No TLS verdict: the connection broke or timed out during the handshake.
            return format!("{url}: TLS handshake: {e}");
        };
        let ca = self.ca_file.display();
        let why = match tls {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => {
                    format!("its certificate is not signed by a CA in ca_file {ca}")
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => format!(
                    "its certificate is not valid for {host:?} (the URL's host must be a DNS or IP subjectAltName of the certificate)"
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "its certificate has expired".to_string()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "its certificate is not valid yet (check this host's clock)".to_string()
                }
                other => format!("its certificate is refused: {other:?}"),
            },
            other => other.to_string(),
        };
        format!(
            "{url}: TLS handshake failed: {why} ({tls}). This is a misconfiguration rather than an outage: \
             until it is fixed this server counts as unreachable (offline rules apply)"
        )
    }
}
