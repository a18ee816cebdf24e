//! The role-session world of the whole-program tests: the real setuid `iam-sts`, the
//! real `sudo` with `pam_iam.so`, unprivileged test users on real terminals (`script`),
//! all inside the private mount namespace of a [`Sandbox`] (test users, sudoers, PAM
//! service and the store at its default path exist only there).

use std::time::Duration;

use super::sandbox::Sandbox;
use super::{Outcome, now, shell_quote};
use pam_iam::store::{self, Store};
use pam_iam::store::{NewRole, NewUser, OpenMode, OpenOptions, PrincipalKind};

/// Test users' uids (= gids).
pub const ALICE: u32 = 5101;
pub const BOB: u32 = 5102;
pub const CAROL: u32 = 5103;

/// A sandbox with alice, bob, carol (Linux + IAM), roles `admin` (trusts alice and bob,
/// allows host:Sudo), `mfa-admin` (trusts alice with MFA), the setuid iam-sts at
/// $T/bin/iam-sts, a sudoers with `timestamp_timeout=0`, and the store at the default
/// path /var/lib/pam-iam/iam.db.
pub struct World {
    /// The sandbox.
    pub sb: Sandbox,
    /// The store's account id.
    pub account: String,
    /// alice's MFA seed (base32, for oathtool).
    pub seed_b32: String,
}

/// Where the store lives outside the namespace.
pub fn db_path(sb: &Sandbox) -> std::path::PathBuf {
    sb.path("varlib/pam-iam/iam.db")
}

/// The store, opened as root outside the namespace.
pub fn open_store(sb: &Sandbox) -> Box<dyn Store> {
    store::open(&OpenOptions::new(db_path(sb), OpenMode::ReadWrite)).expect("open store")
}

impl World {
    /// The sandbox described above.
    pub fn new() -> World {
        let mut sb = Sandbox::new();
        sb.user("alice", ALICE)
            .user("bob", BOB)
            .user("carol", CAROL);
        sb.default_store();
        let now = now();
        let store = open_store(&sb);
        let account = store.account_id().unwrap();
        for name in ["alice", "bob", "carol"] {
            store
                .create_user(
                    &NewUser {
                        name: name.into(),
                        path: "/".into(),
                        ..Default::default()
                    },
                    now,
                )
                .unwrap();
            store
                .put_inline_policy(
                    PrincipalKind::User,
                    name,
                    "assume",
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
                )
                .unwrap();
        }
        let seed = pam_iam::credentials::totp::new_seed().unwrap();
        let seed_b32 = pam_iam::credentials::totp::base32(&seed).to_string();
        let dev = store
            .create_virtual_mfa_device("alice", "/", &seed, now)
            .unwrap();
        store
            .enable_mfa_device("alice", &dev.serial_number, -1, &[], now)
            .unwrap();
        let trust = |principals: &str, cond: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":{principals}}},"Action":"sts:AssumeRole"{cond}}}]}}"#
            )
        };
        let sudo_policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"host:Sudo","Resource":"arn:aws:iam::{account}:host/*"}}]}}"#
        );
        let roles = [
            (
                "admin",
                trust(
                    &format!(
                        r#"["arn:aws:iam::{account}:user/alice","arn:aws:iam::{account}:user/bob"]"#
                    ),
                    "",
                ),
            ),
            (
                "mfa-admin",
                trust(
                    &format!(r#""arn:aws:iam::{account}:root""#),
                    r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#,
                ),
            ),
        ];
        let recent_mfa_sudo = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"host:Sudo","Resource":"arn:aws:iam::{account}:host/*","Condition":{{"NumericLessThan":{{"aws:MultiFactorAuthAge":"300"}}}}}}]}}"#
        );
        store
            .create_role(
                &NewRole {
                    name: "recent-mfa".into(),
                    path: "/".into(),
                    assume_role_policy_document: trust(
                        &format!(r#""arn:aws:iam::{account}:user/alice""#),
                        "",
                    ),
                    max_session_duration: 3600,
                    ..Default::default()
                },
                now,
            )
            .unwrap();
        store
            .put_inline_policy(PrincipalKind::Role, "recent-mfa", "sudo", &recent_mfa_sudo)
            .unwrap();
        for (name, doc) in roles {
            store
                .create_role(
                    &NewRole {
                        name: name.into(),
                        path: "/".into(),
                        assume_role_policy_document: doc,
                        max_session_duration: 3600,
                        ..Default::default()
                    },
                    now,
                )
                .unwrap();
            store
                .put_inline_policy(PrincipalKind::Role, name, "sudo", &sudo_policy)
                .unwrap();
        }
        // Root-only setting so expiry can be proven in seconds.
        store.set_sts_min_session_duration(Some(2)).unwrap();
        drop(store);

        sb.setuid_bin("iam-sts");
        sb.sudo(&["alice", "bob", "carol"]);
        World {
            sb,
            account,
            seed_b32,
        }
    }

    /// The setuid helper's path.
    pub fn sts(&self) -> String {
        self.sb.path("bin/iam-sts").display().to_string()
    }

    /// A role ARN.
    pub fn role(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role/{name}", self.account)
    }

    /// alice's MFA serial.
    pub fn serial(&self) -> String {
        format!("arn:aws:iam::{}:mfa/alice", self.account)
    }

    /// `cmd` as `uid` on a fresh terminal of its own (`script`), inside the namespace.
    pub fn term(uid: u32, cmd: &str) -> String {
        format!(
            "setpriv --reuid={uid} --regid={uid} --clear-groups -- script -qec {} /dev/null </dev/null",
            shell_quote(cmd)
        )
    }

    /// Runs a script in the namespace (2 min at most).
    pub fn run(&self, script: &str) -> Outcome {
        self.sb.run(script, Duration::from_secs(120))
    }

    /// A shell command assuming `role` as session s1 (`extra` flags), echoing ASSUME=rc.
    pub fn assume(&self, role: &str, extra: &str) -> String {
        format!(
            "{} assume-role --role-arn {} --role-session-name s1 {extra}; echo ASSUME=$?",
            self.sts(),
            self.role(role)
        )
    }
}

/// sudo as the test user, echoing SUDO=rc.
pub const SUDO: &str = "sudo -S id -u </dev/null; echo SUDO=$?";

/// sudo ran `id -u` as root.
pub fn sudo_ok(out: &Outcome) -> bool {
    out.stdout.contains("SUDO=0") && out.stdout.lines().any(|l| l.trim() == "0")
}
