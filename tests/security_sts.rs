//! Whole-program proofs for the role-session helper's security fixes (issue 10): the
//! caller cannot stop the setuid `iam-sts` (item 3) and a stuck writer only delays logins
//! by a bounded time; orphaned callers get no role session and share none (item 4); a
//! role deleted and created again does not inherit live sessions (item 8); and every
//! `iam-sts` command takes `--output`. The real setuid `iam-sts`, the real `sudo` with
//! `pam_iam.so` and unprivileged users on real terminals, in private mount namespaces.
//!
//! Runs as root; skipped with a message otherwise (a failure when CI=true).

mod support;

use std::os::unix::fs::PermissionsExt;

use pam_iam::store::{NewRole, PrincipalKind};
use support::sts::*;
use support::{now, shell_quote};

/// A directory every test user may write (sticky, like /tmp), as `$P` in scripts.
fn public_dir(w: &World) -> String {
    let p = w.sb.path("pub");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o1777)).unwrap();
    p.display().to_string()
}

fn as_user(uid: u32, cmd: &str) -> String {
    format!(
        "setpriv --reuid={uid} --regid={uid} --clear-groups -- sh -c {}",
        shell_quote(cmd)
    )
}

/// Waits (up to 10 s) until the file exists and is not empty.
fn wait_file(path: &str) -> String {
    format!("for i in $(seq 100); do [ -s {path} ] && break; sleep 0.1; done")
}

#[test]
fn the_caller_cannot_stop_or_signal_the_helper() {
    require_root!();
    let w = World::new();
    let p = public_dir(&w);
    // alice starts the helper, which waits at the code prompt on her terminal (stdin of
    // `script` stays open, nothing is typed), then tries to stop and kill it.
    let alice = format!(
        "{} assume-role --role-arn {} --role-session-name s1 --serial-number {} >/dev/null 2>&1 & h=$!; \
         echo $h > {p}/helper.pid; sleep 1; \
         kill -STOP $h; echo STOP=$?; kill -TERM $h; echo TERM=$?; \
         grep '^State' /proc/$h/status; wait $h",
        w.sts(),
        w.role("mfa-admin"),
        w.serial()
    );
    let script = format!(
        // The terminal's input is a FIFO held open, and alice's shell waits for the helper,
        // until root has looked and killed it: the helper's terminal stays up (no hangup)
        // however slow the machine is.
        "mkfifo $T/tty-in; exec 9<>$T/tty-in\n\
         setpriv --reuid={ALICE} --regid={ALICE} --clear-groups -- script -qec {} /dev/null <$T/tty-in &\n\
         {}\nh=$(cat {p}/helper.pid); sleep 1.5\n\
         grep -E '^(State|Uid|Gid|Groups):' /proc/$h/status\n\
         # The helper at its prompt holds no write lock: a writer gets it at once.\n\
         python3 -c \"import sqlite3; c=sqlite3.connect('/var/lib/pam-iam/iam.db', timeout=1, isolation_level=None); c.execute('BEGIN IMMEDIATE'); c.execute('ROLLBACK'); print('LOCK=free')\"\n\
         kill -KILL $h; echo ROOTKILL=$?; exec 9>&-; wait",
        shell_quote(&alice),
        wait_file(&format!("{p}/helper.pid")),
    );
    let out = w.run(&script);
    assert!(
        out.stdout.contains("STOP=1") && out.stdout.contains("TERM=1"),
        "the caller could signal the helper: {out}"
    );
    assert!(out.stdout.contains("Operation not permitted"), "{out}");
    // Fully root: real, effective, saved and filesystem ids, no supplementary groups.
    assert!(out.stdout.contains("Uid:\t0\t0\t0\t0"), "{out}");
    assert!(out.stdout.contains("Gid:\t0\t0\t0\t0"), "{out}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.trim_end() == "Groups:" || l.trim_end() == "Groups:\t"),
        "{out}"
    );
    assert!(!out.stdout.contains("(stopped)"), "{out}");
    assert!(out.stdout.contains("LOCK=free"), "{out}");
    assert!(out.stdout.contains("ROOTKILL=0"), "{out}");
}

