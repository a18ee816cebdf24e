//! iamd's host API over a PostgreSQL store (one throwaway server, `pam_iam_postgres::
//! testing`): the real `iam` issues host credentials into PostgreSQL, the real `iamd`
//! serves the store, and a signed long poll (`since=V&wait=S`) wakes when another `iam`
//! commits a change, with a higher store version and the change in the replica.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join(name)
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn iam(db: &str, key: &Path, args: &[&str]) -> String {
    let out = Command::new(bin("iam"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("PAM_IAM_SECRETS_KEY", key)
        .env("PAM_IAM_USERDB", "off")
        .env_remove("PAM_IAM_DB")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "iam {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A signed `GET /host/v1/replica?query`: (status, JSON body).
fn pull(port: u16, key_id: &str, secret: &str, query: &str) -> (u16, serde_json::Value) {
    let authority = format!("127.0.0.1:{port}");
    let headers = iamd::host_api::sign_get(
        &authority,
        iamd::host_api::REPLICA_PATH,
        query,
        key_id,
        secret.as_bytes(),
        now(),
    )
    .unwrap();
    let mut req = format!("GET {}?{query} HTTP/1.1\r\n", iamd::host_api::REPLICA_PATH);
    for (k, v) in &headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("connection: close\r\n\r\n");
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).unwrap();
    let status: u16 = s[9..12].parse().unwrap();
    let body = &s[s.find("\r\n\r\n").unwrap() + 4..];
    // The body may be chunked: take the JSON object it holds.
    let (a, b) = (body.find('{').unwrap(), body.rfind('}').unwrap());
    (status, serde_json::from_str(&body[a..=b]).unwrap())
}

fn users_in(replica: &serde_json::Value) -> Vec<String> {
    let t = replica["Replica"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "users")
        .unwrap();
    let col = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == "name")
        .unwrap();
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[col].as_str().unwrap().to_string())
        .collect()
}

