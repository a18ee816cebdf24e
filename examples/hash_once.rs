//! The login's password hash alone, for scripts/bench-login-cost: argon2id at OWASP's
//! m=19456 KiB, t=2, p=1, COUNT times in one process, through
//! - `ours`: `credentials::verify_password`, the path pam_iam takes (its own working
//!   memory: huge pages, pre-faulted, wiped);
//! - `crate`: the argon2 crate's own verifier (heap memory, the path before);
//! - `floor`: the bare computation into one pre-faulted buffer reused across iterations
//!   (no allocation, no wiping): the least a verification can cost;
//! - `none`: nothing (process start only, to subtract from whole-program times).
//!
//! usage: hash_once [ours|crate|floor|none] [COUNT]
//! `hash_once` is one cold hash in a fresh process (time the whole program);
//! `hash_once ours 30` prints each iteration's wall and CPU (user + system, which is where
//! page faults go) time in ms on stderr: warm after the first.
use argon2::{Argon2, Block, PasswordHash, PasswordVerifier};
use pam_iam::credentials;

/// The bench password at the default parameters with a fixed salt (made by the argon2
/// crate's own hasher), so no hash is computed before the timed ones.
const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$cGFtLWlhbS1iZW5jaC0wMQ$wI1DQRw00XhrXB8PUyQFs/5wGe31/t7J+j0zpfqZ00w";
const PASSWORD: &[u8] = b"Bench-Passw0rd-1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let which = a.get(1).map_or("ours", String::as_str);
    let count: usize = a.get(2).map_or(Ok(1), |c| c.parse())?;
    let phc = PasswordHash::new(PHC)?;
    let argon = Argon2::default();
    let mut floor_memory = Vec::new();
    for i in 0..count {
        let (t, c) = (std::time::Instant::now(), cpu_ms());
        let ok = match which {
            "ours" => credentials::verify_password(PASSWORD, PHC),
            "crate" => argon.verify_password(PASSWORD, &phc).is_ok(),
            "floor" => {
                if floor_memory.is_empty() {
                    floor_memory = vec![Block::new(); argon.params().block_count()];
                }
                let mut out = [0u8; 32];
                let salt = phc.salt.as_ref().ok_or("no salt")?;
                argon.hash_password_into_with_memory(
                    PASSWORD,
                    salt,
                    &mut out,
                    &mut floor_memory[..],
                )?;
                phc.hash.as_ref().is_some_and(|h| h.as_bytes() == out)
            }
            "none" => true,
            _ => return Err("usage: hash_once [ours|crate|floor|none] [COUNT]".into()),
        };
        if !ok {
            return Err("the bench password did not verify".into());
        }
        if count > 1 {
            let wall = t.elapsed().as_secs_f64() * 1e3;
            eprintln!("{i} wall {wall:.3} cpu {:.3}", cpu_ms() - c);
        }
    }
    Ok(())
}

/// This process's CPU time (user + system) in ms.
fn cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel
    // knows.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}
