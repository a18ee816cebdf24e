//! `iam-authorized-keys` and a real sshd: an IAM user (a userdb record, no /etc/passwd
//! entry) logs in with an exported key through `AuthorizedKeysCommand` run as nobody;
//! a key that is not Active is refused; a user for whom `host:Login` cannot be allowed
//! gets no keys. Private mount + network namespaces; nothing on the machine changes.

mod support;

use pam_iam::userdb::keys::{self, UserKeys};
use pam_iam::userdb::{Account, Config, GroupEntry, IdRange, Mode, Snapshot, Source, sync};
use support::sandbox::Sandbox;
use support::ssh::keygen;

/// The `iam-authorized-keys` binary under test.
fn keys_command() -> String {
    support::bin("iam-authorized-keys").display().to_string()
}

struct Fixed {
    snap: Snapshot,
    keys: Vec<UserKeys>,
}

impl Source for Fixed {
    fn snapshot(&self) -> Result<Snapshot, String> {
        Ok(self.snap.clone())
    }
    fn key_export(&self) -> Result<Vec<UserKeys>, String> {
        Ok(self.keys.clone())
    }
}

/// Users `iamtest-kate` (keys: active `k1`; `k2` deactivated, so not exported) and
/// `iamtest-dan` (an active key, but `host:Login` certainly denied).
fn setup(sb: &Sandbox) -> (String, String) {
    let k1 = keygen(sb.root(), "k1").1;
    let _k2 = keygen(sb.root(), "k2").1;
    let d1 = keygen(sb.root(), "d1").1;
    let (kate, _) = Account::from_tags("iamtest-kate", 70010, 70010, &[]);
    let (dan, _) = Account::from_tags("iamtest-dan", 70011, 70011, &[]);
    let src = Fixed {
        snap: Snapshot {
            users: vec![kate, dan],
            groups: vec![GroupEntry {
                name: "iamtest-ssh".into(),
                gid: 70012,
                members: vec!["iamtest-kate".into()],
            }],
            ..Default::default()
        },
        keys: vec![
            UserKeys {
                user: "iamtest-kate".into(),
                keys: vec![("APKAKATEONE".into(), k1.clone())],
                denied: None,
            },
            UserKeys {
                user: "iamtest-dan".into(),
                keys: vec![("APKADANONE".into(), d1)],
                denied: Some("explicit deny".into()),
            },
        ],
    };
    let cfg = Config {
        dir: sb.userdb(),
        keys_dir: sb.keys(),
        range: IdRange::default(),
        passwd: "/etc/passwd".into(),
        group: "/etc/group".into(),
    };
    sync(&src, &cfg, Mode::Repair).unwrap();
    let n = keys::normalize_key(&k1).unwrap();
    (k1, n)
}

#[test]
fn command_prints_active_keys_to_an_unprivileged_caller_only() {
    require_root!();
    let sb = Sandbox::with_etc_userdb();
    let (_, k1) = setup(&sb);
    let bin = keys_command();
    let kd = sb.keys();
    let kd = kd.display();
    let out = sb.run_ok(&format!(
            "as_nobody() {{ setpriv --reuid=65534 --regid=65534 --clear-groups env -i {bin} --keys-dir {kd} \"$@\"; }}\n\
             echo '[kate]'; as_nobody iamtest-kate\n\
             echo '[dan]'; as_nobody iamtest-dan\n\
             echo '[nobody-such]'; as_nobody iamtest-ghost\n\
             echo '[bad]'; as_nobody '../etc/passwd'; echo rc=$?\n\
             echo '[usage]'; {bin} 2>&1; echo rc=$?\n"
        ),
    );
    assert_eq!(
        out,
        format!(
            "[kate]\n{k1}\n[dan]\n[nobody-such]\n[bad]\nrc=0\n[usage]\n\
             usage: iam-authorized-keys [--keys-dir DIR] USER\nrc=2\n"
        )
    );
}

fn sshd_script(sb: &Sandbox, port: u16, tests: &str) -> String {
    let bin = keys_command();
    let r = sb.root().display();
    let kd = sb.keys();
    let kd = kd.display();
    format!(
        "mount -t tmpfs tmpfs /run && mkdir -p /run/sshd\n\
         mkdir -p /etc/pam-iam-test && cp {bin} /etc/pam-iam-test/ && chmod 0755 /etc/pam-iam-test/iam-authorized-keys\n\
         printf 'auth required pam_deny.so\\naccount required pam_permit.so\\nsession required pam_permit.so\\n' > /etc/pam.d/sshd\n\
         ssh-keygen -q -t ed25519 -N '' -f {r}/hostkey\n\
         cat > {r}/sshd_config <<EOF\n\
Port {port}\nListenAddress 127.0.0.1\nHostKey {r}/hostkey\nPidFile {r}/sshd.pid\n\
UsePAM yes\nKbdInteractiveAuthentication no\nPasswordAuthentication no\n\
PubkeyAuthentication yes\nAuthorizedKeysFile none\n\
AuthorizedKeysCommand /etc/pam-iam-test/iam-authorized-keys --keys-dir {kd} %u\n\
AuthorizedKeysCommandUser nobody\nAuthenticationMethods publickey\nStrictModes no\nLogLevel VERBOSE\n\
EOF\n\
         /usr/sbin/sshd -f {r}/sshd_config -E {r}/sshd.log || {{ cat {r}/sshd.log; exit 1; }}\n\
         for i in $(seq 100); do [ -s {r}/sshd.pid ] && (: </dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; sleep 0.1; done\n\
         login() {{ timeout 20 ssh -n -i \"$1\" -o IdentitiesOnly=yes -o BatchMode=yes \
-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
-o PreferredAuthentications=publickey -p {port} \"$2\"@127.0.0.1 'id -un; id -u; pwd' 2>&1; echo rc=$?; }}\n\
         {tests}\n\
         kill $(cat {r}/sshd.pid)\n"
    )
}

