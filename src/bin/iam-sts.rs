//! `iam-sts`: the setuid helper users run to assume roles.
fn main() -> std::process::ExitCode {
    pam_iam::sts::main()
}
