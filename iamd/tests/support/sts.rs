//! STS helpers of the AWS CLI suites: temporary credentials as the CLI prints them,
//! `assume-role` arguments, users, roles and MFA devices made for a test, TOTP codes
//! from oathtool.

use super::{Key, Server};
use serde_json::Value;
use std::process::Command;

/// Temporary credentials as the CLI printed them.
pub struct Creds {
    pub key: Key,
    pub token: String,
}

impl Creds {
    pub fn from(v: &Value) -> Creds {
        let c = &v["Credentials"];
        Creds {
            key: Key {
                id: c["AccessKeyId"].as_str().unwrap().into(),
                secret: c["SecretAccessKey"].as_str().unwrap().into(),
            },
            token: c["SessionToken"].as_str().unwrap().into(),
        }
    }

    /// From an XML response (raw calls).
    pub fn from_xml(body: &str) -> Creds {
        let get = |tag: &str| {
            let open = format!("<{tag}>");
            let start = body
                .find(&open)
                .unwrap_or_else(|| panic!("{tag} in {body}"))
                + open.len();
            let end = body[start..].find(&format!("</{tag}>")).unwrap() + start;
            body[start..end].to_string()
        };
        Creds {
            key: Key {
                id: get("AccessKeyId"),
                secret: get("SecretAccessKey"),
            },
            token: get("SessionToken"),
        }
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The TOTP code of a base32 seed at `now + offset` (oathtool: not our implementation).
pub fn code(seed: &str, offset: i64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", seed, "-N", &format!("@{}", now() + offset)])
        .output()
        .expect("oathtool is required");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Wait until at least `secs` seconds remain in the current 30 s step.
pub fn fresh_step(secs: i64) {
    while 30 - now() % 30 < secs {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

pub fn ok_t(s: &Server, c: &Creds, args: &[&str]) -> Value {
    s.ok_token(&c.key, Some(&c.token), args)
}

pub fn fails_t(s: &Server, key: &Key, token: &str, args: &[&str], code: &str) -> String {
    s.fails_token(key, Some(token), args, code)
}

/// The arguments of `sts assume-role --role-arn ROLE --role-session-name NAME EXTRA…`.
pub fn assume<'a>(role: &'a str, name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "sts",
        "assume-role",
        "--role-arn",
        role,
        "--role-session-name",
        name,
    ];
    v.extend_from_slice(extra);
    v
}

pub fn account(s: &Server, root: &Key) -> String {
    s.ok(root, &["sts", "get-caller-identity"])["Account"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn user_with_policy(s: &Server, root: &Key, name: &str, policy: &str) -> Key {
    s.ok(root, &["iam", "create-user", "--user-name", name]);
    if !policy.is_empty() {
        s.ok(
            root,
            &[
                "iam",
                "put-user-policy",
                "--user-name",
                name,
                "--policy-name",
                "p",
                "--policy-document",
                policy,
            ],
        );
    }
    s.key_for(root, name)
}

/// Enrols a virtual MFA device for `user` with the local `iam` CLI; (serial, base32
/// seed). The two enrolment codes are from three and two steps ago, so the current code
/// is fresh.
pub fn enrol_mfa(s: &Server, user: &str) -> (String, String) {
    let out = s.dir.path().join(format!("{user}.seed"));
    let iam = |args: &[&str]| {
        let o = s.iam(args);
        assert!(
            o.status.success(),
            "iam {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice::<Value>(&o.stdout).unwrap_or(Value::Null)
    };
    let v = iam(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        user,
        "--outfile",
        out.to_str().unwrap(),
        "--bootstrap-method",
        "Base32StringSeed",
    ]);
    let serial = v["VirtualMFADevice"]["SerialNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let seed = std::fs::read_to_string(&out).unwrap().trim().to_string();
    fresh_step(10);
    iam(&[
        "enable-mfa-device",
        "--user-name",
        user,
        "--serial-number",
        &serial,
        "--authentication-code1",
        &code(&seed, -90),
        "--authentication-code2",
        &code(&seed, -60),
    ]);
    (serial, seed)
}

pub const ASSUME_OPS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
pub const OPS_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListUsers","iam:GetUser","iam:ListRoles"],"Resource":"*"}]}"#;

pub fn create_role(s: &Server, root: &Key, name: &str, trust: &str, policy: &str) -> String {
    let v = s.ok(
        root,
        &[
            "iam",
            "create-role",
            "--role-name",
            name,
            "--assume-role-policy-document",
            trust,
            "--max-session-duration",
            "3600",
        ],
    );
    s.ok(
        root,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            name,
            "--policy-name",
            "p",
            "--policy-document",
            policy,
        ],
    );
    v["Role"]["Arn"].as_str().unwrap().to_string()
}
