//! The request context: condition keys and their values.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A small multiplicative hasher (FxHash's constant): context keys are short, few, and
/// chosen by the host and the administrator, so SipHash's flooding resistance buys
/// nothing here and costs a third of a decision.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Condition keys of one request (`aws:username`, `aws:SourceIp`, ...).
///
/// Exists because AWS compares key names case-insensitively: keys are stored folded, so
/// a policy saying `AWS:UserName` finds the value the authz layer put under
/// `aws:username`. Values are kept as strings (as AWS's request context does); each
/// operator parses them in its own type, and a value that does not parse never matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: HashMap<String, Vec<String>, BuildHasherDefault<KeyHasher>>,
}

impl Context {
    /// An empty context (no keys: conditions on any key see it as missing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a single-valued key, replacing any earlier value.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.entries.insert(key.to_lowercase(), vec![value.into()]);
    }

    /// Sets a multi-valued key (for `ForAnyValue:` / `ForAllValues:`), replacing any
    /// earlier value. An empty list is kept: AWS treats it like a missing key for
    /// `ForAnyValue`/`ForAllValues` and `Null`.
    pub fn insert_values(&mut self, key: &str, values: Vec<String>) {
        self.entries.insert(key.to_lowercase(), values);
    }

    /// Builder form of [`Context::insert`], handy in tests and benches.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Removes a key; returns whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        self.entries.remove(&key.to_lowercase()).is_some()
    }

    /// The values of a key, looked up case-insensitively.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entries.get(&key.to_lowercase()).map(Vec::as_slice)
    }

    /// Number of keys present.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is present.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lookup with a key that is already folded to lower case (compiled policies fold
    /// their keys once), so evaluation does not allocate.
    pub(crate) fn get_folded(&self, folded_key: &str) -> Option<&[String]> {
        self.entries.get(folded_key).map(Vec::as_slice)
    }

    /// The single value of a key, as a policy variable needs it: a missing key or a
    /// multi-valued key does not resolve.
    pub(crate) fn single_folded(&self, folded_key: &str) -> Option<&str> {
        match self.entries.get(folded_key).map(Vec::as_slice) {
            Some([one]) => Some(one.as_str()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let c = Context::new().with("aws:UserName", "alice");
        assert_eq!(c.get("AWS:USERNAME"), Some(&["alice".to_string()][..]));
        assert_eq!(c.single_folded("aws:username"), Some("alice"));
        assert!(c.get("aws:userid").is_none());
    }

    #[test]
    fn multi_valued_key_does_not_resolve_as_variable() {
        let mut c = Context::new();
        c.insert_values("aws:TagKeys", vec!["a".into(), "b".into()]);
        assert_eq!(c.single_folded("aws:tagkeys"), None);
        assert_eq!(c.get("aws:tagkeys").map(<[String]>::len), Some(2));
    }
}
