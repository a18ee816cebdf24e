//! pam_iam.so inside a real sshd (OpenSSH, 127.0.0.1, private mount namespace) with the
//! real OpenSSH client over keyboard-interactive; codes typed from oathtool.

mod support;

use pam_iam::store::PrincipalKind;
use support::sandbox::Sandbox;
use support::store::Iam;
use support::totp;

/// The shipped pam.d/pam-iam fragment (or another shipped service file) with the test
/// module, store and host name: the stack users get.
fn sshd_stack(sb: &Sandbox, fragment: &str, host: &str) -> String {
    sb.shipped_stack(fragment, host)
}

const PW: &str = "Password:";
const CODE: &str = "Verification code:";

struct World {
    sb: Sandbox,
    iam: Iam,
    seed: String,
}

/// alice (password + TOTP) and bob (password only), both in group `web` whose policy
/// allows host:Login on web-* hosts.
fn world(host: &str) -> World {
    let mut sb = Sandbox::new();
    sb.user("alice", 2001).user("bob", 2002);
    let stack = sshd_stack(&sb, "pam-iam", host);
    sb.service("sshd", &stack);
    let iam = Iam::create(&sb.db());
    iam.user("alice", Some("alice-Passw0rd"))
        .user("bob", Some("bob-Passw0rd"));
    let (seed, _) = iam.mfa("alice");
    iam.web_group(&["alice", "bob"]);
    World { sb, iam, seed }
}

#[test]
fn group_policy_allows_web_hosts_with_password_and_code() {
    require_root!();
    let w = world("web-1");
    let sshd =
        w.sb.start_sshd("AuthenticationMethods keyboard-interactive");
    totp::wait_for_fresh_step(10);
    let code = totp::code(&w.seed, 0);
    let login = sshd.login("alice", &[(PW, "alice-Passw0rd"), (CODE, &code)], &[]);
    assert!(login.ok(), "{login}\n{}\n{}", sshd.log(), w.sb.syslog());
    assert!(login.out.stdout.contains("LOGIN-OK alice"), "{login}");
    assert_eq!(
        login.prompts,
        ["Password: ", "Verification code: "],
        "{login}"
    );
    let audit = w.iam.audit("alice");
    let actions: Vec<&str> = audit.iter().map(|(a, _, _)| a.as_str()).collect();
    assert!(
        actions.starts_with(&["authenticate", "host:Login", "open_session"]),
        "{audit:?}"
    );
    // the same code again: replay refused
    let again = sshd.login("alice", &[(PW, "alice-Passw0rd"), (CODE, &code)], &[]);
    assert!(!again.ok(), "{again}");
    // a wrong code
    let wrong = sshd.login("alice", &[(PW, "alice-Passw0rd"), (CODE, "000000")], &[]);
    assert!(!wrong.ok(), "{wrong}");
}

#[test]
fn denied_on_a_host_the_policy_does_not_allow() {
    require_root!();
    let w = world("db-1");
    let sshd =
        w.sb.start_sshd("AuthenticationMethods keyboard-interactive");
    let login = sshd.login("bob", &[(PW, "bob-Passw0rd")], &[]);
    assert!(!login.ok(), "{login}");
    let (action, decision, reason) = w.iam.audit("bob").pop().unwrap();
    assert_eq!(
        (action.as_str(), decision.as_str()),
        ("host:Login", "deny"),
        "{reason}"
    );
    assert!(reason.contains("no statement allows"), "{reason}");
}

#[test]
fn explicit_deny_on_source_ip() {
    require_root!();
    let w = world("web-1");
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoLoopback","Effect":"Deny","Action":"host:Login","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}"#;
    w.iam
        .attach(PrincipalKind::User, "bob", "no-loopback", deny);
    let sshd =
        w.sb.start_sshd("AuthenticationMethods keyboard-interactive");
    let login = sshd.login("bob", &[(PW, "bob-Passw0rd")], &[]);
    assert!(!login.ok(), "{login}");
    let (_, decision, reason) = w.iam.audit("bob").pop().unwrap();
    assert_eq!(decision, "deny");
    assert!(
        reason.contains("explicit deny by") && reason.contains("NoLoopback"),
        "{reason}"
    );
}

