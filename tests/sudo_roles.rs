//! Whole-program proof of sudo through role sessions: the real setuid `iam-sts`, the real
//! `sudo` with `pam_iam.so`, run by unprivileged test users on real terminals (`script`),
//! in private mount namespaces (test users, sudoers, PAM service and the store at its
//! default path exist only there).
//!
//! Runs as root; skipped with a message otherwise (a failure when CI=true).

mod support;

use std::os::unix::fs::PermissionsExt;

use pam_iam::store::{OpenMode, OpenOptions, PrincipalKind};
use support::sts::*;
use support::{now, shell_quote};

#[test]
fn assume_role_then_sudo_runs_as_root() {
    require_root!();
    let w = World::new();
    let cmd = format!(
        "{}; {SUDO}; {} get-caller-identity",
        w.assume("admin", ""),
        w.sts()
    );
    let out = w.run(&World::term(ALICE, &cmd));
    assert!(out.stdout.contains("ASSUME=0"), "{out}");
    assert!(out.stdout.contains("\"AccessKeyId\": \"ASIA"), "{out}");
    assert!(out.stdout.contains("assumed-role/admin/s1"), "{out}");
    assert!(sudo_ok(&out), "{out}\nsyslog:\n{}", w.sb.syslog());
    // Audited: the assume-role and the sudo decision.
    let store = open_store(&w.sb);
    let events = store.list_audit(&Default::default()).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "sts:AssumeRole" && e.decision == "allow"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.action == "host:Sudo" && e.decision == "allow"),
        "{events:?}"
    );
}

#[test]
fn sudo_without_a_session_is_denied_with_what_to_run() {
    require_root!();
    let w = World::new();
    let out = w.run(&World::term(ALICE, SUDO));
    eprintln!("what the user sees:\n{}", out.stdout);
    assert!(!sudo_ok(&out), "{out}");
    assert!(
        out.stdout.contains("iam-sts assume-role --role-arn"),
        "{out}"
    );
}

#[test]
fn a_session_from_another_terminal_is_denied() {
    require_root!();
    let w = World::new();
    let script = format!(
        "{}\n{}",
        World::term(ALICE, &w.assume("admin", "")),
        World::term(ALICE, SUDO)
    );
    let out = w.run(&script);
    assert!(out.stdout.contains("ASSUME=0"), "{out}");
    assert!(!sudo_ok(&out), "{out}");
    assert!(out.stdout.contains("another terminal"), "{out}");
}

#[test]
fn another_user_on_the_same_terminal_cannot_use_it() {
    require_root!();
    let w = World::new();
    // One terminal: alice assumes, then bob runs sudo on that very terminal and session.
    let inner = format!(
        "setpriv --reuid={ALICE} --regid={ALICE} --clear-groups -- sh -c {}; \
         setpriv --reuid={BOB} --regid={BOB} --clear-groups -- sh -c {}",
        shell_quote(&w.assume("admin", "")),
        shell_quote(SUDO)
    );
    let out = w.run(&format!(
        "script -qec {} /dev/null </dev/null",
        shell_quote(&inner)
    ));
    assert!(out.stdout.contains("ASSUME=0"), "{out}");
    assert!(!sudo_ok(&out), "{out}");
}

#[test]
fn an_expired_or_revoked_session_is_denied() {
    require_root!();
    let w = World::new();
    let expired = format!(
        "{}; sleep 3; {SUDO}",
        w.assume("admin", "--duration-seconds 2")
    );
    let out = w.run(&World::term(ALICE, &expired));
    assert!(out.stdout.contains("ASSUME=0"), "{out}");
    assert!(!sudo_ok(&out), "{out}");
    assert!(out.stdout.contains("expired"), "{out}");

    let revoked = format!(
        "{}; {SUDO}; {} revoke-session; {SUDO}",
        w.assume("admin", ""),
        w.sts()
    );
    let out = w.run(&World::term(ALICE, &revoked));
    assert!(out.stdout.contains("SUDO=0"), "first sudo must work: {out}");
    assert!(out.stdout.contains("RevokedAccessKeyIds"), "{out}");
    assert!(
        out.stdout.matches("SUDO=").count() == 2 && out.stdout.contains("revoked"),
        "{out}"
    );
    assert!(
        !out.stdout
            .rsplit("RevokedAccessKeyIds")
            .next()
            .unwrap_or("")
            .contains("SUDO=0"),
        "{out}"
    );
}

