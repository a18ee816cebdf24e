//! iamd against a PostgreSQL server that stops answering while its kernel keeps the TCP
//! connections open: a request answers 503 `ServiceUnavailable` (AWS's error format,
//! read by the real AWS CLI) within `--store-timeout`, saying whether the change was
//! committed; `/healthz` says the store is not ready; the server recovers when the store
//! answers again, and a change answered "not committed" is never committed later.
//! Each test has a cluster of its own (they freeze it or hold its commits).

mod support;

use pam_iam_postgres::testing::{self, pg_command};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::{Cli, Key, Server, signed_call};

/// The bound the tests give iamd (`--store-timeout`).
const BOUND: Duration = Duration::from_secs(2);

/// `GET /healthz`: (status, body, time taken).
fn healthz(port: u16) -> (u16, String, Duration) {
    let t = Instant::now();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut s = String::new();
    let _ = c.read_to_string(&mut s);
    let status = s.get(9..12).and_then(|x| x.parse().ok()).unwrap_or(0);
    (status, s, t.elapsed())
}

/// iamd on a fresh database of its own cluster, answering within [`BOUND`].
fn start(server: &testing::Server) -> Option<(Server, Key)> {
    let venv = support::venv()?;
    Some(Server::start_on(
        venv,
        Cli::postgres_on(server),
        &["--store-timeout", "2", "--workers", "2"],
    ))
}