#[test]
fn a_policy_requiring_mfa_sees_this_logins_mfa_across_sshds_fork() {
    require_root!();
    let w = world("mfa-1");
    let mfa_only = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"MfaLogin","Effect":"Allow","Action":"host:Login","Resource":"arn:aws:iam::{}:host/mfa-*","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}},"NumericLessThan":{{"aws:MultiFactorAuthAge":"300"}}}}}}]}}"#,
        w.iam.account
    );
    w.iam
        .attach(PrincipalKind::Group, "web", "mfa-login", &mfa_only);
    let sshd =
        w.sb.start_sshd("AuthenticationMethods keyboard-interactive");
    totp::wait_for_fresh_step(10);
    let login = sshd.login(
        "alice",
        &[(PW, "alice-Passw0rd"), (CODE, &totp::code(&w.seed, 0))],
        &[],
    );
    assert!(
        login.ok(),
        "alice used MFA: {login}\n{}\n{}",
        sshd.log(),
        w.sb.syslog()
    );
    let env = sshd_session_env(&sshd, &w);
    assert!(
        !env.contains("PAM_IAM_AUTH"),
        "the sealed facts never reach the session: {env}"
    );
    let login = sshd.login("bob", &[(PW, "bob-Passw0rd")], &[]);
    assert!(!login.ok(), "bob has no MFA: {login}");
    assert!(
        w.iam
            .audit("bob")
            .pop()
            .unwrap()
            .2
            .contains("no statement allows")
    );
}

/// The environment of alice's session (a second login running `env`).
fn sshd_session_env(sshd: &support::ssh::Sshd, w: &World) -> String {
    // the next step's code (inside the ±1 window, above the watermark)
    let code = totp::code(&w.seed, 30);
    let l = sshd.login_cmd(
        "alice",
        &[(PW, "alice-Passw0rd"), (CODE, &code)],
        &[],
        "env; echo LOGIN-OK",
    );
    assert!(l.ok() && l.out.stdout.contains("USER=alice"), "{l}");
    l.out.stdout + &l.out.stderr
}

#[test]
fn forced_password_change_over_ssh() {
    require_root!();
    let w = world("web-1");
    w.iam.require_reset("bob");
    let sshd =
        w.sb.start_sshd("AuthenticationMethods keyboard-interactive");
    let login = sshd.login(
        "bob",
        &[
            (PW, "bob-Passw0rd"),
            ("Current password:", "bob-Passw0rd"),
            ("New password:", "bob-New-Passw0rd"),
            ("Retype new password:", "bob-New-Passw0rd"),
        ],
        &[],
    );
    assert!(login.ok(), "{login}\n{}\n{}", sshd.log(), w.sb.syslog());
    assert!(
        login.prompts.iter().any(|p| p.contains("New password")),
        "{login}"
    );
    let old = sshd.login("bob", &[(PW, "bob-Passw0rd")], &[]);
    assert!(!old.ok(), "{old}");
    let new = sshd.login("bob", &[(PW, "bob-New-Passw0rd")], &[]);
    assert!(new.ok(), "{new}");
}

#[test]
fn public_key_then_verification_code() {
    require_root!();
    let mut w = world("web-1");
    let stack = sshd_stack(&w.sb, "sshd-key-and-code", "web-1");
    w.sb.service("sshd", &stack);
    let (key, pubkey) = support::ssh::keygen(w.sb.root(), "alice_key");
    w.sb.write("authorized_keys/alice", &format!("{pubkey}\n"), 0o644);
    let sshd = w.sb.start_sshd(
        "PubkeyAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive",
    );
    totp::wait_for_fresh_step(10);
    let key_arg = key.display().to_string();
    let args = [
        "-i",
        key_arg.as_str(),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "PreferredAuthentications=publickey,keyboard-interactive",
    ];
    let login = sshd.login("alice", &[(CODE, &totp::code(&w.seed, 0))], &args);
    assert!(login.ok(), "{login}\n{}\n{}", sshd.log(), w.sb.syslog());
    assert_eq!(login.prompts, ["Verification code: "], "{login}");
    assert!(
        w.iam
            .audit("alice")
            .iter()
            .any(|(_, _, r)| r == "publickey + verification code")
    );
    let login = sshd.login("alice", &[(CODE, "000000")], &args);
    assert!(!login.ok(), "{login}");
}
