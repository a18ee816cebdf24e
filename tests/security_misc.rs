//! Issue 10's smaller holes, each proven with the real programs: the packaged PAM
//! profile under a store outage (pamtester), private store modes (pamtester and `iam`),
//! privilege-raising services decided as `host:Sudo` (Debian's polkit-1 service file),
//! `mode=code` behind a real sshd, and planted `authorized_keys` for IAM users.

mod support;

use pam_iam::store::PrincipalKind;
use std::time::Duration;
use support::cli::Cli;
use support::sandbox::Sandbox;
use support::ssh::keygen;
use support::store::{Iam, allow_login};
use support::{run_with_timeout, totp};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The lines of one block (`Auth:`, `Account:`) of a pam-auth-update profile.
fn profile_block(profile: &str, block: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{REPO}/packaging/pam-configs/{profile}")).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            inside = line.trim_end() == format!("{block}:");
            continue;
        }
        if inside && !line.trim().is_empty() {
            out.push(line.trim().to_string());
        }
    }
    assert!(!out.is_empty(), "no {block} block in {profile}");
    out
}

/// What pam-auth-update writes into common-auth and common-account on Debian 12 with
/// the packaged profile (the layout scripts/test-package checks), with the test module
/// and store. The profile's own control fields are used verbatim.
fn packaged_common(sb: &Sandbox, account_args: &str) -> (String, String) {
    let module = |l: &str, args: &str| {
        l.replace(
            "pam_iam.so",
            &format!("{} db={} fail_delay=0{args}", sb.module(), sb.db()),
        )
    };
    let mut auth = String::new();
    for l in profile_block("iam", "Auth") {
        // pam-auth-update turns "end" into a jump over the rest of the Primary block
        // (pam_unix's line and pam_deny): here 2.
        auth += &format!(
            "auth {}\n",
            module(&l.replace("success=end", "success=2"), "")
        );
    }
    auth += "auth [success=1 default=ignore] pam_unix.so nullok try_first_pass\n\
             auth requisite pam_deny.so\nauth required pam_permit.so\n";
    let mut account = String::from(
        "account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so\n\
         account requisite pam_deny.so\naccount required pam_permit.so\n",
    );
    for l in profile_block("iam", "Account") {
        account += &format!("account {}\n", module(&l, account_args));
    }
    (auth, account)
}

fn iam_cli(db: &str, args: &[&str]) -> support::Outcome {
    run_with_timeout(
        Cli::at(db).cmd(args).env("PAM_IAM_USERDB", "off"),
        None,
        Duration::from_secs(30),
    )
}

// ------------------------------------------------------------------ item 5

/// A store outage must not hand an IAM user's login to pam_unix. dave is an IAM user
/// whose name is also a local account with a Unix password; "authenticate" alone is what
/// a screen locker asks. Root stays the way in (the profile's root guard).
#[test]
fn packaged_profile_never_hands_an_iam_user_to_pam_unix_during_a_store_outage() {
    require_root!();
    let mut sb = Sandbox::new();
    sb.unix_user("dave", 2301, "dave-local-pw")
        .unix_user("toor", 0, "toor-pw-1")
        .unix_user("localadmin", 2302, "local-pw-1");
    let (auth, account) = packaged_common(&sb, "");
    sb.service("common-auth", &auth)
        .service("common-account", &account)
        .service("screenlock", "@include common-auth\n")
        .service(
            "iam-login",
            "@include common-auth\n@include common-account\n",
        );
    let iam = Iam::create(&sb.db());
    iam.user("dave", Some("dave-IAM-Passw0rd"));
    drop(iam);

    let unlock = |sb: &Sandbox, user: &str, pw: &str| {
        sb.pamtester("screenlock", user, &["authenticate"], &[pw])
    };
    // With the store: pam_iam decides for dave, his Unix password is not enough.
    let out = unlock(&sb, "dave", "dave-local-pw");
    assert!(
        !out.ok(),
        "dave's Unix password passed for an IAM user: {out}"
    );
    let out = unlock(&sb, "dave", "dave-IAM-Passw0rd");
    assert!(out.ok(), "{out}\n{}", sb.syslog());

    // The store goes away (moved, as an unmounted /var/lib would look).
    let db = sb.db();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::rename(format!("{db}{suffix}"), format!("{db}.away{suffix}"));
    }
    let out = unlock(&sb, "dave", "dave-local-pw");
    assert!(
        !out.ok(),
        "store outage: the IAM user's login went to pam_unix: {out}\n{}",
        sb.syslog()
    );
    assert!(
        sb.syslog().contains("cannot use the store"),
        "{}",
        sb.syslog()
    );
    let out = unlock(&sb, "toor", "toor-pw-1");
    assert!(out.ok(), "root must get in during an outage: {out}");
    let out = sb.pamtester(
        "iam-login",
        "toor",
        &["authenticate", "acct_mgmt"],
        &["toor-pw-1"],
    );
    assert!(out.ok(), "root must get in during an outage: {out}");
    // A local non-root user: pam_iam cannot tell who is an IAM user without the store,
    // so the account phase refuses every non-root login until it is back (fail closed).
    let out = sb.pamtester(
        "iam-login",
        "localadmin",
        &["authenticate", "acct_mgmt"],
        &["local-pw-1"],
    );
    assert!(!out.ok(), "{out}");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::rename(format!("{db}.away{suffix}"), format!("{db}{suffix}"));
    }
    let out = sb.pamtester(
        "iam-login",
        "localadmin",
        &["authenticate", "acct_mgmt"],
        &["local-pw-1"],
    );
    assert!(out.ok(), "the store is back: {out}\n{}", sb.syslog());
}

