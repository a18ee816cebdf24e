//! Role sessions: the setuid `iam-sts` helper and the sudo decision of the PAM module.
//!
//! `scope` (who and which terminal) and `harden` (process hygiene) are the edges;
//! `assume`, `sessions` and `sudo` are the logic, written against `backend::Backend` (the
//! store and authz as role sessions see them); `cli` parses and prints.

pub mod assume;
pub mod backend;
pub mod cli;
pub mod error;
pub mod fleet;
pub mod harden;
pub mod model;
pub mod passed;
pub mod scope;
pub mod sessions;
pub mod sudo;
#[cfg(test)]
mod testing;

use std::process::ExitCode;

/// Entry point of the setuid `iam-sts` binary: hygiene first, then who is calling from
/// where (while the real uid is still the caller's), then the command — which becomes
/// fully root before it opens the store — with any panic turned into a one-line message
/// and a failure exit.
pub fn main() -> ExitCode {
    let real_uid = nix::unistd::getuid().as_raw();
    let inherited = harden::sanitize_process(real_uid);
    let facts = scope::record(real_uid);
    std::panic::set_hook(Box::new(|_| {
        eprintln!("iam-sts: internal error (this is a bug; please report it)");
    }));
    match std::panic::catch_unwind(move || cli::run(facts, inherited)) {
        Ok(code) => code,
        Err(_) => ExitCode::from(70),
    }
}