/// `iamd` over `db` on a free loopback port, listening.
fn start_iamd(db: &str, key: &Path, dir: &Path) -> (Proc, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.join("iamd.log")).unwrap();
    let p = Proc(
        Command::new(bin("iamd"))
            .args(["--db", db, "--http", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .env("PAM_IAM_SECRETS_KEY", key)
            .env("PAM_IAM_USERDB", "off")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "iamd did not listen: {}",
            std::fs::read_to_string(dir.join("iamd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (p, port)
}

/// Host credentials for `host`, issued with `iam` into a file: (key id, secret).
fn host_credentials(db: &str, key: &Path, dir: &Path, host: &str) -> (String, String) {
    let creds = dir.join(format!("{host}.json"));
    iam(
        db,
        key,
        &[
            "create-host-credentials",
            "--host-name",
            host,
            "--credentials-file",
            creds.to_str().unwrap(),
        ],
    );
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&creds).unwrap()).unwrap();
    (
        c["AccessKeyId"].as_str().unwrap().to_string(),
        c["SecretAccessKey"].as_str().unwrap().to_string(),
    )
}

#[test]
fn host_replica_long_poll_wakes_on_a_postgresql_commit() {
    let Some(server) = pam_iam_postgres::testing::shared() else {
        return;
    };
    let db = server.fresh_db().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("secrets.key");
    iam(&db, &key, &["create-user", "--user-name", "early"]);
    let (key_id, secret) = host_credentials(&db, &key, dir.path(), "web1");
    let (_iamd, port) = start_iamd(&db, &key, dir.path());

    // First pull: the whole view at the current version.
    let (status, first) = pull(port, &key_id, &secret, "");
    assert_eq!(status, 200, "{first}");
    let v = first["StoreVersion"].as_i64().unwrap();
    assert_eq!(users_in(&first), ["early"]);

    // Nothing changes: a short wait answers Unchanged at the same version.
    let (_, same) = pull(port, &key_id, &secret, &format!("since={v}&wait=1"));
    assert_eq!(same["Unchanged"], true, "{same}");
    assert_eq!(same["StoreVersion"], v);

    // A long poll, and a change committed by another process while it waits.
    let waiter = {
        let (key_id, secret) = (key_id.clone(), secret.clone());
        std::thread::spawn(move || {
            let t = Instant::now();
            let r = pull(port, &key_id, &secret, &format!("since={v}&wait=30"));
            (r, t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    iam(&db, &key, &["create-user", "--user-name", "late"]);
    let ((status, woke), waited) = waiter.join().unwrap();
    assert_eq!(status, 200, "{woke}");
    assert!(
        waited < Duration::from_secs(20),
        "the pull woke on the commit, not at the end of its wait ({waited:?})"
    );
    assert!(woke["StoreVersion"].as_i64().unwrap() > v, "{woke}");
    let mut users = users_in(&woke);
    users.sort();
    assert_eq!(users, ["early", "late"]);
}

/// Deltas and the version listener (migration 17): a pull naming the store it holds a
/// version of gets only the tables changed since (an old agent's pull, without `store`,
/// still the whole view); a long poll is woken by the commit's notification; with the
/// listener's connection killed, a long poll still wakes on the next commit (the
/// watcher polls until the listener is back), and the listener comes back.
#[test]
fn a_pull_naming_its_store_gets_a_delta_and_wakes_after_the_listener_is_killed() {
    let Some(server) = pam_iam_postgres::testing::shared() else {
        return;
    };
    let (name, db) = {
        let name = server.fresh_db_name().unwrap();
        let url = server.url(&name);
        (name, url)
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("secrets.key");
    iam(&db, &key, &["create-user", "--user-name", "early"]);
    let (key_id, secret) = host_credentials(&db, &key, dir.path(), "web1");
    let (_iamd, port) = start_iamd(&db, &key, dir.path());
    let (_, first) = pull(port, &key_id, &secret, "");
    let store = first["StoreId"].as_str().unwrap().to_string();
    let v = first["StoreVersion"].as_i64().unwrap();
    let long_poll = |since: i64| {
        let (key_id, secret, store) = (key_id.clone(), secret.clone(), store.clone());
        std::thread::spawn(move || {
            let t = Instant::now();
            let r = pull(
                port,
                &key_id,
                &secret,
                &format!("since={since}&store={store}&wait=30"),
            );
            (r, t.elapsed())
        })
    };
    let waiter = long_poll(v);
    std::thread::sleep(Duration::from_millis(1500));
    iam(
        &db,
        &key,
        &[
            "tag-user",
            "--user-name",
            "early",
            "--tags",
            "Key=k,Value=v",
        ],
    );
    let ((status, delta), waited) = waiter.join().unwrap();
    assert_eq!(status, 200, "{delta}");
    assert!(waited < Duration::from_secs(20), "woken ({waited:?})");
    assert_eq!(delta["FromVersion"], v, "{delta}");
    assert!(delta["Replica"].is_null(), "{delta}");
    let names: Vec<&str> = delta["Delta"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user_tags"]);
    let v2 = delta["StoreVersion"].as_i64().unwrap();
    // An agent without `store`: the whole view, as before.
    let (_, old) = pull(port, &key_id, &secret, &format!("since={v}&wait=1"));
    assert_eq!(users_in(&old), ["early"], "{old}");
    // The listener's connection killed.
    let listeners = |what: &str| {
        server
            .psql(
                &name,
                &format!(
                    "SELECT count({what}) FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{}'",
                    pam_iam_postgres::listen::APPLICATION_NAME
                ),
            )
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(listeners("pg_terminate_backend(pid)"), "1", "one listener");
    let waiter = long_poll(v2);
    std::thread::sleep(Duration::from_millis(1500));
    iam(&db, &key, &["create-user", "--user-name", "late"]);
    let ((status, woke), waited) = waiter.join().unwrap();
    assert_eq!(status, 200, "{woke}");
    assert!(
        waited < Duration::from_secs(20),
        "woken after the listener was killed ({waited:?}): {woke}"
    );
    assert_eq!(woke["FromVersion"], v2, "{woke}");
    let t = Instant::now();
    while listeners("*") != "1" {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the listener is back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// PostgreSQL runs a transaction again on a serialization failure: `iam
/// create-host-credentials` runs side by side (the store version row makes them
/// conflict) each succeed, and each file holds the credential the store keeps.
#[test]
fn host_credentials_issued_side_by_side_on_postgresql_all_succeed() {
    let Some(server) = pam_iam_postgres::testing::shared() else {
        return;
    };
    let db = server.fresh_db().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("secrets.key");
    iam(&db, &key, &["create-user", "--user-name", "first"]);
    let (db, key, d) = (&db, &key, dir.path());
    std::thread::scope(|s| {
        for t in 0..6 {
            s.spawn(move || {
                for i in 0..4 {
                    let file = d.join(format!("h{t}-{i}.json"));
                    iam(
                        db,
                        key,
                        &[
                            "create-host-credentials",
                            "--host-name",
                            &format!("h{t}-{i}"),
                            "--credentials-file",
                            file.to_str().unwrap(),
                        ],
                    );
                }
            });
        }
    });
    let listed: serde_json::Value =
        serde_json::from_str(&iam(db, key, &["list-host-credentials"])).unwrap();
    let listed = listed["HostCredentials"].as_array().unwrap();
    assert_eq!(listed.len(), 24, "{listed:?}");
    for c in listed {
        let host = c["HostName"].as_str().unwrap();
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(format!("{host}.json"))).unwrap())
                .unwrap();
        assert_eq!(file["AccessKeyId"], c["AccessKeyId"], "{host}");
    }
}

/// iamd's version watcher reads the store every 100 ms, so right after a commit it may
/// still hold the version before it. A long poll made then, `since` the new version,
/// waits for a newer one: it does not answer the snapshot it was just given again (an
/// agent would pull that same snapshot over and over until the watcher caught up).
#[test]
fn a_long_poll_right_after_a_commit_waits_for_a_newer_version() {
    let Some(server) = pam_iam_postgres::testing::shared() else {
        return;
    };
    let db = server.fresh_db().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("secrets.key");
    let (key_id, secret) = host_credentials(&db, &key, dir.path(), "web1");
    let (_iamd, port) = start_iamd(&db, &key, dir.path());
    // The watcher starts with the first long poll.
    let (_, first) = pull(port, &key_id, &secret, "wait=0");
    let v0 = first["StoreVersion"].as_i64().unwrap();
    let _ = pull(port, &key_id, &secret, &format!("since={v0}&wait=1"));
    for i in 0..5 {
        iam(&db, &key, &["create-user", "--user-name", &format!("u{i}")]);
        let (_, now) = pull(port, &key_id, &secret, "wait=0");
        let v = now["StoreVersion"].as_i64().unwrap();
        let t = Instant::now();
        let (status, again) = pull(port, &key_id, &secret, &format!("since={v}&wait=2"));
        assert_eq!(status, 200, "{again}");
        assert!(
            again["Unchanged"] == true && again["StoreVersion"] == v,
            "try {i}: a poll since {v} answered at once ({:?}) with version {}: {}",
            t.elapsed(),
            again["StoreVersion"],
            if again["Replica"].is_null() {
                "no replica"
            } else {
                "the same snapshot again"
            }
        );
    }
}