// ------------------------------------------------------------------ item 7

/// The store, its journal files and its directory give group/others nothing; pam_iam and
/// `iam` both refuse otherwise, naming the file and its mode.
#[test]
fn store_directory_and_journal_files_must_be_private() {
    require_root!();
    let mut sb = Sandbox::new();
    sb.user("alice", 2401).service(
        "iam-test",
        "auth required {module} db={db} fail_delay=0\naccount required {module} db={db} host=web-1\n",
    );
    let iam = Iam::create(&sb.db());
    iam.user("alice", Some("alice-Passw0rd"));
    iam.attach(
        PrincipalKind::User,
        "alice",
        "login",
        &allow_login(&iam.account, "web-*"),
    );
    drop(iam);
    let db = sb.db();
    let dir = std::path::Path::new(&db).parent().unwrap().to_path_buf();
    let login = |sb: &Sandbox| {
        sb.pamtester(
            "iam-test",
            "alice",
            &["authenticate", "acct_mgmt"],
            &["alice-Passw0rd"],
        )
    };
    let out = login(&sb);
    assert!(out.ok(), "{out}\n{}", sb.syslog());
    let wal = format!("{db}-wal");
    assert!(
        std::path::Path::new(&wal).exists(),
        "the WAL stays after close"
    );
    let mode = |p: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    };
    assert_eq!(mode(std::path::Path::new(&wal)), 0o600);
    assert_eq!(mode(std::path::Path::new(&format!("{db}-shm"))), 0o600);

    let chmod = |p: &std::path::Path, m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    let shm = format!("{db}-shm");
    let cases: [(&std::path::Path, u32, &str); 4] = [
        (&dir, 0o755, "the store directory has mode 0755"),
        (&dir, 0o750, "the store directory has mode 0750"),
        (
            std::path::Path::new(&wal),
            0o644,
            "a store journal file has mode 0644",
        ),
        (
            std::path::Path::new(&shm),
            0o640,
            "a store journal file has mode 0640",
        ),
    ];
    for (path, m, says) in cases {
        let _ = std::fs::remove_file(sb.path("syslog.txt"));
        chmod(path, m);
        let out = login(&sb);
        assert!(
            !out.ok(),
            "{} at {m:04o} was accepted: {out}",
            path.display()
        );
        let log = sb.syslog();
        assert!(
            log.contains(says) && log.contains(&path.display().to_string()),
            "{says}: {log}"
        );
        let cli = iam_cli(&db, &["list-users"]);
        assert!(!cli.ok(), "iam accepted {} at {m:04o}", path.display());
        assert!(
            cli.stderr.contains(says) && cli.stderr.contains(&path.display().to_string()),
            "{cli}"
        );
        chmod(path, if path == dir { 0o700 } else { 0o600 });
    }
    let out = login(&sb);
    assert!(out.ok(), "private again: {out}\n{}", sb.syslog());

    // `iam` creates a missing store directory (and its parents) 0700.
    let fresh = sb.path("fresh/a/b/iam.db");
    let cli = iam_cli(fresh.to_str().unwrap(), &["list-users"]);
    assert!(cli.ok(), "{cli}");
    for d in ["fresh", "fresh/a", "fresh/a/b"] {
        assert_eq!(mode(&sb.path(d)), 0o700, "{d}");
    }
    assert_eq!(mode(&fresh), 0o600);
}

