//! The AWS Query protocol's request side: a form body (and any URL query) of
//! `Action`, `Version` and the operation's members, lists as `Name.member.N…`, maps as
//! `Name.entry.N.key/value`, structures as `Name.Member`.

use pam_iam::cli::api::ArgValue;
use std::collections::BTreeMap;

/// Largest index of a list member (IAM lists are far shorter).
const MAX_MEMBERS: usize = 1000;

/// Most dot-separated parts in a member name. IAM's deepest is six
/// (`ContextEntries.member.1.ContextKeyValues.member.1`); the parse and the conversion
/// recurse once per part, so an unbounded name would overflow the stack.
const MAX_DEPTH: usize = 12;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    /// `Action`.
    pub action: String,
    /// `Version`.
    pub version: String,
    /// Top-level members, in name order.
    pub params: Vec<(String, ArgValue)>,
}

impl QueryRequest {
    /// A top-level scalar member.
    pub fn scalar(&self, name: &str) -> Option<&str> {
        self.params.iter().find_map(|(k, v)| match v {
            ArgValue::Scalar(s) if k == name => Some(s.as_str()),
            _ => None,
        })
    }

    /// Remove a top-level member, returning it.
    pub fn take(&mut self, name: &str) -> Option<ArgValue> {
        let i = self.params.iter().position(|(k, _)| k == name)?;
        Some(self.params.remove(i).1)
    }
}

/// Why a body is refused (AWS answers `MalformedQueryString`, `MissingAction`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// AWS error code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

fn malformed(message: String) -> QueryError {
    QueryError {
        code: "MalformedQueryString",
        message,
    }
}

#[derive(Debug)]
enum Node {
    Leaf(String),
    Tree(BTreeMap<String, Node>),
}

/// Parse the URL query and the form body together.
///
/// # Errors
/// [`QueryError`]: bytes that are not UTF-8 once decoded, a member given twice, a name
/// both a value and a structure, list indexes that are not 1..N, no `Action`.
pub fn parse(url_query: &str, body: &[u8]) -> Result<QueryRequest, QueryError> {
    let mut root: BTreeMap<String, Node> = BTreeMap::new();
    for raw in [url_query.as_bytes(), body] {
        for pair in raw.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let k = decode(k)?;
            let v = decode(v)?;
            if k.is_empty() {
                return Err(malformed("a member has an empty name".into()));
            }
            insert(&mut root, &k, v)?;
        }
    }
    let mut take = |name: &str| match root.remove(name) {
        Some(Node::Leaf(s)) => Ok(Some(s)),
        Some(Node::Tree(_)) => Err(malformed(format!("{name} must be a single value"))),
        None => Ok(None),
    };
    let action = take("Action")?.ok_or_else(|| QueryError {
        code: "MissingAction",
        message: "Missing Action".into(),
    })?;
    let version = take("Version")?.unwrap_or_default();
    let params = root
        .into_iter()
        .map(|(k, n)| Ok((k.clone(), convert(&k, n)?)))
        .collect::<Result<Vec<_>, QueryError>>()?;
    Ok(QueryRequest {
        action,
        version,
        params,
    })
}

/// Form decoding (`+` is a space), refusing what is not UTF-8.
fn decode(b: &[u8]) -> Result<String, QueryError> {
    let plus: Vec<u8> = b
        .iter()
        .map(|&c| if c == b'+' { b' ' } else { c })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
    String::from_utf8(bytes).map_err(|_| malformed("the request body is not UTF-8".into()))
}

fn insert(root: &mut BTreeMap<String, Node>, key: &str, value: String) -> Result<(), QueryError> {
    if key.split('.').nth(MAX_DEPTH).is_some() {
        let shown: String = key.chars().take(64).collect();
        return Err(malformed(format!(
            "member name {shown:?}… has more than {MAX_DEPTH} parts"
        )));
    }
    let mut parts = key.split('.').peekable();
    let mut map = root;
    while let Some(part) = parts.next() {
        if part.is_empty() {
            return Err(malformed(format!("malformed member name {key:?}")));
        }
        if parts.peek().is_none() {
            if map.insert(part.to_string(), Node::Leaf(value)).is_some() {
                return Err(malformed(format!("{key} is given more than once")));
            }
            return Ok(());
        }
        let node = map
            .entry(part.to_string())
            .or_insert_with(|| Node::Tree(BTreeMap::new()));
        map = match node {
            Node::Tree(m) => m,
            Node::Leaf(_) => {
                return Err(malformed(format!("{key}: {part} is also given as a value")));
            }
        };
    }
    Ok(())
}

