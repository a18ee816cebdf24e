//! The stable smoke run of the iamd fuzz targets (fuzz/fuzz_targets/iamd_query.rs and
//! iamd_sigv4.rs): the same functions (fuzz/src/wire.rs) on fixed-seed mutations of the
//! seed requests in fuzz/seeds-query and fuzz/seeds-sigv4, a few seconds each. A panic
//! or an undocumented error code is a failure. WIRE_FUZZ_ITERS runs it longer
//! (scripts/fuzz-policy iamd_query|iamd_sigv4).

use std::path::Path;

#[path = "../../fuzz/src/wire.rs"]
mod wire;

#[path = "../../fuzz/src/mutate.rs"]
mod mutate;

const QUERY_DICT: &[&str] = &[
    "&",
    "=",
    "Action=",
    "Version=2010-05-08",
    "Version=2011-06-15",
    ".member.",
    ".member.1",
    ".member.0",
    ".member.1001",
    ".entry.1.key=",
    ".entry.1.value=",
    ".",
    "..",
    "%",
    "%2",
    "%FF",
    "%C3%A9",
    "%00",
    "+",
    "UserName=",
    "Tags.member.1.Key=",
    "PolicyDocument=",
    "MaxItems=",
    "Marker=",
    "\u{0}",
];
const SIGV4_DICT: &[&str] = &[
    "\n",
    ":",
    ", ",
    "=",
    "/",
    "%",
    "%2F",
    "%ZZ",
    "..",
    "./",
    "//",
    "authorization:",
    "AWS4-HMAC-SHA256 ",
    "Credential=",
    "SignedHeaders=",
    "Signature=",
    "aws4_request",
    "x-amz-date:",
    "20261201T120000Z",
    "20261301T250000Z",
    "host",
    ";",
    "x-amz-content-sha256:",
    "UNSIGNED-PAYLOAD",
    "\u{0}",
    "\t",
    "  ",
];

fn seeds(dir: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(dir);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

fn iters() -> u64 {
    std::env::var("WIRE_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn run(name: &str, c: &mutate::Campaign<'_>, f: fn(&[u8])) {
    let seed = 0x9E37_79B9_7F4A_7C15;
    let started = std::time::Instant::now();
    let (execs, crashes) = mutate::campaign(c, iters(), seed, f);
    println!("{name}: {:?}", started.elapsed());
    mutate::report(
        name,
        execs,
        &crashes,
        seed,
        Path::new(env!("CARGO_TARGET_TMPDIR")),
    );
}

#[test]
fn query_parser_survives_mutated_bodies() {
    let seeds = seeds("seeds-query");
    for s in &seeds {
        assert_eq!(wire::query(s), "ok", "seed {}", String::from_utf8_lossy(s));
    }
    assert_eq!(wire::query(b"Version=1"), "MissingAction");
    assert_eq!(wire::query(b"Action=X&A=1&A=2"), "MalformedQueryString");
    let c = mutate::Campaign {
        seeds: &seeds,
        dict: QUERY_DICT,
        repeats: &[".a", "A.member.1=", "&", "%41"],
        max_len: 64 * 1024,
    };
    run("query", &c, |d| {
        wire::query(d);
    });
}

#[test]
fn sigv4_canonicaliser_survives_mutated_requests() {
    let seeds = seeds("seeds-sigv4");
    let outcomes: Vec<&str> = seeds.iter().map(|s| wire::sigv4(s)).collect();
    // The signed seeds verify (so mutations start from the deepest path), the broken one
    // is refused with a documented code.
    assert_eq!(
        outcomes.iter().filter(|o| **o == "verified").count(),
        2,
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&"IncompleteSignature"), "{outcomes:?}");
    let c = mutate::Campaign {
        seeds: &seeds,
        dict: SIGV4_DICT,
        repeats: &["/..", "%2F", "x-a:b\n", ";host"],
        max_len: 64 * 1024,
    };
    run("sigv4", &c, |d| {
        wire::sigv4(d);
    });
}
