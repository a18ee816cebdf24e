//! The real Terraform with the real AWS provider (from the filesystem mirror
//! `/opt/tf-plugins`, no registry) against iamd: `endpoints { iam, sts }` at the server,
//! credentials validated for real (`GetCallerIdentity`), a user, group, membership,
//! managed policy, attachment, access key, role and role policy applied (deleting the
//! role asks `ListInstanceProfilesForRole` first); `plan -detailed-exitcode` finds no
//! drift, and finds the change made behind Terraform's back; the key Terraform made
//! signs calls; `destroy` leaves none of it in the store.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::Server;

const TERRAFORM: &str = "/usr/local/bin/terraform";
const MIRROR: &str = "/opt/tf-plugins";
const PROVIDER: &str = "registry.terraform.io/hashicorp/aws";

/// Terraform and the provider mirror, or `None` (skip) outside CI.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let tf = PathBuf::from(TERRAFORM);
    let mirror = PathBuf::from(MIRROR);
    if tf.exists() && mirror.join(PROVIDER).is_dir() {
        return Some((tf, mirror));
    }
    let why =
        format!("{TERRAFORM} and the AWS provider in the filesystem mirror {MIRROR}/{PROVIDER}");
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true: this test needs {why}"
    );
    eprintln!("skipped: needs {why}");
    None
}

const MAIN_TF: &str = r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
provider "aws" {
  region                      = "eu-west-1"
  skip_region_validation      = true
  skip_metadata_api_check     = true
  skip_credentials_validation = false
  skip_requesting_account_id  = false
  endpoints {
    iam = "ENDPOINT"
    sts = "ENDPOINT"
  }
}
resource "aws_iam_user" "alice" {
  name = "alice"
  path = "/eng/"
  tags = { team = "web" }
}
resource "aws_iam_group" "eng" {
  name = "eng"
}
resource "aws_iam_group_membership" "eng" {
  name  = "eng-members"
  group = aws_iam_group.eng.name
  users = [aws_iam_user.alice.name]
}
resource "aws_iam_policy" "read" {
  name        = "read-users"
  description = "read users"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["iam:GetUser", "iam:ListUsers"], Resource = "*" }]
  })
}
resource "aws_iam_user_policy_attachment" "alice_read" {
  user       = aws_iam_user.alice.name
  policy_arn = aws_iam_policy.read.arn
}
resource "aws_iam_access_key" "alice" {
  user = aws_iam_user.alice.name
}
data "aws_caller_identity" "me" {}
resource "aws_iam_role" "ops" {
  name                 = "ops"
  max_session_duration = 7200
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.me.account_id}:root" }, Action = "sts:AssumeRole" }]
  })
}
resource "aws_iam_role_policy" "ops" {
  name = "ops"
  role = aws_iam_role.ops.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "iam:ListUsers", Resource = "*" }]
  })
}
output "key_id" {
  value = aws_iam_access_key.alice.id
}
output "secret" {
  value     = aws_iam_access_key.alice.secret
  sensitive = true
}
"#;

struct Tf<'a> {
    bin: &'a Path,
    dir: &'a Path,
    root: &'a support::Key,
}

impl Tf<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(self.bin)
            .args(args)
            .current_dir(self.dir)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.dir)
            .env("TF_CLI_CONFIG_FILE", self.dir.join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_ACCESS_KEY_ID", &self.root.id)
            .env("AWS_SECRET_ACCESS_KEY", &self.root.secret)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "terraform {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `plan -detailed-exitcode`'s code: 0 no changes, 2 changes.
    fn plan(&self, extra: &[&str]) -> (i32, String) {
        let mut args = vec!["plan", "-detailed-exitcode", "-input=false", "-no-color"];
        args.extend_from_slice(extra);
        let o = self.run(&args);
        let out = format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.code().unwrap_or(-1), out)
    }
}

fn iam_json(s: &Server, args: &[&str]) -> serde_json::Value {
    let o = s.iam(args);
    assert!(
        o.status.success(),
        "iam {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    if o.stdout.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn terraform_applies_finds_no_drift_and_destroys() {
    let Some((bin, mirror)) = tools() else { return };
    let (s, root) = Server::start_with(PathBuf::new(), &[]);
    let dir = s.dir.path().join("tf");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("cli.tfrc"),
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"{PROVIDER}\"]\n  }}\n  direct {{\n    exclude = [\"{PROVIDER}\"]\n  }}\n}}\n",
            mirror.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("main.tf"),
        MAIN_TF.replace("ENDPOINT", &s.endpoint()),
    )
    .unwrap();
    let tf = Tf {
        bin: &bin,
        dir: &dir,
        root: &root,
    };
    tf.ok(&["init", "-input=false", "-no-color"]);
    tf.ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);

    // What Terraform made is in the store, as iam reads it.
    let u = iam_json(&s, &["get-user", "--user-name", "alice"]);
    assert_eq!(u["User"]["Path"], "/eng/", "{u}");
    let g = iam_json(&s, &["get-group", "--group-name", "eng"]);
    assert_eq!(g["Users"][0]["UserName"], "alice", "{g}");
    let r = iam_json(&s, &["get-role", "--role-name", "ops"]);
    assert_eq!(r["Role"]["MaxSessionDuration"], 7200, "{r}");
    let a = iam_json(&s, &["list-attached-user-policies", "--user-name", "alice"]);
    assert_eq!(a["AttachedPolicies"][0]["PolicyName"], "read-users", "{a}");
    // The access key Terraform made signs calls, allowed by the attached policy.
    let key = support::Key {
        id: tf.ok(&["output", "-raw", "key_id"]),
        secret: tf.ok(&["output", "-raw", "secret"]),
    };
    let (st, body, _) = support::signed_call(
        s.port,
        &key,
        "iam",
        "Action=GetUser&Version=2010-05-08&UserName=alice",
    );
    assert_eq!(st, 200, "{body}");
    // The provider checked its credentials for real.
    let audit = String::from_utf8_lossy(&s.iam(&["list-audit-events"]).stdout).into_owned();
    assert!(audit.contains("sts:GetCallerIdentity"), "{audit}");

    let (code, out) = tf.plan(&[]);
    assert_eq!(code, 0, "drift right after apply:\n{out}");
    // A change behind Terraform's back is seen.
    iam_json(
        &s,
        &[
            "tag-user",
            "--user-name",
            "alice",
            "--tags",
            "Key=team,Value=ops",
        ],
    );
    let (code, out) = tf.plan(&["-target=aws_iam_user.alice"]);
    assert_eq!(code, 2, "the changed tag is not seen:\n{out}");
    assert!(out.contains("team"), "{out}");

    tf.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(
        iam_json(&s, &["list-users"])["Users"],
        serde_json::json!([])
    );
    assert_eq!(
        iam_json(&s, &["list-groups"])["Groups"],
        serde_json::json!([])
    );
    assert_eq!(
        iam_json(&s, &["list-roles"])["Roles"],
        serde_json::json!([])
    );
    assert_eq!(
        iam_json(&s, &["list-policies", "--scope", "Local"])["Policies"],
        serde_json::json!([])
    );
}
