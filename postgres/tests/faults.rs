//! Bad input and faults on a real PostgreSQL 15: each error is one line naming the
//! server, nothing is half-written, and a write whose COMMIT answer was lost is settled
//! (committed, or not and run again) instead of guessed.

use pam_iam::store::*;
use pam_iam_postgres::testing::{self, CommitFault, Proxy};
use std::time::{Duration, Instant};

fn open(url: &str) -> Result<Box<dyn Store>> {
    pam_iam_postgres::open(&OpenOptions::new(url, OpenMode::ReadWrite))
}

fn user(name: &str) -> NewUser {
    NewUser {
        name: name.into(),
        path: "/".into(),
        ..Default::default()
    }
}

fn one_line(e: &StoreError) -> String {
    let m = e.to_string();
    assert!(!m.contains('\n'), "one line: {m}");
    m
}

#[test]
fn an_unreachable_server_fails_within_the_timeout_naming_host_and_port() {
    if !testing::available() {
        return;
    }
    // Nothing listens.
    let port = testing::free_port();
    let t = Instant::now();
    let e = open(&format!(
        "postgres://iam@127.0.0.1:{port}/iam?sslmode=disable"
    ))
    .err()
    .expect("refused");
    let m = one_line(&e);
    assert!(
        m.contains(&format!("127.0.0.1:{port}/iam")) && m.contains("cannot connect"),
        "{m}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(e.code(), "StoreUnavailable");
    // Something accepts the connection but never answers (a stopped server): the
    // handshake is bounded too.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let t = Instant::now();
    let e = open(&format!(
        "postgres://iam@127.0.0.1:{port}/iam?sslmode=disable&connect_timeout=1"
    ))
    .err()
    .expect("timed out");
    let m = one_line(&e);
    assert!(
        m.contains(&format!("127.0.0.1:{port}")) && m.contains("no answer within 2 s"),
        "{m}"
    );
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

#[test]
fn passwords_come_from_the_passfile_and_a_wrong_one_is_one_clear_line() {
    let Some(server) = testing::shared() else {
        return;
    };
    server
        .psql("postgres", "CREATE ROLE pw LOGIN PASSWORD 'right-horse'")
        .unwrap();
    let db = server.fresh_db_name().unwrap();
    server
        .psql("postgres", &format!("ALTER DATABASE {db} OWNER TO pw"))
        .unwrap();
    let hba = server.data.join("pg_hba.conf");
    let old = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("host all pw 127.0.0.1/32 scram-sha-256\n{old}"),
    )
    .unwrap();
    server.psql("postgres", "SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pgpass");
    let url = format!(
        "postgres://pw@127.0.0.1:{}/{db}?sslmode=disable&passfile={}",
        server.port,
        pass.display()
    );
    use std::os::unix::fs::PermissionsExt;
    let write = |pw: &str, mode: u32| {
        std::fs::write(
            &pass,
            format!("# comment\n127.0.0.1:{}:{db}:pw:{pw}\n", server.port),
        )
        .unwrap();
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("wrong", 0o600);
    let e = open(&url).err().expect("wrong password");
    let m = one_line(&e);
    assert!(
        m.contains("password authentication failed")
            && m.contains(&format!("127.0.0.1:{}", server.port)),
        "{m}"
    );
    assert!(!m.contains("wrong"), "{m}");
    write("right-horse", 0o644);
    let e = open(&url).err().expect("group-readable passfile");
    assert!(one_line(&e).contains("chmod 600"), "{e}");
    write("right-horse", 0o600);
    let s = open(&url).unwrap_or_else(|e| panic!("{e}"));
    s.create_user(&user("alice"), 1).unwrap();
    // A password in the URL is refused without echoing it.
    let e = open(&format!(
        "postgres://pw:right-horse@127.0.0.1:{}/{db}",
        server.port
    ))
    .err()
    .expect("refused");
    assert!(
        !e.to_string().contains("right-horse") && e.to_string().contains("passfile"),
        "{e}"
    );
}

#[test]
fn a_newer_schema_is_refused_as_sqlite_refuses_it() {
    let Some(server) = testing::shared() else {
        return;
    };
    let db = server.fresh_db_name().unwrap();
    let url = server.url(&db);
    open(&url).unwrap();
    server
        .psql(&db, "UPDATE pam_iam_schema SET version = 99")
        .unwrap();
    let e = open(&url).err().expect("too new");
    assert!(
        matches!(
            e,
            StoreError::SchemaTooNew {
                found: 99,
                supported: 18
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "store schema version 99 is newer than this program supports (18)"
    );
}

#[test]
fn concurrent_opens_of_a_fresh_database_migrate_it_once() {
    let Some(server) = testing::shared() else {
        return;
    };
    let url = server.fresh_db().unwrap();
    let ids: Vec<String> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|_| sc.spawn(|| open(&url).map(|s| s.account_id().unwrap())))
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap().unwrap_or_else(|e| panic!("{e}")))
            .collect()
    });
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one account: {ids:?}");
}