#[test]
fn sshd_accepts_an_active_key_and_refuses_others() {
    require_root!();
    let mut sb = Sandbox::with_etc_userdb();
    sb.private_net();
    setup(&sb);
    let r = sb.root().display().to_string();
    let out = sb.run_ok(&sshd_script(
        &sb,
        2201,
        &format!(
            "echo '[k1]'; login {r}/k1 iamtest-kate\n\
                 echo '[k2]'; login {r}/k2 iamtest-kate\n\
                 echo '[dan]'; login {r}/d1 iamtest-dan\n"
        ),
    ));
    let log = std::fs::read_to_string(sb.path("sshd.log")).unwrap_or_default();
    let section = |name: &str| -> String {
        out.split(&format!("[{name}]\n"))
            .nth(1)
            .and_then(|s| s.split("\n[").next())
            .unwrap_or("")
            .trim_end()
            .to_string()
    };
    // stderr's "Could not chdir to home directory" may interleave anywhere.
    let k1: String = section("k1")
        .lines()
        .filter(|l| !l.starts_with("Could not chdir"))
        .map(|l| format!("{l}\n"))
        .collect();
    let k1 = k1.trim_end();
    assert!(
        k1.contains("iamtest-kate\n70010\n") && k1.ends_with("rc=0"),
        "active key must log in:\n{out}\n--- sshd.log:\n{log}"
    );
    for s in ["k2", "dan"] {
        let got = section(s);
        assert!(
            got.contains("Permission denied") && got.ends_with("rc=255"),
            "{s} must be refused:\n{out}\n--- sshd.log:\n{log}"
        );
    }
}

#[test]
fn cli_key_changes_and_policies_reach_the_command() {
    require_root!();
    let sb = Sandbox::with_etc_userdb();
    let pubkey = keygen(sb.root(), "kim").1;
    let k = keys::normalize_key(&pubkey).unwrap();
    let r = sb.root().display();
    let iam = support::bin("iam").display().to_string();
    let bin = keys_command();
    let doc = |effect: &str, cond: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":"host:Login","Resource":"*"{cond}}}]}}"#
        )
    };
    std::fs::write(sb.path("allow.json"), doc("Allow", "")).unwrap();
    std::fs::write(sb.path("deny.json"), doc("Deny", "")).unwrap();
    std::fs::write(
        sb.path("deny-net.json"),
        doc(
            "Deny",
            r#","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        ),
    )
    .unwrap();
    let out = sb.run_ok(&format!(
            "export PAM_IAM_DB={r}/db/iam.db PAM_IAM_USERDB_DIR=/etc/userdb PAM_IAM_KEYS_DIR={r}/keys\n\
             iam() {{ {iam} \"$@\" > {r}/last.json; }}\n\
             keys() {{ echo \"[$1]\"; setpriv --reuid=65534 --regid=65534 --clear-groups env -i {bin} --keys-dir {r}/keys iamt-kim; }}\n\
             set -e\n\
             iam create-user --user-name iamt-kim\n\
             iam upload-ssh-public-key --user-name iamt-kim --ssh-public-key-body \"$(cat {r}/kim.pub)\"\n\
             ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"SSHPublicKey\"][\"SSHPublicKeyId\"])' {r}/last.json)\n\
             keys no-policy\n\
             iam create-policy --policy-name iamt-login --policy-document file://{r}/allow.json\n\
             ARN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"Policy\"][\"Arn\"])' {r}/last.json)\n\
             iam attach-user-policy --user-name iamt-kim --policy-arn $ARN\n\
             keys allowed\n\
             iam update-ssh-public-key --user-name iamt-kim --ssh-public-key-id $ID --status Inactive\n\
             keys inactive\n\
             iam update-ssh-public-key --user-name iamt-kim --ssh-public-key-id $ID --status Active\n\
             keys active-again\n\
             iam put-user-policy --user-name iamt-kim --policy-name deny --policy-document file://{r}/deny.json\n\
             keys explicit-deny\n\
             iam put-user-policy --user-name iamt-kim --policy-name deny --policy-document file://{r}/deny-net.json\n\
             keys deny-depends-on-source-ip\n\
             iam delete-ssh-public-key --user-name iamt-kim --ssh-public-key-id $ID\n\
             keys deleted\n"
        ),
    );
    assert_eq!(
        out,
        format!(
            "[no-policy]\n[allowed]\n{k}\n[inactive]\n[active-again]\n{k}\n\
             [explicit-deny]\n[deny-depends-on-source-ip]\n{k}\n[deleted]\n"
        )
    );
}
