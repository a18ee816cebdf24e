//! A stable-Rust random-input harness over the same function as the cargo-fuzz target
//! (fuzz/src/target.rs): seeds from fuzz/seeds, mutated byte-wise and with a
//! dictionary of policy tokens, plus generated hostile documents. A panic is a crash.
//!
//! In the normal test run it does a short pass (POLICY_FUZZ_ITERS, default 2,000);
//! scripts/fuzz-policy runs it long and reports executions and crashes.

use std::path::Path;

#[path = "../fuzz/src/target.rs"]
mod target;

#[path = "../fuzz/src/mutate.rs"]
mod mutate;

const DICT: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\\",
    "\\u0000",
    "${",
    "${*}",
    "${?}",
    "${$}",
    "}",
    "${aws:username}",
    "${aws:username, 'x'}",
    "*",
    "?",
    "**",
    "arn:",
    "arn:aws:iam::",
    ":::",
    "\"Version\":\"2012-10-17\"",
    "\"Version\":\"2008-10-17\"",
    "\"Statement\":",
    "\"Sid\":\"A\"",
    "\"Effect\":\"Allow\"",
    "\"Effect\":\"Deny\"",
    "\"Action\":",
    "\"NotAction\":",
    "\"Resource\":",
    "\"NotResource\":",
    "\"Principal\":",
    "\"NotPrincipal\":",
    "\"Condition\":",
    "\"AWS\":",
    "StringEquals",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "NumericLessThan",
    "DateGreaterThan",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnLike",
    "ArnNotEquals",
    "Null",
    "IfExists",
    "ForAnyValue:",
    "ForAllValues:",
    "10.0.0.0/8",
    "::/0",
    "2001:db8::/129",
    "1e308",
    "-0",
    "9999999999999999999999",
    "2026-02-29T25:61:61Z",
    "true",
    "null",
    "[]",
    "{}",
    "\u{1F600}",
    "\u{202E}",
    "é",
    "\u{FFFD}",
    "\n",
    "\0",
    "|",
    "=",
];

fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    if out.is_empty() {
        out.push(br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#.to_vec());
    }
    out
}

/// Runs `iters` inputs; returns (executions, crash inputs).
fn campaign(iters: u64, seed: u64) -> (u64, Vec<Vec<u8>>) {
    mutate::campaign(
        &mutate::Campaign {
            seeds: &seeds(),
            dict: DICT,
            repeats: &["[", "{\"a\":", "*", "a*", "${", "\"x\",", "?"],
            max_len: 64 * 1024,
        },
        iters,
        seed,
        target::run,
    )
}

#[test]
fn random_inputs_never_crash_the_engine() {
    let iters = std::env::var("POLICY_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed = std::env::var("POLICY_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let (execs, crashes) = campaign(iters, seed);
    mutate::report(
        "policy",
        execs,
        &crashes,
        seed,
        Path::new(env!("CARGO_TARGET_TMPDIR")),
    );
}
