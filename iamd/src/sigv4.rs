//! SigV4 verification (header form): the canonical request rebuilt from the request as
//! received, the credential scope, the clock-skew window and a constant-time compare.
//! Canonicalisation follows AWS's specification as botocore implements it (dot segments
//! removed and each path segment encoded again; the body hashed by the server when no
//! `X-Amz-Content-SHA256` header is sent, which is how the AWS CLI signs over HTTP).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Real IAM and STS refuse requests signed more than five minutes away from their clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a request's signature is refused, as AWS names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigError {
    /// No `Authorization` header.
    Missing,
    /// The header is malformed or lacks a part (`IncompleteSignature`).
    Incomplete(String),
    /// The signature, scope or time is wrong (`SignatureDoesNotMatch`).
    Mismatch(String),
    /// The access key is unknown, inactive or unusable (`InvalidClientTokenId`).
    UnknownKey,
}

impl SigError {
    /// AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            SigError::Missing => "MissingAuthenticationToken",
            SigError::Incomplete(_) => "IncompleteSignature",
            SigError::Mismatch(_) => "SignatureDoesNotMatch",
            SigError::UnknownKey => "InvalidClientTokenId",
        }
    }

    /// AWS's message.
    pub fn message(&self) -> String {
        match self {
            SigError::Missing => "Request is missing Authentication Token".into(),
            SigError::Incomplete(m) | SigError::Mismatch(m) => m.clone(),
            SigError::UnknownKey => "The security token included in the request is invalid.".into(),
        }
    }

    /// HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            SigError::Incomplete(_) => 400,
            _ => 403,
        }
    }
}

/// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `AKIA…` / `ASIA…`.
    pub access_key: String,
    /// Scope date `YYYYMMDD`.
    pub date: String,
    /// Scope region (any is accepted).
    pub region: String,
    /// Scope service (`iam`, `sts`).
    pub service: String,
    /// Lower-case names, in the order signed.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

impl Authorization {
    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Parse the `Authorization` header.
///
/// # Errors
/// [`SigError::Incomplete`] naming the missing or malformed part.
pub fn parse_authorization(h: &str) -> Result<Authorization, SigError> {
    let rest = h.strip_prefix("AWS4-HMAC-SHA256").ok_or_else(|| {
        SigError::Incomplete(format!(
            "Unsupported authorization type: {}",
            h.split_whitespace().next().unwrap_or("")
        ))
    })?;
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        match part.split_once('=') {
            Some(("Credential", v)) => cred = Some(v.trim()),
            Some(("SignedHeaders", v)) => signed = Some(v.trim()),
            Some(("Signature", v)) => sig = Some(v.trim()),
            _ => {
                return Err(SigError::Incomplete(format!(
                    "Authorization header requires each component to be of the form key=value, got '{part}'."
                )));
            }
        }
    }
    let need = |name: &str| {
        SigError::Incomplete(format!(
            "Authorization header requires '{name}' parameter. Authorization={h}"
        ))
    };
    let cred = cred.ok_or_else(|| need("Credential"))?;
    let signed = signed.ok_or_else(|| need("SignedHeaders"))?;
    let sig = sig.ok_or_else(|| need("Signature"))?;
    let parts: Vec<&str> = cred.split('/').collect();
    let [key, date, region, service, term] = parts[..] else {
        return Err(SigError::Incomplete(format!(
            "Credential should have 5 parts: ACCESS_KEY/DATE/REGION/SERVICE/aws4_request, got '{cred}'."
        )));
    };
    if term != "aws4_request" {
        return Err(SigError::Mismatch(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{term}'."
        )));
    }
    if key.is_empty()
        || date.len() != 8
        || !date.bytes().all(|b| b.is_ascii_digit())
        || region.is_empty()
    {
        return Err(SigError::Incomplete(format!(
            "Credential is malformed: '{cred}'."
        )));
    }
    if sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SigError::Incomplete(
            "Signature must be 64 hexadecimal characters.".into(),
        ));
    }
    let signed_headers: Vec<String> = signed.split(';').map(str::to_ascii_lowercase).collect();
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(SigError::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    Ok(Authorization {
        access_key: key.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: sig.to_ascii_lowercase(),
    })
}

