//! The caller's side of the agent socket: one blocking request over a std `UnixStream`
//! with read and write timeouts (no thread, no network socket), for `pam_iam.so` and
//! `iam-sts`. The socket must be root's, so nobody but root can stand in for the agent.

use super::conf::AgentConf;
use super::proto::{self, Answer, Request};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;

/// Why the agent gave no answer: the caller fails closed with this text.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AgentError {
    /// Not running, or the socket is missing.
    #[error("iam-agent is not reachable at {0}: {1} (is iam-agent running?)")]
    Unreachable(String, String),
    /// The socket is not root's.
    #[error("{0} is not a socket owned by root: refusing to send a login to it")]
    Unsafe(String),
    /// It took too long or broke the protocol.
    #[error("iam-agent at {0} gave no answer: {1}")]
    NoAnswer(String, String),
}

/// Send `req` and read the answer.
///
/// # Errors
/// [`AgentError`] when no answer came.
pub fn call(conf: &AgentConf, req: &Request) -> Result<Answer, AgentError> {
    let name = conf.socket.display().to_string();
    let md = std::fs::symlink_metadata(&conf.socket)
        .map_err(|e| AgentError::Unreachable(name.clone(), e.to_string()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if !md.file_type().is_socket() || (md.uid() != 0 && md.uid() != euid) {
        return Err(AgentError::Unsafe(name));
    }
    let mut s = UnixStream::connect(&conf.socket)
        .map_err(|e| AgentError::Unreachable(name.clone(), e.to_string()))?;
    let no_answer = |e: std::io::Error| AgentError::NoAnswer(name.clone(), e.to_string());
    s.set_read_timeout(Some(conf.timeout)).map_err(no_answer)?;
    s.set_write_timeout(Some(conf.timeout)).map_err(no_answer)?;
    proto::write_frame(&mut s, req).map_err(no_answer)?;
    proto::read_frame(&mut s).map_err(no_answer)
}
