//! The API server's own account (`iamd`, a system user the iamd package creates): the
//! one owner besides root and the caller that the store, its journal files, its
//! directory and the secrets key file may have. iamd runs as that user and owns them;
//! pam_iam.so, `iam` and `iam-sts` run as root and read them as root reads any file.
//! Group and others still get no access, so nothing else can read a secret.

/// The account's name.
pub const NAME: &str = "iamd";

/// Highest uid of a system account (Debian's `SYS_UID_MAX`): a login account that
/// happens to be called `iamd` (an IAM user's userdb record, uid 70000 and up) is never
/// trusted.
const SYS_UID_MAX: u32 = 999;

/// Whether `uid` is the `iamd` system account. Looked up only for files that root or
/// the caller do not own, so the usual case costs nothing.
pub fn is_service_uid(uid: u32) -> bool {
    if uid == 0 || uid > SYS_UID_MAX {
        return false;
    }
    matches!(nix::unistd::User::from_name(NAME), Ok(Some(u)) if u.uid.as_raw() == uid)
}

/// Whether `uid` may own the store's files: root, the caller, or the `iamd` account.
pub fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw() || is_service_uid(uid)
}
