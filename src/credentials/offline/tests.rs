use super::*;

const CHEAP: HashParams = HashParams {
    memory_kib: 1024,
    iterations: 1,
    parallelism: 1,
};
const SEED: &[u8] = b"12345678901234567890";
const SERIAL: &str = "arn:aws:iam::1:mfa/a";
const NOW: i64 = 1_700_000_010;

fn code(step: i64) -> String {
    totp::StepCodes::new(SEED)
        .unwrap()
        .at(step)
        .unwrap()
        .to_string()
}

fn material(lifetime: i64) -> Material {
    let dev = IssueDevice {
        serial: SERIAL,
        seed: SEED,
        watermark: NOW / totp::STEP,
        recovery: &[],
    };
    issue("pw", "alice", "web-a", &CHEAP, Some(&dev), NOW, lifetime).unwrap()
}

const CODES: [&str; 3] = [
    "k7qm-2xhd-9fze-wq4p",
    "aaaa-bbbb-cccc-dddd",
    "2345-6723-4567-2345",
];

/// Material for a user with two unused recovery codes (the first two of [`CODES`]).
fn with_codes() -> (Material, Vec<String>) {
    let hashes: Vec<String> = CODES[..2].iter().map(|c| recovery::hash(c)).collect();
    let dev = IssueDevice {
        serial: SERIAL,
        seed: SEED,
        watermark: NOW / totp::STEP,
        recovery: &hashes,
    };
    let m = issue("pw", "alice", "web-a", &CHEAP, Some(&dev), NOW, 3600).unwrap();
    (m, hashes)
}

#[test]
fn each_unused_recovery_code_opens_the_material_once_named_by_its_public_id() {
    let (m, hashes) = with_codes();
    assert_eq!(m.recovery.len(), 2);
    let k = unlock(&m, "pw").unwrap().unwrap();
    let later = NOW + 600;
    for (c, h) in CODES[..2].iter().zip(&hashes) {
        assert_eq!(
            match_answer(&m, &k, c, later, 1, -1),
            Some(Matched::Recovery(recovery::public_id(h)))
        );
        // typed in capitals, with spaces for dashes: the same code
        let typed = c.to_uppercase().replace('-', " ");
        assert!(matches!(
            match_answer(&m, &k, &typed, later, 1, -1),
            Some(Matched::Recovery(_))
        ));
    }
    // a code not among them, and a code under another material's key
    assert_eq!(match_answer(&m, &k, CODES[2], later, 1, -1), None);
    let (other, _) = with_codes();
    let k2 = unlock(&other, "pw").unwrap().unwrap();
    assert_eq!(match_answer(&m, &k2, CODES[0], later, 1, -1), None);
    // six digits are still a TOTP code, in the same check
    let c = code(later / 30);
    assert_eq!(
        match_answer(&m, &k, &c, later, 1, -1),
        Some(Matched::Step(later / 30))
    );
    // material issued without recovery tags accepts no recovery code
    let plain = material(3600);
    let k = unlock(&plain, "pw").unwrap().unwrap();
    assert_eq!(match_answer(&plain, &k, CODES[0], later, 1, -1), None);
}

#[test]
fn the_recovery_tags_hold_no_code_hash_or_public_id_and_are_keyed_per_issue() {
    let (m, hashes) = with_codes();
    let text = serde_json::to_string(&m).unwrap();
    for h in &hashes {
        let id = recovery::public_id(h);
        for needle in [h.as_str(), &h[..16], id.as_str()] {
            assert!(!text.contains(needle), "{needle} in {text}");
        }
    }
    for c in CODES {
        assert!(
            !text.to_lowercase().contains(&c.replace('-', "")[..8]),
            "{c}"
        );
    }
    let (again, _) = with_codes();
    assert!(m.recovery.iter().all(|t| !again.recovery.contains(t)));
    // Material without codes serialises as before (no "recovery" key).
    assert!(
        !serde_json::to_string(&material(60))
            .unwrap()
            .contains("recovery")
    );
}

#[test]
fn a_code_spent_or_replaced_changes_what_material_is_made_for() {
    let (m, hashes) = with_codes();
    let all = basis(SERIAL, SEED, &hashes);
    assert_eq!(m.device.as_deref(), Some(all.as_str()));
    let reversed: Vec<String> = hashes.iter().rev().cloned().collect();
    assert_eq!(basis(SERIAL, SEED, &reversed), all, "order does not matter");
    let one_spent = basis(SERIAL, SEED, &hashes[1..]);
    assert_ne!(one_spent, all);
    assert_eq!(basis(SERIAL, SEED, &[]), device_id(SERIAL, SEED));
    // the host holding `all` gets new material once a code is spent anywhere
    let held = m.held();
    assert!(!should_issue(
        Some(&held),
        Some(&all),
        None,
        3 * 86_400,
        NOW + 10
    ));
    assert!(should_issue(
        Some(&held),
        Some(&one_spent),
        None,
        3 * 86_400,
        NOW + 10
    ));
}

