//! An IAM user that exists only as a userdb record (no /etc/passwd entry) logs in over a
//! real sshd with pam_iam.so: password + code, and key (from `iam-authorized-keys`,
//! run as nobody) + code. The session's pam_mkhomedir creates the home directory.
//! Uses the shared harness (tests/support): private mount namespace, our own /run
//! (nss-systemd reads /run/userdb/), test nsswitch.conf; the machine is not changed.

mod support;

use std::path::Path;

use pam_iam::credentials::password;
use pam_iam::store::{self, NewPolicy, NewUser, OpenMode, PrincipalKind, Store, Tag};
use pam_iam::userdb::{self, Config, IdRange, Mode};
use support::sandbox::Sandbox;
use support::ssh::keygen;
use support::{now, totp};

const PASSWORD: &str = "correct horse battery staple 7";
const ALLOW_LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

/// The store (at the sandbox's db path) with IAM user `iamkate`: password, MFA, an
/// uploaded SSH key, a policy allowing host:Login. Returns the base32 seed.
fn make_store(sb: &Sandbox, pubkey: &str) -> String {
    let s = store::open_path(Path::new(&sb.db()), OpenMode::ReadWrite).unwrap();
    let t = now();
    let home = sb.path("home/iamkate").display().to_string();
    s.create_user(
        &NewUser {
            name: "iamkate".into(),
            path: "/".into(),
            tags: vec![Tag {
                key: "pam-iam:home".into(),
                value: home,
            }],
            ..Default::default()
        },
        t,
    )
    .unwrap();
    let hash = password::hash_password(PASSWORD.as_bytes(), &s.hash_params().unwrap()).unwrap();
    s.create_login_profile("iamkate", &hash, false, t).unwrap();
    let seed = pam_iam::credentials::totp::new_seed().unwrap();
    let dev = s
        .create_virtual_mfa_device("iamkate", "/", &seed, t)
        .unwrap();
    s.enable_mfa_device("iamkate", &dev.serial_number, 0, &[], t)
        .unwrap();
    let p = s
        .create_policy(
            &NewPolicy {
                name: "login".into(),
                path: "/".into(),
                document: ALLOW_LOGIN.into(),
                ..Default::default()
            },
            t,
        )
        .unwrap();
    s.attach_policy(PrincipalKind::User, "iamkate", &p.arn)
        .unwrap();
    s.upload_ssh_public_key("iamkate", "APKAKATE", pubkey, "SHA256:test", t)
        .unwrap();
    s.create_group("iamtest-devs", "/", t).unwrap();
    s.add_user_to_group("iamtest-devs", "iamkate").unwrap();
    sync(sb, &*s);
    pam_iam::credentials::totp::base32(&seed).to_string()
}

/// What `iam` does after every change: records into <sandbox>/run/userdb (seen as
/// /run/userdb in the namespace) and the key export into <sandbox>/keys.
fn sync(sb: &Sandbox, s: &dyn Store) {
    let cfg = Config {
        dir: sb.path("run/userdb"),
        keys_dir: sb.path("keys"),
        range: IdRange::default(),
        passwd: "/etc/passwd".into(),
        group: "/etc/group".into(),
    };
    let host = userdb::login::host_name().unwrap();
    let login = |st: &dyn Store, user: &str| userdb::login::check(st, user, &host);
    let rep = userdb::apply(s, &cfg, &login, Mode::Repair).unwrap();
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
}

fn sandbox() -> (Sandbox, String) {
    let mut sb = Sandbox::new();
    sb.userdb_nss();
    let (_, pubkey) = keygen(sb.root(), "kate_key");
    let seed = make_store(&sb, &pubkey);
    (sb, seed)
}

#[test]
fn userdb_user_logs_in_with_password_and_code() {
    require_root!();
    let (mut sb, seed) = sandbox();
    sb.service(
        "sshd",
        "auth required {module} db={db} fail_delay=0\n\
         account required {module} db={db}\n\
         password required {module} db={db}\n\
         session optional pam_mkhomedir.so umask=0077\n\
         session required {module} db={db}\n",
    );
    let sshd = sb.start_sshd("AuthenticationMethods keyboard-interactive\n");
    assert!(
        !std::fs::read_to_string("/etc/passwd")
            .unwrap()
            .contains("iamkate:"),
        "the user must not be in the machine's passwd"
    );
    totp::wait_for_fresh_step(10);
    let code = totp::code(&seed, 0);
    let l = sshd.login(
        "iamkate",
        &[("Password", PASSWORD), ("Verification", &code)],
        &[],
    );
    assert!(
        l.ok(),
        "{l}\n--- sshd.log\n{}\n--- syslog\n{}",
        sshd.log(),
        sb.syslog()
    );
    assert!(l.out.stdout.contains("LOGIN-OK iamkate"), "{l}");
    let home = sb.path("home/iamkate");
    let md = std::fs::metadata(&home).expect("pam_mkhomedir created the home directory");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&md), 70000);
}