/// Waits until `sql` (a count) on database `db` is non-zero.
fn wait_for_row(server: &testing::Server, db: &str, sql: &str) {
    let t = Instant::now();
    while server.psql(db, sql).unwrap().trim() == "0" {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "never saw a row of: {sql}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Locker(Child);

impl Drop for Locker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A session that holds the `users` table of `db` against writes (reads go on), so a
/// CreateUser waits inside its transaction with its INSERT sent.
fn lock_users(server: &testing::Server, db: &str) -> Locker {
    let c = pg_command("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(server.port.to_string())
        .args(["-d", db, "-c"])
        .arg("BEGIN; LOCK TABLE users IN SHARE MODE; SELECT pg_sleep(120)")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_row(
        server,
        db,
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'users' AND l.mode = 'ShareLock' AND l.granted",
    );
    Locker(c)
}

/// The server stops (SIGSTOP of the postmaster and every backend) while a CreateUser
/// waits inside its transaction: the AWS CLI gets ServiceUnavailable within the bound
/// saying nothing was committed, `/healthz` answers 503 and further calls answer 503 at
/// once; after SIGCONT the server serves again, the user was never created (the
/// given-up transaction is refused its COMMIT), and creating it now succeeds.
#[test]
fn a_frozen_postgresql_answers_service_unavailable_within_the_bound_and_recovers() {
    if !testing::available() {
        return;
    }
    let pg = testing::Server::start().unwrap_or_else(|e| panic!("{e}"));
    let Some((s, root)) = start(&pg) else {
        pg.stop();
        return;
    };
    let db = s.store.pg_database().unwrap().to_string();
    s.ok(&root, &["iam", "create-user", "--user-name", "before"]);
    let (st, body, _) = healthz(s.port);
    assert_eq!(st, 200, "{body}");

    let locker = lock_users(&pg, &db);
    std::thread::scope(|scope| {
        let create = scope.spawn(|| {
            let t = Instant::now();
            let o = s.aws(&root, &["iam", "create-user", "--user-name", "frozen"]);
            (o, t.elapsed())
        });
        // The INSERT is sent and waits for the table; then the whole cluster stops.
        wait_for_row(
            &pg,
            &db,
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO users%' AND wait_event_type = 'Lock'",
        );
        let frozen = Instant::now();
        pg.signal_all(libc::SIGSTOP);
        let (o, _) = create.join().unwrap();
        let waited = frozen.elapsed();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            !o.status.success(),
            "create-user succeeded on a frozen store"
        );
        assert!(
            err.contains(
                "An error occurred (ServiceUnavailable) when calling the CreateUser operation"
            ) && err.contains(&format!("127.0.0.1:{}", pg.port))
                && err.contains("has not answered for 2 s")
                && err.contains("not committed, nothing was changed"),
            "{err}"
        );
        assert!(
            waited < BOUND + Duration::from_secs(5),
            "answered after {waited:?}"
        );

        // The server keeps serving: /healthz says the store is not ready, within the
        // bound, then at once; so does every call.
        let (st, body, took) = healthz(s.port);
        assert_eq!(st, 503, "{body}");
        assert!(body.contains("store not ready"), "{body}");
        assert!(
            took < BOUND + Duration::from_secs(3),
            "healthz took {took:?}"
        );
        let (st, body, took) = healthz(s.port);
        assert_eq!(st, 503, "{body}");
        assert!(took < Duration::from_secs(1), "healthz took {took:?}");
        let (st, body, took) =
            signed_call(s.port, &root, "iam", "Action=ListUsers&Version=2010-05-08");
        assert_eq!(st, 503, "{body}");
        assert!(
            body.contains("<Type>Receiver</Type><Code>ServiceUnavailable</Code>")
                && body.contains("<RequestId>"),
            "{body}"
        );
        assert!(took < Duration::from_secs(1), "a call took {took:?}");
    });

    // The server answers again; the lock goes with its session.
    pg.signal_all(libc::SIGCONT);
    pg.psql(
        &db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
    )
    .unwrap();
    drop(locker);
    let t = Instant::now();
    while healthz(s.port).0 != 200 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "iamd never recovered: {}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let users = s.ok(&root, &["iam", "list-users"]);
    let names: Vec<&str> = users["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["before"],
        "the frozen request's user must not exist"
    );
    s.ok(&root, &["iam", "create-user", "--user-name", "frozen"]);
    assert!(!s.log().contains("panicked"), "{}", s.log());
    drop(s);
    pg.stop();
}

/// A COMMIT the server never acknowledges (a synchronous standby that is not there):
/// the AWS CLI gets ServiceUnavailable within the bound saying the outcome is unknown
/// because COMMIT was sent; reads go on being served meanwhile and `/healthz` stays
/// ready; once the commit is released the change is there, as the answer allowed.
#[test]
fn a_commit_never_acknowledged_answers_service_unavailable_saying_unknown() {
    if !testing::available() {
        return;
    }
    let pg = testing::Server::start().unwrap_or_else(|e| panic!("{e}"));
    let Some((s, root)) = start(&pg) else {
        pg.stop();
        return;
    };
    s.ok(&root, &["iam", "create-user", "--user-name", "before"]);
    pg.psql(
        "postgres",
        "ALTER SYSTEM SET synchronous_standby_names = 'absent'",
    )
    .unwrap();
    pg.psql("postgres", "SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let t = Instant::now();
    let o = s.aws(&root, &["iam", "create-user", "--user-name", "late"]);
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "create-user succeeded unacknowledged");
    assert!(
        err.contains("(ServiceUnavailable)")
            && err.contains("has not answered for 2 s")
            && err.contains("unknown — COMMIT was sent"),
        "{err}"
    );
    assert!(
        took < BOUND + Duration::from_secs(8),
        "answered after {took:?}"
    );
    // Reads are served by the other store thread meanwhile.
    let (st, body, _) = healthz(s.port);
    assert_eq!(st, 200, "{body}");
    s.ok(&root, &["iam", "get-user", "--user-name", "before"]);

    pg.psql("postgres", "ALTER SYSTEM RESET synchronous_standby_names")
        .unwrap();
    pg.psql("postgres", "SELECT pg_reload_conf()").unwrap();
    let t = Instant::now();
    while !s
        .aws(&root, &["iam", "get-user", "--user-name", "late"])
        .status
        .success()
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the released commit never showed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(s);
    pg.stop();
}