#[test]
fn a_user_the_trust_policy_does_not_name_is_denied() {
    require_root!();
    let w = World::new();
    let out = w.run(&World::term(
        CAROL,
        &format!("{}; {SUDO}", w.assume("admin", "")),
    ));
    assert!(out.stdout.contains("ASSUME=1"), "{out}");
    assert!(
        out.stdout
            .contains("not authorized to perform: sts:AssumeRole"),
        "{out}"
    );
    assert!(!sudo_ok(&out), "{out}");
    // The denial is audited with its reason.
    let events = open_store(&w.sb).list_audit(&Default::default()).unwrap();
    assert!(
        events.iter().any(|e| e.user == "carol"
            && e.action == "sts:AssumeRole"
            && e.decision == "deny"
            && e.reason.contains("trust policy")),
        "{events:?}"
    );
}

#[test]
fn mfa_trust_policy_needs_a_fresh_code() {
    require_root!();
    let w = World::new();
    support::totp::wait_for_fresh_step(8);
    let code = support::totp::code(&w.seed_b32, 0);
    // No terminal to ask on and no code: denied. (A shell of its own session runs it: a
    // helper that is itself the leader of a new session has no scope at all.)
    let no_code = format!(
        "setpriv --reuid={ALICE} --regid={ALICE} --clear-groups -- setsid -w sh -c '{} assume-role --role-arn {} --role-session-name s1; exit $?' </dev/null; echo NOCODE=$?",
        w.sts(),
        w.role("mfa-admin")
    );
    let with_code = w.assume(
        "mfa-admin",
        &format!("--serial-number {} --token-code {code}", w.serial()),
    );
    let script = format!(
        "{no_code}\n{}\n{}",
        World::term(ALICE, &format!("{with_code}; {SUDO}")),
        World::term(ALICE, &with_code.replace("ASSUME=", "REPLAY="))
    );
    let out = w.run(&script);
    assert!(out.stdout.contains("NOCODE=1"), "{out}");
    assert!(
        out.stderr.contains("requires MFA") || out.stdout.contains("requires MFA"),
        "{out}"
    );
    assert!(out.stdout.contains("ASSUME=0"), "{out}");
    assert!(sudo_ok(&out), "{out}");
    assert!(
        out.stdout.contains("REPLAY=1") && out.stdout.contains("already used"),
        "{out}"
    );

    // The code typed at iam-sts's own prompt (the next step's code: this one is spent).
    let next = support::totp::code(&w.seed_b32, 30);
    std::fs::write(w.sb.path("typed"), format!("{next}\n")).unwrap();
    let prompted = format!(
        "{} assume-role --role-arn {} --role-session-name s2 --serial-number {} >/dev/null; echo PROMPTED=$?; {SUDO}",
        w.sts(),
        w.role("mfa-admin"),
        w.serial()
    );
    // Typed after the prompt appears, as a person does (the prompt flushes earlier input).
    let typed = w.sb.path("typed").display().to_string();
    let out = w.run(&format!(
        "(sleep 1; cat {typed}; sleep 2) | setpriv --reuid={ALICE} --regid={ALICE} --clear-groups -- script -qec {} /dev/null",
        shell_quote(&prompted)
    ));
    assert!(out.stdout.contains("Verification code:"), "{out}");
    assert!(out.stdout.contains("PROMPTED=0"), "{out}");
    assert!(sudo_ok(&out), "{out}");
}

