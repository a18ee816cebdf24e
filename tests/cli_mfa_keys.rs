//! `iam` MFA devices (codes from oathtool), recovery codes, access keys and SSH keys.

mod support;
use support::cli::*;
use support::totp::code_pair;

fn device(iam: &Cli, name: &str) -> (String, String) {
    let v = iam.ok(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        name,
    ]);
    let d = &v["VirtualMFADevice"];
    let png = d["QRCodePNG"].as_str().unwrap();
    assert!(png.starts_with("iVBORw0KGgo"), "QRCodePNG is a base64 PNG");
    (
        d["SerialNumber"].as_str().unwrap().to_string(),
        d["Base32StringSeed"].as_str().unwrap().to_string(),
    )
}

#[test]
fn enable_mfa_with_oathtool_codes() {
    let iam = Cli::new();
    iam.user("alice");
    let (serial, seed) = device(&iam, "alice");
    assert!(serial.ends_with(":mfa/alice"));
    assert_eq!(seed.len(), 32);
    let (now, next) = code_pair(&seed, 0);
    // Codes in the wrong order or wrong codes are refused, and nothing changes.
    iam.err(
        &[
            "enable-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            &serial,
            "--authentication-code1",
            &next,
            "--authentication-code2",
            &now,
        ],
        "InvalidAuthenticationCode",
    );
    iam.err(
        &[
            "enable-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            &serial,
            "--authentication-code1",
            "000000",
            "--authentication-code2",
            "000001",
        ],
        "InvalidAuthenticationCode",
    );
    iam.err(
        &[
            "enable-mfa-device",
            "--user-name",
            "ghost",
            "--serial-number",
            &serial,
            "--authentication-code1",
            &now,
            "--authentication-code2",
            &next,
        ],
        "NoSuchEntity",
    );
    iam.err(
        &[
            "enable-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            "arn:aws:iam::1:mfa/none",
            "--authentication-code1",
            &now,
            "--authentication-code2",
            &next,
        ],
        "NoSuchEntity",
    );
    let v = iam.ok(&[
        "enable-mfa-device",
        "--user-name",
        "alice",
        "--serial-number",
        &serial,
        "--authentication-code1",
        &now,
        "--authentication-code2",
        &next,
    ]);
    let codes = v["RecoveryCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    // Shown once, stored hashed.
    let dump = iam.dump();
    for c in codes {
        assert!(!dump.contains(c.as_str().unwrap()));
    }
    let l = iam.ok(&["list-mfa-devices", "--user-name", "alice"]);
    assert_eq!(l["MFADevices"][0]["SerialNumber"], serial.as_str());
    assert_eq!(l["MFADevices"][0]["UserName"], "alice");
    assert!(l["MFADevices"][0]["EnableDate"].is_string());
    // The same device cannot be enabled twice; a second device for alice is refused.
    iam.err(
        &[
            "enable-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            &serial,
            "--authentication-code1",
            &now,
            "--authentication-code2",
            &next,
        ],
        "EntityAlreadyExists",
    );
    let (serial2, seed2) = device(&iam, "alice-spare");
    let (a, b) = code_pair(&seed2, 0);
    iam.err(
        &[
            "enable-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            &serial2,
            "--authentication-code1",
            &a,
            "--authentication-code2",
            &b,
        ],
        "LimitExceeded",
    );
    // The enable codes are spent: resync with the same codes is a replay.
    iam.err(
        &[
            "resync-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            &serial,
            "--authentication-code1",
            &now,
            "--authentication-code2",
            &next,
        ],
        "InvalidAuthenticationCode",
    );
    let (n1, n2) = code_pair(&seed, 60);
    iam.ok(&[
        "resync-mfa-device",
        "--user-name",
        "alice",
        "--serial-number",
        &serial,
        "--authentication-code1",
        &n1,
        "--authentication-code2",
        &n2,
    ]);
    iam.err(
        &[
            "resync-mfa-device",
            "--user-name",
            "bob",
            "--serial-number",
            &serial,
            "--authentication-code1",
            &n1,
            "--authentication-code2",
            &n2,
        ],
        "NoSuchEntity",
    );

    // Virtual device listing with the assignment filter.
    assert_eq!(
        iam.ok(&["list-virtual-mfa-devices"])["VirtualMFADevices"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let assigned = iam.ok(&[
        "list-virtual-mfa-devices",
        "--assignment-status",
        "Assigned",
    ]);
    assert_eq!(
        assigned["VirtualMFADevices"][0]["User"]["UserName"],
        "alice"
    );
    assert_eq!(
        iam.ok(&[
            "list-virtual-mfa-devices",
            "--assignment-status",
            "Unassigned"
        ])["VirtualMFADevices"][0]["SerialNumber"],
        serial2.as_str()
    );

    // New recovery codes replace the old ones.
    assert_eq!(
        iam.ok(&["create-recovery-codes", "--user-name", "alice"])["RecoveryCodes"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    iam.user("bob");
    iam.err(
        &["create-recovery-codes", "--user-name", "bob"],
        "NoSuchEntity",
    );

    // Deleting needs deactivation first; deleting the user needs the device gone.
    iam.err(
        &["delete-virtual-mfa-device", "--serial-number", &serial],
        "DeleteConflict",
    );
    iam.err(&["delete-user", "--user-name", "alice"], "DeleteConflict");
    iam.err(
        &[
            "deactivate-mfa-device",
            "--user-name",
            "bob",
            "--serial-number",
            &serial,
        ],
        "NoSuchEntity",
    );
    iam.ok(&[
        "deactivate-mfa-device",
        "--user-name",
        "alice",
        "--serial-number",
        &serial,
    ]);
    assert!(
        iam.ok(&["list-mfa-devices", "--user-name", "alice"])["MFADevices"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    iam.ok(&["delete-virtual-mfa-device", "--serial-number", &serial]);
    iam.err(
        &["delete-virtual-mfa-device", "--serial-number", &serial],
        "NoSuchEntity",
    );
    iam.ok(&["delete-user", "--user-name", "alice"]);
}

#[test]
fn mfa_device_errors_and_outputs() {
    let iam = Cli::new();
    device(&iam, "dev1");
    iam.err(
        &[
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            "dev1",
        ],
        "EntityAlreadyExists",
    );
    iam.err(
        &[
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            "bad/name",
        ],
        "ValidationError",
    );
    // Text output: URI, seed and a QR code drawn with block characters.
    let t = iam.ok_raw(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "dev2",
        "--output",
        "text",
    ]);
    assert!(
        t.contains("otpauth://totp/pam-iam:dev2%40") || t.contains("otpauth://totp/pam-iam:dev2@"),
        "{t}"
    );
    assert!(t.contains("Base32StringSeed\t") && t.contains('█'), "{t}");
    // --outfile writes the PNG (mode 0600) as the AWS CLI does.
    let png = iam.dir().join("qr.png");
    iam.ok(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "dev3",
        "--outfile",
        png.to_str().unwrap(),
        "--bootstrap-method",
        "QRCodePNG",
    ]);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&png).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let seedfile = iam.dir().join("seed.txt");
    let v = iam.ok(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "dev4",
        "--outfile",
        seedfile.to_str().unwrap(),
        "--bootstrap-method",
        "Base32StringSeed",
    ]);
    assert_eq!(
        std::fs::read_to_string(&seedfile).unwrap(),
        v["VirtualMFADevice"]["Base32StringSeed"].as_str().unwrap()
    );
    // An --outfile that cannot be written fails before the device is created.
    iam.err(
        &[
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            "dev5",
            "--outfile",
            "/nonexistent/dir/qr.png",
            "--bootstrap-method",
            "QRCodePNG",
        ],
        "ValidationError",
    );
    iam.err(
        &["list-mfa-devices", "--user-name", "ghost"],
        "NoSuchEntity",
    );
}

#[test]
fn access_keys() {
    let iam = Cli::new();
    iam.user("alice");
    let k1 = iam.ok(&["create-access-key", "--user-name", "alice"]);
    let id1 = k1["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string();
    let secret = k1["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id1.starts_with("AKIA") && id1.len() == 20);
    assert_eq!(secret.len(), 40);
    assert_eq!(k1["AccessKey"]["Status"], "Active");
    // The secret is shown once and stored hashed.
    assert!(!iam.dump().contains(&secret));
    assert!(
        !iam.ok_raw(&["list-access-keys", "--user-name", "alice"])
            .contains(&secret)
    );
    iam.ok(&["create-access-key", "--user-name", "alice"]);
    iam.err(
        &["create-access-key", "--user-name", "alice"],
        "LimitExceeded",
    );
    iam.err(
        &["create-access-key", "--user-name", "ghost"],
        "NoSuchEntity",
    );
    let l = iam.ok(&["list-access-keys", "--user-name", "alice"]);
    assert_eq!(l["AccessKeyMetadata"].as_array().unwrap().len(), 2);
    iam.ok(&[
        "update-access-key",
        "--access-key-id",
        &id1,
        "--status",
        "Inactive",
    ]);
    let l = iam.ok(&["list-access-keys", "--user-name", "alice"]);
    assert!(
        l["AccessKeyMetadata"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["AccessKeyId"] == id1.as_str() && k["Status"] == "Inactive")
    );
    iam.err(
        &[
            "update-access-key",
            "--access-key-id",
            "AKIANOPE",
            "--status",
            "Active",
        ],
        "NoSuchEntity",
    );
    iam.user("bob");
    iam.err(
        &[
            "update-access-key",
            "--access-key-id",
            &id1,
            "--status",
            "Active",
            "--user-name",
            "bob",
        ],
        "NoSuchEntity",
    );
    let lu = iam.ok(&["get-access-key-last-used", "--access-key-id", &id1]);
    assert_eq!(lu["UserName"], "alice");
    assert_eq!(lu["AccessKeyLastUsed"]["ServiceName"], "N/A");
    iam.err(
        &["get-access-key-last-used", "--access-key-id", "AKIANOPE"],
        "NoSuchEntity",
    );
    iam.ok(&[
        "delete-access-key",
        "--access-key-id",
        &id1,
        "--user-name",
        "alice",
    ]);
    iam.err(
        &["delete-access-key", "--access-key-id", &id1],
        "NoSuchEntity",
    );
    iam.ok(&["create-access-key", "--user-name", "alice"]);
}

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop";

#[test]
fn ssh_public_keys() {
    let iam = Cli::new();
    iam.user("alice");
    let v = iam.ok(&[
        "upload-ssh-public-key",
        "--user-name",
        "alice",
        "--ssh-public-key-body",
        ED25519,
    ]);
    let k = &v["SSHPublicKey"];
    let id = k["SSHPublicKeyId"].as_str().unwrap().to_string();
    assert!(id.starts_with("APKA"));
    assert_eq!(k["Status"], "Active");
    // Same fingerprint as ssh-keygen -l.
    let keyfile = iam.dir().join("k.pub");
    std::fs::write(&keyfile, ED25519).unwrap();
    if let Ok(out) = std::process::Command::new("ssh-keygen")
        .args(["-l", "-f", keyfile.to_str().unwrap()])
        .output()
    {
        if out.status.success() {
            let fp = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .nth(1)
                .unwrap()
                .to_string();
            assert_eq!(k["Fingerprint"], fp.as_str());
        }
    }
    iam.err(
        &[
            "upload-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-body",
            &format!("file://{}", keyfile.display()),
        ],
        "DuplicateSSHPublicKey",
    );
    iam.err(
        &[
            "upload-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-body",
            "ssh-ed25519 notbase64!",
        ],
        "InvalidPublicKey",
    );
    iam.err(
        &[
            "upload-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-body",
            "ssh-dss AAAA",
        ],
        "UnrecognizedPublicKeyEncoding",
    );
    iam.err(
        &[
            "upload-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-body",
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
        ],
        "InvalidPublicKey",
    );
    iam.err(
        &[
            "upload-ssh-public-key",
            "--user-name",
            "ghost",
            "--ssh-public-key-body",
            ED25519,
        ],
        "NoSuchEntity",
    );
    assert_eq!(
        iam.ok(&["list-ssh-public-keys", "--user-name", "alice"])["SSHPublicKeys"][0]["SSHPublicKeyId"],
        id.as_str()
    );
    let g = iam.ok(&[
        "get-ssh-public-key",
        "--user-name",
        "alice",
        "--ssh-public-key-id",
        &id,
        "--encoding",
        "SSH",
    ]);
    assert_eq!(g["SSHPublicKey"]["SSHPublicKeyBody"], ED25519);
    iam.ok(&[
        "update-ssh-public-key",
        "--user-name",
        "alice",
        "--ssh-public-key-id",
        &id,
        "--status",
        "Inactive",
    ]);
    assert_eq!(
        iam.ok(&[
            "get-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-id",
            &id
        ])["SSHPublicKey"]["Status"],
        "Inactive"
    );
    iam.err(
        &[
            "get-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-id",
            "APKANOPE",
        ],
        "NoSuchEntity",
    );
    iam.err(
        &[
            "update-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-id",
            "APKANOPE",
            "--status",
            "Active",
        ],
        "NoSuchEntity",
    );
    iam.err(&["delete-user", "--user-name", "alice"], "DeleteConflict");
    iam.ok(&[
        "delete-ssh-public-key",
        "--user-name",
        "alice",
        "--ssh-public-key-id",
        &id,
    ]);
    iam.err(
        &[
            "delete-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-id",
            &id,
        ],
        "NoSuchEntity",
    );
    iam.ok(&["delete-user", "--user-name", "alice"]);
}