#[test]
fn a_stuck_writer_delays_sudo_a_bounded_time_then_it_fails_closed() {
    require_root!();
    let w = World::new();
    let p = public_dir(&w);
    // A writer (root) holds the store's write lock for 20 s; alice, with a role session,
    // runs sudo meanwhile, then again once the lock is gone.
    let alice = format!(
        "{}; while [ ! -e {p}/locked ]; do sleep 0.1; done; \
         s=$(date +%s%N); {SUDO}; e=$(date +%s%N); echo WAITED_MS=$(( (e - s) / 1000000 )); \
         while [ ! -e {p}/released ]; do sleep 0.1; done; {}",
        w.assume("admin", ""),
        SUDO.replace("SUDO=", "AFTER=")
    );
    let script = format!(
        "{} >$T/alice.out &\n\
         python3 -c \"import sqlite3,time,os; c=sqlite3.connect('/var/lib/pam-iam/iam.db', isolation_level=None); c.execute('BEGIN IMMEDIATE'); open('{p}/locked','w').close(); time.sleep(20)\" &\n\
         lp=$!\n\
         for i in $(seq 300); do grep -q WAITED_MS $T/alice.out 2>/dev/null && break; sleep 0.1; done\n\
         kill $lp; wait $lp; touch {p}/released; wait; cat $T/alice.out",
        World::term(ALICE, &alice)
    );
    let out = w.run(&script);
    let waited: u64 = out
        .stdout
        .split("WAITED_MS=")
        .nth(1)
        .and_then(|r| r.lines().next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no WAITED_MS: {out}"));
    eprintln!("sudo waited {waited} ms for the stuck writer");
    assert!(!sudo_ok_marker(&out.stdout, "SUDO="), "{out}");
    // Bounded by the login busy timeout (3 s), not the admin tools' 10 s.
    assert!(
        (2500..8000).contains(&waited),
        "sudo waited {waited} ms: {out}"
    );
    // Asked once (no "try again" that would wait once more), told why in one line.
    assert!(!out.stdout.contains("try again"), "{out}");
    assert!(out.stdout.contains("unavailable right now"), "{out}");
    let log = w.sb.syslog();
    assert!(log.contains("the store is busy"), "{log}");
    // Nothing was lost: with the lock gone, the same session works.
    assert!(sudo_ok_marker(&out.stdout, "AFTER="), "{out}\n{log}");
}

#[test]
fn the_caller_cannot_stop_sudo_while_pam_iam_waits_for_or_holds_the_store_lock() {
    require_root!();
    let w = World::new();
    let p = public_dir(&w);
    // sudo keeps alice's real uid, so she may signal it, except while pam_iam inside it
    // waits for or holds the store's write lock. A writer (root) holds the lock for 2.5 s,
    // so pam_iam's audit write waits that long; meanwhile alice tries to stop sudo.
    let alice = format!(
        "{}; while [ ! -e {p}/locked ]; do sleep 0.1; done; \
         sudo -S id -u </dev/null & s=$!; sleep 1; \
         kill -STOP $s; echo STOP=$?; grep '^State' /proc/$s/status; kill -CONT $s; \
         wait $s; echo SUDO=$?",
        w.assume("admin", "")
    );
    let script = format!(
        "{} &\n\
         python3 -c \"import sqlite3,time; c=sqlite3.connect('/var/lib/pam-iam/iam.db', isolation_level=None); c.execute('BEGIN IMMEDIATE'); open('{p}/locked','w').close(); time.sleep(2.5)\"\n\
         wait",
        World::term(ALICE, &alice)
    );
    let out = w.run(&script);
    assert!(out.stdout.contains("ASSUME=0"), "{out}");
    assert!(
        out.stdout.contains("STOP=1") && out.stdout.contains("Operation not permitted"),
        "alice could stop sudo inside pam_iam's write: {out}"
    );
    assert!(!out.stdout.contains("(stopped)"), "{out}");
    // The guard is given back: sudo went on as usual once the writer was done.
    assert!(sudo_ok(&out), "{out}\n{}", w.sb.syslog());
}

/// `id -u` printed 0 right before `MARKER0`.
fn sudo_ok_marker(stdout: &str, marker: &str) -> bool {
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    lines
        .windows(2)
        .any(|w| w[0] == "0" && w[1] == format!("{marker}0"))
}

#[test]
fn an_orphaned_helper_gets_no_session_and_orphans_share_none() {
    require_root!();
    let w = World::new();
    let p = public_dir(&w);
    let sts = w.sts();
    let admin = w.role("admin");
    // 1. `setsid -f`: the helper is orphaned (re-parented to init). 2. The same under a
    // subreaper (as systemd --user is for a user's orphans). Each time a second, unrelated
    // orphan of alice asks who it is.
    let orphans = |tag: &str| {
        format!(
            "setsid -f {sts} assume-role --role-arn {admin} --role-session-name s1 >{p}/{tag}-assume.out 2>{p}/{tag}-assume.err; \
             sleep 1.5; \
             setsid -f {sts} get-caller-identity >{p}/{tag}-who.out 2>{p}/{tag}-who.err; sleep 1.5"
        )
    };
    // PR_SET_CHILD_SUBREAPER = 36; the reaper reaps until no child is left.
    let reaper = w.sb.write(
        "reaper.py",
        "import ctypes, os, subprocess, sys\nctypes.CDLL(None).prctl(36, 1, 0, 0, 0)\nsubprocess.run(sys.argv[1:])\nwhile True:\n    try:\n        os.wait()\n    except ChildProcessError:\n        break\n",
        0o644,
    );
    let subreaper = format!(
        "python3 {} {}",
        reaper.display(),
        as_user(ALICE, &orphans("reaper"))
    );
    // The honest way without a terminal still works: a script that assumes and then
    // runs sudo, both its children.
    let script_flow = format!(
        "setsid -w sh -c '{sts} assume-role --role-arn {admin} --role-session-name s1 >/dev/null; echo SCRIPT_ASSUME=$?; {SUDO}; exit 0' </dev/null"
    );
    let script = format!(
        "{}\n{subreaper}\n{}\n\
         for f in {p}/*.out {p}/*.err; do echo \"== $f\"; cat $f; done",
        as_user(ALICE, &orphans("init")),
        as_user(ALICE, &script_flow)
    );
    let out = w.run(&script);
    let section = |name: &str| {
        out.stdout
            .split(&format!("== {p}/{name}\n"))
            .nth(1)
            .and_then(|r| r.split("\n== ").next())
            .unwrap_or("")
            .to_string()
    };
    for tag in ["init", "reaper"] {
        let err = section(&format!("{tag}-assume.err"));
        assert!(
            err.contains("has no terminal and its parent"),
            "{tag}: the orphan got a session: {out}"
        );
        assert!(
            !section(&format!("{tag}-assume.out")).contains("AccessKeyId"),
            "{out}"
        );
        let who = format!(
            "{}{}",
            section(&format!("{tag}-who.out")),
            section(&format!("{tag}-who.err"))
        );
        assert!(!who.contains("assumed-role"), "{tag}: {out}");
    }
    assert!(out.stdout.contains("SCRIPT_ASSUME=0"), "{out}");
    assert!(sudo_ok(&out), "{out}\n{}", w.sb.syslog());
    // No session was stored for an orphan.
    let store = open_store(&w.sb);
    let sessions = store.list_role_sessions(Some("alice"), None).unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(sessions[0].scope.starts_with("ppid:"), "{sessions:?}");
}

#[test]
fn a_role_deleted_and_created_again_does_not_inherit_live_sessions() {
    require_root!();
    let w = World::new();
    let p = public_dir(&w);
    let sudo_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"host:Sudo","Resource":"arn:aws:iam::{}:host/*"}}]}}"#,
        w.account
    );
    // alice assumes `admin` and uses sudo; root deletes the role and creates a new one of
    // the same name (and the same powers); alice, in the same terminal, tries again.
    let alice = format!(
        "{}; {SUDO}; touch {p}/used; while [ ! -e {p}/recreated ]; do sleep 0.1; done; \
         {}; {} list-sessions --all; {}; {}",
        w.assume("admin", ""),
        SUDO.replace("SUDO=", "STALE="),
        w.sts(),
        w.assume("admin", "").replace("ASSUME=", "AGAIN="),
        SUDO.replace("SUDO=", "FRESH=")
    );
    let script = World::term(ALICE, &alice);
    let out = std::thread::scope(|t| {
        let alice = t.spawn(|| w.run(&script));
        let used = w.sb.path("pub/used");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !used.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let store = open_store(&w.sb);
        let old = store.get_role("admin").unwrap();
        store
            .delete_inline_policy(PrincipalKind::Role, "admin", "sudo")
            .unwrap();
        store.delete_role("admin").unwrap();
        store
            .create_role(
                &NewRole {
                    name: "admin".into(),
                    path: "/".into(),
                    assume_role_policy_document: old.assume_role_policy_document.clone(),
                    max_session_duration: 3600,
                    ..Default::default()
                },
                now(),
            )
            .unwrap();
        store
            .put_inline_policy(PrincipalKind::Role, "admin", "sudo", &sudo_policy)
            .unwrap();
        assert_ne!(store.get_role("admin").unwrap().role_id, old.role_id);
        drop(store);
        std::fs::write(w.sb.path("pub/recreated"), "").unwrap();
        alice.join().unwrap()
    });
    assert!(sudo_ok_marker(&out.stdout, "SUDO="), "first sudo: {out}");
    assert!(
        !sudo_ok_marker(&out.stdout, "STALE="),
        "the old session got the new role's policies: {out}"
    );
    assert!(
        out.stdout
            .contains("ended: role admin was deleted and created again"),
        "{out}"
    );
    assert!(out.stdout.contains("\"Status\": \"Ended\""), "{out}");
    // A session of the new role works.
    assert!(out.stdout.contains("AGAIN=0"), "{out}");
    assert!(sudo_ok_marker(&out.stdout, "FRESH="), "{out}");
}