// ------------------------------------------------------------------ item 11

/// Debian's polkit service file (package polkitd), as pkexec and run0 use it.
fn polkit_service_file() -> Option<&'static str> {
    ["/etc/pam.d/polkit-1", "/usr/lib/pam.d/polkit-1"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// pkexec/run0 authenticate through the `polkit-1` service, which includes common-*:
/// pam_iam must decide it as `host:Sudo`, not `host:Login`. `sudo_services=` changes
/// the list.
#[test]
fn polkit_is_decided_as_host_sudo() {
    require_root!();
    let Some(polkit) = polkit_service_file() else {
        support::skip("polkit's PAM service file is missing (apt-get install polkitd)");
        return;
    };
    let text = std::fs::read_to_string(polkit).unwrap();
    assert!(text.contains("@include common-account"), "{polkit}: {text}");

    let world = |account_args: &str| {
        let mut sb = Sandbox::new();
        sb.user("alice", 2501).user("carol", 2502);
        let (auth, account) = packaged_common(&sb, account_args);
        sb.service("common-auth", &auth)
            .service("common-account", &account)
            .service(
                "iam-login",
                "@include common-auth\n@include common-account\n",
            );
        let iam = Iam::create(&sb.db());
        iam.user("alice", Some("alice-Passw0rd"))
            .user("carol", Some("carol-Passw0rd"));
        iam.attach(
            PrincipalKind::User,
            "alice",
            "login",
            &allow_login(&iam.account, "web-*"),
        );
        let sudo = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["host:Login","host:Sudo"],"Resource":"arn:aws:iam::{}:host/web-*"}}]}}"#,
            iam.account
        );
        iam.attach(PrincipalKind::User, "carol", "admin", &sudo);
        (sb, iam)
    };
    let ops = ["authenticate", "acct_mgmt"];

    let (sb, iam) = world(" host=web-1");
    // The polkit-1 service comes from the package (not from this test).
    assert!(!sb.path("pam.d.src/polkit-1").exists());
    let out = sb.pamtester("polkit-1", "alice", &ops, &["alice-Passw0rd"]);
    assert!(
        !out.ok(),
        "alice may only log in, yet polkit (root) accepted her: {out}\n{}",
        sb.syslog()
    );
    assert!(out.stdout.contains("successfully authenticated"), "{out}");
    let (action, decision, reason) = iam.audit("alice").pop().unwrap();
    assert_eq!(
        (action.as_str(), decision.as_str()),
        ("host:Sudo", "deny"),
        "{reason}"
    );
    let out = sb.pamtester("iam-login", "alice", &ops, &["alice-Passw0rd"]);
    assert!(
        out.ok(),
        "a login is still host:Login: {out}\n{}",
        sb.syslog()
    );
    assert_eq!(iam.audit("alice").pop().unwrap().0, "host:Login");
    let out = sb.pamtester("polkit-1", "carol", &ops, &["carol-Passw0rd"]);
    assert!(out.ok(), "carol may sudo: {out}\n{}", sb.syslog());
    let (action, decision, _) = iam.audit("carol").pop().unwrap();
    assert_eq!((action.as_str(), decision.as_str()), ("host:Sudo", "allow"));

    // The list is the administrator's: without polkit-1 in it, polkit is a login again.
    let (sb, iam) = world(" host=web-1 sudo_services=sudo,sudo-i");
    let out = sb.pamtester("polkit-1", "alice", &ops, &["alice-Passw0rd"]);
    assert!(out.ok(), "{out}\n{}", sb.syslog());
    assert_eq!(iam.audit("alice").pop().unwrap().0, "host:Login");
}

