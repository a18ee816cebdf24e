//! `/etc/pam-iam/pam_iam.conf`: which store `pam_iam.so` and `iam-sts` use. The same
//! pam.d files serve both modes; only this file changes.
//!
//! ```text
//! # local: the store at db= (default /var/lib/pam-iam/iam.db), as without this file.
//! # agent: logins are verified by iamd through iam-agent; account reads the replica.
//! mode = agent
//! socket = /run/pam-iam/agent.sock
//! replica = /var/lib/pam-iam/replica.db
//! timeout_seconds = 25
//! ```
//!
//! A missing file means `mode = local`. The file must be root's and writable by root
//! only (whoever could edit it could point logins at a socket of their own).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default location.
pub const DEFAULT_CONF: &str = "/etc/pam-iam/pam_iam.conf";
/// The agent's socket unless `socket =` says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/pam-iam/agent.sock";
/// The agent's replica unless `replica =` says otherwise.
pub const DEFAULT_REPLICA: &str = "/var/lib/pam-iam/replica.db";

/// Where logins are decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMode {
    /// The local store (`db=`).
    Local,
    /// Fleet mode: through `iam-agent`.
    Agent(AgentConf),
}

/// How to reach the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConf {
    /// The agent's socket.
    pub socket: PathBuf,
    /// The replica the agent keeps (read by `account`, `iam-authorized-keys`).
    pub replica: PathBuf,
    /// The longest the module waits for an answer (the agent may try several servers).
    pub timeout: Duration,
}

/// What is wrong with the file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfError {
    /// Unreadable (other than missing).
    #[error("cannot read {0}: {1}")]
    Read(String, String),
    /// Owned by someone else or writable by others.
    #[error("{0} must be owned by root and writable by root only (chown root {0}; chmod 644 {0})")]
    Unsafe(String),
    /// A line that is not `key = value` with a known key and value.
    #[error("{0} line {1}: {2}")]
    Invalid(String, usize, String),
}

/// Read the mode from `path` (missing: local).
///
/// # Errors
/// A [`ConfError`] naming the file and what to fix.
pub fn load(path: &Path) -> Result<HostMode, ConfError> {
    let name = path.display().to_string();
    let md = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HostMode::Local),
        Err(e) => return Err(ConfError::Read(name, e.to_string())),
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if md.uid() != euid || md.mode() & 0o022 != 0 {
        return Err(ConfError::Unsafe(name));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfError::Read(name.clone(), e.to_string()))?;
    parse(&name, &text)
}

/// Parse the text of the file.
///
/// # Errors
/// [`ConfError::Invalid`] naming the line.
pub fn parse(name: &str, text: &str) -> Result<HostMode, ConfError> {
    let mut mode = None;
    let mut agent = AgentConf {
        socket: PathBuf::from(DEFAULT_SOCKET),
        replica: PathBuf::from(DEFAULT_REPLICA),
        timeout: Duration::from_secs(25),
    };
    for (i, line) in text.lines().enumerate() {
        let bad = |why: String| ConfError::Invalid(name.to_string(), i + 1, why);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| bad(format!("{line:?} is not key = value")))?;
        let (k, v) = (k.trim(), v.trim());
        match k {
            "mode" => {
                mode = Some(match v {
                    "local" => false,
                    "agent" => true,
                    _ => return Err(bad(format!("mode = {v:?}: give local or agent"))),
                });
            }
            "socket" | "replica" if !v.starts_with('/') => {
                return Err(bad(format!("{k} = {v:?}: give an absolute path")));
            }
            "socket" => agent.socket = PathBuf::from(v),
            "replica" => agent.replica = PathBuf::from(v),
            "timeout_seconds" => {
                let s: u64 = v
                    .parse()
                    .ok()
                    .filter(|s| (1..=300).contains(s))
                    .ok_or_else(|| bad(format!("timeout_seconds = {v:?}: give 1 to 300")))?;
                agent.timeout = Duration::from_secs(s);
            }
            _ => {
                return Err(bad(format!(
                    "unknown key {k:?} (mode, socket, replica, timeout_seconds)"
                )));
            }
        }
    }
    Ok(match mode {
        Some(true) => HostMode::Agent(agent),
        _ => HostMode::Local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_errors() {
        assert_eq!(parse("f", "").unwrap(), HostMode::Local);
        assert_eq!(parse("f", "mode = local\n").unwrap(), HostMode::Local);
        let HostMode::Agent(a) = parse(
            "f",
            "# fleet\nmode = agent\nsocket = /tmp/s\ntimeout_seconds=3\n",
        )
        .unwrap() else {
            panic!("agent mode expected")
        };
        assert_eq!(a.socket, PathBuf::from("/tmp/s"));
        assert_eq!(a.replica, PathBuf::from(DEFAULT_REPLICA));
        assert_eq!(a.timeout, Duration::from_secs(3));
        for bad in [
            "mode = fleet",
            "mode",
            "socket = relative",
            "timeout_seconds = 0",
            "db = /x",
        ] {
            assert!(
                matches!(parse("f", bad), Err(ConfError::Invalid(_, 1, _))),
                "{bad}"
            );
        }
    }
}