#[test]
fn every_iam_sts_command_takes_output_json_text_table() {
    require_root!();
    let w = World::new();
    let sts = w.sts();
    let cmd = [
        format!("{sts} --output text get-caller-identity; echo WHO_TEXT=$?"),
        format!("{sts} get-caller-identity --output table; echo WHO_TABLE=$?"),
        format!(
            "{} --output text; echo ASSUME_TEXT=$?",
            w.assume("admin", "").replace("; echo ASSUME=$?", "")
        ),
        format!("{sts} list-sessions --output table; echo LIST_TABLE=$?"),
        format!("{sts} list-sessions --output json; echo LIST_JSON=$?"),
        format!("{sts} revoke-session --output text; echo REVOKE_TEXT=$?"),
        format!("{sts} get-caller-identity --output yaml; echo BAD=$?"),
    ]
    .join("; ");
    let out = w.run(&World::term(ALICE, &cmd));
    let acct = &w.account;
    // text: AWS's tab-separated values.
    assert!(
        out.stdout
            .contains(&format!("{acct}\tarn:aws:iam::{acct}:user/alice")),
        "{out}"
    );
    // table: a title and boxed rows.
    assert!(out.stdout.contains("GetCallerIdentity"), "{out}");
    assert!(
        out.stdout
            .contains(&format!("| Arn     | arn:aws:iam::{acct}:user/alice")),
        "{out}"
    );
    assert!(out.stdout.contains("CREDENTIALS\tASIA"), "{out}");
    assert!(out.stdout.contains("| AccessKeyId"), "{out}");
    assert!(out.stdout.contains("    \"Sessions\": ["), "{out}");
    assert!(out.stdout.contains("REVOKEDACCESSKEYIDS\tASIA"), "{out}");
    for ok in [
        "WHO_TEXT=0",
        "WHO_TABLE=0",
        "ASSUME_TEXT=0",
        "LIST_TABLE=0",
        "LIST_JSON=0",
        "REVOKE_TEXT=0",
    ] {
        assert!(out.stdout.contains(ok), "{ok}: {out}");
    }
    assert!(out.stdout.contains("BAD=2"), "{out}");
}

