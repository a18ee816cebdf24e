//! Reconnect at the server: a host's offline journal shipped to the real `iamd`
//! (`POST /host/v1/journal`, signed with the host credentials `iam create-host-credentials`
//! issued) is applied once and in order, attributed to the credential's host; a code
//! accepted online on one host (`POST /host/v1/login`, a real TOTP code from oathtool) and
//! offline on another is a replay incident (`iam list-replay-incidents`, the audit trail,
//! `on_replay`); offline failures merge into the fleet lockout.

mod support;

use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use support::{Key, Server, host_post};

const JOURNAL: &str = "/host/v1/journal";
const LOGIN: &str = "/host/v1/login";
const PASSWORD: &str = "Correct-Horse-9-battery";
const JID: &str = "5f0c1e2d3b4a59687766554433221100";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// iamd over a fresh store (no AWS CLI needed: the host API is driven directly).
fn server(extra: &[&str]) -> Server {
    Server::start_with(PathBuf::new(), extra).0
}

fn iam(s: &Server, args: &[&str]) -> Value {
    let o = s.iam(args);
    assert!(
        o.status.success(),
        "iam {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

fn host(s: &Server, name: &str) -> Key {
    let file = s.dir.path().join(format!("{name}.json"));
    iam(
        s,
        &[
            "create-host-credentials",
            "--host-name",
            name,
            "--credentials-file",
            file.to_str().unwrap(),
        ],
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    Key {
        id: v["AccessKeyId"].as_str().unwrap().into(),
        secret: v["SecretAccessKey"].as_str().unwrap().into(),
    }
}

fn totp_at(seed: &str, t: i64) -> String {
    let o = Command::new("oathtool")
        .args(["--totp", "-b", seed, "-N", &format!("@{t}")])
        .output()
        .expect("oathtool (apt-get install oathtool)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// alice with a password and an enabled TOTP device (its last code spent a minute
/// ago); (serial, seed).
fn alice(s: &Server) -> (String, String) {
    iam(s, &["create-user", "--user-name", "alice"]);
    let o = s.store.run_with(
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = iam(
        s,
        &[
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            "alice",
        ],
    );
    let seed = d["VirtualMFADevice"]["Base32StringSeed"]
        .as_str()
        .unwrap()
        .to_string();
    let serial = d["VirtualMFADevice"]["SerialNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let t = now();
    iam(
        s,
        &[
            "enable-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            &serial,
            "--authentication-code1",
            &totp_at(&seed, t - 90),
            "--authentication-code2",
            &totp_at(&seed, t - 60),
        ],
    );
    (serial, seed)
}

fn entry(seq: i64, kind: &str, code: Option<(&str, i64)>, reason: &str) -> Value {
    json!({
        "Seq": seq,
        "Time": now() - 60 + seq,
        "User": "alice",
        "Kind": kind,
        "Serial": code.map(|c| c.0),
        "Step": code.map(|c| c.1),
        "Reason": reason,
        "Service": "sshd",
        "Rhost": "10.0.0.7",
        "Tty": null,
    })
}

fn ship(s: &Server, key: &Key, journal: &str, entries: &[Value]) -> (u16, Value) {
    let body = json!({ "Journal": journal, "Entries": entries }).to_string();
    host_post(s.port, key, JOURNAL, &body)
}

fn audit(s: &Server) -> Vec<Value> {
    iam(s, &["list-audit-events", "--user-name", "alice"])["Events"]
        .as_array()
        .unwrap()
        .clone()
}

fn offline_rows(s: &Server) -> Vec<Value> {
    audit(s)
        .into_iter()
        .filter(|e| {
            e["Reason"]
                .as_str()
                .unwrap()
                .contains(" offline (journal entry ")
        })
        .collect()
}

fn login(s: &Server, key: &Key, code: &str) -> Value {
    let body = json!({ "User": "alice", "Password": PASSWORD, "Code": code, "Service": "sshd" });
    let (status, v) = host_post(s.port, key, LOGIN, &body.to_string());
    assert_eq!(status, 200, "{v}");
    v
}

#[test]
fn a_resent_journal_changes_nothing_and_a_gap_is_refused_with_the_ack() {
    let s = server(&[]);
    alice(&s);
    let web1 = host(&s, "web-01");
    let batch = [
        entry(1, "login", None, "offline: password"),
        entry(2, "deny", None, "offline: no offline material"),
    ];
    let (status, v) = ship(&s, &web1, JID, &batch);
    assert_eq!(
        (status, &v["Ack"], &v["Applied"]),
        (200, &json!(2), &json!(2)),
        "{v}"
    );
    let rows = offline_rows(&s);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0]["Reason"],
        "host/web-01 offline (journal entry 1): password"
    );
    assert_eq!(
        (&rows[0]["Decision"], &rows[1]["Decision"]),
        (&json!("allow"), &json!("deny"))
    );
    assert_eq!(rows[0]["RemoteHost"], "10.0.0.7");

    // The same batch again (the ack was lost): applied once.
    let (status, v) = ship(&s, &web1, JID, &batch);
    assert_eq!(
        (status, &v["Ack"], &v["Applied"]),
        (200, &json!(2), &json!(0)),
        "{v}"
    );
    // A resend overlapping the ack: only the new entry.
    let (status, v) = ship(
        &s,
        &web1,
        JID,
        &[
            batch[1].clone(),
            entry(3, "login", None, "offline: password"),
        ],
    );
    assert_eq!(
        (status, &v["Ack"], &v["Applied"]),
        (200, &json!(3), &json!(1)),
        "{v}"
    );
    assert_eq!(offline_rows(&s).len(), 3);

    // A gap: 409 JournalGap naming where to resume, nothing applied.
    let (status, v) = ship(
        &s,
        &web1,
        JID,
        &[entry(5, "login", None, "offline: password")],
    );
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["Error"]["Code"], "JournalGap");
    assert_eq!(v["Ack"], 3);
    let msg = v["Error"]["Message"].as_str().unwrap();
    assert!(msg.contains("resend from entry 4"), "{msg}");
    assert_eq!(offline_rows(&s).len(), 3);
    // A malformed batch: 400, nothing applied.
    let (status, v) = ship(
        &s,
        &web1,
        JID,
        &[entry(
            4,
            "failure",
            Some(("arn:x", 1)),
            "offline: wrong password",
        )],
    );
    assert_eq!(
        (status, &v["Error"]["Code"]),
        (400, &json!("InvalidParameterValue")),
        "{v}"
    );
    assert_eq!(offline_rows(&s).len(), 3);
}

#[test]
fn a_code_accepted_online_on_one_host_and_offline_on_another_is_a_replay_incident() {
    let s = server(&["--on-replay", "lock-and-revoke-sessions"]);
    let (serial, seed) = alice(&s);
    let (web1, web2) = (host(&s, "web-01"), host(&s, "web-02"));
    // web-02 online: the code of this step is accepted and spent there.
    let t = now();
    let step = t / 30;
    let v = login(&s, &web2, &totp_at(&seed, t));
    assert_eq!(v["Decision"], "Allow", "{v}");
    // web-01 was cut off and accepted the same code offline.
    let (status, v) = ship(
        &s,
        &web1,
        JID,
        &[entry(
            1,
            "login",
            Some((&serial, step)),
            "offline: password + verification code",
        )],
    );
    assert_eq!((status, &v["ReplayIncidents"]), (200, &json!(1)), "{v}");

    let list = iam(&s, &["list-replay-incidents"])["ReplayIncidents"].clone();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let i = &list[0];
    assert_eq!(
        (&i["UserName"], &i["SerialNumber"], &i["Step"]),
        (&json!("alice"), &json!(serial), &json!(step))
    );
    assert_eq!(
        (&i["First"]["HostName"], &i["First"]["Offline"]),
        (&json!("web-02"), &json!(false))
    );
    assert_eq!(
        (&i["Second"]["HostName"], &i["Second"]["Offline"]),
        (&json!("web-01"), &json!(true))
    );
    assert_eq!(i["Action"], "lock-and-revoke-sessions");
    let row = audit(&s)
        .into_iter()
        .find(|e| e["Action"] == "replay-incident")
        .expect("the incident's audit row");
    let reason = row["Reason"].as_str().unwrap();
    assert!(
        reason.contains("host/web-02 (online")
            && reason.contains("host/web-01 (offline")
            && reason.contains(&serial),
        "{reason}"
    );
    // Locked until an administrator unlocks: the next right code is refused.
    let status = iam(&s, &["get-user-lockout-status", "--user-name", "alice"]);
    assert_eq!(status["LockoutStatus"]["Locked"], true, "{status}");
    let v = login(&s, &web2, &totp_at(&seed, t + 30));
    assert_eq!(v["Decision"], "Deny", "{v}");
    assert!(v["Reason"].as_str().unwrap().contains("locked"), "{v}");
    assert!(iam(&s, &["list-replay-incidents", "--since", "1h"])["ReplayIncidents"][0].is_object());
}

#[test]
fn offline_failures_merge_into_the_fleet_lockout() {
    let s = server(&[]);
    let (_, seed) = alice(&s);
    iam(
        &s,
        &[
            "update-account-lockout-policy",
            "--max-failed-attempts",
            "3",
            "--lockout-duration-seconds",
            "600",
        ],
    );
    let (web1, web2) = (host(&s, "web-01"), host(&s, "web-02"));
    let (status, v) = ship(
        &s,
        &web1,
        JID,
        &[
            entry(1, "failure", None, "offline: wrong password"),
            entry(
                2,
                "failure",
                None,
                "offline: wrong or already used verification code",
            ),
            entry(3, "deny", None, "offline: no offline material"),
        ],
    );
    assert_eq!(status, 200, "{v}");
    let st = iam(&s, &["get-user-lockout-status", "--user-name", "alice"]);
    assert_eq!(
        (
            &st["LockoutStatus"]["FailedAttempts"],
            &st["LockoutStatus"]["Locked"]
        ),
        (&json!(2), &json!(false)),
        "a deny is not counted: {st}"
    );
    let (status, _) = ship(
        &s,
        &web1,
        JID,
        &[entry(4, "failure", None, "offline: wrong password")],
    );
    assert_eq!(status, 200);
    let st = iam(&s, &["get-user-lockout-status", "--user-name", "alice"]);
    assert_eq!(st["LockoutStatus"]["Locked"], true, "{st}");
    // The lock holds on every host, online: the right password and code are refused.
    let v = login(&s, &web2, &totp_at(&seed, now()));
    assert_eq!(v["Decision"], "Deny", "{v}");
    assert!(v["Reason"].as_str().unwrap().contains("locked"), "{v}");
}

#[test]
fn a_host_ships_only_its_own_journal_under_its_own_name() {
    let s = server(&[]);
    let (serial, _) = alice(&s);
    let (web1, web2) = (host(&s, "web-01"), host(&s, "web-02"));
    // A field naming a host is refused: the host is the credential's.
    let body = json!({
        "Journal": JID,
        "Host": "web-02",
        "Entries": [entry(1, "login", None, "offline: password")],
    });
    let (status, v) = host_post(s.port, &web1, JOURNAL, &body.to_string());
    assert_eq!(
        (status, &v["Error"]["Code"]),
        (400, &json!("InvalidParameterValue")),
        "{v}"
    );
    let mut forged = entry(1, "login", None, "offline: password");
    forged["Host"] = json!("web-02");
    let (status, _) = ship(&s, &web1, JID, &[forged]);
    assert_eq!(status, 400);
    // The same journal id from two hosts: two journals, each attributed to its sender.
    let one = [entry(
        1,
        "login",
        Some((&serial, 7)),
        "offline: password + verification code",
    )];
    assert_eq!(ship(&s, &web1, JID, &one).0, 200);
    let (status, v) = ship(&s, &web2, JID, &one);
    assert_eq!((status, &v["Applied"]), (200, &json!(1)), "{v}");
    let hosts: Vec<String> = offline_rows(&s)
        .iter()
        .map(|r| {
            r["Reason"]
                .as_str()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(hosts, ["host/web-01", "host/web-02"]);
    // A root access key is not a host credential; a deleted credential is refused.
    let root: Value = iam(&s, &["create-access-key"]);
    let root = Key {
        id: root["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret: root["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .into(),
    };
    let two = [entry(2, "login", None, "offline: password")];
    assert_eq!(ship(&s, &root, JID, &two).0, 403);
    iam(&s, &["delete-host-credentials", "--host-name", "web-01"]);
    let (status, v) = ship(&s, &web1, JID, &two);
    assert_eq!(
        (status, &v["Error"]["Code"]),
        (403, &json!("InvalidClientTokenId")),
        "{v}"
    );
    assert_eq!(offline_rows(&s).len(), 2);
}

/// Issue 14: the audit table refuses writes (a trigger raising an error, as a table
/// that cannot be written fails). A login with the right answers is then a 5xx that
/// spent nothing, so the host asking again (here, or another server on the same store)
/// gets the same code accepted, not refused as a replay; the trail has exactly that
/// one `authenticate` row.
#[test]
fn a_login_whose_audit_row_cannot_be_written_is_a_5xx_and_the_same_code_works_again() {
    let s = server(&[]);
    let (serial, seed) = alice(&s);
    let web = host(&s, "web-01");
    let watermark = || {
        s.store
            .sql(&format!(
                "SELECT watermark FROM mfa_devices WHERE serial = '{serial}'"
            ))
            .trim()
            .to_string()
    };
    let before = watermark();
    let (refuse, allow) = if s.store.is_postgres() {
        (
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'the audit table refuses writes'; END $$;
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events
               FOR EACH ROW EXECUTE FUNCTION refuse_audit();",
            "DROP TRIGGER refuse_audit ON audit_events; DROP FUNCTION refuse_audit();",
        )
    } else {
        (
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events
             BEGIN SELECT RAISE(ABORT, 'the audit table refuses writes'); END",
            "DROP TRIGGER refuse_audit",
        )
    };
    let code = totp_at(&seed, now());
    s.store.sql(refuse);
    let body = json!({ "User": "alice", "Password": PASSWORD, "Code": code, "Service": "sshd" });
    let (status, v) = host_post(s.port, &web, LOGIN, &body.to_string());
    assert!((500..600).contains(&status), "{status} {v}");
    assert!(
        v["Error"]["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("nothing was spent"),
        "{v}"
    );
    assert_eq!(watermark(), before, "the code is not spent");
    // A wrong password under the same fault gets the same answer, and counts nothing:
    // the fault is no oracle for the password.
    let failures = || {
        s.store.sql(
            "SELECT COALESCE(SUM(f.failed_attempts), 0) FROM login_failures f JOIN users u ON u.pk = f.user_pk WHERE u.name = 'alice'",
        )
    };
    let counted = failures();
    let wrong =
        json!({ "User": "alice", "Password": "not-the-password", "Code": code, "Service": "sshd" });
    let (wrong_status, w) = host_post(s.port, &web, LOGIN, &wrong.to_string());
    assert_eq!(wrong_status, status, "{w}");
    assert_eq!(failures(), counted);
    s.store.sql(allow);

    let v = login(&s, &web, &code);
    assert_eq!(v["Decision"], "Allow", "{v}");
    assert_ne!(watermark(), before);
    let rows: Vec<Value> = audit(&s)
        .into_iter()
        .filter(|e| e["Action"] == "authenticate")
        .collect();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["Decision"], "allow", "{rows:#?}");
}
