//! A JSON value that refuses duplicate object keys.
//!
//! serde_json's own `Value` keeps the last of two equal keys silently; AWS refuses such a
//! document, and so must we (two `"Effect"` keys are a classic way to hide a Deny).
//! serde_json bounds nesting depth (128) itself, so deep input is an error, not a crash.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// One parsed JSON value; objects keep their keys in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// The number as written (its text), so `1.0` and `1` both reach the operator.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses text, refusing duplicate keys and trailing garbage.
    pub(crate) fn parse(text: &str) -> Result<Json, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A short name of the value's type, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Json>()? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out: Vec<(String, Json)> = Vec::new();
        // Policy objects are small: a linear scan beats hashing until they are not.
        let mut seen: Option<std::collections::HashSet<String>> = None;
        while let Some(k) = map.next_key::<String>()? {
            let dup = match &mut seen {
                Some(set) => !set.insert(k.clone()),
                None => {
                    let dup = out.iter().any(|(x, _)| *x == k);
                    if !dup && out.len() >= 16 {
                        seen = Some(
                            out.iter()
                                .map(|(x, _)| x.clone())
                                .chain([k.clone()])
                                .collect(),
                        );
                    }
                    dup
                }
            };
            if dup {
                return Err(de::Error::custom(format_args!("duplicate key {k:?}")));
            }
            let v = map.next_value::<Json>()?;
            out.push((k, v));
        }
        Ok(Json::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused() {
        let err = Json::parse(r#"{"a":1,"b":{"c":1,"c":2}}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate key \"c\""), "{err}");
    }

    #[test]
    fn duplicate_keys_in_large_objects_are_refused() {
        let mut doc = String::from("{");
        for i in 0..40 {
            doc.push_str(&format!("\"k{i}\":1,"));
        }
        doc.push_str("\"k3\":2}");
        assert!(
            Json::parse(&doc)
                .unwrap_err()
                .to_string()
                .contains("duplicate key \"k3\"")
        );
        assert!(Json::parse(&doc.replace("\"k3\":2", "\"k99\":2")).is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(Json::parse(&deep).is_err());
    }

    #[test]
    fn values_round_trip() {
        let j = Json::parse(r#"{"n":1.5,"t":true,"s":"x","a":[null]}"#).unwrap();
        let Json::Object(kv) = j else { panic!() };
        assert_eq!(kv[0], ("n".into(), Json::Number("1.5".into())));
        assert_eq!(kv[3].1, Json::Array(vec![Json::Null]));
    }
}
