//! The store on a tiny tmpfs filled to the last byte: every login fails closed with one
//! clear syslog line (an allow that cannot be audited is a deny), the store stays
//! intact, and everything works again, with nothing to repair, once space returns.

mod support;

use std::time::Duration;
use support::sandbox::Sandbox;
use support::store::Iam;
use support::totp;

#[test]
fn a_full_disk_fails_closed_and_recovers_when_space_returns() {
    require_root!();
    let mut sb = Sandbox::new();
    let disk = sb.path("disk");
    std::fs::create_dir(&disk).unwrap();
    let db = format!("{}/iam.db", disk.display());
    sb.user("alice", 2001).user("bob", 2002).service(
        "iam-test",
        &format!(
            "auth required {{module}} db={db} fail_delay=0\naccount required {{module}} db={db} host=web-1\n"
        ),
    );
    // Built outside the namespace, copied onto the small disk inside it.
    let iam = Iam::create(&sb.db());
    iam.user("alice", Some("alice-Passw0rd"))
        .user("bob", Some("bob-Passw0rd"))
        .lockout(5, 900)
        .web_group(&["alice", "bob"]);
    let (seed, _) = iam.mfa("alice");
    drop(iam);
    totp::wait_for_fresh_step(20);
    let code_now = totp::code(&seed, 0);
    let code_next = totp::code(&seed, 30);
    let login = |tag: &str, user: &str, answers: &str| {
        format!(
            "printf '{answers}' | pamtester -v iam-test {user} authenticate acct_mgmt > $T/{tag}.out 2>&1; echo $? > $T/{tag}.rc\n\
             logger -u /dev/log -t harness-mark 'after {tag}'\n"
        )
    };
    let mut script = String::from(
        "cd $T\nsqlite3 store/iam.db 'PRAGMA wal_checkpoint(TRUNCATE)' > /dev/null\n\
         mount -t tmpfs -o size=8m,mode=0700 tmpfs $T/disk\n\
         cp store/iam.db disk/iam.db && chmod 600 disk/iam.db\n\
         cp -p store/pam_iam_secrets.key disk/pam_iam_secrets.key\n\
         dd if=/dev/zero of=disk/fill bs=4k status=none 2>/dev/null; dd if=/dev/zero of=disk/fill2 bs=1 status=none 2>/dev/null\n\
         df -B1 --output=avail disk | tail -1 > avail.full\n",
    );
    script += &login("full-right", "bob", "bob-Passw0rd\\n");
    script += &login("full-wrong", "bob", "nope\\n");
    script += &login(
        "full-mfa",
        "alice",
        &format!("alice-Passw0rd\\n{code_now}\\n"),
    );
    // Read-only and without the -shm it cannot create: the file is all there is.
    script += "sqlite3 'file:disk/iam.db?immutable=1' 'PRAGMA integrity_check' > integrity.full 2>&1\n\
               rm disk/fill disk/fill2\n";
    script += &login("free-right", "bob", "bob-Passw0rd\\n");
    script += &login("free-wrong", "bob", "nope\\n");
    script += &login(
        "free-mfa",
        "alice",
        &format!("alice-Passw0rd\\n{code_next}\\n"),
    );
    script += "ls -l disk > disk.warm\n";
    // Full again, now with a warm store (its -wal and -shm exist) and no key yet: the
    // first login must create pam_iam_auth.key and cannot.
    // SQLite room inside the disk: a -wal grown past its 1000-page checkpoint and reset,
    // left (kill -9) for the next writer to reuse from its start.
    script += r#"python3 - disk/iam.db 2> grow.err <<'PY'
import os, signal, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
for step in [1, -1] * 600:
    c.execute("UPDATE lockout_settings SET lockout_duration = lockout_duration + ?", (step,))
c.execute("PRAGMA wal_checkpoint(RESTART)")
os.kill(os.getpid(), signal.SIGKILL)
PY
"#;
    script += "rm disk/pam_iam_auth.key\n\
               dd if=/dev/zero of=disk/fill bs=4k status=none 2>/dev/null; dd if=/dev/zero of=disk/fill2 bs=1 status=none 2>/dev/null\n\
               df -B1 --output=avail disk | tail -1 > avail.full2\n";
    script += &login("key-full", "bob", "bob-Passw0rd\\n");
    script += "rm disk/fill disk/fill2\n";
    script += &login("key-free", "bob", "bob-Passw0rd\\n");
    script += &login("key-wrong", "bob", "nope\\n");
    script += "sqlite3 disk/iam.db 'PRAGMA integrity_check' > integrity.end 2>&1\n\
               sqlite3 disk/iam.db \"SELECT failed_attempts FROM login_failures JOIN users ON users.pk = user_pk WHERE users.name = 'bob'\" > bob.failures 2>&1\n\
               ls -l disk > disk.ls\n";
    let out = sb.run(&script, Duration::from_secs(120));
    assert!(out.ok(), "{out}");
    let read = |f: &str| std::fs::read_to_string(sb.path(f)).unwrap_or_default();
    let log = sb.syslog();
    let ctx = format!("--- syslog\n{log}--- disk\n{}", read("disk.ls"));
    assert_eq!(read("avail.full").trim(), "0", "the disk is full: {ctx}");

    // Full: nobody gets in, and each attempt says why in one line.
    let sections: Vec<&str> = log.split("harness-mark").collect();
    for (i, tag) in ["full-right", "full-wrong", "full-mfa"].iter().enumerate() {
        assert_ne!(
            read(&format!("{tag}.rc")).trim(),
            "0",
            "{tag}: {}\n{ctx}",
            read(&format!("{tag}.out"))
        );
        let ours: Vec<&str> = sections[i]
            .lines()
            .filter(|l| l.contains("pam_iam("))
            .collect();
        assert_eq!(ours.len(), 1, "{tag}: one clear line: {ours:#?}\n{ctx}");
        assert!(
            ours[0].contains("denying") && ours[0].contains("has no free space left"),
            "{tag}: the line says why: {ours:#?}\n{ctx}"
        );
    }
    assert_eq!(read("integrity.full").trim(), "ok", "{ctx}");

    // Space back: everything works, nothing to repair.
    assert_eq!(
        read("free-right.rc").trim(),
        "0",
        "{}\n{ctx}",
        read("free-right.out")
    );
    assert_ne!(read("free-wrong.rc").trim(), "0", "{ctx}");
    assert_eq!(
        read("free-mfa.rc").trim(),
        "0",
        "{}\n{ctx}",
        read("free-mfa.out")
    );
    assert!(
        read("disk.warm").contains("iam.db-wal"),
        "the store is warm: {ctx}"
    );

    // The key could not be written: denied, and nothing half-written stays behind to
    // refuse every later login.
    assert_eq!(read("avail.full2").trim(), "0", "{ctx}");
    assert_ne!(read("key-full.rc").trim(), "0", "{ctx}");
    let ours: Vec<&str> = sections[6]
        .lines()
        .filter(|l| l.contains("pam_iam("))
        .collect();
    assert_eq!(ours.len(), 1, "key-full: one clear line: {ours:#?}\n{ctx}");
    assert!(
        ours[0].contains("No space left on device"),
        "{ours:#?}\n{ctx}"
    );
    assert_eq!(
        read("key-free.rc").trim(),
        "0",
        "{}\n{ctx}",
        read("key-free.out")
    );
    assert_ne!(read("key-wrong.rc").trim(), "0", "{ctx}");
    assert_eq!(read("integrity.end").trim(), "ok", "{ctx}");
    assert_eq!(
        read("bob.failures").trim(),
        "1",
        "the wrong password after recovery counted: {ctx}"
    );
    assert!(
        !read("disk.ls").contains(".tmp."),
        "no stray key file: {ctx}"
    );
}