/// A request as received, for the canonical request.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    /// `POST`, `GET`, …
    pub method: &'a str,
    /// The raw (still percent-encoded) path.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// Headers, names in any case, in the order received.
    pub headers: &'a [(String, String)],
    /// The body bytes.
    pub body: &'a [u8],
}

impl Received<'_> {
    /// Values of header `name` (case-insensitive).
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).first().copied()
    }
}

/// AWS's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX` (and `/` kept when
/// `keep_slash`).
pub fn uri_encode(s: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` decoding (a malformed escape stays as it is).
fn percent_decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

/// RFC 3986 dot-segment removal, consecutive slashes merged (botocore's
/// `remove_dot_segments`).
fn remove_dot_segments(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let first = if path.starts_with('/') { "/" } else { "" };
    let last = if path.ends_with('/') && !out.is_empty() {
        "/"
    } else {
        ""
    };
    format!("{first}{}{last}", out.join("/"))
}

/// The canonical query string: pairs decoded, encoded again, sorted.
fn canonical_query(q: &str) -> String {
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request for the signed headers of `auth`.
///
/// # Errors
/// [`SigError::Mismatch`] when a signed header is absent.
pub fn canonical_request(r: &Received<'_>, signed_headers: &[String]) -> Result<String, SigError> {
    let mut out = String::with_capacity(256 + r.body.len().min(64));
    out.push_str(r.method);
    out.push('\n');
    out.push_str(&uri_encode(remove_dot_segments(r.path).as_bytes(), true));
    out.push('\n');
    out.push_str(&canonical_query(r.query));
    out.push('\n');
    for name in signed_headers {
        let values = r.header_values(name);
        if values.is_empty() {
            return Err(SigError::Mismatch(format!(
                "The request signature we calculated does not match the signature you provided: signed header '{name}' is not in the request."
            )));
        }
        let joined = values
            .iter()
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(",");
        out.push_str(name);
        out.push(':');
        out.push_str(&joined);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    match r.header("x-amz-content-sha256") {
        Some(h) => out.push_str(h.trim()),
        None => out.push_str(&hex(&Sha256::digest(r.body))),
    }
    Ok(out)
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The signing key: `"AWS4"+secret` → date → region → service → `aws4_request`.
pub fn signing_key(
    secret: &[u8],
    date: &str,
    region: &str,
    service: &str,
) -> zeroize::Zeroizing<[u8; 32]> {
    let mut k = zeroize::Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    k.extend_from_slice(b"AWS4");
    k.extend_from_slice(secret);
    let k = hmac(&k, date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    zeroize::Zeroizing::new(hmac(&k, b"aws4_request"))
}

/// `AWS4-HMAC-SHA256\n<time>\n<scope>\n<hex sha256 of the canonical request>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    )
}

/// The request time (`X-Amz-Date`, `YYYYMMDDTHHMMSSZ`) as given and as unix seconds.
///
/// # Errors
/// [`SigError::Incomplete`] when absent or malformed.
pub fn request_time(r: &Received<'_>) -> Result<(String, i64), SigError> {
    let v = r.header("x-amz-date").ok_or_else(|| {
        SigError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        )
    })?;
    let t = parse_amz_date(v.trim()).ok_or_else(|| {
        SigError::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{v}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))
    })?;
    Ok((v.trim().to_string(), t))
}

/// `YYYYMMDDTHHMMSSZ` as unix seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

/// `YYYYMMDDTHHMMSSZ` of unix seconds.
pub fn amz_date(t: i64) -> String {
    let iso = pam_iam::time::iso8601(t);
    iso.replace(['-', ':'], "")
}

