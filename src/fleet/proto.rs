//! The agent socket's protocol: one request and one answer per connection, each a frame
//! of a 4-byte big-endian length and that many bytes of JSON. Frames holding secrets
//! (passwords, codes) live only in zeroizing buffers on both sides.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use zeroize::Zeroizing;

/// The largest frame either side reads (a request is a few hundred bytes).
pub const MAX_FRAME: usize = 64 * 1024;

/// What a caller asks the agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Which prompts does this user get (is it an IAM user, has it an MFA device)?
    Prompts {
        /// PAM_USER.
        user: String,
    },
    /// Verify a login's answers.
    Login(LoginRequest),
    /// Is `iamd` reachable now (for `account` after a publickey-only login)?
    Status,
    /// A new role session for this host (`iam-sts assume-role`), issued by `iamd`.
    AssumeRole(AssumeRequest),
    /// Until when this host honours the role sessions its replica holds (sudo).
    SessionWindow,
    /// `iam-sts revoke-session`: revoke the caller's own role session(s) of this host at
    /// `iamd` (online only).
    RevokeSession(RevokeRequest),
}

/// `iam-sts revoke-session` in fleet mode: the caller (the real uid's name, as the
/// setuid helper found it), which session (`None`: all the caller's active ones on this
/// host) and the terminal for the audit trail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// IAM (= Linux) user name of the caller.
    pub user: String,
    /// `--access-key-id`.
    pub access_key_id: Option<String>,
    /// The terminal scope for people, for the audit trail.
    pub tty: String,
}

/// `iam-sts assume-role` in fleet mode: the arguments, the caller (the real uid's name,
/// as the setuid helper found it) and the terminal scope the session is bound to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssumeRequest {
    /// IAM (= Linux) user name of the caller.
    pub user: String,
    /// `--role-arn`.
    pub role_arn: String,
    /// `--role-session-name`.
    pub session_name: String,
    /// `--duration-seconds`.
    pub duration: Option<i64>,
    /// `--serial-number`.
    pub serial: Option<String>,
    /// `--token-code`, or the code typed at the prompt.
    pub code: Option<Zeroizing<String>>,
    /// `--policy` (JSON).
    pub policy: Option<String>,
    /// `--external-id`.
    #[serde(default)]
    pub external_id: Option<String>,
    /// `--source-identity`, `--tags`, `--transitive-tag-keys`, `--policy-arns`.
    #[serde(default)]
    pub passed: crate::sts::passed::Passed,
    /// The terminal scope's key (`TerminalScope::key`), which sudo on this host matches.
    pub scope: String,
    /// The terminal scope for people, for the audit trail.
    pub tty: String,
}

/// A role session `iamd` issued for this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssumedRole {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key (shown once; the store keeps only a hash).
    pub secret_access_key: Zeroizing<String>,
    /// The session token (shown once).
    pub session_token: Zeroizing<String>,
    /// Unix seconds.
    pub expiration: i64,
    /// `AROA…:SESSION`.
    pub assumed_role_id: String,
    /// The assumed-role ARN.
    pub arn: String,
}

/// A login's answers and items.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// PAM_USER.
    pub user: String,
    /// The password (`None` in code-only mode).
    pub password: Option<Zeroizing<String>>,
    /// The verification or recovery code, when asked.
    pub code: Option<Zeroizing<String>>,
    /// PAM_SERVICE.
    pub service: Option<String>,
    /// PAM_RHOST.
    pub rhost: Option<String>,
    /// PAM_TTY.
    pub tty: Option<String>,
    /// `mode=code`: sshd verified a public key first.
    pub code_only: bool,
}

/// What the agent answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case", deny_unknown_fields)]
pub enum Answer {
    /// The prompts of [`Request::Prompts`].
    Prompts {
        /// An IAM user.
        known: bool,
        /// Ask for a verification code.
        mfa: bool,
    },
    /// The login is proven (online by `iamd`, or offline by the agent's rules).
    Allow {
        /// Audit text.
        reason: String,
        /// A second factor was verified.
        mfa: bool,
        /// Decided by the agent while `iamd` was unreachable.
        offline: bool,
        /// Unix seconds of the authentication.
        auth_time: i64,
        /// The password's expiry facts (`iamd` online; offline the material's, if it
        /// has them), for `account`; `None` for a user without a password.
        #[serde(default)]
        expiry: Option<crate::credentials::ExpiryFacts>,
    },
    /// Refused (final: never retried offline).
    Deny {
        /// Audit text.
        reason: String,
        /// Decided offline.
        offline: bool,
        /// What to tell the user (PAM_ERROR_MSG) when the refusal is not about their
        /// credentials and they can act on it (the host's offline journal is full).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Not an IAM user.
    Unknown,
    /// The decision could not be made (a server error answer, a broken request); the
    /// login is refused.
    Error {
        /// What went wrong.
        reason: String,
    },
    /// [`Request::Status`].
    Status {
        /// `iamd` answered the last call.
        online: bool,
    },
    /// [`Request::AssumeRole`] issued.
    Assumed(AssumedRole),
    /// [`Request::AssumeRole`] or [`Request::RevokeSession`] refused (final): the message
    /// starts with the AWS code.
    Refused {
        /// `AccessDenied`, `ValidationError`, … or `ServiceUnavailable` (offline).
        code: String,
        /// What to tell the caller.
        message: String,
        /// When a code would change the answer: the caller's MFA device, to ask for it.
        mfa_serial: Option<String>,
    },
    /// [`Request::RevokeSession`] done at `iamd` (and, when the agent answers, held by
    /// this host's replica, at most a few seconds later).
    Revoked {
        /// The sessions revoked.
        access_key_ids: Vec<String>,
    },
    /// [`Request::SessionWindow`].
    SessionWindow {
        /// `iamd` answered the last call.
        online: bool,
        /// Offline: role sessions count only before this time (the last contact with
        /// `iamd` plus the agent's offline session cap). `None` online.
        until: Option<i64>,
    },
}

/// A batch of a host's offline journal, shipped by the agent to `iamd` on reconnect
/// (`POST /host/v1/journal`, SigV4-signed with the host credentials: the host is the
/// credential's, no field names it). The entries of one journal are applied in `Seq`
/// order, each once: a batch may repeat entries already applied (they change nothing)
/// but may not skip one (the server refuses the gap and says where to resume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct JournalBatch {
    /// The journal's id: random, made once with the journal (offline.db). A journal made
    /// afresh (a reinstalled host) gets a new id and starts again at `Seq` 1.
    pub journal: String,
    /// Consecutive entries, oldest first (at most [`MAX_JOURNAL_ENTRIES`]).
    pub entries: Vec<JournalEntry>,
}

