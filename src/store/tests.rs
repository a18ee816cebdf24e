//! Backend-independent tests of opening: locations and options.

use super::*;

#[test]
fn locations_parse_sqlite_paths_and_postgres_urls() {
    assert_eq!(
        Location::parse("/var/lib/pam-iam/iam.db"),
        Location::Sqlite("/var/lib/pam-iam/iam.db".into())
    );
    assert_eq!(
        Location::parse("sqlite:/tmp/x.db"),
        Location::Sqlite("/tmp/x.db".into())
    );
    assert_eq!(Location::parse("iam.db"), Location::Sqlite("iam.db".into()));
    for url in [
        "postgres://iam@db1/iam",
        "postgresql://db1,db2/iam?target_session_attrs=read-write",
    ] {
        assert_eq!(Location::parse(url), Location::Postgres(url.into()));
    }
    // The auth-facts key stays beside a SQLite file, where it always was.
    let o = OpenOptions::new(DEFAULT_PATH, OpenMode::ReadWrite);
    assert_eq!(o.auth_key, Path::new("/var/lib/pam-iam/pam_iam_auth.key"));
    assert_eq!(
        OpenOptions::for_login("sqlite:/srv/iam/iam.db").auth_key,
        Path::new("/srv/iam/pam_iam_auth.key")
    );
    assert_eq!(
        OpenOptions::for_login("postgres://db/iam").auth_key,
        Path::new(DEFAULT_AUTH_KEY)
    );
}

#[test]
fn a_postgres_location_without_a_registered_backend_is_refused_clearly_without_its_password() {
    let e = open(&OpenOptions::new(
        "postgres://iam:s3cret@db1:5432/iam",
        OpenMode::ReadWrite,
    ))
    .err()
    .unwrap();
    let msg = e.to_string();
    assert!(msg.contains("reads only SQLite stores"), "{msg}");
    assert!(msg.contains("postgres://iam:***@db1:5432/iam"), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");
    assert_eq!(e.code(), "StoreUnavailable");
}

#[test]
fn a_sqlite_prefix_opens_the_same_file() {
    let dir = sqlite::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    let acct = open_path(&db, OpenMode::ReadWrite)
        .unwrap()
        .account_id()
        .unwrap();
    let again = open(&OpenOptions::new(
        format!("sqlite:{}", db.display()),
        OpenMode::ReadOnly,
    ))
    .unwrap();
    assert_eq!(again.account_id().unwrap(), acct);
}
