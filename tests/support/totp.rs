//! TOTP codes for the tests, from oathtool (Debian package `oathtool`): an independent
//! implementation, so the codes a test types in never come from our own code.

use std::process::Command;
use std::time::Duration;

/// The code for a base32 seed at unix time `t`.
pub fn code_at(seed_b32: &str, t: i64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", seed_b32, "-N", &format!("@{t}")])
        .output()
        .expect("oathtool (Debian package oathtool) is required by the MFA tests");
    assert!(
        out.status.success(),
        "oathtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The code for a base32 seed at `now + offset` seconds.
pub fn code(seed_b32: &str, offset_secs: i64) -> String {
    code_at(seed_b32, super::now() + offset_secs)
}

/// Two consecutive codes starting `offset` seconds from now, both computed from one
/// reading of the clock (so a step boundary between two calls cannot split them).
pub fn code_pair(seed_b32: &str, offset: i64) -> (String, String) {
    let now = super::now();
    (
        code_at(seed_b32, now + offset),
        code_at(seed_b32, now + offset + 30),
    )
}

/// Seconds left in the current 30 s TOTP step.
pub fn seconds_left() -> u64 {
    30 - super::now() as u64 % 30
}

/// Wait until at least `secs` seconds remain in the current TOTP step, for tests that
/// need one code to stay valid (or two codes to be distinct) while they run.
pub fn wait_for_fresh_step(secs: u64) {
    while seconds_left() < secs {
        std::thread::sleep(Duration::from_millis(200));
    }
}
