//! The public SigV4 test vectors (botocore's `tests/unit/auth/aws4_testsuite`, fetched
//! by scripts/test from botocore's source distribution on PyPI, never copied here): for
//! every request, our canonical request must equal the suite's `.creq` and the suite's
//! `.authz` signature must verify, and a changed body or secret must not.

use iamd::sigv4::{self, Received};
use std::path::{Path, PathBuf};

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn suite() -> Option<PathBuf> {
    match std::env::var_os("IAMD_SIGV4_TESTSUITE") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("IAMD_SIGV4_TESTSUITE is not set (scripts/test fetches the suite)")
        }
        None => {
            eprintln!("skipped: set IAMD_SIGV4_TESTSUITE to botocore's aws4_testsuite directory");
            None
        }
    }
}

/// Every directory holding a `.sreq`, recursively.
fn cases(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            cases(&p, out);
        } else if p.extension().is_some_and(|x| x == "req") {
            out.push(p);
        }
    }
}

struct Parsed {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A `.req`/`.sreq` file: request line, headers (continuation lines folded in), body.
fn parse(text: &str) -> Parsed {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap();
    let method = first.split(' ').next().unwrap().to_string();
    let target = first[method.len() + 1..first.len() - " HTTP/1.1".len()].to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for l in lines {
        if l.starts_with(' ') || l.starts_with('\t') {
            let last = headers.last_mut().unwrap();
            last.1.push('\n');
            last.1.push_str(l);
        } else {
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.to_string(), v.to_string()));
        }
    }
    Parsed {
        method,
        path,
        query,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn aws4_testsuite() {
    let Some(dir) = suite() else { return };
    let mut files = Vec::new();
    cases(&dir, &mut files);
    assert!(
        files.len() >= 25,
        "only {} vectors under {}",
        files.len(),
        dir.display()
    );
    let mut checked = 0;
    for req in &files {
        let name = req.file_stem().unwrap().to_string_lossy().to_string();
        // Headers as sent (the signer adds X-Amz-Security-Token), less the signature.
        let r = parse(&std::fs::read_to_string(req.with_extension("sreq")).unwrap());
        let creq = std::fs::read_to_string(req.with_extension("creq")).unwrap();
        // The `.authz` file is the suite's answer (one `.sreq` carries a stale one).
        let auth_header = std::fs::read_to_string(req.with_extension("authz")).unwrap();
        let auth_header = auth_header.trim();
        let headers: Vec<(String, String)> = r
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
            .cloned()
            .collect();
        let rx = Received {
            method: &r.method,
            path: &r.path,
            query: &r.query,
            headers: &headers,
            body: &r.body,
        };
        let auth = sigv4::parse_authorization(auth_header).unwrap();
        let ours = sigv4::canonical_request(&rx, &auth.signed_headers).unwrap();
        assert_eq!(ours, creq, "{name}: canonical request");
        let (amz, t) = sigv4::request_time(&rx).unwrap();
        sigv4::check_time(&auth, &amz, t, t + 60).unwrap();
        sigv4::verify(&rx, &auth, &amz, SECRET).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(
            sigv4::verify(&rx, &auth, &amz, b"not the secret").is_err(),
            "{name}"
        );
        let mut body = r.body.clone();
        body.push(b'x');
        let changed = Received { body: &body, ..rx };
        assert!(
            sigv4::verify(&changed, &auth, &amz, SECRET).is_err(),
            "{name}: body"
        );
        checked += 1;
    }
    eprintln!("{checked} SigV4 vectors verified");
}
