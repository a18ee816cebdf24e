//! The functions the iamd fuzz drivers call (cargo-fuzz's `fuzz_targets/iamd_query.rs`
//! and `iamd_sigv4.rs`, and the stable smoke test `iamd/tests/wire_fuzz_smoke.rs`): the
//! Query parser and the SigV4 canonicaliser and verifier on hostile input. Neither may
//! panic, and every refusal must be one of the documented error codes.
#![allow(dead_code)]

use iamd::query;
use iamd::sigv4::{self, Received, SigError};

/// The codes `query::parse` documents.
pub const QUERY_CODES: &[&str] = &["MalformedQueryString", "MissingAction"];

/// Input: `URL-QUERY \0 FORM-BODY` (no `\0`: all body). Answers `"ok"` or the code.
pub fn query(data: &[u8]) -> &'static str {
    let (url, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let url = String::from_utf8_lossy(url);
    match query::parse(&url, body) {
        Ok(q) => {
            // Members come out once each, never Action or Version among them.
            let mut names: Vec<&str> = q.params.iter().map(|(k, _)| k.as_str()).collect();
            let n = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), n, "a member given twice was accepted");
            assert!(!names.contains(&"Action") && !names.contains(&"Version"));
            let _ = q.scalar("UserName");
            "ok"
        }
        Err(e) => {
            assert!(
                QUERY_CODES.contains(&e.code),
                "undocumented code {}",
                e.code
            );
            assert!(!e.message.is_empty());
            e.code
        }
    }
}

/// The secret every fuzzed request is checked against.
const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// Input: `METHOD\nPATH\nQUERY\n` then `name:value` header lines, then `\0` and the
/// body. An `Authorization` header is parsed; the canonical request, string
/// to sign and signature are made from whatever it names, and the request verified.
/// Answers `"verified"`, `"unsigned"` or the refusal's code.
pub fn sigv4(data: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once('\0').unwrap_or((&text, ""));
    let mut lines = head.split('\n');
    let method = lines.next().unwrap_or("POST");
    let path = lines.next().unwrap_or("/");
    let query = lines.next().unwrap_or("");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let r = Received {
        method,
        path,
        query,
        headers: &headers,
        body: body.as_bytes(),
    };
    // The canonical forms never panic and are plain ASCII where AWS says so.
    let enc = sigv4::uri_encode(path.as_bytes(), true);
    assert!(
        enc.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~/%".contains(&b))
    );
    let _ = sigv4::parse_amz_date(query);
    let auth = match r.header("authorization").map(sigv4::parse_authorization) {
        None => return "unsigned",
        Some(Err(e)) => return check_sig_error(&e),
        Some(Ok(a)) => a,
    };
    assert_eq!(auth.signature.len(), 64);
    assert!(auth.signed_headers.iter().any(|h| h == "host"));
    match sigv4::canonical_request(&r, &auth.signed_headers) {
        Ok(c) => {
            let sts = sigv4::string_to_sign("20150830T123600Z", &auth.scope(), &c);
            assert!(sts.starts_with("AWS4-HMAC-SHA256\n"));
        }
        Err(e) => return check_sig_error(&e),
    }
    match sigv4::request_time(&r) {
        Ok((amz, t)) => {
            if let Err(e) = sigv4::check_time(&auth, &amz, t, t) {
                check_sig_error(&e);
            }
            match sigv4::verify(&r, &auth, &amz, SECRET) {
                Ok(()) => {
                    // Only the right signature verifies: recompute it.
                    let want = sigv4::expected_signature(&r, &auth, &amz, SECRET).unwrap();
                    assert_eq!(want, auth.signature);
                    "verified"
                }
                Err(e) => check_sig_error(&e),
            }
        }
        Err(e) => check_sig_error(&e),
    }
}

fn check_sig_error(e: &SigError) -> &'static str {
    assert!(matches!(
        e.code(),
        "MissingAuthenticationToken"
            | "IncompleteSignature"
            | "SignatureDoesNotMatch"
            | "InvalidClientTokenId"
    ));
    assert!(matches!(e.status(), 400 | 403));
    assert!(
        !e.message().is_empty() || matches!(e, SigError::Incomplete(_) | SigError::Mismatch(_))
    );
    e.code()
}
