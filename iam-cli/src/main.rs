//! `iam`: the admin CLI, AWS IAM CLI operation names. This binary links every store
//! backend: SQLite (in the library) and PostgreSQL (`pam-iam-postgres`), registered here
//! so `--db postgres://…` works; `pam_iam.so` and `iam-sts` never link a database client.
fn main() -> std::process::ExitCode {
    pam_iam::store::register_server_backend(pam_iam_postgres::open);
    pam_iam::cli::main()
}