/// The time checks AWS makes: the scope's date is the request's, and the request was
/// signed within [`MAX_SKEW_SECS`] of `now`.
///
/// # Errors
/// [`SigError::Mismatch`] with AWS's message.
pub fn check_time(auth: &Authorization, amz: &str, t: i64, now: i64) -> Result<(), SigError> {
    if !amz.starts_with(&auth.date) {
        return Err(SigError::Mismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz}'.",
            auth.date,
            &amz[..8]
        )));
    }
    if t < now - MAX_SKEW_SECS {
        return Err(SigError::Mismatch(format!(
            "Signature expired: {amz} is now earlier than {} ({} - 5 min.)",
            amz_date(now - MAX_SKEW_SECS),
            amz_date(now)
        )));
    }
    if t > now + MAX_SKEW_SECS {
        return Err(SigError::Mismatch(format!(
            "Signature not yet current: {amz} is still later than {} ({} + 5 min.)",
            amz_date(now + MAX_SKEW_SECS),
            amz_date(now)
        )));
    }
    Ok(())
}

/// The signature `secret` gives the request.
///
/// # Errors
/// As [`canonical_request`].
pub fn expected_signature(
    r: &Received<'_>,
    auth: &Authorization,
    amz: &str,
    secret: &[u8],
) -> Result<String, SigError> {
    let canonical = canonical_request(r, &auth.signed_headers)?;
    let sts = string_to_sign(amz, &auth.scope(), &canonical);
    let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
    Ok(hex(&hmac(key.as_ref(), sts.as_bytes())))
}

/// Verify the signature with the key's secret, in constant time.
///
/// # Errors
/// [`SigError::Mismatch`] with AWS's message.
pub fn verify(
    r: &Received<'_>,
    auth: &Authorization,
    amz: &str,
    secret: &[u8],
) -> Result<(), SigError> {
    let want = expected_signature(r, auth, amz, secret)?;
    if bool::from(want.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(())
    } else {
        Err(SigError::Mismatch(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(parse_amz_date("2015-08-30T12:36:00Z"), None);
        assert_eq!(parse_amz_date("20151330T123600Z"), None);
    }

    #[test]
    fn dot_segments() {
        assert_eq!(remove_dot_segments("/"), "/");
        assert_eq!(remove_dot_segments(""), "/");
        assert_eq!(remove_dot_segments("/a/./b/../c/"), "/a/c/");
        assert_eq!(remove_dot_segments("//a//b"), "/a/b");
    }

    #[test]
    fn authorization_header() {
        let a = parse_authorization("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7").unwrap();
        assert_eq!(a.access_key, "AKIDEXAMPLE");
        assert_eq!(a.scope(), "20150830/us-east-1/iam/aws4_request");
        assert_eq!(a.signed_headers, ["content-type", "host", "x-amz-date"]);
        assert!(matches!(
            parse_authorization("Basic x"),
            Err(SigError::Incomplete(_))
        ));
        assert!(matches!(
            parse_authorization(
                "AWS4-HMAC-SHA256 Credential=A/20150830/r/iam/aws4_request, SignedHeaders=x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
            ),
            Err(SigError::Incomplete(_))
        ));
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=A/2015/r/iam/aws4_request, SignedHeaders=host, Signature=ab").is_err());
    }

    #[test]
    fn skew_window() {
        let a = parse_authorization("AWS4-HMAC-SHA256 Credential=A/20150830/r/iam/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7").unwrap();
        let t = 1_440_938_160;
        assert!(check_time(&a, "20150830T123600Z", t, t + 300).is_ok());
        assert!(check_time(&a, "20150830T123600Z", t, t - 300).is_ok());
        let e = check_time(&a, "20150830T123600Z", t, t + 301).unwrap_err();
        assert!(
            e.message()
                .starts_with("Signature expired: 20150830T123600Z is now earlier than"),
            "{}",
            e.message()
        );
        assert!(check_time(&a, "20150830T123600Z", t, t - 301).is_err());
        assert!(
            check_time(&a, "20150831T003600Z", t + 43_200, t + 43_200).is_err(),
            "scope date"
        );
    }
}
