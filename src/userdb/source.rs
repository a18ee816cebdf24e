//! What userdb needs from the store, as one small trait: the store adapter implements
//! it, tests implement it with plain data. An `Err` means "could not read": callers then
//! leave every record and export file in place.

use super::keys::UserKeys;
use super::record::Snapshot;

/// The read side userdb consumes.
pub trait Source {
    /// All IAM users and groups with their (already allocated) ids and memberships.
    ///
    /// # Errors
    /// A message saying why the store could not be read.
    fn snapshot(&self) -> Result<Snapshot, String>;

    /// Per user: Active SSH public keys and whether `host:Login` could be allowed here.
    ///
    /// # Errors
    /// A message saying why the store could not be read.
    fn key_export(&self) -> Result<Vec<UserKeys>, String>;
}
