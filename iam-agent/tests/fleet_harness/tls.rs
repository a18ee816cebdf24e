//! Certificates for a fleet over TLS, made with the `openssl` CLI (an implementation
//! independent of the rustls that verifies them): a CA, and server certificates it signs
//! for a given subjectAltName, as docs/fleet.md tells an administrator to make them.

use std::path::{Path, PathBuf};

/// A CA: its certificate (what agent.toml's `ca_file` names) and key.
#[derive(Debug, Clone)]
pub struct Ca {
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM key.
    pub key: PathBuf,
}

/// A server certificate and its key (`iamd --tls-cert --tls-key`).
#[derive(Debug, Clone)]
pub struct ServerCert {
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM key.
    pub key: PathBuf,
}

/// A new CA named `name` in `dir` (`dir/NAME-ca.pem`, `dir/NAME-ca.key`).
///
/// # Panics
/// When openssl fails.
pub fn make_ca(dir: &Path, name: &str) -> Ca {
    std::fs::create_dir_all(dir).unwrap();
    let ca = Ca {
        cert: dir.join(format!("{name}-ca.pem")),
        key: dir.join(format!("{name}-ca.key")),
    };
    super::sh(&format!(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
         -keyout {key} -out {cert} -days 2 -subj '/CN={name} test CA' \
         -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>&1",
        key = ca.key.display(),
        cert = ca.cert.display()
    ));
    ca
}

/// A server certificate `dir/NAME.crt` (+ `.key`) signed by `ca` for `san`
/// (`IP:127.0.0.1`, `DNS:iamd.example.net`, comma-separated).
///
/// # Panics
/// When openssl fails.
pub fn issue(ca: &Ca, dir: &Path, name: &str, san: &str) -> ServerCert {
    issue_at(ca, dir, name, san, "")
}

/// [`issue`] with openssl's clock moved by `faketime` (`-3d`: signed three days ago,
/// so expired since yesterday, the certificate being valid for two days).
///
/// # Panics
/// When openssl or faketime fails.
pub fn issue_backdated(ca: &Ca, dir: &Path, name: &str, san: &str, shift: &str) -> ServerCert {
    issue_at(ca, dir, name, san, &format!("faketime -f '{shift}' "))
}

fn issue_at(ca: &Ca, dir: &Path, name: &str, san: &str, clock: &str) -> ServerCert {
    let c = ServerCert {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    };
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!(
            "subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    let csr = dir.join(format!("{name}.csr"));
    super::sh(&format!(
        "set -e\nopenssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
         -keyout {key} -out {csr} -subj '/CN={name}' 2>&1\n\
         {clock}openssl x509 -req -in {csr} -CA {cacert} -CAkey {cakey} -CAcreateserial \
         -out {cert} -days 2 -extfile {ext} 2>&1",
        key = c.key.display(),
        csr = csr.display(),
        cacert = ca.cert.display(),
        cakey = ca.key.display(),
        cert = c.cert.display(),
        ext = ext.display()
    ));
    c
}