/// The most entries one [`JournalBatch`] carries.
pub const MAX_JOURNAL_ENTRIES: usize = 500;

/// One row of the agent's journal table, as decided offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct JournalEntry {
    /// Position in the journal: 1, 2, 3, … with no gap.
    pub seq: i64,
    /// Unix seconds of the decision (the host's clock).
    pub time: i64,
    /// PAM_USER (an IAM user).
    pub user: String,
    /// What was decided.
    pub kind: JournalKind,
    /// The MFA device whose code was accepted (a `login` with a code).
    #[serde(default)]
    pub serial: Option<String>,
    /// The TOTP time step accepted (with `serial`).
    #[serde(default)]
    pub step: Option<i64>,
    /// The recovery code accepted instead of a TOTP code (a `login`), by its public
    /// name ([`crate::credentials::recovery::public_id`]); never with `serial`/`step`.
    /// Sent only when set, so the entries an older `iamd` knows are unchanged; one that
    /// does not know this field refuses the batch (400, nothing applied) rather than
    /// take the login for one without a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
    /// Audit text.
    pub reason: String,
    /// PAM_SERVICE.
    #[serde(default)]
    pub service: Option<String>,
    /// PAM_RHOST.
    #[serde(default)]
    pub rhost: Option<String>,
    /// PAM_TTY.
    #[serde(default)]
    pub tty: Option<String>,
}

/// What an offline journal entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalKind {
    /// A login allowed offline (with `serial` and `step` when a TOTP code was accepted,
    /// `recovery_code` when a recovery code was).
    Login,
    /// A login refused offline on a wrong password or code, or while locked offline:
    /// counts toward the fleet's lockout.
    Failure,
    /// A login refused offline before any credential was checked (no material on this
    /// host, `offline_max_age` passed, the clock earlier than the last sync): audited
    /// only, never counted toward the lockout.
    Deny,
}

/// `iamd`'s answer to a [`JournalBatch`] (200), and part of its gap refusal (409
/// `JournalGap`): `Ack` is the highest `Seq` of this journal applied so far; the agent
/// may drop entries up to it and sends the next batch from `Ack + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JournalAck {
    /// Highest `Seq` applied (0: none).
    pub ack: i64,
}

/// Write `v` as one frame.
///
/// # Errors
/// The stream failed, or `v` is larger than [`MAX_FRAME`].
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, v: &T) -> std::io::Result<()> {
    let mut buf = Zeroizing::new(Vec::with_capacity(1024));
    buf.extend_from_slice(&[0; 4]);
    // serde_json grows the buffer by reallocation; a request is far below the capacity
    // reserved, so the secret is never copied into a freed allocation.
    serde_json::to_writer(&mut *buf, v).map_err(std::io::Error::other)?;
    let len = buf.len() - 4;
    if len > MAX_FRAME {
        return Err(std::io::Error::other("frame too large"));
    }
    buf[..4].copy_from_slice(&(len as u32).to_be_bytes());
    w.write_all(&buf)?;
    w.flush()
}

/// Read one frame as `T`.
///
/// # Errors
/// The stream failed or timed out, the frame is larger than [`MAX_FRAME`] or not a `T`.
pub fn read_frame<R: Read, T: DeserializeOwned>(r: &mut R) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes (at most {MAX_FRAME})"),
        ));
    }
    let mut buf = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut buf)?;
    serde_json::from_slice(&buf)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_refuse_oversize() {
        let req = Request::Login(LoginRequest {
            user: "alice".into(),
            password: Some(Zeroizing::new("pw".into())),
            code: None,
            service: Some("sshd".into()),
            rhost: None,
            tty: None,
            code_only: false,
        });
        let mut buf = Vec::new();
        write_frame(&mut buf, &req).unwrap();
        let back: Request = read_frame(&mut buf.as_slice()).unwrap();
        assert!(matches!(back, Request::Login(l) if l.user == "alice"));
        let mut big = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        big.extend(vec![b' '; 8]);
        assert!(read_frame::<_, Request>(&mut big.as_slice()).is_err());
        let a = Answer::Deny {
            reason: "x".into(),
            offline: false,
            message: None,
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &a).unwrap();
        // Without a message the frame is the one an older module reads.
        assert!(!String::from_utf8_lossy(&buf).contains("message"));
        assert_eq!(read_frame::<_, Answer>(&mut buf.as_slice()).unwrap(), a);
        let a = Answer::Deny {
            reason: "x".into(),
            offline: true,
            message: Some("try later".into()),
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &a).unwrap();
        assert_eq!(read_frame::<_, Answer>(&mut buf.as_slice()).unwrap(), a);
    }
}
