//! A stable-Rust random-input harness over the same function as the cargo-fuzz target
//! (fuzz/src/target.rs): seeds from fuzz/seeds, mutated byte-wise and with a
//! dictionary of policy tokens, plus generated hostile documents. A panic is a crash.
//!
//! In the normal test run it does a short pass (POLICY_FUZZ_ITERS, default 2,000);
//! scripts/fuzz-policy runs it long and reports executions and crashes.

use std::panic;
use std::path::Path;

#[path = "../fuzz/src/target.rs"]
mod target;

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

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

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

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(8) {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next() as u8);
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(16)).min(len);
                input.drain(a..b);
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                let chunk = input[a..b].to_vec();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, chunk);
            }
            4 | 5 => {
                let tok = DICT[rng.below(DICT.len())].as_bytes();
                let at = rng.below(len + 1);
                input.splice(at..at, tok.iter().copied());
            }
            6 if len > 0 => input.truncate(rng.below(len)),
            7 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + rng.below(64)).min(other.len());
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[a..b].iter().copied());
                }
            }
            _ => {
                // Repeat a token many times: deep nesting, long strings, many wildcards.
                let tok = ["[", "{\"a\":", "*", "a*", "${", "\"x\",", "?"][rng.below(7)];
                let n = 1 + rng.below(3000);
                let at = rng.below(len + 1);
                input.splice(at..at, tok.repeat(n).into_bytes());
            }
        }
    }
    input.truncate(64 * 1024);
}

/// Runs `iters` inputs; returns (executions, crash inputs).
fn campaign(iters: u64, seed: u64) -> (u64, Vec<Vec<u8>>) {
    let seeds = seeds();
    let mut rng = Rng(seed | 1);
    let mut crashes = Vec::new();
    let prev = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let mut execs = 0;
    for n in 0..iters {
        let mut input = seeds[(n as usize) % seeds.len()].clone();
        if n >= seeds.len() as u64 {
            mutate(&mut rng, &mut input, &seeds);
        }
        let data = input.clone();
        execs += 1;
        if panic::catch_unwind(move || target::run(&data)).is_err() {
            crashes.push(input);
        }
    }
    panic::set_hook(prev);
    (execs, crashes)
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
    println!(
        "policy fuzz smoke: {execs} executions, {} crashes (seed {seed})",
        crashes.len()
    );
    if !crashes.is_empty() {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-fuzz-crashes");
        let _ = std::fs::create_dir_all(&dir);
        for (i, c) in crashes.iter().enumerate() {
            let _ = std::fs::write(dir.join(format!("crash-{i}")), c);
        }
        panic!(
            "{} crashing inputs written to {}",
            crashes.len(),
            dir.display()
        );
    }
}
