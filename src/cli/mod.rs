//! The `iam` admin CLI.

/// Entry point of the `iam` binary.
pub fn main() -> std::process::ExitCode {
    eprintln!("iam: not yet implemented");
    std::process::ExitCode::FAILURE
}

/// The clap definition of `iam`, so packaging can generate man pages and shell
/// completions from the same source as the parser (scripts/build-deb, examples/gen-docs.rs).
/// Placeholder until the real parser lands: then this returns `Cli::command()`.
pub fn command() -> clap::Command {
    clap::Command::new("iam")
        .about("Administer pam-iam: AWS IAM users, groups, policies and roles on this host")
        .version(env!("CARGO_PKG_VERSION"))
}