#[test]
fn the_helper_resists_subversion() {
    require_root!();
    let w = World::new();
    // A preload library that leaves a mark when loaded.
    let src = w.sb.write(
        "evil.c",
        "#include <stdio.h>\n#include <stdlib.h>\n__attribute__((constructor)) static void m(void)\
         {const char*p=getenv(\"MARK\");if(p){FILE*f=fopen(p,\"w\");if(f)fclose(f);}}\n",
        0o644,
    );
    let src = src.display().to_string();
    let so = w.sb.path("evil.so").display().to_string();
    let st = std::process::Command::new("gcc")
        .args(["-shared", "-fPIC", "-o", &so, &src])
        .status()
        .unwrap();
    assert!(st.success(), "gcc");
    std::fs::create_dir_all(w.sb.path("marks")).unwrap();
    std::fs::set_permissions(w.sb.path("marks"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let t = w.sb.path("marks").display().to_string();
    let sts = w.sts();
    let big = "x".repeat(100_000);
    std::fs::write(w.sb.path("marks/huge"), format!("{}\n", "7".repeat(5_000))).unwrap();
    let many = vec!["--all"; 100].join(" ");
    let as_alice = |c: &str| {
        format!(
            "setpriv --reuid={ALICE} --regid={ALICE} --clear-groups -- sh -c {}",
            shell_quote(c)
        )
    };
    let script = [
        // The environment cannot point the helper at another store; --db is refused.
        as_alice(&format!("PAM_IAM_DB=/nonexistent {sts} get-caller-identity; echo ENVDB=$?")),
        as_alice(&format!("{sts} --db /tmp/mine.db get-caller-identity; echo ARGDB=$?")),
        // LD_PRELOAD works on ordinary programs and is ignored by the setuid helper.
        as_alice(&format!("MARK={t}/mark.true LD_PRELOAD={so} /bin/true; MARK={t}/mark.sts LD_PRELOAD={so} {sts} get-caller-identity >/dev/null; echo PRELOAD=$?")),
        // Huge inputs.
        as_alice(&format!("{sts} assume-role --role-arn x --role-session-name s --policy {big}; echo BIG=$?")),
        as_alice(&format!("{sts} list-sessions {many}; echo MANY=$?")),
        // A huge answer at the code prompt (typed into the terminal): read at most 64
        // bytes, refused.
        format!(
            "setpriv --reuid={ALICE} --regid={ALICE} --clear-groups -- script -qec {} /dev/null < {t}/huge",
            shell_quote(&format!(
                "{sts} assume-role --role-arn {} --role-session-name s1 --serial-number {}; echo HUGE=$?",
                w.role("mfa-admin"),
                w.serial()
            ))
        ),
        // Tiny resource limits cannot cut the store write in half: lifted, it works.
        as_alice(&format!(
            "ulimit -f 0; ulimit -t 1; {sts} assume-role --role-arn {} --role-session-name limited >/dev/null; echo ULIMIT=$?",
            w.role("admin")
        )),
        // A symlinked store is refused.
        "mv /var/lib/pam-iam/iam.db /var/lib/pam-iam/real.db && ln -s real.db /var/lib/pam-iam/iam.db".to_string(),
        as_alice(&format!("{sts} get-caller-identity; echo SYMLINK=$?")),
    ]
    .join("\n");
    let out = w.run(&script);
    assert!(
        out.stdout.contains("ENVDB=0") && out.stdout.contains("user/alice"),
        "{out}"
    );
    assert!(
        out.stdout.contains("ARGDB=1") && out.stderr.contains("only for root"),
        "{out}"
    );
    assert!(
        w.sb.path("marks/mark.true").exists(),
        "the preload library must work on /bin/true: {out}"
    );
    assert!(
        !w.sb.path("marks/mark.sts").exists(),
        "LD_PRELOAD reached the setuid helper: {out}"
    );
    assert!(out.stdout.contains("PRELOAD=0"), "{out}");
    assert!(
        out.stdout.contains("BIG=1")
            && out.stdout.contains("MANY=1")
            && out.stdout.contains("HUGE=1"),
        "{out}"
    );
    assert!(out.stdout.contains("SYMLINK=1"), "{out}");
    assert!(out.stdout.contains("the code must be 6 digits"), "{out}");
    // Either the limit was lifted and the session was stored with its audit row, or the
    // write failed cleanly and nothing was stored; never a process killed halfway.
    assert!(!out.stderr.contains("File size limit exceeded"), "{out}");
    let store = pam_iam::store::open(&OpenOptions::new(
        w.sb.path("varlib/pam-iam/real.db"),
        OpenMode::ReadWrite,
    ))
    .unwrap();
    let stored = store
        .list_role_sessions(Some("alice"), None)
        .unwrap()
        .iter()
        .any(|s| s.session_name == "limited");
    let audited = store
        .list_audit(&Default::default())
        .unwrap()
        .iter()
        .any(|e| {
            e.action == "sts:AssumeRole" && e.decision == "allow" && e.reason.contains("/limited")
        });
    assert_eq!(
        stored, audited,
        "a session must never exist without its audit row: {out}"
    );
    assert_eq!(out.stdout.contains("ULIMIT=0"), stored, "{out}");
    assert!(
        out.stdout.contains("ULIMIT=0") || out.stdout.contains("ULIMIT=1"),
        "{out}"
    );
    assert!(!out.stderr.contains("panicked"), "{out}");
}

#[test]
fn session_policies_and_admin_revocation_limit_sessions() {
    require_root!();
    let w = World::new();
    // A session policy that does not allow host:Sudo: the session cannot sudo.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}"#;
    let limited = format!(
        "{}; {SUDO}",
        w.assume("admin", &format!("--policy {}", shell_quote(policy)))
    );
    let out = w.run(&World::term(ALICE, &limited));
    assert!(out.stdout.contains("ASSUME=0"), "{out}");
    assert!(!sudo_ok(&out), "{out}");

    // "Revoke active sessions" (iam revoke-role-sessions): sessions issued before the
    // cut-off are explicitly denied, later ones work.
    let store = open_store(&w.sb);
    let revoke = |cutoff: i64| {
        let doc = pam_iam::cli::sessions::revoke_older_sessions_policy(cutoff);
        store
            .put_inline_policy(
                PrincipalKind::Role,
                "admin",
                pam_iam::cli::sessions::REVOKE_POLICY_NAME,
                &doc,
            )
            .unwrap();
    };
    revoke(now() + 60);
    let out = w.run(&World::term(
        ALICE,
        &format!("{}; {SUDO}", w.assume("admin", "")),
    ));
    assert!(out.stdout.contains("ASSUME=0"), "{out}");
    assert!(!sudo_ok(&out), "{out}");
    assert!(out.stdout.contains("explicitly denied"), "{out}");
    revoke(now() - 60);
    let out = w.run(&World::term(
        ALICE,
        &format!("{}; {SUDO}", w.assume("admin", "")),
    ));
    assert!(sudo_ok(&out), "{out}");
}

#[test]
fn sudo_asks_for_a_code_when_the_role_wants_a_recent_mfa() {
    require_root!();
    let w = World::new();
    support::totp::wait_for_fresh_step(8);
    let code = support::totp::code(&w.seed_b32, 0);
    let cmd = format!(
        "{}; {SUDO}; echo {code} | sudo -S id -u; echo ASKED=$?; {}",
        w.assume("recent-mfa", ""),
        SUDO.replace("SUDO=", "AFTER=")
    );
    let out = w.run(&World::term(ALICE, &cmd));
    assert!(out.stdout.contains("ASSUME=0"), "{out}");
    // No code to give (stdin is /dev/null): denied.
    assert!(out.stdout.contains("SUDO=1"), "{out}");
    // sudo's own prompt shows ours; the code from stdin answers it.
    assert!(out.stdout.contains("Verification code:"), "{out}");
    assert!(out.stdout.contains("ASKED=0"), "{out}");
    // The proof is kept in the session: the next sudo needs no code.
    assert!(out.stdout.contains("AFTER=0"), "{out}");
    // Both sides logged to syslog (authpriv): pam_iam under sudo, iam-sts on its own.
    let log = w.sb.syslog();
    assert!(
        log.contains("iam-sts") && log.contains("sts:AssumeRole"),
        "{log}"
    );
    assert!(
        log.contains("sudo auth") && log.contains("allowed"),
        "{log}"
    );
}

#[test]
fn the_shipped_pam_d_sudo_works_and_lets_local_users_fall_through() {
    require_root!();
    let mut w = World::new();
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pam.d/sudo")).unwrap();
    assert!(shipped.contains("pam_iam.so sudo"), "{shipped}");
    w.sb.unix_user("dave", 5104, "dave-pw");
    w.sb.service("sudo", &shipped.replace("pam_iam.so", "{module}"));
    let sudoers = "Defaults timestamp_timeout=0\nDefaults lecture=never\n\
                   root ALL=(ALL:ALL) ALL\nalice,bob,carol,dave ALL=(ALL:ALL) ALL\n";
    w.sb.write("etc/sudoers", sudoers, 0o440);
    let script = format!(
        "{}\n{}\n{}",
        World::term(ALICE, &format!("{}; {SUDO}", w.assume("admin", ""))),
        World::term(BOB, &SUDO.replace("SUDO=", "BOBSUDO=")),
        World::term(5104, "echo dave-pw | sudo -S id -u; echo DAVE=$?")
    );
    let out = w.run(&script);
    assert!(sudo_ok(&out), "IAM user with a role session: {out}");
    assert!(
        out.stdout.contains("BOBSUDO=1"),
        "IAM user without a session: {out}"
    );
    assert!(
        out.stdout.contains("DAVE=0"),
        "a local (non-IAM) user falls through to pam_unix: {out}"
    );
}

#[test]
fn sudos_own_timestamp_does_not_outlive_a_revoked_session() {
    require_root!();
    let mut w = World::new();
    // sudo's usual 15-minute timestamp, kept in a private /run/sudo.
    let sudoers = "Defaults timestamp_timeout=15\nDefaults lecture=never\n\
                   root ALL=(ALL:ALL) ALL\nalice,bob,carol ALL=(ALL:ALL) ALL\n";
    w.sb.write("etc/sudoers", sudoers, 0o440);
    std::fs::create_dir_all(w.sb.path("run-sudo")).unwrap();
    std::fs::set_permissions(
        w.sb.path("run-sudo"),
        std::fs::Permissions::from_mode(0o711),
    )
    .unwrap();
    w.sb.bind(w.sb.path("run-sudo"), "/run/sudo");
    let cmd = format!(
        "{}; {SUDO}; {} revoke-session >/dev/null; {}",
        w.assume("admin", ""),
        w.sts(),
        SUDO.replace("SUDO=", "CACHED=")
    );
    let out = w.run(&World::term(ALICE, &cmd));
    assert!(sudo_ok(&out), "{out}");
    assert!(
        out.stdout.contains("CACHED=1"),
        "account must deny although sudo's timestamp skips auth: {out}"
    );
    assert!(out.stdout.contains("revoked"), "{out}");
}

/// libfaketime's preload library (apt `faketime`), wherever the multiarch layout puts it.
fn libfaketime() -> String {
    std::fs::read_dir("/usr/lib")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
        .expect("libfaketime (apt faketime)")
        .display()
        .to_string()
}

/// Role session expiry reads a clock the user cannot set: sudo and iam-sts are setuid,
/// so the dynamic loader ignores LD_PRELOAD (libfaketime) for them, while the user's
/// own programs do see the clock moved back an hour.
#[test]
fn a_clock_the_user_moves_back_cannot_revive_an_expired_session() {
    require_root!();
    let w = World::new();
    let fake = format!("FAKETIME=-1h LD_PRELOAD={}", libfaketime());
    let cmd = format!(
        "{}; sleep 3; echo USER_CLOCK=$({fake} date +%s) REAL_CLOCK=$(date +%s); {fake} {SUDO}; {fake} {} get-caller-identity; echo IDENTITY=$?",
        w.assume("admin", "--duration-seconds 2"),
        w.sts()
    );
    let out = w.run(&World::term(ALICE, &cmd));
    assert!(out.stdout.contains("ASSUME=0"), "{out}");
    let clock = |k: &str| -> i64 {
        out.stdout
            .split_whitespace()
            .find_map(|f| f.strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{k} in {out}"))
    };
    let shift = clock("REAL_CLOCK=") - clock("USER_CLOCK=");
    assert!(
        (3590..=3610).contains(&shift),
        "the user's own programs see the faked clock: {out}"
    );
    let after = out.stdout.split("REAL_CLOCK=").nth(1).unwrap_or("");
    assert!(
        !sudo_ok(&out),
        "an expired session revived by LD_PRELOAD: {out}"
    );
    assert!(after.contains("expired"), "{out}");
    assert!(
        after.contains(":user/alice") && !after.contains("assumed-role/admin"),
        "iam-sts still sees the session as over: {out}"
    );
}