/// `aws sts assume-role`'s newer members, as iam-sts flags: managed session policies and
/// an external id pass; session tags and a source identity need `sts:TagSession` /
/// `sts:SetSourceIdentity`, which the `admin` role's trust policy does not grant; bad
/// shorthand and a policy of another account are refused before anything is issued.
#[test]
fn assume_role_takes_the_aws_cli_members_and_checks_them() {
    require_root!();
    let w = World::new();
    let acct = &w.account;
    let cases = [
        (
            "PASS",
            format!(
                "--external-id ext-1 --policy-arns arn=arn:aws:iam::aws:policy/ReadOnlyAccess arn=arn:aws:iam::{acct}:policy/ops"
            ),
        ),
        (
            "TAGS",
            "--tags Key=team,Value=ops Key=cc,Value= --transitive-tag-keys team".into(),
        ),
        ("SOURCE", "--source-identity alice-ops".into()),
        ("SHORTHAND", "--tags team".into()),
        (
            "OTHER",
            "--policy-arns arn=arn:aws:iam::999999999999:policy/ops".into(),
        ),
    ];
    let cmd: Vec<String> = cases
        .iter()
        .map(|(tag, extra)| {
            w.assume("admin", &format!("{extra} 2>&1"))
                .replace("ASSUME=", &format!("{tag}="))
        })
        .collect();
    let out = w.run(&World::term(ALICE, &cmd.join("; ")));
    assert!(out.stdout.contains("PASS=0"), "{out}");
    assert!(out.stdout.contains("\"PackedPolicySize\""), "{out}");
    for (tag, why) in [
        ("TAGS", "sts:TagSession"),
        ("SOURCE", "sts:SetSourceIdentity"),
        ("SHORTHAND", "give Key=K,Value=V"),
        ("OTHER", "is not a managed policy ARN of account"),
    ] {
        assert!(!out.stdout.contains(&format!("{tag}=0")), "{tag}: {out}");
        assert!(out.stdout.contains(why), "{tag} {why}: {out}");
    }
}