/// The children `1..N` of a `member` / `entry` node, in order.
fn indexed(name: &str, m: BTreeMap<String, Node>) -> Result<Vec<Node>, QueryError> {
    let mut items: Vec<(usize, Node)> = m
        .into_iter()
        .map(|(k, n)| match k.parse::<usize>() {
            Ok(i) if (1..=MAX_MEMBERS).contains(&i) && !k.starts_with('0') => Ok((i, n)),
            _ => Err(malformed(format!(
                "{name}: list index {k:?} is out of range (1 to {MAX_MEMBERS})"
            ))),
        })
        .collect::<Result<_, _>>()?;
    items.sort_by_key(|(i, _)| *i);
    for (want, (i, _)) in items.iter().enumerate() {
        if *i != want + 1 {
            return Err(malformed(format!(
                "{name}: list members must be numbered 1 to N, {} is missing",
                want + 1
            )));
        }
    }
    Ok(items.into_iter().map(|(_, n)| n).collect())
}

fn convert(name: &str, n: Node) -> Result<ArgValue, QueryError> {
    match n {
        Node::Leaf(s) => Ok(ArgValue::Scalar(s)),
        Node::Tree(mut m) => {
            if m.len() == 1 && m.contains_key("member") {
                let Some(Node::Tree(items)) = m.remove("member") else {
                    return Err(malformed(format!("{name}.member needs an index")));
                };
                let list = indexed(name, items)?
                    .into_iter()
                    .map(|n| convert(name, n))
                    .collect::<Result<_, _>>()?;
                return Ok(ArgValue::List(list));
            }
            if m.len() == 1 && m.contains_key("entry") {
                let Some(Node::Tree(items)) = m.remove("entry") else {
                    return Err(malformed(format!("{name}.entry needs an index")));
                };
                let mut out = Vec::new();
                for e in indexed(name, items)? {
                    let Node::Tree(mut kv) = e else {
                        return Err(malformed(format!(
                            "{name}: a map entry needs key and value"
                        )));
                    };
                    match (kv.remove("key"), kv.remove("value")) {
                        (Some(Node::Leaf(k)), Some(v)) if kv.is_empty() => {
                            out.push((k, convert(name, v)?));
                        }
                        _ => {
                            return Err(malformed(format!(
                                "{name}: a map entry needs key and value"
                            )));
                        }
                    }
                }
                return Ok(ArgValue::Struct(out));
            }
            let members = m
                .into_iter()
                .map(|(k, n)| Ok((k.clone(), convert(&format!("{name}.{k}"), n)?)))
                .collect::<Result<_, QueryError>>()?;
            Ok(ArgValue::Struct(members))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> ArgValue {
        ArgValue::Scalar(v.into())
    }

    #[test]
    fn members_lists_maps() {
        let q = parse(
            "",
            b"Action=TagUser&Version=2010-05-08&UserName=bob&Tags.member.2.Key=c&Tags.member.2.Value=d&Tags.member.1.Key=a&Tags.member.1.Value=b+c%2Fd&Keys.member.1=x",
        )
        .unwrap();
        assert_eq!(q.action, "TagUser");
        assert_eq!(q.version, "2010-05-08");
        assert_eq!(q.scalar("UserName"), Some("bob"));
        let tags = &q.params.iter().find(|(k, _)| k == "Tags").unwrap().1;
        assert_eq!(
            tags,
            &ArgValue::List(vec![
                ArgValue::Struct(vec![("Key".into(), s("a")), ("Value".into(), s("b c/d"))]),
                ArgValue::Struct(vec![("Key".into(), s("c")), ("Value".into(), s("d"))]),
            ])
        );
        let m = parse("", b"Action=X&Attr.entry.1.key=k&Attr.entry.1.value=v").unwrap();
        assert_eq!(m.params[0].1, ArgValue::Struct(vec![("k".into(), s("v"))]));
        let e = parse("", b"Action=X&Names=").unwrap();
        assert_eq!(e.params[0].1, s(""));
    }

    #[test]
    fn deep_names_are_refused_not_recursed() {
        let mut body = b"Action=X&A".to_vec();
        body.extend(b".a".repeat(200_000));
        body.extend(b"=1");
        let e = parse("", &body).unwrap_err();
        assert_eq!(e.code, "MalformedQueryString");
        assert!(e.message.contains("more than 12 parts"), "{}", e.message);
        let ok = parse("", b"Action=X&C.member.1.K.member.1.V.a.b.c.d.e=1").unwrap();
        assert_eq!(ok.params.len(), 1);
    }

    #[test]
    fn refusals() {
        assert_eq!(parse("", b"Version=1").unwrap_err().code, "MissingAction");
        for bad in [
            &b"Action=X&UserName=a&UserName=b"[..],
            b"Action=X&T.member.1=a&T.member.3=b",
            b"Action=X&T.member.0=a",
            b"Action=X&T.member.1001=a",
            b"Action=X&T=a&T.member.1=b",
            b"Action=X&T..a=b",
            b"Action=X&U=%FF",
            b"Action=X&Action.x=1",
            b"Action=X&A.b.c.d.e.f.g.h.i.j.k.l.m=1",
        ] {
            let e = parse("", bad).unwrap_err();
            assert_eq!(
                e.code,
                "MalformedQueryString",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
