//! IAM users and groups resolve through nss-systemd from the records userdb writes:
//! `getent passwd`, `getent group`, `id`, with no /etc/passwd entry, inside a private
//! mount namespace (nothing on the machine changes).

mod support;

use pam_iam::userdb::keys::UserKeys;
use pam_iam::userdb::{Account, Config, GroupEntry, IdRange, Mode, Snapshot, Source, sync};
use support::sandbox::{RUN_TIMEOUT, Sandbox};

struct Fixed(Result<Snapshot, String>);

impl Source for Fixed {
    fn snapshot(&self) -> Result<Snapshot, String> {
        self.0.clone()
    }
    fn key_export(&self) -> Result<Vec<UserKeys>, String> {
        self.0.clone().map(|_| Vec::new())
    }
}

fn cfg(sb: &Sandbox) -> Config {
    Config {
        dir: sb.userdb(),
        keys_dir: sb.keys(),
        range: IdRange::default(),
        passwd: "/etc/passwd".into(),
        group: "/etc/group".into(),
    }
}

/// Names no real machine has, so /etc/passwd never shadows them.
fn snapshot() -> Snapshot {
    let tags = vec![("pam-iam:shell".to_string(), "/bin/sh".to_string())];
    let (a, _) = Account::from_tags("iamtest-alice", 70000, 70000, &[]);
    let (b, _) = Account::from_tags("iamtest-bob", 70001, 70001, &tags);
    Snapshot {
        users: vec![a, b],
        groups: vec![GroupEntry {
            name: "iamtest-ops".into(),
            gid: 70002,
            members: vec!["iamtest-alice".into()],
        }],
        ..Default::default()
    }
}

#[test]
fn iam_users_and_groups_resolve_without_passwd_entries() {
    require_root!();
    let sb = Sandbox::with_etc_userdb();
    let rep = sync(&Fixed(Ok(snapshot())), &cfg(&sb), Mode::Repair).unwrap();
    assert!(
        rep.drift
            .iter()
            .all(|d| d.kind == pam_iam::userdb::DriftKind::Missing)
    );

    let out = sb.run_ok(
        "grep -c '^iamtest-alice:' /etc/passwd || true\n\
         getent passwd iamtest-alice\n\
         getent passwd 70001\n\
         getent group iamtest-ops\n\
         getent group 70000\n\
         id iamtest-alice\n",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "no /etc/passwd entry");
    assert_eq!(
        lines[1],
        "iamtest-alice:x:70000:70000:iamtest-alice:/home/iamtest-alice:/bin/bash"
    );
    assert_eq!(
        lines[2],
        "iamtest-bob:x:70001:70001:iamtest-bob:/home/iamtest-bob:/bin/sh"
    );
    assert_eq!(lines[3], "iamtest-ops:x:70002:iamtest-alice");
    assert_eq!(lines[4], "iamtest-alice:x:70000:");
    assert_eq!(
        lines[5],
        "uid=70000(iamtest-alice) gid=70000(iamtest-alice) groups=70000(iamtest-alice),70002(iamtest-ops)"
    );
}

#[test]
fn deleted_user_stops_resolving_and_store_failure_keeps_records() {
    require_root!();
    let sb = Sandbox::with_etc_userdb();
    let c = cfg(&sb);
    sync(&Fixed(Ok(snapshot())), &c, Mode::Repair).unwrap();

    // The store cannot be read: nothing is removed, and the error says why.
    let err = sync(
        &Fixed(Err("database disk image is malformed".into())),
        &c,
        Mode::Repair,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("malformed") && err.contains("left unchanged"),
        "{err}"
    );
    let out = sb.run_ok("getent passwd iamtest-alice; getent group iamtest-ops\n");
    assert!(out.contains("iamtest-alice:x:70000"), "{out}");
    assert!(out.contains("iamtest-ops:x:70002:iamtest-alice"), "{out}");

    // alice deleted from the store: her records go, bob's stay.
    let mut s = snapshot();
    s.users.retain(|u| u.name != "iamtest-alice");
    s.groups[0].members.clear();
    sync(&Fixed(Ok(s)), &c, Mode::Repair).unwrap();
    let out = sb.run(
        "getent passwd iamtest-alice; echo rc=$?; getent passwd 70000; echo rc=$?\n\
         getent group iamtest-ops; getent passwd iamtest-bob\n",
        RUN_TIMEOUT,
    );
    let so = &out.stdout;
    assert!(so.contains("rc=2\nrc=2\n"), "alice must be gone:\n{so}");
    assert!(so.contains("iamtest-ops:x:70002:\n"), "{so}");
    assert!(so.contains("iamtest-bob:x:70001"), "{so}");
}

#[test]
fn drift_is_reported_and_repaired() {
    require_root!();
    let sb = Sandbox::with_etc_userdb();
    let c = cfg(&sb);
    sync(&Fixed(Ok(snapshot())), &c, Mode::Repair).unwrap();
    // Hand edits: a changed shell, a removed link, a foreign record.
    let bob = sb.userdb().join("iamtest-bob.user");
    let text = std::fs::read_to_string(&bob).unwrap();
    std::fs::write(&bob, text.replace("/bin/sh", "/bin/false")).unwrap();
    std::fs::remove_file(sb.userdb().join("70000.user")).unwrap();
    std::fs::write(
        sb.userdb().join("local.user"),
        r#"{"userName":"local","uid":4711,"gid":4711}"#,
    )
    .unwrap();

    let rep = sync(&Fixed(Ok(snapshot())), &c, Mode::Check).unwrap();
    let shown: Vec<String> = rep.drift.iter().map(|d| d.to_string()).collect();
    assert_eq!(rep.repairable(), 2, "{shown:?}");
    assert!(
        shown.iter().any(|s| s.starts_with("missing   70000.user")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("different iamtest-bob.user")),
        "{shown:?}"
    );

    sync(&Fixed(Ok(snapshot())), &c, Mode::Repair).unwrap();
    assert_eq!(
        sync(&Fixed(Ok(snapshot())), &c, Mode::Check)
            .unwrap()
            .repairable(),
        0
    );
    assert!(
        sb.userdb().join("local.user").exists(),
        "foreign record kept"
    );
    let out = sb.run_ok("getent passwd 70000; getent passwd iamtest-bob\n");
    assert!(out.contains("iamtest-alice:x:70000"), "{out}");
    assert!(out.contains(":/bin/sh\n"), "{out}");
}
