//! pam_iam.so inside a PAM application we control (tests/faults/pamhost.c, built here
//! with gcc against libpam): hostile conversations and PAM_USER values must deny with
//! the right code and never crash the host; a long-lived host process (display
//! managers, cockpit, polkit agents) must keep RSS and open descriptors flat over many
//! logins and never see a thread of ours; a multithreaded host logging in from several
//! threads at once, and a host that forks with the store kept on the handle, must close
//! every kept store exactly where it was opened.
//!
//! `scripts/faults-bench` runs the same tests at full size (10,000 rounds with the
//! default argon2 parameters) and under valgrind; the knobs are environment variables:
//! `FAULTS_ROUNDS`, `FAULTS_DEFAULT_ARGON2=1`, `FAULTS_VALGRIND=1`.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::sandbox::Sandbox;
use support::store::Iam;
use support::totp;

const STACK: &str = "auth required {module} db={db} fail_delay=0
account required {module} db={db} host=web-1
";

/// pamhost compiled into the sandbox (so the namespace's users can run it too).
fn pamhost(sb: &Sandbox) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/faults/pamhost.c");
    let bin = sb.path("pamhost");
    let out = Command::new("gcc")
        .args(["-Wall", "-Wextra", "-Werror", "-O1", "-g", "-o"])
        .arg(&bin)
        .arg(&src)
        .args(["-lpam", "-pthread"])
        .output()
        .expect("gcc (apt libpam0g-dev)");
    assert!(
        out.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// valgrind's memcheck in front of pamhost when FAULTS_VALGRIND=1.
fn wrapper(sb: &Sandbox, tag: &str) -> String {
    if std::env::var("FAULTS_VALGRIND").as_deref() == Ok("1") {
        format!(
            "valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes --leak-check=full --errors-for-leak-kinds=definite --track-fds=yes --log-file={}/valgrind.{tag}.log ",
            sb.dir.path().display()
        )
    } else {
        String::new()
    }
}

const EVE_PASSWORD: &str = "caf\u{FFFD}-Passw0rd";

/// alice (password + TOTP) and bob (password only), allowed on web-* hosts.
fn world() -> (Sandbox, Iam, String) {
    let mut sb = Sandbox::new();
    sb.user("alice", 2001)
        .user("bob", 2002)
        .user("eve", 2003)
        .service("iam-test", STACK);
    let iam = Iam::create_with(&sb.db(), support::store::fault_params());
    iam.user("alice", Some("alice-Passw0rd"))
        .user("bob", Some("bob-Passw0rd"))
        .user("eve", Some(EVE_PASSWORD))
        .web_group(&["alice", "bob", "eve"]);
    let (seed, _) = iam.mfa("alice");
    (sb, iam, seed)
}

/// USER spec, CONV spec, then the codes expected from pam_authenticate and
/// pam_acct_mgmt (PAM_ left off; `-`: not called, authentication failed).
const CASES: &[(&str, &str, &str, &str)] = &[
    // controls: the harness logs in when answered properly
    ("name:bob", "ok", "SUCCESS", "SUCCESS"),
    ("name:alice", "ok", "SUCCESS", "SUCCESS"),
    ("name:bob", "wrong", "AUTH_ERR", "-"),
    // hostile answers
    ("name:bob", "null-resp", "CONV_ERR", "-"),
    ("name:bob", "null-string", "CONV_ERR", "-"),
    ("name:bob", "empty", "AUTH_ERR", "-"),
    ("name:bob", "huge", "AUTH_ERR", "-"),
    ("name:bob", "badutf8", "AUTH_ERR", "-"),
    ("name:bob", "nul", "AUTH_ERR", "-"),
    ("name:bob", "err", "CONV_ERR", "-"),
    ("name:bob", "abort", "CONV_ERR", "-"),
    ("name:bob", "buf", "CONV_ERR", "-"),
    ("name:bob", "noconv", "CONV_ERR", "-"),
    ("name:alice", "code-err", "CONV_ERR", "-"),
    ("name:alice", "null-string", "CONV_ERR", "-"),
    ("name:alice", "huge", "AUTH_ERR", "-"),
    ("name:alice", "nul", "AUTH_ERR", "-"),
    // eve's password holds U+FFFD, what a lossy decoding makes of any invalid byte: the
    // byte 0xE9 in its place is another password, and wrong
    ("name:eve", "latin1", "AUTH_ERR", "-"),
    ("name:eve", "ok", "SUCCESS", "SUCCESS"),
    // hostile PAM_USER values: none is an IAM user
    ("unset", "ok", "USER_UNKNOWN", "-"),
    ("unset", "null-string", "CONV_ERR", "-"),
    ("unset", "err", "CONV_ERR", "-"),
    ("empty", "ok", "USER_UNKNOWN", "-"),
    ("long", "ok", "USER_UNKNOWN", "-"),
    ("nonutf8", "ok", "USER_UNKNOWN", "-"),
    ("dotdot", "ok", "USER_UNKNOWN", "-"),
];

/// Wrong answers bob's failure counter must show afterwards (each counted once).
fn bob_failures() -> u32 {
    CASES
        .iter()
        .filter(|(u, _, auth, _)| *u == "name:bob" && *auth == "AUTH_ERR")
        .count() as u32
}

#[test]
fn hostile_conversations_and_users_deny_with_the_right_code() {
    require_root!();
    let (sb, iam, seed) = world();
    let host = pamhost(&sb);
    let mut script = String::new();
    totp::wait_for_fresh_step(10);
    let code = totp::code(&seed, 0);
    for (i, (user, conv, _, _)) in CASES.iter().enumerate() {
        let password = match *user {
            "name:alice" => "alice-Passw0rd",
            "name:eve" => EVE_PASSWORD,
            _ => "bob-Passw0rd",
        };
        let w = wrapper(&sb, &i.to_string());
        script += &format!(
            "{w}{} iam-test case '{user}' '{conv}' '{password}' '{code}' > $T/case.{i} 2>&1; echo $? > $T/case.{i}.rc\n",
            host.display()
        );
    }
    let out = sb.run(&script, Duration::from_secs(600));
    assert!(out.ok(), "{out}");
    let log = sb.syslog();
    let mut wrong = Vec::new();
    for (i, (user, conv, auth, acct)) in CASES.iter().enumerate() {
        let pam = |c: &str| {
            if c == "-" {
                c.to_string()
            } else {
                format!("PAM_{c}")
            }
        };
        let want = format!("authenticate={} acct_mgmt={}", pam(auth), pam(acct));
        let got = std::fs::read_to_string(sb.path(&format!("case.{i}"))).unwrap();
        let rc = std::fs::read_to_string(sb.path(&format!("case.{i}.rc"))).unwrap();
        if rc.trim() != "0" || !got.starts_with(&want) {
            let vg =
                std::fs::read_to_string(sb.path(&format!("valgrind.{i}.log"))).unwrap_or_default();
            wrong.push(format!(
                "{user} {conv}: exit {} {got:?}, want {want}\n{vg}",
                rc.trim()
            ));
        }
        // The host never saw a thread of ours, even mid-hook (in the conversation).
        if !got.contains("threads_in_conv=1") && !got.contains("threads_in_conv=0") {
            wrong.push(format!("{user} {conv}: threads: {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}\n--- syslog\n{log}", wrong.join("\n"));
    assert!(!log.contains("internal error"), "a panic was caught: {log}");
    assert_eq!(
        iam.failures("bob"),
        bob_failures(),
        "every wrong answer counted once"
    );
    if std::env::var("FAULTS_VALGRIND").as_deref() == Ok("1") {
        for (i, case) in CASES.iter().enumerate() {
            let v =
                std::fs::read_to_string(sb.path(&format!("valgrind.{i}.log"))).unwrap_or_default();
            let summary: Vec<&str> = v
                .lines()
                .filter(|l| l.contains("ERROR SUMMARY") || l.contains("definitely lost"))
                .collect();
            println!("valgrind case {i} {case:?}: {summary:?}");
            assert!(
                v.contains("ERROR SUMMARY: 0 errors"),
                "valgrind case {i}:\n{v}"
            );
        }
    }
}

/// The audited `authenticate` allows of `user`.
fn authenticate_allows(iam: &Iam, user: &str) -> u64 {
    iam.audit(user)
        .iter()
        .filter(|(a, d, _)| a == "authenticate" && d == "allow")
        .count() as u64
}

/// Parse `at=I rss_kb=R fds=F threads=T ...` checkpoint lines.
fn checkpoints(text: &str) -> Vec<(u64, u64, u64, u64)> {
    text.lines()
        .filter(|l| l.starts_with("at="))
        .map(|l| {
            let field = |k: &str| -> u64 {
                l.split_whitespace()
                    .find_map(|f| f.strip_prefix(k))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{k} in {l}"))
            };
            (
                field("at="),
                field("rss_kb="),
                field("fds="),
                field("threads="),
            )
        })
        .collect()
}

#[test]
fn a_long_lived_host_keeps_rss_and_fds_flat_and_never_sees_a_thread() {
    require_root!();
    let rounds: u64 = std::env::var("FAULTS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let (sb, iam, _) = world();
    let host = pamhost(&sb);
    let script = format!(
        "{h} iam-test loop {rounds} bob bob-Passw0rd > $T/loop.out 2>&1; echo $? > $T/loop.rc\n\
         strace -f -qq -e trace=clone,clone3,fork,vfork -o $T/strace.out {h} iam-test loop 30 bob bob-Passw0rd > /dev/null 2>&1\n",
        h = host.display()
    );
    let out = sb.run(&script, Duration::from_secs(3600));
    assert!(out.ok(), "{out}");
    let text = std::fs::read_to_string(sb.path("loop.out")).unwrap();
    let rc = std::fs::read_to_string(sb.path("loop.rc")).unwrap();
    println!("{text}");
    assert_eq!(rc.trim(), "0", "{text}");
    assert!(text.contains("mismatches=0\n"), "{text}\n{}", sb.syslog());
    let cp = checkpoints(&text);
    assert_eq!(cp.len(), 3, "{text}");
    let (_, rss0, fds0, _) = cp[0];
    let (_, rss_warm, fds_warm, _) = cp[1];
    let (_, rss_end, fds_end, _) = cp[2];
    for (at, _, _, threads) in &cp {
        assert_eq!(*threads, 1, "threads at round {at}: {text}");
    }
    assert!(text.contains("max_threads_in_conv=1"), "{text}");
    // The first login's pam_syslog opens libc's /dev/log socket, which libc keeps (any
    // module that logs does the same); nothing else may stay open.
    assert!(fds_warm <= fds0 + 1, "descriptors after warm-up: {text}");
    assert_eq!(
        fds_end, fds_warm,
        "open descriptors warm and at the end: {text}"
    );
    // Flat: after warm-up (10% of the rounds), at most 1 MiB more over the other 90%.
    assert!(
        rss_end <= rss_warm + 1024,
        "RSS grew from {rss_warm} kB (warm) to {rss_end} kB (start {rss0} kB): {text}"
    );
    let trace = std::fs::read_to_string(sb.path("strace.out")).unwrap_or_default();
    assert!(
        !trace.contains("clone") && !trace.contains("fork"),
        "a thread or process was started: {trace}"
    );
    // The loop's logins were real: each wrong one counted, each right one cleared.
    assert!(
        iam.failures("bob") <= 1,
        "the last right login cleared the count"
    );
    assert_eq!(
        authenticate_allows(&iam, "bob"),
        rounds.div_ceil(3) + 10,
        "one audited allow per right-password round"
    );
}

#[test]
fn a_multithreaded_host_logs_in_from_several_threads_at_once_and_frees_every_kept_store() {
    require_root!();
    // Native: 4 threads x 300 rounds at once; under memcheck (which runs one thread at a
    // time, switching often): 3 x 9. Every wrong-password round leaves the store kept by
    // authenticate on the handle for pam_end's cleanup to close.
    let (threads, rounds) = (4u64, 300u64);
    let (vg_threads, vg_rounds) = (3u64, 9u64);
    let (sb, iam, _) = world();
    let host = pamhost(&sb);
    let script = format!(
        "{h} iam-test threads {threads} {rounds} bob bob-Passw0rd > $T/threads.out 2>&1; echo $? > $T/threads.rc\n\
         valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --log-file=$T/valgrind.threads.log \
           {h} iam-test threads {vg_threads} {vg_rounds} bob bob-Passw0rd > $T/vg.out 2>&1; echo $? > $T/vg.rc\n",
        h = host.display()
    );
    let out = sb.run(&script, Duration::from_secs(1800));
    assert!(out.ok(), "{out}");
    let log = sb.syslog();
    let text = std::fs::read_to_string(sb.path("threads.out")).unwrap();
    let rc = std::fs::read_to_string(sb.path("threads.rc")).unwrap();
    println!("{text}");
    assert_eq!(rc.trim(), "0", "{text}");
    assert!(text.contains("mismatches=0\n"), "{text}\n{log}");
    let cp = checkpoints(&text);
    assert_eq!(cp.len(), 2, "{text}");
    let (_, _, fds0, _) = cp[0];
    let (at, _, fds_end, threads_end) = cp[1];
    assert_eq!(at, threads * rounds, "{text}");
    assert_eq!(threads_end, 1, "all joined, none of ours left: {text}");
    assert!(
        text.contains(&format!("max_threads_in_conv={}", threads + 1)),
        "the host's threads only, even mid-hook: {text}"
    );
    // pam_syslog's /dev/log socket aside, every store's descriptors were closed: those
    // of the kept stores by pam_end's cleanup.
    assert!(fds_end <= fds0 + 1, "descriptors before and after: {text}");
    assert!(!log.contains("internal error"), "a panic was caught: {log}");

    let vg = std::fs::read_to_string(sb.path("valgrind.threads.log")).unwrap_or_default();
    let vg_out = std::fs::read_to_string(sb.path("vg.out")).unwrap_or_default();
    let vg_rc = std::fs::read_to_string(sb.path("vg.rc")).unwrap_or_default();
    let summary: Vec<&str> = vg
        .lines()
        .filter(|l| {
            [
                "ERROR SUMMARY",
                "definitely lost",
                "indirectly lost",
                "in use at exit",
            ]
            .iter()
            .any(|k| l.contains(k))
        })
        .collect();
    println!("valgrind threads: {summary:?}");
    assert_eq!(vg_rc.trim(), "0", "memcheck: {vg_out}\n{vg}");
    assert!(vg_out.contains("mismatches=0\n"), "{vg_out}\n{log}");
    assert!(vg.contains("ERROR SUMMARY: 0 errors"), "{vg}");

    assert_eq!(
        authenticate_allows(&iam, "bob"),
        threads * rounds.div_ceil(3) + vg_threads * vg_rounds.div_ceil(3),
        "one audited allow per right-password round"
    );
}

/// A host that forks after authenticate (login and su fork before they exec the shell)
/// and whose child ends its copy of the handle, with PAM_DATA_SILENT or without: the
/// child's cleanup frees the slot but leaves the inherited SQLite connection open (it
/// must not be closed under the parent) and nothing crashes; the parent's acct_mgmt
/// still uses the store it kept, and the parent's pam_end closes it.
#[test]
fn a_forked_child_ending_its_copy_of_the_handle_leaves_the_kept_store_to_the_parent() {
    require_root!();
    let (sb, _iam, _) = world();
    let host = pamhost(&sb);
    let mut script = String::new();
    for mode in ["silent", "plain"] {
        script += &format!(
            "{h} iam-test fork {mode} bob bob-Passw0rd > $T/fork.{mode} 2>&1; echo $? > $T/fork.{mode}.rc\n\
             mkdir -p $T/vg.{mode}; valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect --log-file=$T/vg.{mode}/%p.log \
               {h} iam-test fork {mode} bob bob-Passw0rd > $T/vgfork.{mode} 2>&1; echo $? > $T/vgfork.{mode}.rc\n",
            h = host.display()
        );
    }
    let out = sb.run(&script, Duration::from_secs(600));
    assert!(out.ok(), "{out}");
    let log = sb.syslog();
    let db = sb.db();
    for mode in ["silent", "plain"] {
        for run in ["fork", "vgfork"] {
            let text = std::fs::read_to_string(sb.path(&format!("{run}.{mode}"))).unwrap();
            let rc = std::fs::read_to_string(sb.path(&format!("{run}.{mode}.rc"))).unwrap();
            println!("{run} {mode}: {text}");
            assert_eq!(rc.trim(), "0", "{run} {mode}: {text}");
            assert!(
                text.contains("authenticate=PAM_SUCCESS acct_mgmt=PAM_SUCCESS child=exit:0"),
                "{run} {mode}: {text}\n{log}"
            );
            let fds = |who: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{who} fd_list=")))
                    .unwrap_or_else(|| panic!("{who} in {text}"))
                    .to_string()
            };
            assert!(
                fds("child").contains(&db),
                "{run} {mode}: the child closed the inherited store: {text}"
            );
            assert!(
                !fds("parent").contains(&db),
                "{run} {mode}: the parent's pam_end left the store open: {text}"
            );
        }
        // Memory errors in either process (the child's inherited connection is left
        // unclosed on purpose, so only the parent's leaks count).
        let logs: Vec<(u32, String)> = std::fs::read_dir(sb.path(&format!("vg.{mode}")))
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let pid = p.file_stem().unwrap().to_str().unwrap().parse().unwrap();
                (pid, std::fs::read_to_string(p).unwrap())
            })
            .collect();
        assert_eq!(logs.len(), 2, "parent and child: {logs:?}");
        for (pid, v) in &logs {
            let summary: Vec<&str> = v
                .lines()
                .filter(|l| l.contains("ERROR SUMMARY") || l.contains("lost:"))
                .collect();
            println!("valgrind fork {mode} {pid}: {summary:?}");
            let is_child = logs
                .iter()
                .any(|(other, _)| v.contains(&format!("Parent PID: {other}\n")));
            if !is_child {
                assert!(v.contains("ERROR SUMMARY: 0 errors"), "parent: {v}");
            }
            for bad in [
                "Invalid read",
                "Invalid write",
                "Invalid free",
                "uninitialised",
            ] {
                assert!(!v.contains(bad), "{mode} {pid}: {v}");
            }
        }
    }
    assert!(!log.contains("internal error"), "a panic was caught: {log}");
}
