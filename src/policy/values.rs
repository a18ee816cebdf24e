//! Typed values for condition operators: numbers, dates (ISO 8601 and epoch), booleans,
//! base64 binaries and IP CIDR blocks. Parsed once for policy values, per request for
//! context values; anything that does not parse is `None` (never a panic).

use std::net::{IpAddr, Ipv4Addr};

/// A number as AWS's Numeric operators read it (integers and decimals).
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if !ok {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `true`/`false`, case-insensitive.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let s = self.b.get(self.i..self.i + n)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(s.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

/// A date as milliseconds since the Unix epoch: ISO 8601 (`2020-01-01`,
/// `2020-01-01T12:00:00Z`, fractions, `+02:00` offsets, basic `20200101T120000Z`) or epoch
/// seconds (`1577836800`).
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let digits_only = s.strip_prefix('-').unwrap_or(s);
    if !digits_only.is_empty() && digits_only.bytes().all(|b| b.is_ascii_digit()) && s.len() != 8 {
        let secs: i64 = s.parse().ok()?;
        return secs.checked_mul(1000);
    }
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let y = c.digits(4)?;
    let ext = c.eat(b'-');
    let m = c.digits(2)?;
    if ext && !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    if c.done() {
        return Some(ms);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hh = c.digits(2)?;
    if ext && !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    let mut ss = 0;
    if (ext && c.eat(b':')) || (!ext && c.peek().is_some_and(|b| b.is_ascii_digit())) {
        ss = c.digits(2)?;
    }
    if hh > 24 || mi > 59 || ss > 60 || (hh == 24 && (mi != 0 || ss != 0)) {
        return None;
    }
    let mut frac_ms = 0i64;
    if c.eat(b'.') || c.eat(b',') {
        let mut scale = 100;
        let mut any = false;
        while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
            frac_ms += i64::from(b - b'0') * scale;
            scale /= 10;
            c.i += 1;
            any = true;
        }
        if !any {
            return None;
        }
    }
    ms += ((hh * 60 + mi) * 60 + ss) * 1000 + frac_ms;
    if c.done() {
        return Some(ms);
    }
    if c.eat(b'Z') || c.eat(b'z') {
        return c.done().then_some(ms);
    }
    let sign = if c.eat(b'+') {
        1
    } else if c.eat(b'-') {
        -1
    } else {
        return None;
    };
    let oh = c.digits(2)?;
    c.eat(b':');
    let om = if c.done() { 0 } else { c.digits(2)? };
    if !c.done() || oh > 23 || om > 59 {
        return None;
    }
    Some(ms - sign * (oh * 60 + om) * 60_000)
}

/// An IP network as the IpAddress operators read it; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

fn mask_bits(v: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = u32::from(width - prefix);
    let full = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    (full >> shift << shift) & v
}

fn bits(a: IpAddr) -> (u128, u8) {
    match a {
        IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok()?
            }
            Some(_) => return None,
            None => width,
        };
        (prefix <= width).then_some(Cidr { addr, prefix })
    }

    /// Whether the address (a context value, with or without a `/len`) lies inside.
    pub(crate) fn contains_str(&self, s: &str) -> bool {
        let s = s.trim();
        let a = match s.as_bytes().iter().position(|&b| b == b'/') {
            Some(i) => &s[..i],
            None => s,
        };
        let parsed = match plain_ipv4(a.as_bytes()) {
            Some(v4) => Some(IpAddr::V4(v4)),
            None => a.parse::<IpAddr>().ok(),
        };
        let Some(ip) = parsed else {
            return false;
        };
        let ip = match ip {
            IpAddr::V6(v6) if self.addr.is_ipv4() => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            other => other,
        };
        let (net, width) = bits(self.addr);
        let (cand, cwidth) = bits(ip);
        width == cwidth && mask_bits(net, width, self.prefix) == mask_bits(cand, width, self.prefix)
    }
}

/// The common case of an address in a request, `a.b.c.d` with each part 0–255 written
/// without leading zeros, parsed without the general parser (once per IpAddress
/// condition per decision). Anything else is `None` and goes to `IpAddr`'s parser,
/// which accepts every string accepted here with the same value.
fn plain_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut parts = [0u8; 4];
    let mut n = 0;
    let mut i = 0;
    loop {
        let start = i;
        let mut v: u32 = 0;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            v = v * 10 + u32::from(d - b'0');
            i += 1;
            if i - start > 3 {
                return None;
            }
        }
        let len = i - start;
        if len == 0 || (len > 1 && b[start] == b'0') || n == 4 {
            return None;
        }
        parts[n] = u8::try_from(v).ok()?;
        n += 1;
        match b.get(i) {
            None if n == 4 => return Some(Ipv4Addr::from(parts)),
            Some(b'.') if n < 4 => i += 1,
            _ => return None,
        }
    }
}

/// Standard base64 (with or without padding) to bytes.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut n = 0;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
            acc &= (1 << n) - 1;
        }
    }
    if n >= 6 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let cases: [(&str, Option<i64>); 12] = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2020-01-01", Some(1_577_836_800_000)),
            ("2020-01-01T00:00:00Z", Some(1_577_836_800_000)),
            ("2020-01-01T01:00:00+01:00", Some(1_577_836_800_000)),
            ("2020-01-01T00:00:00.5Z", Some(1_577_836_800_500)),
            ("20200101T000000Z", Some(1_577_836_800_000)),
            ("1577836800", Some(1_577_836_800_000)),
            ("2019-02-29", None),
            ("2020-13-01", None),
            ("2020-01-01T25:00:00Z", None),
            ("yesterday", None),
            ("2020-01-01T00:00:00Zjunk", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_date(s), want, "{s}");
        }
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains_str("203.0.113.7"));
        assert!(!c.contains_str("203.0.114.7"));
        assert!(c.contains_str("::ffff:203.0.113.9"));
        let v6 = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(v6.contains_str("2001:db8:1234:5678::1"));
        assert!(!v6.contains_str("2001:db8:1234:5679::1"));
        assert!(!v6.contains_str("203.0.113.7"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains_str("8.8.8.8"));
        assert!(Cidr::parse("10.0.0.1").unwrap().contains_str("10.0.0.1"));
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "x",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "::/129",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn plain_ipv4_agrees_with_the_general_parser() {
        let cases = [
            "10.3.4.5",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..3.4",
            "1.2.3.4 ",
            "",
            ".1.2.3",
            "1.2.3.",
            "1.2.3.0004",
            "1.2.3.100",
            "999.1.1.1",
            "1.2.3.-4",
            "a.b.c.d",
            "::1",
            "1.2.3.4x",
        ];
        for c in cases {
            if let Some(fast) = plain_ipv4(c.as_bytes()) {
                assert_eq!(Some(fast), c.parse::<Ipv4Addr>().ok(), "{c:?}");
            }
        }
        assert!(plain_ipv4(b"10.3.4.5").is_some() && plain_ipv4(b"0.0.0.0").is_some());
        for refused in ["01.2.3.4", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1.2.3.4 "] {
            assert!(plain_ipv4(refused.as_bytes()).is_none(), "{refused}");
        }
    }

    #[test]
    fn base64_and_numbers() {
        assert_eq!(decode_base64("QmluYXJ5VmFsdWU=").unwrap(), b"BinaryValue");
        assert_eq!(decode_base64("QmluYXJ5VmFsdWU").unwrap(), b"BinaryValue");
        assert!(decode_base64("not base64!").is_none());
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        assert_eq!(parse_number("ten"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }
}
