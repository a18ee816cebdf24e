//! Role sessions and the `iam-sts` helper.

/// Entry point of the `iam-sts` binary.
pub fn main() -> std::process::ExitCode {
    eprintln!("iam-sts: not yet implemented");
    std::process::ExitCode::FAILURE
}