#[test]
fn userdb_user_logs_in_with_key_and_code_through_authorized_keys_command() {
    require_root!();
    let (mut sb, seed) = sandbox();
    sb.service(
        "sshd",
        "auth required {module} db={db} fail_delay=0 mode=code\n\
         account required {module} db={db}\n\
         password required {module} db={db}\n\
         session required {module} db={db}\n",
    );
    let keys = sb.path("keys");
    let sshd = sb.start_sshd(&format!(
        "PubkeyAuthentication yes\n\
         AuthorizedKeysCommand /usr/local/sbin/iam-authorized-keys --keys-dir {} %u\n\
         AuthorizedKeysCommandUser nobody\n\
         AuthenticationMethods publickey,keyboard-interactive\n",
        keys.display()
    ));
    let key = sb.path("kate_key").display().to_string();
    let args = [
        "-i",
        key.as_str(),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "PreferredAuthentications=publickey,keyboard-interactive",
    ];
    totp::wait_for_fresh_step(10);
    let code = totp::code(&seed, 0);
    let l = sshd.login("iamkate", &[("Verification", &code)], &args);
    assert!(
        l.ok(),
        "{l}\n--- sshd.log\n{}\n--- syslog\n{}",
        sshd.log(),
        sb.syslog()
    );
    assert_eq!(l.prompts.len(), 1, "only the code is asked: {l}");
    assert!(
        sshd.log().contains("Accepted key ED25519"),
        "{}",
        sshd.log()
    );

    // Deactivate the key: the export drops it and sshd refuses it.
    let s = store::open_path(Path::new(&sb.db()), OpenMode::ReadWrite).unwrap();
    s.update_ssh_public_key("iamkate", "APKAKATE", store::Status::Inactive)
        .unwrap();
    sync(&sb, &*s);
    totp::wait_for_fresh_step(10);
    let code = totp::code(&seed, 0);
    let l = sshd.login("iamkate", &[("Verification", &code)], &args);
    assert!(!l.ok(), "a deactivated key must be refused: {l}");
    // Refused at the key, before any code is asked (not a replayed-code refusal).
    assert!(l.prompts.is_empty(), "{l}");
    assert!(
        sshd.log().contains("Failed publickey for iamkate"),
        "{}",
        sshd.log()
    );
    assert!(l.out.stderr.contains("Permission denied"), "{l}");
}

/// A PAM file shipped in pam.d/, pointed at this build's module and the sandbox store.
fn shipped(name: &str) -> String {
    let text =
        std::fs::read_to_string(format!("{}/pam.d/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    text.replace("pam_iam.so", "{module} db={db}")
}

#[test]
fn shipped_pam_stacks_accept_userdb_users() {
    require_root!();
    // Password + code with pam.d/sshd (@include pam-iam: pam_unix's account check runs
    // too, on an account that exists only as a userdb record).
    let (mut sb, seed) = sandbox();
    sb.service("pam-iam", &shipped("pam-iam"))
        .service("sshd", &shipped("sshd"));
    let sshd = sb.start_sshd("AuthenticationMethods keyboard-interactive\n");
    totp::wait_for_fresh_step(10);
    let code = totp::code(&seed, 0);
    let l = sshd.login(
        "iamkate",
        &[("Password", PASSWORD), ("Verification", &code)],
        &[],
    );
    assert!(
        l.ok(),
        "{l}\n--- sshd.log\n{}\n--- syslog\n{}",
        sshd.log(),
        sb.syslog()
    );
    drop(sshd);

    // Key + code with pam.d/sshd-key-and-code.
    let (mut sb, seed) = sandbox();
    sb.service("sshd", &shipped("sshd-key-and-code"));
    let sshd = sb.start_sshd(&format!(
        "PubkeyAuthentication yes\n\
         AuthorizedKeysCommand /usr/local/sbin/iam-authorized-keys --keys-dir {} %u\n\
         AuthorizedKeysCommandUser nobody\n\
         AuthenticationMethods publickey,keyboard-interactive\n",
        sb.path("keys").display()
    ));
    let key = sb.path("kate_key").display().to_string();
    totp::wait_for_fresh_step(10);
    let code = totp::code(&seed, 0);
    let l = sshd.login(
        "iamkate",
        &[("Verification", &code)],
        &[
            "-i",
            &key,
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "PreferredAuthentications=publickey,keyboard-interactive",
        ],
    );
    assert!(
        l.ok(),
        "{l}\n--- sshd.log\n{}\n--- syslog\n{}",
        sshd.log(),
        sb.syslog()
    );
}
