//! Whatever iamd writes is what `iam` and pam_iam.so read: a user, its password and its
//! virtual MFA device made only through the unmodified AWS CLI against iamd on a SQLite
//! store, then that user logging in over the real sshd with the real OpenSSH client
//! (password + a code from oathtool), the store being the one iamd serves.

#[path = "support/iamd_client.rs"]
mod client;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use support::sandbox::{Sandbox, free_port};
use support::store::Iam;
use support::totp;

const PW: &str = "Password:";
const CODE: &str = "Verification code:";

/// iamd over the sandbox's store on a loopback port, killed on drop.
struct Iamd {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Iamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Iamd {
    fn start(sb: &Sandbox) -> Iamd {
        let port = free_port();
        let log = sb.path("iamd.log");
        let child = Command::new(support::bin("iamd"))
            .args(["--db", &sb.db(), "--http", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .env("PAM_IAM_USERDB", "off")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let d = Iamd { child, port, log };
        client::wait_healthy(d.port, &d.log);
        d
    }
}

/// `aws --endpoint-url … ARGS` as the root key; must succeed; its JSON (or null).
fn aws(venv: &Path, d: &Iamd, key: &(String, String), args: &[&str]) -> serde_json::Value {
    let mut c = Command::new(venv.join("bin/aws"));
    client::aws_env(&mut c, &key.0, &key.1);
    let o: Output = c
        .args(["--endpoint-url", &format!("http://127.0.0.1:{}", d.port)])
        .args(["--output", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "aws {args:?}: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        std::fs::read_to_string(&d.log).unwrap_or_default()
    );
    if o.stdout.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

#[test]
fn a_user_made_with_the_aws_cli_logs_in_over_sshd_with_password_and_code() {
    require_root!();
    let Some(venv) = client::venv() else { return };
    let mut sb = Sandbox::new();
    // The Linux account; everything IAM about carol comes through iamd.
    sb.user("carol", 2003);
    let stack = sb.shipped_stack("pam-iam", "web-1");
    sb.service("sshd", &stack);
    // An empty store with the functional tests' cheap argon2 cost.
    let iam = Iam::create(&sb.db());
    let root = client::root_key(
        &Command::new(support::bin("iam"))
            .arg("create-access-key")
            .env("PAM_IAM_DB", sb.db())
            .env("PAM_IAM_USERDB", "off")
            .output()
            .unwrap(),
    );
    let d = Iamd::start(&sb);
    let aws = |args: &[&str]| aws(&venv, &d, &root, args);

    aws(&["iam", "create-user", "--user-name", "carol"]);
    aws(&[
        "iam",
        "create-login-profile",
        "--user-name",
        "carol",
        "--password",
        "carol-Passw0rd",
    ]);
    let login = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"host:Login","Resource":"arn:aws:iam::{}:host/web-*"}}]}}"#,
        iam.account
    );
    aws(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "carol",
        "--policy-name",
        "login",
        "--policy-document",
        &login,
    ]);
    let seed_file = sb.path("carol.seed");
    let dev = aws(&[
        "iam",
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "carol",
        "--outfile",
        seed_file.to_str().unwrap(),
        "--bootstrap-method",
        "Base32StringSeed",
    ]);
    let serial = dev["VirtualMFADevice"]["SerialNumber"].as_str().unwrap();
    let seed = std::fs::read_to_string(&seed_file).unwrap();
    // Enrolled with the two steps before this one, so this step's code logs in.
    totp::wait_for_fresh_step(15);
    let now = support::now();
    aws(&[
        "iam",
        "enable-mfa-device",
        "--user-name",
        "carol",
        "--serial-number",
        serial,
        "--authentication-code1",
        &totp::code_at(&seed, now - 60),
        "--authentication-code2",
        &totp::code_at(&seed, now - 30),
    ]);

    // The local CLI reads what iamd wrote.
    let listed = Command::new(support::bin("iam"))
        .args(["list-mfa-devices", "--user-name", "carol"])
        .env("PAM_IAM_DB", sb.db())
        .env("PAM_IAM_USERDB", "off")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(serial),
        "{listed:?}"
    );

    let sshd = sb.start_sshd("AuthenticationMethods keyboard-interactive");
    let wrong = sshd.login("carol", &[(PW, "not-her-Passw0rd"), (CODE, "000000")], &[]);
    assert!(!wrong.ok(), "{wrong}");
    let code = totp::code_at(&seed, now);
    let ok = sshd.login("carol", &[(PW, "carol-Passw0rd"), (CODE, &code)], &[]);
    assert!(ok.ok(), "{ok}\n{}\n{}", sshd.log(), sb.syslog());
    assert!(ok.out.stdout.contains("LOGIN-OK carol"), "{ok}");
    assert_eq!(ok.prompts, ["Password: ", "Verification code: "], "{ok}");
    let audit = iam.audit("carol");
    assert!(
        audit
            .iter()
            .any(|(a, dec, _)| a == "host:Login" && dec == "allow"),
        "{audit:?}"
    );
    // And iamd audited the calls that made her, in the same trail.
    let made = iam.audit("root");
    assert!(
        made.iter().any(|(a, _, _)| a == "iam:CreateLoginProfile"),
        "{made:?}"
    );
}
