//! The store fixture of the whole-program tests: a store set up through the store's
//! own API (fast, and independent of CLI flag details).

use pam_iam::credentials::{self, HashParams, LockoutSettings, PasswordPolicy};
use pam_iam::store::{self, NewPolicy, NewUser, OpenMode, PrincipalKind, Store, Tag};

use super::now;

/// argon2 parameters of the fault tests: cheap, or the defaults with
/// FAULTS_DEFAULT_ARGON2=1 (scripts/faults-bench, for figures at real cost).
pub fn fault_params() -> HashParams {
    if std::env::var("FAULTS_DEFAULT_ARGON2").as_deref() == Ok("1") {
        HashParams::default()
    } else {
        cheap_params()
    }
}

/// argon2 parameters of the functional tests: cheap (the benchmarks use the defaults).
pub fn cheap_params() -> HashParams {
    HashParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    }
}

/// A store being set up for a test.
pub struct Iam {
    /// The open store.
    pub store: Box<dyn Store>,
    /// Its path.
    pub path: String,
    /// The account id.
    pub account: String,
}

impl Iam {
    /// Create a store at `path` with cheap argon2 parameters (functional tests; the
    /// benchmark uses the defaults).
    pub fn create(path: &str) -> Iam {
        Self::create_with(path, cheap_params())
    }

    /// Create a store with the given argon2 parameters.
    pub fn create_with(path: &str, params: HashParams) -> Iam {
        let store = store::open_path(std::path::Path::new(path), OpenMode::ReadWrite)
            .expect("create store");
        store.set_hash_params(&params).unwrap();
        let account = store.account_id().unwrap();
        Iam {
            store,
            path: path.into(),
            account,
        }
    }

    /// An IAM user, with a password if given.
    pub fn user(&self, name: &str, password: Option<&str>) -> &Self {
        self.user_at(name, password, now())
    }

    /// An IAM user whose password was set at `when`.
    pub fn user_at(&self, name: &str, password: Option<&str>, when: i64) -> &Self {
        self.store
            .create_user(
                &NewUser {
                    name: name.into(),
                    path: "/".into(),
                    ..NewUser::default()
                },
                when,
            )
            .unwrap();
        if let Some(pw) = password {
            let params = self.store.hash_params().unwrap();
            let hash = credentials::hash_password(pw.as_bytes(), &params).unwrap();
            self.store
                .create_login_profile(name, &hash, false, when)
                .unwrap();
        }
        self
    }

    /// Enable a virtual MFA device; returns (base32 seed for oathtool, recovery codes).
    pub fn mfa(&self, user: &str) -> (String, Vec<String>) {
        let seed = credentials::totp::new_seed().unwrap();
        let dev = self
            .store
            .create_virtual_mfa_device(user, "/", &seed, now())
            .unwrap();
        let codes = credentials::recovery::generate().unwrap();
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| credentials::recovery::hash(c))
            .collect();
        self.store
            .enable_mfa_device(user, &dev.serial_number, -1, &hashes, now())
            .unwrap();
        (
            credentials::totp::base32(&seed).to_string(),
            codes.iter().map(|c| c.to_string()).collect(),
        )
    }

    /// A group with members.
    pub fn group(&self, name: &str, members: &[&str]) -> &Self {
        self.store.create_group(name, "/", now()).unwrap();
        for m in members {
            self.store.add_user_to_group(name, m).unwrap();
        }
        self
    }

    /// Create a managed policy and attach it to a user, group or role.
    pub fn attach(
        &self,
        kind: PrincipalKind,
        to: &str,
        policy_name: &str,
        document: &str,
    ) -> &Self {
        pam_iam::policy::Policy::parse(document, pam_iam::policy::PolicyKind::Managed)
            .expect("valid policy");
        let p = self
            .store
            .create_policy(
                &NewPolicy {
                    name: policy_name.into(),
                    path: "/".into(),
                    description: None,
                    document: document.into(),
                    tags: vec![],
                },
                now(),
            )
            .unwrap();
        self.store.attach_policy(kind, to, &p.arn).unwrap();
        self
    }

    /// Group `web` with `members`, allowed host:Login on web-* hosts (the usual world
    /// of login tests).
    pub fn web_group(&self, members: &[&str]) -> &Self {
        self.group("web", members);
        self.attach(
            PrincipalKind::Group,
            "web",
            "web-login",
            &allow_login(&self.account, "web-*"),
        )
    }

    /// Lock after `max` failures for `secs` seconds.
    pub fn lockout(&self, max: u32, secs: i64) -> &Self {
        self.store
            .put_lockout_settings(&LockoutSettings {
                max_failed_attempts: max,
                lockout_duration_seconds: secs,
            })
            .unwrap();
        self
    }

    /// Set the account password policy.
    pub fn password_policy(&self, p: &PasswordPolicy) -> &Self {
        self.store.put_password_policy(p).unwrap();
        self
    }

    /// Tag a host.
    pub fn host_tags(&self, host: &str, tags: &[(&str, &str)]) -> &Self {
        let tags: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| Tag {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect();
        self.store.tag_host(host, &tags).unwrap();
        self
    }

    /// Require a new password at next login.
    pub fn require_reset(&self, user: &str) -> &Self {
        self.store
            .update_login_profile(user, None, Some(true), now())
            .unwrap();
        self
    }

    /// Failure counter of a user.
    pub fn failures(&self, user: &str) -> u32 {
        self.store.lock_state(user).unwrap().failed_attempts
    }

    /// Audit events (action, decision, reason) of a user, oldest first.
    pub fn audit(&self, user: &str) -> Vec<(String, String, String)> {
        let f = store::AuditFilter {
            user: Some(user.into()),
            ..Default::default()
        };
        self.store
            .list_audit(&f)
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.decision.to_string(), e.reason))
            .collect()
    }
}

/// An allow-`host:Login` policy on hosts matching `host_glob`.
pub fn allow_login(account: &str, host_glob: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Login","Effect":"Allow","Action":"host:Login","Resource":"arn:aws:iam::{account}:host/{host_glob}"}}]}}"#
    )
}