// ------------------------------------------------------------------ item 6

/// `mode=code` asks only for a code because sshd checked a key first. Behind an sshd
/// that does not (keyboard-interactive alone) it must refuse instead of letting a code
/// alone log in.
#[test]
fn code_only_mode_refuses_unless_sshd_verified_a_public_key() {
    require_root!();
    let mut sb = Sandbox::new();
    sb.user("alice", 2601);
    let stack = sb.shipped_stack("sshd-key-and-code", "web-1");
    assert!(stack.contains("mode=code"), "{stack}");
    sb.service("sshd", &stack);
    let iam = Iam::create(&sb.db());
    iam.user("alice", Some("alice-Passw0rd"));
    let (seed, _) = iam.mfa("alice");
    iam.attach(
        PrincipalKind::User,
        "alice",
        "login",
        &allow_login(&iam.account, "web-*"),
    );
    let (key, public) = keygen(sb.root(), "alice_key");
    sb.write("authorized_keys/alice", &format!("{public}\n"), 0o644);
    let key_arg = key.display().to_string();
    let with_key = [
        "-i",
        key_arg.as_str(),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "PreferredAuthentications=publickey,keyboard-interactive",
    ];
    const CODE: &str = "Verification code:";

    // Misconfigured: keyboard-interactive alone. The code must not be enough.
    {
        let sshd = sb.start_sshd("AuthenticationMethods keyboard-interactive");
        totp::wait_for_fresh_step(10);
        let login = sshd.login("alice", &[(CODE, &totp::code(&seed, 0))], &[]);
        assert!(
            !login.ok(),
            "a code alone logged in behind keyboard-interactive: {login}\n{}",
            sb.syslog()
        );
        assert!(
            login.prompts.is_empty(),
            "refused before any prompt: {login}"
        );
        let log = sb.syslog();
        assert!(
            log.contains("mode=code: refusing user \"alice\"")
                && log.contains("AuthenticationMethods publickey,keyboard-interactive"),
            "{log}"
        );
        let (_, decision, reason) = iam.audit("alice").pop().unwrap();
        assert_eq!(decision, "deny", "{reason}");
    }
    // As documented: publickey first, then the code. No ExposeAuthInfo needed.
    let sshd = sb.start_sshd(
        "PubkeyAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive",
    );
    assert!(
        !std::fs::read_to_string(sb.path("sshd_config"))
            .unwrap()
            .contains("ExposeAuthInfo")
    );
    let login = sshd.login("alice", &[(CODE, &totp::code(&seed, 30))], &with_key);
    assert!(login.ok(), "{login}\n{}\n{}", sshd.log(), sb.syslog());
    assert_eq!(login.prompts, ["Verification code: "], "{login}");
    assert_eq!(
        iam.audit("alice")
            .iter()
            .filter(|(a, d, _)| a == "authenticate" && d == "allow")
            .count(),
        1
    );
}

// ------------------------------------------------------------------ item 12

/// The Match block of the shipped sshd drop-in (the lines from `Match` on).
fn dropin_match_block() -> String {
    let text = std::fs::read_to_string(format!("{REPO}/pam.d/sshd_config.pam-iam.conf")).unwrap();
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Match "))
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(!block.is_empty(), "no Match block in the shipped drop-in");
    block.join("\n") + "\n"
}

/// A gid /etc/group does not use, for the sandbox's `iam-users` group.
fn free_system_gid() -> u32 {
    let group = std::fs::read_to_string("/etc/group").unwrap();
    let used: Vec<u32> = group
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect();
    (900..999)
        .rev()
        .find(|g| !used.contains(g))
        .expect("a free system gid")
}

