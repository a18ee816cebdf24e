//! The stable-Rust fuzz driver the smoke tests share (tests/policy_fuzz_smoke.rs,
//! iamd/tests/wire_fuzz_smoke.rs): a fixed-seed xorshift generator, byte-wise and
//! dictionary mutations of seed inputs, and a campaign that runs a target function on
//! each input and keeps the ones that panic.
#![allow(dead_code)]

use std::panic;

/// xorshift64: the same inputs on every run for a given seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// What a campaign mutates and how.
pub struct Campaign<'a> {
    /// Inputs to start from (each is run once as it is first).
    pub seeds: &'a [Vec<u8>],
    /// Tokens of the input language, inserted anywhere.
    pub dict: &'a [&'a str],
    /// Tokens repeated up to 3,000 times (nesting, long names, many members).
    pub repeats: &'a [&'a str],
    /// Inputs are cut to this length.
    pub max_len: usize,
}

/// One to eight mutations of `input`.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, c: &Campaign<'_>) {
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
            4 | 5 if !c.dict.is_empty() => {
                let tok = c.dict[rng.below(c.dict.len())].as_bytes();
                let at = rng.below(len + 1);
                input.splice(at..at, tok.iter().copied());
            }
            6 if len > 0 => input.truncate(rng.below(len)),
            7 => {
                let other = &c.seeds[rng.below(c.seeds.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + rng.below(64)).min(other.len());
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[a..b].iter().copied());
                }
            }
            _ if !c.repeats.is_empty() => {
                let tok = c.repeats[rng.below(c.repeats.len())];
                let n = 1 + rng.below(3000);
                let at = rng.below(len + 1);
                input.splice(at..at, tok.repeat(n).into_bytes());
            }
            _ => {}
        }
    }
    input.truncate(c.max_len);
}

/// Run `iters` inputs through `run`; returns (executions, the inputs that panicked).
pub fn campaign(c: &Campaign<'_>, iters: u64, seed: u64, run: fn(&[u8])) -> (u64, Vec<Vec<u8>>) {
    let mut rng = Rng(seed | 1);
    let mut crashes = Vec::new();
    let prev = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let mut execs = 0;
    for n in 0..iters {
        let mut input = c.seeds[(n as usize) % c.seeds.len()].clone();
        if n >= c.seeds.len() as u64 {
            mutate(&mut rng, &mut input, c);
        }
        let data = input.clone();
        execs += 1;
        if panic::catch_unwind(move || run(&data)).is_err() {
            crashes.push(input);
        }
    }
    panic::set_hook(prev);
    (execs, crashes)
}

/// Print the campaign's count (`NAME fuzz smoke: N executions, M crashes (seed S)`) and
/// fail with the crashing inputs written under `tmp/NAME-fuzz-crashes/`.
pub fn report(name: &str, execs: u64, crashes: &[Vec<u8>], seed: u64, tmp: &std::path::Path) {
    println!(
        "{name} fuzz smoke: {execs} executions, {} crashes (seed {seed})",
        crashes.len()
    );
    if !crashes.is_empty() {
        let dir = tmp.join(format!("{name}-fuzz-crashes"));
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
