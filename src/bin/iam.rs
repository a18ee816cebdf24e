//! `iam`: the admin CLI, AWS IAM CLI operation names.
fn main() -> std::process::ExitCode {
    pam_iam::cli::main()
}
