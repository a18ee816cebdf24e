//! The offline rules' pure parts: whether material covers the user's current MFA
//! device, and a user's offline lock state as kept in offline.db.

use pam_iam::credentials::LockState;
use pam_iam::credentials::offline::Material;
use pam_iam::store::ReplicaMfaDevice;
use rusqlite::{Connection, OptionalExtension};

/// Whether material `m` covers `device`, the MFA device the replica shows its user
/// enabled: the material must be for that very device, enabled no later than the
/// material was made (both the server's clock), or for no device when the user has
/// none. Otherwise codes of a lost device would still open the host offline after the
/// user re-enrolled, and a device enabled since would be bypassed by password-only
/// material; a device deactivated at the server leaves no second factor to check.
///
/// # Errors
/// Why the material does not cover the user's device (the login is denied).
pub(super) fn covers(m: &Material, device: Option<&ReplicaMfaDevice>) -> Result<(), String> {
    match (m.serial.as_deref(), device) {
        (None, None) => Ok(()),
        (Some(serial), None) => Err(format!(
            "the MFA device of this host's offline material ({serial}) is no longer enabled for the user"
        )),
        (Some(held), Some(d)) if held == d.serial_number && d.enable_date <= m.issued_at => Ok(()),
        (held, Some(d)) => Err(format!(
            "the user has MFA device {} enabled (since {}) that this host's offline material does not cover (issued at {} for {}; log in online once)",
            d.serial_number,
            d.enable_date,
            m.issued_at,
            held.unwrap_or("no device")
        )),
    }
}

/// A user's offline failure count and lock (none yet: the default).
pub(super) fn read_lock(c: &Connection, user: &str) -> rusqlite::Result<LockState> {
    Ok(c.query_row(
        "SELECT failures, last_failure, locked_until FROM state WHERE user = ?1",
        [user],
        |r| {
            Ok(LockState {
                failed_attempts: r.get(0)?,
                last_failure: r.get(1)?,
                locked_until: r.get(2)?,
            })
        },
    )
    .optional()?
    .unwrap_or_default())
}