#[test]
fn the_tags_start_above_the_watermark_and_cover_the_lifetime_and_its_window() {
    let m = material(3600);
    let step = NOW / totp::STEP;
    assert_eq!(m.first_step, step + 1);
    let tags = Base64::decode_vec(&m.tags).unwrap();
    let last = (NOW + 3600) / totp::STEP + 1;
    assert_eq!(tags.len(), usize::try_from(last - step).unwrap() * TAG_LEN);
    assert_eq!(m.expires_at, NOW + 3600);
    // A lifetime beyond the cap is cut to it.
    let big = material(10 * MAX_LIFETIME);
    assert_eq!(big.expires_at, NOW + MAX_LIFETIME);
}

#[test]
fn the_material_holds_no_seed_and_no_code() {
    let m = material(3600);
    let text = serde_json::to_string(&m).unwrap();
    for needle in [hex(SEED), Base64::encode_string(SEED), code(NOW / 30 + 1)] {
        assert!(!text.contains(&needle), "{needle} in {text}");
    }
    assert_ne!(m.device.as_deref(), Some(hex(SEED).as_str()));
}

#[test]
fn the_right_password_and_a_fresh_code_once_per_step() {
    let m = material(3600);
    let step = NOW / totp::STEP;
    assert!(unlock(&m, "wrong").unwrap().is_none());
    assert!(unlock(&m, "pw ").unwrap().is_none());
    let k = unlock(&m, "pw").unwrap().unwrap();
    let later = NOW + 600;
    let c = code(later / 30);
    assert_eq!(match_code(&m, &k, &c, later, 1, step), Some(later / 30));
    // the code of the next step, within the window
    assert_eq!(
        match_code(&m, &k, &code(later / 30 + 1), later, 1, step),
        Some(later / 30 + 1)
    );
    // at or below the watermark: refused
    assert_eq!(match_code(&m, &k, &c, later, 1, later / 30), None);
    // the step spent online at issue: refused
    assert_eq!(match_code(&m, &k, &code(step), NOW, 1, -1), None);
    // outside the window
    assert_eq!(match_code(&m, &k, &c, later + 90, 1, step), None);
    // malformed codes
    for bad in ["", "12345", "1234567", "abcdef", "12 456"] {
        assert_eq!(match_code(&m, &k, bad, later, 1, step), None, "{bad}");
    }
    // after the material ends
    let end = NOW + 7200;
    assert_eq!(match_code(&m, &k, &code(end / 30), end, 1, step), None);
}

#[test]
fn the_key_is_bound_to_host_user_and_salt() {
    let m = material(600);
    for other in [
        Material {
            host: "web-b".into(),
            ..m.clone()
        },
        Material {
            user: "bob".into(),
            ..m.clone()
        },
        Material {
            salt: hex(&[0u8; 16]),
            ..m.clone()
        },
    ] {
        assert!(unlock(&other, "pw").unwrap().is_none());
    }
    // Two issues of the same password differ entirely (fresh salt).
    let again = material(600);
    assert_ne!(m.verifier, again.verifier);
    assert_ne!(m.tags, again.tags);
    // A key of one material matches no tag of another.
    let k = unlock(&m, "pw").unwrap().unwrap();
    let t = NOW + 60;
    assert_eq!(match_code(&again, &k, &code(t / 30), t, 1, -1), None);
}

#[test]
fn a_user_without_a_device_gets_a_verifier_and_no_tags() {
    let m = issue("pw", "bob", "web-a", &CHEAP, None, NOW, 600).unwrap();
    assert!(m.serial.is_none() && m.device.is_none() && m.tags.is_empty());
    let k = unlock(&m, "pw").unwrap().unwrap();
    assert_eq!(match_code(&m, &k, "123456", NOW, 1, -1), None);
}

#[test]
fn new_material_only_when_what_the_host_holds_is_stale() {
    let dev = device_id(SERIAL, SEED);
    let held = Held {
        issued_at: NOW,
        device: Some(dev.clone()),
    };
    let day = 86_400;
    let fresh = |h: Option<&Held>, d: Option<&str>, pw: Option<i64>, now: i64| {
        should_issue(h, d, pw, 3 * day, now)
    };
    assert!(fresh(None, Some(&dev), None, NOW));
    assert!(!fresh(Some(&held), Some(&dev), Some(NOW - 10), NOW + day));
    // half-life passed
    assert!(fresh(Some(&held), Some(&dev), None, NOW + day + day / 2));
    // the password changed since
    assert!(fresh(Some(&held), Some(&dev), Some(NOW + 5), NOW + 10));
    // another device, or none any more
    assert!(fresh(Some(&held), Some("other"), None, NOW + 10));
    assert!(fresh(Some(&held), None, None, NOW + 10));
    // issued "in the future": not trusted
    assert!(fresh(Some(&held), Some(&dev), None, NOW - 100));
    // offline off
    assert!(!should_issue(None, Some(&dev), None, 0, NOW));
    // the device id names the seed
    assert_ne!(dev, device_id(SERIAL, b"another seed 0123456"));
}