#[test]
fn a_lost_commit_answer_is_settled_by_asking_the_server() {
    let Some(server) = testing::shared() else {
        return;
    };
    let db = server.fresh_db_name().unwrap();
    let proxy = Proxy::start(server.port);
    let s = open(&proxy.url(&db)).unwrap_or_else(|e| panic!("{e}"));

    // The server committed, the answer was lost: the call reports success, once.
    proxy.arm(CommitFault::DropAnswer);
    s.create_user(&user("committed"), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    // The COMMIT never arrived: the transaction is run again, the user exists once.
    proxy.arm(CommitFault::DropCommit);
    s.create_user(&user("retried"), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = s
        .list_users("/")
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["committed", "retried"]);

    // The answer was lost and the server cannot be asked: the caller is told the
    // outcome is unknown (here it did commit).
    proxy.arm(CommitFault::DropAnswerThenRefuse);
    let e = s
        .create_user(&user("unknown"), 1)
        .expect_err("unknown outcome");
    let m = one_line(&e);
    assert!(
        m.contains("whether the change was applied is unknown"),
        "{m}"
    );
    let direct = open(&server.url(&db)).unwrap();
    assert!(direct.get_user("unknown").is_ok());
}

#[test]
fn atomically_runs_again_after_a_lost_commit_and_commits_once() {
    let Some(server) = testing::shared() else {
        return;
    };
    let db = server.fresh_db_name().unwrap();
    let proxy = Proxy::start(server.port);
    let s = open(&proxy.url(&db)).unwrap_or_else(|e| panic!("{e}"));
    proxy.arm(CommitFault::DropCommit);
    let mut runs = 0;
    atomically(&*s, |tx| {
        runs += 1;
        tx.create_user(&user("a"), 1)?;
        tx.create_group("g", "/", 1)?;
        tx.add_user_to_group("g", "a")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(runs, 2, "ran again after the lost COMMIT");
    assert_eq!(s.group_members("g").unwrap().len(), 1);
}

/// TLS against a real TLS server (`ssl=on`, a test CA, a certificate for `localhost`):
/// `sslmode=verify-full` with the right CA connects; a certificate from another CA,
/// or a host name the certificate does not carry, is refused in one line naming the
/// server, before anything is sent.
#[test]
fn tls_verify_full_connects_and_refuses_a_wrong_ca_or_host_name() {
    if !testing::available() {
        return;
    }
    let server = testing::Server::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = server.dir.clone();
    let sh = |script: &str| {
        let out = std::process::Command::new("sh")
            .arg("-ec")
            .arg(script)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=pam-iam-test-ca 2>/dev/null
        openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.crt -days 2 -subj /CN=pam-iam-other-ca 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
        printf 'subjectAltName=DNS:localhost\\n' > san.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext 2>/dev/null
        chmod 600 server.key
        if [ \"$(id -u)\" = 0 ]; then chown postgres:postgres server.key server.crt; fi");
    server.signal_and_wait(libc::SIGINT);
    server
        .pg_ctl_start(&format!(
            "-c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key",
            d = dir.display()
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let db = server.fresh_db_name().unwrap();
    let url = |host: &str, ca: &str| {
        format!(
            "postgres://postgres@{host}:{}/{db}?sslmode=verify-full&sslrootcert={}/{ca}&connect_timeout=5",
            server.port,
            dir.display()
        )
    };
    // The good path: the chain and the name check out.
    let s = open(&url("localhost", "ca.crt")).unwrap_or_else(|e| panic!("{e}"));
    s.create_user(&user("alice"), 1).unwrap();
    drop(s);
    // (verify-full never falls back to plain text: the store was reached over TLS.)

    // Another CA: refused, one line naming the server.
    let e = open(&url("localhost", "other-ca.crt"))
        .err()
        .expect("wrong CA");
    let m = one_line(&e);
    assert!(m.contains(&format!("localhost:{}", server.port)), "{m}");
    assert!(
        m.contains(
            "TLS: the server's certificate was refused (unable to get local issuer certificate)"
        ),
        "{m}"
    );
    eprintln!("wrong CA: {m}");

    // The right CA but a name the certificate does not carry.
    let e = open(&url("127.0.0.1", "ca.crt"))
        .err()
        .expect("wrong host name");
    let m = one_line(&e);
    assert!(m.contains(&format!("127.0.0.1:{}", server.port)), "{m}");
    assert!(
        m.contains("TLS: the server's certificate was refused (IP address mismatch)"),
        "{m}"
    );
    eprintln!("wrong host name: {m}");
    server.stop();
}

/// Fills `dir` (a small filesystem) with a file until the device is full.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![0x5a; chunk];
        while f.write_all(&buf).is_ok() {}
    }
    path
}

/// A full disk on the server (its data directory on a 64 MB tmpfs in a private mount
/// namespace, WAL elsewhere): a write fails in one line naming the server and saying
/// the disk is full; nothing is half-written (the store still opens, the failed user is
/// absent, the count is unchanged); once space is freed the same write succeeds.
#[test]
fn a_full_disk_on_the_server_fails_a_write_in_one_line_and_loses_nothing() {
    if !testing::available() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "the full-disk test must run under CI=true: run it as root"
        );
        eprintln!("skipped: the full-disk test mounts a small tmpfs and needs root");
        return;
    }
    // The mount namespace is this thread's (and its children's) only.
    std::thread::spawn(full_disk).join().unwrap();
}

fn full_disk() {
    // SAFETY: unshare/mount with valid C strings; affects this thread and its children.
    unsafe {
        assert_eq!(libc::unshare(libc::CLONE_NEWNS), 0, "unshare");
        assert_eq!(
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null()
            ),
            0,
            "make / private"
        );
    }
    let dir = testing::temp_dir().unwrap();
    let wal = testing::temp_dir().unwrap();
    let ids = |flag: &str| {
        let out = std::process::Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o"])
        .arg(format!(
            "size=64m,mode=0700,uid={},gid={}",
            ids("-u"),
            ids("-g")
        ))
        .arg("pam-iam-full")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success(), "mount tmpfs");
    let wal_dir = wal.join("wal");
    let server =
        testing::Server::start_in(dir.clone(), Some(&wal_dir)).unwrap_or_else(|e| panic!("{e}"));
    let db = server.fresh_db_name().unwrap();
    let url = server.url(&db);
    let s = open(&url).unwrap_or_else(|e| panic!("{e}"));
    s.create_user(&user("before"), 1).unwrap();

    let filler = fill(&dir);
    let mut made = 1;
    let mut failed = None;
    for i in 0..20_000 {
        let name = format!("user-{i:05}-{}", "x".repeat(40));
        match s.create_user(&user(&name), 1) {
            Ok(_) => made += 1,
            Err(e) => {
                failed = Some((name, e));
                break;
            }
        }
    }
    let (name, e) = failed.expect("a write fails once the disk is full");
    let m = one_line(&e);
    eprintln!("full disk: {m}");
    assert!(
        m.contains(&format!("127.0.0.1:{}", server.port)) && m.contains("its disk is full"),
        "{m}"
    );
    assert!(
        m.contains("nothing was changed") && m.contains("53100"),
        "{m}"
    );

    // Nothing half-written: the store opens, the failed user is absent, the count is
    // what succeeded.
    let again = open(&url).unwrap_or_else(|e| panic!("store opens on a full disk: {e}"));
    assert!(matches!(
        again.get_user(&name),
        Err(StoreError::NoSuchEntity(_))
    ));
    assert_eq!(again.list_users("/").unwrap().len(), made);

    // Space freed: the same write succeeds, once.
    std::fs::remove_file(&filler).unwrap();
    again
        .create_user(&user(&name), 1)
        .unwrap_or_else(|e| panic!("after freeing space: {e}"));
    assert_eq!(s.list_users("/").unwrap().len(), made + 1);
    drop((s, again));
    server.signal_and_wait(libc::SIGINT);
    let _ = std::process::Command::new("umount").arg(&dir).status();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&wal);
}