/// A key planted in an IAM user's authorized_keys must not let them in (it would outlive
/// a deactivation in IAM); their IAM key still works, and a local user's authorized_keys
/// too. The shipped drop-in's `Match Group iam-users` block, a real sshd, and the group
/// membership `iam` writes (nss-systemd from /run/userdb).
#[test]
fn planted_authorized_keys_do_not_let_an_iam_user_in() {
    require_root!();
    use pam_iam::userdb::{self, Config, IdRange, Mode};
    let mut sb = Sandbox::new();
    sb.user("bob", 2701).userdb_nss();
    // The group the package creates (groupadd --system iam-users), in this /etc/group.
    let gid = free_system_gid();
    let group = std::fs::read_to_string("/etc/group").unwrap()
        + "bob:x:2701:\n"
        + &format!("{}:x:{gid}:\n", userdb::ALL_USERS_GROUP);
    let group_file = sb.write("etc/group.iam", &group, 0o644);
    sb.bind(group_file.clone(), "/etc/group");

    let (iam_key, iam_pub) = keygen(sb.root(), "kate_iam_key");
    let (planted_key, planted_pub) = keygen(sb.root(), "kate_planted_key");
    let (bob_key, bob_pub) = keygen(sb.root(), "bob_key");
    let iam = Iam::create(&sb.db());
    iam.user("iamkate", None);
    iam.attach(
        PrincipalKind::User,
        "iamkate",
        "login",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#,
    );
    iam.store
        .upload_ssh_public_key(
            "iamkate",
            "APKAKATE",
            iam_pub.trim(),
            "SHA256:test",
            support::now(),
        )
        .unwrap();
    // What `iam` does after every change: the records (and memberships) and key export.
    let cfg = Config {
        dir: sb.path("run/userdb"),
        keys_dir: sb.path("keys"),
        range: IdRange::default(),
        passwd: "/etc/passwd".into(),
        group: group_file.clone(),
    };
    let host = userdb::login::host_name().unwrap();
    let login = |st: &dyn pam_iam::store::Store, user: &str| userdb::login::check(st, user, &host);
    let rep = userdb::apply(&*iam.store, &cfg, &login, Mode::Repair).unwrap();
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    let membership = sb.path(&format!(
        "run/userdb/iamkate:{}.membership",
        userdb::ALL_USERS_GROUP
    ));
    assert!(
        membership.exists(),
        "iam wrote no iam-users membership for iamkate"
    );

    // The planted key in the user's own authorized_keys file (the harness points
    // AuthorizedKeysFile at authorized_keys/%u); bob's is his legitimate one.
    sb.write(
        "authorized_keys/iamkate",
        &format!("{planted_pub}\n"),
        0o644,
    );
    sb.write("authorized_keys/bob", &format!("{bob_pub}\n"), 0o644);
    sb.service(
        "sshd",
        "auth required pam_deny.so\n\
         account [success=done user_unknown=ignore default=die] {module} db={db}\n\
         account required pam_permit.so\n\
         session required pam_permit.so\n",
    );
    let out = sb.run("id iamkate; id bob", Duration::from_secs(30));
    assert!(
        out.stdout
            .contains(&format!("{gid}({})", userdb::ALL_USERS_GROUP))
            && !out
                .stdout
                .lines()
                .nth(1)
                .unwrap_or("")
                .contains("iam-users"),
        "{out}"
    );
    let sshd = sb.start_sshd(&format!(
        "PubkeyAuthentication yes\n\
         AuthorizedKeysCommand /usr/local/sbin/iam-authorized-keys --keys-dir {} %u\n\
         AuthorizedKeysCommandUser nobody\n\
         AuthenticationMethods publickey\n{}",
        sb.path("keys").display(),
        dropin_match_block()
    ));
    let key_login = |user: &str, key: &std::path::Path| {
        let k = key.display().to_string();
        sshd.login(
            user,
            &[],
            &[
                "-i",
                k.as_str(),
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "PreferredAuthentications=publickey",
            ],
        )
    };
    let l = key_login("iamkate", &planted_key);
    assert!(
        !l.ok(),
        "a key planted in an IAM user's authorized_keys let them in: {l}\n{}",
        sshd.log()
    );
    let l = key_login("iamkate", &iam_key);
    assert!(l.ok(), "the IAM key: {l}\n{}\n{}", sshd.log(), sb.syslog());
    assert!(l.out.stdout.contains("LOGIN-OK iamkate"), "{l}");
    let l = key_login("bob", &bob_key);
    assert!(
        l.ok(),
        "a local user's authorized_keys: {l}\n{}",
        sshd.log()
    );
}
