//! While a process holds the store's write lock, the user who started it must not be able
//! to stop it: every login on the host would wait on that lock (and then fail closed).
//!
//! Setuid programs that run pam_iam — sudo, su, passwd, pkexec's helper — keep their
//! caller's real uid, so the caller may `kill -STOP` them (kill(2) lets a sender signal a
//! target whose real or saved uid is the sender's); and ^Z on the terminal stops the whole
//! foreground process group whatever the uids. For the length of one write transaction
//! (and its wait for the lock) [`StopGuard`] blocks the terminal stop signals and, in such
//! a process (effective uid 0, real uid not 0), makes the real uid 0 as well; dropping the
//! guard restores both. The saved uid of a setuid-root program is already 0, so the caller
//! cannot signal the process at all while the guard is engaged. SIGSTOP itself cannot be
//! blocked; only root can send it then. In a multi-threaded host the signal mask covers
//! only the calling thread (pam_iam's hosts are single-threaded: sshd, sudo, su, login).

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{Uid, getresuid, setresuid};

/// Engaged for one write transaction; restores the signal mask and real uid on drop.
pub(crate) struct StopGuard {
    old_mask: Option<SigSet>,
    /// The real uid to give back, when the guard changed it.
    old_ruid: Option<Uid>,
}

impl StopGuard {
    /// Blocks SIGTSTP/SIGTTIN/SIGTTOU and, in a setuid-root process started by a user,
    /// takes the real uid to 0 until the guard is dropped. Failures leave things as they
    /// were (the write still happens, only unguarded).
    pub(crate) fn engage() -> StopGuard {
        let mut set = SigSet::empty();
        for s in [Signal::SIGTSTP, Signal::SIGTTIN, Signal::SIGTTOU] {
            set.add(s);
        }
        let mut old = SigSet::empty();
        let old_mask = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .ok()
            .map(|()| old);
        let old_ruid = match getresuid() {
            Ok(ids) if ids.effective.is_root() && !ids.real.is_root() => {
                setresuid(Uid::from_raw(0), ids.effective, ids.saved)
                    .ok()
                    .map(|()| ids.real)
            }
            _ => None,
        };
        StopGuard { old_mask, old_ruid }
    }
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        if let Some(ruid) = self.old_ruid {
            let restored = getresuid()
                .and_then(|ids| setresuid(ruid, ids.effective, ids.saved))
                .is_ok();
            if !restored {
                // Never reached with euid 0 (since Linux 3.1 setresuid does not fail for
                // RLIMIT_NPROC). Going on with the host's real uid changed to root would
                // mislead it about its caller: stop here instead.
                std::process::abort();
            }
        }
        if let Some(old) = self.old_mask {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_stop_signals_and_restores_them() {
        let before = SigSet::thread_get_mask().unwrap_or_else(|e| panic!("{e}"));
        let ids = getresuid().unwrap_or_else(|e| panic!("{e}"));
        {
            let _g = StopGuard::engage();
            let during = SigSet::thread_get_mask().unwrap_or_else(|e| panic!("{e}"));
            assert!(during.contains(Signal::SIGTSTP) && during.contains(Signal::SIGTTIN));
            // Tests run with equal real and effective uids: nothing to change.
            let now = getresuid().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(now.real, ids.real);
        }
        let after = SigSet::thread_get_mask().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            before.contains(Signal::SIGTSTP),
            after.contains(Signal::SIGTSTP)
        );
    }
}