/// The `iam` binary next to this test's directory (`target/release/iam`), built if
/// missing.
fn iam_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("iam");
    if !bin.exists() {
        let st = std::process::Command::new(env!("CARGO"))
            .args(["build", "--release", "--bin", "iam"])
            .status()
            .unwrap();
        assert!(st.success(), "cargo build --bin iam");
    }
    bin
}

/// A server frozen mid-statement (SIGSTOP of the postmaster and its backends while the
/// write waits inside its transaction): `iam` ends within PAM_IAM_DB_TIMEOUT with one
/// line naming host:port and saying the change was not committed; after SIGCONT the
/// store holds no trace of it.
#[test]
fn a_frozen_server_ends_the_command_within_the_timeout_saying_not_committed() {
    if !testing::available() {
        return;
    }
    let server = testing::Server::start().unwrap_or_else(|e| panic!("{e}"));
    let url = server.url("iam");
    let iam = iam_bin();
    let run = |args: &[&str]| {
        std::process::Command::new(&iam)
            .arg("--db")
            .arg(&url)
            .args(args)
            .env("PAM_IAM_DB_TIMEOUT", "2")
            .output()
            .unwrap()
    };
    let out = run(&["create-user", "--user-name", "before"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another session holds the users table, so the write waits inside its transaction.
    let mut locker = testing::pg_command("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "iam",
            "-c",
        ])
        .arg("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60)")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let mut child = std::process::Command::new(&iam)
        .arg("--db")
        .arg(&url)
        .args(["create-user", "--user-name", "frozen"])
        .env("PAM_IAM_DB_TIMEOUT", "2")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    server.signal_all(libc::SIGSTOP);
    let mut done = None;
    while t.elapsed() < Duration::from_secs(15) {
        if let Some(st) = child.try_wait().unwrap() {
            done = Some(st);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = t.elapsed();
    if done.is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    server.signal_all(libc::SIGCONT);
    server
        .psql(
            "postgres",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()",
        )
        .unwrap();
    let _ = locker.kill();
    let _ = locker.wait();
    let st = done.expect("iam ended within the bound");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    eprintln!("frozen: {err} after {elapsed:?}");
    assert_eq!(st.code(), Some(254), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{}", server.port))
            && err.contains("has not answered for 2 s")
            && err.contains("not committed"),
        "{err}"
    );
    // Consistent: the write is absent, the store is whole, and writes go on.
    let s = open(&url).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        s.get_user("frozen"),
        Err(StoreError::NoSuchEntity(_))
    ));
    assert_eq!(s.list_users("/").unwrap().len(), 1);
    s.create_user(&user("after"), 1).unwrap();
    server.stop();
}
