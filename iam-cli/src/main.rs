//! `iam`: the admin CLI, AWS IAM CLI operation names. This binary links every store
//! backend: SQLite (in the library) and PostgreSQL (`pam-iam-postgres`), registered here
//! so `--db postgres://…` works; `pam_iam.so` and `iam-sts` never link a database client.
fn main() -> std::process::ExitCode {
    pam_iam::store::register_server_backend(pam_iam_postgres::open);
    // A frozen server never answers and its kernel still acknowledges TCP: end the wait
    // after PAM_IAM_DB_TIMEOUT, saying whether the change committed.
    if let Some(limit) = pam_iam_postgres::watch::timeout_from_env() {
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(200));
                if let Some(line) = pam_iam_postgres::watch::stalled(limit) {
                    eprintln!("An error occurred (StoreUnavailable): {line}");
                    std::process::exit(254);
                }
            }
        });
    }
    pam_iam::cli::main()
}
