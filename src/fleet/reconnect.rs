//! Reconnect: a host's offline journal ([`super::proto::JournalBatch`]) merged into the
//! store, on `iamd`, in one transaction per batch. Entries apply in `Seq` order and each
//! once per (host, journal): a resent entry changes nothing, a skipped one refuses the
//! batch. Each entry leaves its audit row (attributed to `host/NAME`, marked offline); an
//! offline login's code raises its device's watermark (by maximum) and is recorded as a
//! spent step, an offline login's recovery code is spent at the server (so the online
//! path refuses it from then on) and recorded as spent on the host; an offline failure
//! counts under the one lockout rule (a `deny`, refused before any credential was
//! checked, is audited only).
//!
//! A (device, step) or a recovery code accepted twice (offline on one host and online
//! or offline on another) is a **replay incident**: recorded, audited naming both hosts, and, by
//! `iamd`'s `on_replay`, the user locked until an administrator unlocks it and its role
//! sessions revoked.

use super::proto::{JournalBatch, JournalEntry, JournalKind, MAX_JOURNAL_ENTRIES};
use crate::audit::Decision;
use crate::credentials::recovery;
use crate::store::{
    self, AuditEvent, ReplayIncident, SpentStep, Store, StoreError, absent_as_none,
};

/// How long accepted steps are kept: the longest offline window (offline material
/// covers at most 30 days of steps), so a journal shipped within it is checked against
/// every step the fleet accepted meanwhile.
pub const SPENT_STEPS_KEPT: i64 = 30 * 86_400;

/// The end of a lock that only `iam unlock-user` lifts (9999-12-31T23:59:59Z).
pub const LOCKED_UNTIL_UNLOCKED: i64 = 253_402_300_799;

/// The most bytes of an entry's text field (the agent cuts longer ones to it).
pub const MAX_TEXT: usize = 1024;

/// What `iamd` does about a replay incident besides recording and auditing it
/// (`iamd.toml` `on_replay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnReplay {
    /// Record and audit only (the default).
    #[default]
    Audit,
    /// Also lock the user (every factor refused) until `iam unlock-user`. The device is
    /// left enabled: deactivating it would open a password-only login.
    Lock,
    /// Also revoke the user's live role sessions.
    LockAndRevokeSessions,
}

