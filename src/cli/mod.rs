//! The `iam` admin CLI.

/// Entry point of the `iam` binary.
pub fn main() -> std::process::ExitCode {
    eprintln!("iam: not yet implemented");
    std::process::ExitCode::FAILURE
}
