//! The real `iam` CLI keeps /etc/userdb in step in the same operation that changes the
//! store, and a corrupt or unreadable store leaves every record in place and says why.
//! Runs in a private mount namespace (overlay /etc, bind-mounted userdb directory and
//! nsswitch.conf): the machine's accounts do not change.

mod support;

use support::sandbox::{RUN_TIMEOUT, Sandbox};

/// The `iam` binary under test.
fn iam() -> String {
    support::bin("iam").display().to_string()
}

/// Bash prologue: the `iam` of this build on a store inside the sandbox, managing the
/// namespace's /etc/userdb and the sandbox's key export.
fn env(sb: &Sandbox) -> String {
    let r = sb.root().display();
    let iam = iam();
    format!(
        "export PAM_IAM_DB={r}/db/iam.db PAM_IAM_USERDB_DIR=/etc/userdb PAM_IAM_KEYS_DIR={r}/keys\n\
         iam() {{ {iam} \"$@\" >/dev/null; }}\n"
    )
}

#[test]
fn cli_changes_resolve_immediately() {
    require_root!();
    let sb = Sandbox::with_etc_userdb();
    let iam = iam();
    let out = sb.run_ok(&format!(
            "{}\
             set -e\n\
             iam create-user --user-name iamt-ann\n\
             iam create-group --group-name iamt-ops\n\
             iam add-user-to-group --group-name iamt-ops --user-name iamt-ann\n\
             echo '[created]'; getent passwd iamt-ann; getent group iamt-ops; id iamt-ann\n\
             iam update-user --user-name iamt-ann --new-user-name iamt-anna\n\
             echo '[renamed]'; getent passwd iamt-anna; getent passwd iamt-ann || echo gone\n\
             iam create-user --user-name iamt-ben --uid 71234\n\
             echo '[uid]'; getent passwd 71234\n\
             iam remove-user-from-group --group-name iamt-ops --user-name iamt-anna\n\
             echo '[removed]'; getent group iamt-ops\n\
             iam delete-user --user-name iamt-ben\n\
             echo '[deleted]'; getent passwd iamt-ben || echo gone; getent passwd 71234 || echo gone\n\
             iam create-user --user-name iamt-cy\n\
             echo '[new]'; getent passwd iamt-cy\n\
             echo '[check]'; {iam} sync-userdb --check; echo rc=$?\n",
            env(&sb)
        ),
    );
    let want = "[created]\n\
        iamt-ann:x:70000:70000:iamt-ann:/home/iamt-ann:/bin/bash\n\
        iamt-ops:x:70001:iamt-ann\n\
        uid=70000(iamt-ann) gid=70000(iamt-ann) groups=70000(iamt-ann),70001(iamt-ops)\n\
        [renamed]\n\
        iamt-anna:x:70000:70000:iamt-anna:/home/iamt-anna:/bin/bash\n\
        gone\n\
        [uid]\n\
        iamt-ben:x:71234:71234:iamt-ben:/home/iamt-ben:/bin/bash\n\
        [removed]\n\
        iamt-ops:x:70001:\n\
        [deleted]\n\
        gone\n\
        gone\n\
        [new]\n\
        iamt-cy:x:71235:71235:iamt-cy:/home/iamt-cy:/bin/bash\n\
        [check]\n\
        rc=0\n";
    assert_eq!(out, want);
}

#[test]
fn drift_is_reported_by_check_and_repaired_by_sync() {
    require_root!();
    let sb = Sandbox::with_etc_userdb();
    let iam = iam();
    let out = sb.run(
        &format!(
            "{}\
             iam create-user --user-name iamt-dee\n\
             rm /etc/userdb/70000.user\n\
             echo '{{\"userName\":\"local\",\"uid\":4711}}' > /etc/userdb/local.user\n\
             {iam} sync-userdb --check; echo rc=$?\n\
             getent passwd 70000 || echo unresolved\n\
             {iam} sync-userdb; echo rc=$?\n\
             getent passwd 70000; ls /etc/userdb/local.user\n",
            env(&sb)
        ),
        RUN_TIMEOUT,
    );
    let so = &out.stdout;
    let se = &out.stderr;
    assert!(
        so.starts_with("missing   70000.user\nrc=254\nunresolved\nmissing   70000.user\nrc=0\niamt-dee:x:70000:"),
        "{so}\n{se}"
    );
    assert!(
        so.ends_with("/etc/userdb/local.user\n"),
        "foreign record kept: {so}"
    );
    assert!(se.contains("DriftDetected"), "{se}");
}

#[test]
fn corrupt_or_unreadable_store_leaves_records_and_says_why() {
    require_root!();
    let sb = Sandbox::with_etc_userdb();
    let r = sb.root().display();
    let iam = iam();
    let out = sb.run(
        &format!(
            "{}\
             iam create-user --user-name iamt-eve\n\
             iam create-group --group-name iamt-grp\n\
             iam add-user-to-group --group-name iamt-grp --user-name iamt-eve\n\
             ls /etc/userdb > {r}/before\n\
             cp {r}/db/iam.db {r}/iam.db.good\n\
             echo '[corrupt]'\n\
             rm -f {r}/db/iam.db-wal {r}/db/iam.db-shm\n\
             head -c 8192 /dev/urandom > {r}/db/iam.db\n\
             {iam} sync-userdb; echo rc=$?\n\
             {iam} create-user --user-name iamt-x; echo rc=$?\n\
             ls /etc/userdb | diff {r}/before - && echo unchanged\n\
             getent passwd iamt-eve; getent group iamt-grp\n\
             echo '[unreadable]'\n\
             cp {r}/iam.db.good {r}/db/iam.db; chmod 0666 {r}/db/iam.db\n\
             {iam} sync-userdb; echo rc=$?\n\
             ls /etc/userdb | diff {r}/before - && echo unchanged\n\
             echo '[missing]'\n\
             rm -f {r}/db/iam.db\n\
             PAM_IAM_DB={r}/nowhere/iam.db {iam} sync-userdb --check; echo rc=$?\n\
             ls /etc/userdb | diff {r}/before - && echo unchanged\n\
             getent passwd iamt-eve\n",
            env(&sb)
        ),
        RUN_TIMEOUT,
    );
    let so = &out.stdout;
    let se = &out.stderr;
    assert!(
        so.contains(
            "[corrupt]\nrc=254\nrc=254\nunchanged\niamt-eve:x:70000:70000:iamt-eve:/home/iamt-eve:/bin/bash\niamt-grp:x:70001:iamt-eve\n"
        ),
        "{so}\n{se}"
    );
    assert!(
        so.contains("[unreadable]\nrc=254\nunchanged\n"),
        "{so}\n{se}"
    );
    assert!(
        so.contains("[missing]\nrc=254\nunchanged\niamt-eve:x:70000"),
        "{so}\n{se}"
    );
    // Each refusal names its cause.
    let lines: Vec<&str> = se.lines().filter(|l| l.contains("SyncUserdb")).collect();
    assert_eq!(lines.len(), 3, "{se}");
    assert!(
        lines[0].contains("not a database") || lines[0].contains("malformed"),
        "{se}"
    );
    assert!(
        lines[1].contains("0666") || lines[1].contains("mode"),
        "{se}"
    );
}