impl OnReplay {
    /// The values `on_replay` takes, as written in `iamd.toml`.
    pub const VALUES: &'static [&'static str] = &["audit", "lock", "lock-and-revoke-sessions"];

    /// Parse an `on_replay` value.
    ///
    /// # Errors
    /// A message listing the values.
    pub fn parse(s: &str) -> Result<OnReplay, String> {
        match s {
            "audit" => Ok(OnReplay::Audit),
            "lock" => Ok(OnReplay::Lock),
            "lock-and-revoke-sessions" => Ok(OnReplay::LockAndRevokeSessions),
            _ => Err(format!(
                "{s:?} is not one of {}",
                OnReplay::VALUES
                    .iter()
                    .map(|v| format!("\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The value as written.
    pub fn as_str(self) -> &'static str {
        match self {
            OnReplay::Audit => "audit",
            OnReplay::Lock => "lock",
            OnReplay::LockAndRevokeSessions => "lock-and-revoke-sessions",
        }
    }
}

/// Why a batch was not applied (nothing of it was).
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The batch is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The batch skips entries: resend from `ack + 1`.
    #[error(
        "journal {journal}: entry {got} does not follow {ack}, the last entry applied; resend from entry {}",
        ack + 1
    )]
    Gap {
        /// The journal id.
        journal: String,
        /// Highest entry applied.
        ack: i64,
        /// The first entry of the batch above it.
        got: i64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A batch applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Highest `Seq` of the journal applied now.
    pub ack: i64,
    /// Entries applied by this batch (0 for a batch resent whole).
    pub applied: usize,
    /// Replay incidents it revealed.
    pub incidents: Vec<ReplayIncident>,
}

/// Check a batch's shape: an id, 1..=[`MAX_JOURNAL_ENTRIES`] consecutive entries from
/// `Seq` 1 up, a login's code as serial and step together, a failure without one.
///
/// # Errors
/// [`JournalError::Invalid`] naming the entry and the field.
pub fn check(b: &JournalBatch) -> Result<(), JournalError> {
    let bad = |m: String| Err(JournalError::Invalid(m));
    if b.journal.is_empty() || b.journal.len() > 64 {
        return bad("Journal must be an id of 1 to 64 characters".into());
    }
    if b.entries.is_empty() || b.entries.len() > MAX_JOURNAL_ENTRIES {
        return bad(format!(
            "a batch carries 1 to {MAX_JOURNAL_ENTRIES} entries, not {}",
            b.entries.len()
        ));
    }
    let mut prev: Option<i64> = None;
    for e in &b.entries {
        let at = format!("entry {}", e.seq);
        if e.seq < 1 {
            return bad(format!("{at}: Seq starts at 1"));
        }
        if let Some(p) = prev.filter(|p| e.seq != p + 1) {
            return bad(format!(
                "{at} follows entry {p} in the batch: entries must be consecutive"
            ));
        }
        prev = Some(e.seq);
        if e.user.is_empty() {
            return bad(format!("{at}: User is empty"));
        }
        let texts = [
            Some(&e.user),
            Some(&e.reason),
            e.serial.as_ref(),
            e.service.as_ref(),
            e.rhost.as_ref(),
            e.tty.as_ref(),
        ];
        if texts.iter().flatten().any(|t| t.len() > MAX_TEXT) {
            return bad(format!("{at}: a text field is longer than {MAX_TEXT}"));
        }
        if let Some(id) = &e.recovery_code {
            if e.kind != JournalKind::Login || e.serial.is_some() || e.step.is_some() {
                return bad(format!(
                    "{at}: a RecoveryCode comes only on a login, without Serial or Step"
                ));
            }
            if !recovery::is_public_id(id) {
                return bad(format!(
                    "{at}: RecoveryCode is a code's public id (32 lowercase hex digits)"
                ));
            }
        }
        match (e.kind, &e.serial, e.step) {
            (JournalKind::Login, Some(_), Some(s)) if s < 0 => {
                return bad(format!("{at}: Step {s} is negative"));
            }
            (JournalKind::Login, Some(_), Some(_)) | (JournalKind::Login, None, None) => {}
            (JournalKind::Login, _, _) => {
                return bad(format!("{at}: a login's Serial and Step come together"));
            }
            (JournalKind::Failure | JournalKind::Deny, None, None) => {}
            (JournalKind::Failure | JournalKind::Deny, _, _) => {
                return bad(format!("{at}: a refusal carries no Serial or Step"));
            }
        }
    }
    Ok(())
}

/// Apply `b`, shipped by `host` (the credential's), at `now`, in one transaction.
///
/// # Errors
/// [`JournalError`]; nothing is applied then.
pub fn apply(
    s: &dyn Store,
    host: &str,
    b: &JournalBatch,
    now: i64,
    on_replay: OnReplay,
) -> Result<Applied, JournalError> {
    check(b)?;
    let done = store::atomically(s, |tx| {
        let ack = tx.journal_position(host, &b.journal)?;
        let fresh: Vec<&JournalEntry> = b.entries.iter().filter(|e| e.seq > ack).collect();
        let Some(first) = fresh.first() else {
            return Ok(Ok(Applied {
                ack,
                applied: 0,
                incidents: Vec::new(),
            }));
        };
        if first.seq != ack + 1 {
            return Ok(Err((ack, first.seq)));
        }
        let mut incidents = Vec::new();
        for e in &fresh {
            apply_entry(tx, host, e, now, on_replay, &mut incidents)?;
        }
        let last = fresh.last().map_or(ack, |e| e.seq);
        tx.set_journal_position(host, &b.journal, last, now)?;
        tx.prune_spent_steps(now - SPENT_STEPS_KEPT)?;
        Ok(Ok(Applied {
            ack: last,
            applied: fresh.len(),
            incidents,
        }))
    })?;
    done.map_err(|(ack, got)| JournalError::Gap {
        journal: b.journal.clone(),
        ack,
        got,
    })
}

/// One entry: its audit row, then what it means for the device and the lockout.
fn apply_entry(
    tx: &dyn Store,
    host: &str,
    e: &JournalEntry,
    now: i64,
    on_replay: OnReplay,
    incidents: &mut Vec<ReplayIncident>,
) -> store::Result<()> {
    let reason = e.reason.strip_prefix("offline: ").unwrap_or(&e.reason);
    tx.append_audit(&AuditEvent {
        time: e.time,
        user: e.user.clone(),
        service: e.service.clone().unwrap_or_default(),
        rhost: e.rhost.clone(),
        tty: e.tty.clone(),
        action: "authenticate".into(),
        decision: match e.kind {
            JournalKind::Login => Decision::Allow,
            JournalKind::Failure | JournalKind::Deny => Decision::Deny,
        },
        reason: format!("host/{host} offline (journal entry {}): {reason}", e.seq),
    })?;
    match (e.kind, &e.serial, e.step) {
        (JournalKind::Login, Some(serial), Some(step)) => {
            let spent = SpentStep {
                serial: serial.clone(),
                step,
                host: host.to_string(),
                user: e.user.clone(),
                time: e.time,
                offline: true,
            };
            spend(tx, &spent, now, on_replay, incidents)
        }
        (JournalKind::Login, None, None) if e.recovery_code.is_some() => {
            let id = e.recovery_code.as_deref().unwrap_or_default();
            spend_recovery(tx, host, e, id, now, on_replay, incidents)
        }
        (JournalKind::Failure, _, _) => merge_failure(tx, &e.user, e.time.min(now)),
        // A login without a code, and a refusal before any credential was checked:
        // the audit row is all.
        _ => Ok(()),
    }
}

/// Record an offline acceptance: the device's watermark rises to it (if the device is
/// still the user's), and every earlier acceptance of the same step is an incident.
fn spend(
    tx: &dyn Store,
    spent: &SpentStep,
    now: i64,
    on_replay: OnReplay,
    incidents: &mut Vec<ReplayIncident>,
) -> store::Result<()> {
    let owned = absent_as_none(tx.list_mfa_devices(&spent.user))?
        .unwrap_or_default()
        .iter()
        .any(|d| d.serial_number == spent.serial);
    if owned {
        tx.raise_totp_watermark(&spent.serial, spent.step)?;
    }
    for earlier in tx.record_spent_step(spent)? {
        let i = ReplayIncident {
            id: 0,
            time: now,
            user: spent.user.clone(),
            serial: spent.serial.clone(),
            step: spent.step,
            first: earlier,
            second: spent.clone(),
            action: on_replay.as_str().to_string(),
        };
        report(tx, &i, on_replay, now)?;
        incidents.push(i);
    }
    Ok(())
}

/// Record an offline acceptance of a recovery code: spent at the server if it is still
/// one of the user's unused codes (the online path refuses it from then on), recorded as
/// spent on this host, and every earlier acceptance of it (online anywhere, offline on
/// another host) is an incident.
fn spend_recovery(
    tx: &dyn Store,
    host: &str,
    e: &JournalEntry,
    id: &str,
    now: i64,
    on_replay: OnReplay,
    incidents: &mut Vec<ReplayIncident>,
) -> store::Result<()> {
    let unused = absent_as_none(tx.unused_recovery_hashes(&e.user))?.unwrap_or_default();
    if let Some(h) = unused.iter().find(|h| recovery::public_id(h) == id) {
        tx.use_recovery_code(&e.user, h, e.time.min(now))?;
    }
    let spent = SpentStep {
        serial: recovery::spent_key_of_id(id),
        step: 0,
        host: host.to_string(),
        user: e.user.clone(),
        time: e.time,
        offline: true,
    };
    spend(tx, &spent, now, on_replay, incidents)
}

/// What an incident's second factor was, for its audit row.
fn factor(i: &ReplayIncident) -> String {
    match i.serial.strip_prefix(recovery::SPENT_PREFIX) {
        Some(id) => format!("recovery code {id} of {}", i.user),
        None => format!("MFA device {} step {}", i.serial, i.step),
    }
}

/// Record, audit and act on an incident.
fn report(tx: &dyn Store, i: &ReplayIncident, on_replay: OnReplay, now: i64) -> store::Result<()> {
    let side = |s: &SpentStep| {
        format!(
            "host/{} ({}, {})",
            s.host,
            if s.offline { "offline" } else { "online" },
            crate::time::iso8601(s.time)
        )
    };
    let mut did = Vec::new();
    if on_replay != OnReplay::Audit && absent_as_none(tx.get_user(&i.user))?.is_some() {
        tx.lock_user_until(&i.user, LOCKED_UNTIL_UNLOCKED)?;
        did.push("user locked until iam unlock-user".to_string());
        if on_replay == OnReplay::LockAndRevokeSessions {
            let live = tx.list_role_sessions(Some(&i.user), Some(now))?;
            for s in &live {
                tx.revoke_role_session(&s.session_id, now)?;
            }
            did.push(format!("{} role session(s) revoked", live.len()));
        }
    }
    tx.record_replay_incident(i)?;
    tx.append_audit(&AuditEvent {
        time: now,
        user: i.user.clone(),
        service: "iamd".into(),
        rhost: None,
        tty: None,
        action: REPLAY_ACTION.into(),
        decision: Decision::Deny,
        reason: format!(
            "replay incident: {} accepted on {} and on {}{}",
            factor(i),
            side(&i.first),
            side(&i.second),
            if did.is_empty() {
                String::new()
            } else {
                format!("; {}", did.join(", "))
            }
        ),
    })
}

/// The audit action of a replay incident's row.
pub const REPLAY_ACTION: &str = "replay-incident";

/// An offline failure counted under the one lockout rule, never earlier than the
/// user's last failure (so an old entry cannot shorten a newer lock). A user deleted
/// since has nothing to count.
fn merge_failure(tx: &dyn Store, user: &str, time: i64) -> store::Result<()> {
    let Some(state) = absent_as_none(tx.lock_state(user))? else {
        return Ok(());
    };
    let at = state.last_failure.map_or(time, |t| t.max(time));
    tx.record_failure(user, at, None).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, kind: JournalKind, code: Option<(&str, i64)>) -> JournalEntry {
        JournalEntry {
            seq,
            time: 1_000,
            user: "alice".into(),
            kind,
            serial: code.map(|c| c.0.to_string()),
            step: code.map(|c| c.1),
            recovery_code: None,
            reason: "offline: password + verification code".into(),
            service: Some("sshd".into()),
            rhost: None,
            tty: None,
        }
    }

    fn batch(entries: Vec<JournalEntry>) -> JournalBatch {
        JournalBatch {
            journal: "j1".into(),
            entries,
        }
    }

    #[test]
    fn a_batch_is_consecutive_and_each_kind_carries_what_it_means() {
        let ok = batch(vec![
            entry(4, JournalKind::Login, Some(("arn:mfa/a", 7))),
            entry(5, JournalKind::Failure, None),
            entry(6, JournalKind::Login, None),
        ]);
        assert!(check(&ok).is_ok());
        let cases: Vec<(JournalBatch, &str)> = vec![
            (batch(vec![]), "1 to 500 entries"),
            (
                batch(vec![
                    entry(1, JournalKind::Login, None),
                    entry(3, JournalKind::Login, None),
                ]),
                "entry 3 follows entry 1",
            ),
            (
                batch(vec![entry(0, JournalKind::Login, None)]),
                "Seq starts at 1",
            ),
            (
                batch(vec![entry(1, JournalKind::Failure, Some(("s", 1)))]),
                "a refusal carries no Serial",
            ),
            (
                batch(vec![JournalEntry {
                    step: None,
                    ..entry(1, JournalKind::Login, Some(("s", 1)))
                }]),
                "Serial and Step come together",
            ),
            (
                JournalBatch {
                    journal: String::new(),
                    ..ok.clone()
                },
                "Journal must be an id",
            ),
        ];
        for (b, want) in cases {
            let e = check(&b).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should say {want:?}");
        }
    }

    #[test]
    fn a_recovery_code_comes_alone_on_a_login_as_a_public_id() {
        let id = recovery::public_id(&recovery::hash("aaaa-bbbb-cccc-dddd"));
        let with = |kind, code: Option<(&str, i64)>, rc: &str| {
            batch(vec![JournalEntry {
                recovery_code: Some(rc.to_string()),
                ..entry(1, kind, code)
            }])
        };
        assert!(check(&with(JournalKind::Login, None, &id)).is_ok());
        for (b, want) in [
            (with(JournalKind::Failure, None, &id), "only on a login"),
            (
                with(JournalKind::Login, Some(("s", 1)), &id),
                "without Serial",
            ),
            (
                with(JournalKind::Login, None, "aaaa-bbbb-cccc-dddd"),
                "public id",
            ),
            (
                with(
                    JournalKind::Login,
                    None,
                    &recovery::hash("aaaa-bbbb-cccc-dddd"),
                ),
                "public id",
            ),
        ] {
            let e = check(&b).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should say {want:?}");
        }
        // On the wire only when set: an entry without it is what an older iamd reads.
        let plain = serde_json::to_string(&entry(1, JournalKind::Login, None)).unwrap();
        assert!(!plain.contains("RecoveryCode"), "{plain}");
        let b = with(JournalKind::Login, None, &id);
        let text = serde_json::to_string(&b).unwrap();
        assert!(
            text.contains(&format!("\"RecoveryCode\":\"{id}\"")),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<JournalBatch>(&text).unwrap(), b);
    }

    #[test]
    fn on_replay_values_round_trip_and_a_typo_lists_them() {
        for v in OnReplay::VALUES {
            assert_eq!(OnReplay::parse(v).unwrap().as_str(), *v);
        }
        let e = OnReplay::parse("lock-device").unwrap_err();
        assert!(e.contains("\"lock-and-revoke-sessions\""), "{e}");
    }

    #[test]
    fn the_wire_shape_is_pascal_case_and_refuses_a_host_field() {
        let b = batch(vec![entry(1, JournalKind::Login, Some(("arn:mfa/a", 7)))]);
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["Entries"][0]["Kind"], "login");
        assert_eq!(v["Entries"][0]["Step"], 7);
        let mut forged = v.clone();
        forged["Host"] = "web-02".into();
        assert!(serde_json::from_value::<JournalBatch>(forged).is_err());
        let mut forged = v;
        forged["Entries"][0]["Host"] = "web-02".into();
        assert!(serde_json::from_value::<JournalBatch>(forged).is_err());
    }
}
