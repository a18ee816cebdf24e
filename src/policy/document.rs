//! A policy document: parsed, validated and compiled in one step by [`Policy::parse`].

use super::condition::Condition;
use super::pattern::Glob;
use std::fmt;

/// Which kind of policy a document is; it picks the size limit and whether a
/// `Principal` is required (trust) or forbidden (everything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A customer managed policy (`create-policy`), 6,144 characters.
    Managed,
    /// A user inline policy (`put-user-policy`), 2,048 characters.
    UserInline,
    /// A group inline policy (`put-group-policy`), 5,120 characters.
    GroupInline,
    /// A role inline policy (`put-role-policy`), 10,240 characters.
    RoleInline,
    /// A role trust policy (`create-role --assume-role-policy-document`), 2,048 characters.
    Trust,
    /// A permissions boundary (a managed policy), 6,144 characters.
    Boundary,
    /// A session policy passed to `assume-role --policy`, 2,048 characters.
    Session,
}

impl PolicyKind {
    /// AWS's size quota for the kind, in non-whitespace characters.
    pub fn size_limit(self) -> usize {
        match self {
            PolicyKind::Managed | PolicyKind::Boundary => 6144,
            PolicyKind::UserInline | PolicyKind::Trust | PolicyKind::Session => 2048,
            PolicyKind::GroupInline => 5120,
            PolicyKind::RoleInline => 10240,
        }
    }

    fn size_error(self) -> String {
        let n = self.size_limit();
        match self {
            PolicyKind::Managed | PolicyKind::Boundary => {
                format!("Cannot exceed quota for PolicySize: {n}")
            }
            PolicyKind::Trust => format!("Cannot exceed quota for ACLSizePerRole: {n}"),
            PolicyKind::Session => {
                format!(
                    "Packed policy consumes more than {n} characters of the session policy quota"
                )
            }
            PolicyKind::UserInline => format!("Maximum policy size of {n} bytes exceeded for user"),
            PolicyKind::GroupInline => {
                format!("Maximum policy size of {n} bytes exceeded for group")
            }
            PolicyKind::RoleInline => format!("Maximum policy size of {n} bytes exceeded for role"),
        }
    }

    /// Trust policies name who may assume the role; no other kind may.
    pub fn is_trust(self) -> bool {
        self == PolicyKind::Trust
    }
}

/// The policy language version; policy variables exist only in 2012-10-17.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2012-10-17`, the current language.
    V2012_10_17,
    /// `2008-10-17` (also the meaning of a missing Version): `${...}` is literal text.
    V2008_10_17,
}

/// The AWS error code a refusal carries, so the CLI can print it as AWS does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The document is not a valid policy.
    MalformedPolicyDocument,
    /// The document is over the size quota of its kind.
    LimitExceeded,
}

impl ErrorCode {
    /// The code as AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedPolicyDocument => "MalformedPolicyDocument",
            ErrorCode::LimitExceeded => "LimitExceeded",
        }
    }
}

/// Why a document was refused: the AWS code (`MalformedPolicyDocument` or
/// `LimitExceeded`, never AWS's `ValidationError`, which is `sts::model`'s) and message,
/// and where (statement index from 0, its Sid, the field), so the administrator can find
/// the line to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// `MalformedPolicyDocument` or `LimitExceeded`.
    pub code: ErrorCode,
    /// AWS's wording, then what exactly is wrong.
    pub message: String,
    /// Index of the statement in `Statement` (0-based), when the error is inside one.
    pub statement: Option<usize>,
    /// The statement's Sid, when it has one.
    pub sid: Option<String>,
    /// The element at fault (`Action`, `Condition.IpAddress.aws:SourceIp`, ...).
    pub field: Option<String>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let mut parts = Vec::new();
        if let Some(i) = self.statement {
            parts.push(format!("Statement[{i}]"));
        }
        if let Some(s) = &self.sid {
            parts.push(format!("Sid {s:?}"));
        }
        if let Some(fl) = &self.field {
            parts.push(format!("field {fl}"));
        }
        if !parts.is_empty() {
            write!(f, " (at {})", parts.join(", "))?;
        }
        Ok(())
    }
}

impl PolicyError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        PolicyError {
            code: ErrorCode::MalformedPolicyDocument,
            message: message.into(),
            statement: None,
            sid: None,
            field: None,
        }
    }

    pub(crate) fn at(mut self, statement: Option<usize>, sid: Option<&str>, field: &str) -> Self {
        self.statement = statement;
        self.sid = sid.map(str::to_owned);
        self.field = Some(field.to_owned());
        self
    }
}

/// Allow or Deny: what a statement says (reported with each matched statement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementEffect {
    /// `"Effect": "Allow"`.
    Allow,
    /// `"Effect": "Deny"`.
    Deny,
}

/// An action pattern, folded to lower case, with its literal service prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActionPat {
    pub(crate) glob: Glob,
    /// Lower-cased service prefix when the pattern names one without wildcards.
    pub(crate) service: Option<Box<str>>,
}

/// `Action` or `NotAction` (validation requires one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActionSpec {
    Action(Vec<ActionPat>),
    NotAction(Vec<ActionPat>),
}

/// `Resource`, `NotResource`, or neither (trust policies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResourceSpec {
    Resource(Vec<Glob>),
    NotResource(Vec<Glob>),
    Absent,
}

/// One principal entry in a trust policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalId {
    /// `"*"` or `{"AWS": "*"}`: anyone.
    Any,
    /// `123456789012` or `arn:aws:iam::123456789012:root`: any principal of the account.
    Account(Box<str>),
    /// A user, role or session ARN, a service name, a federated provider...
    Exact(Box<str>),
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrincipalSpec {
    pub(crate) negated: bool,
    pub(crate) ids: Vec<PrincipalId>,
}

/// A compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) sid: Option<Box<str>>,
    pub(crate) effect: StatementEffect,
    pub(crate) actions: ActionSpec,
    pub(crate) resources: ResourceSpec,
    pub(crate) principal: Option<PrincipalSpec>,
    pub(crate) conditions: Vec<Condition>,
}

/// Statement indexes by action service prefix, so a request for `host:Login` only looks
/// at statements that can match a `host:` action.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ServiceIndex {
    /// Statements that can match any service (`*`, `NotAction`, wildcard services).
    pub(crate) any: Vec<u32>,
    /// One entry per service (lower case), sorted by [`service_hash`] then name, each
    /// with its statements in document order: a lookup compares integers, and names
    /// only on a hash hit.
    pub(crate) by_service: Vec<ServiceEntry>,
    /// One bit per service hash (see [`ServiceIndex::bit`]): a policy whose mask lacks
    /// the request's bit and has no `any` statement is skipped without a search, which
    /// keeps a decision over 1,000 policies cheap.
    pub(crate) mask: u64,
}

/// The statements of one service in a [`ServiceIndex`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceEntry {
    pub(crate) hash: u64,
    pub(crate) name: Box<str>,
    pub(crate) statements: Vec<Indexed>,
}

/// A statement under one service of the index, with its action patterns of that
/// service compiled for the action name alone (`host:Log*` becomes `log*`): a request
/// found under the service starts with `service:`, so only the rest needs matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Indexed {
    pub(crate) statement: u32,
    pub(crate) names: Box<[Glob]>,
}

/// Byte equality for the short strings of the hot path (service and action names),
/// without a call into the C library's `bcmp`.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// FNV-1a of a service name, ASCII case folded.
pub(crate) fn service_hash(service: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in service {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl ServiceIndex {
    /// The bit of a [`service_hash`] in [`ServiceIndex::mask`].
    pub(crate) fn bit(hash: u64) -> u64 {
        1u64 << (hash % 64)
    }

    pub(crate) fn build(statements: &[Statement]) -> Self {
        let mut idx = ServiceIndex::default();
        for (i, st) in statements.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            // NotAction, and actions with a wildcard service, can match any service.
            let pats = match &st.actions {
                ActionSpec::Action(pats) if pats.iter().all(|p| p.service.is_some()) => pats,
                _ => {
                    idx.any.push(i);
                    continue;
                }
            };
            // Each service once, with the name patterns of its actions.
            let mut per_service: Vec<(String, Vec<Glob>)> = Vec::new();
            let mut whole = false;
            for (p, s) in pats.iter().filter_map(|p| Some((p, p.service.as_deref()?))) {
                // Action services are folded at compile time (ASCII); fold again so the
                // index never depends on it.
                let name = s.to_ascii_lowercase();
                let Some(g) = p.glob.after_literal_prefix(name.len() + 1) else {
                    // Not expected (a pattern starts with its literal service); such a
                    // statement is matched in full like one with a wildcard service.
                    whole = true;
                    break;
                };
                match per_service.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, globs)) => globs.push(g),
                    None => per_service.push((name, vec![g])),
                }
            }
            if whole {
                idx.any.push(i);
                continue;
            }
            for (name, globs) in per_service {
                let hash = service_hash(name.as_bytes());
                idx.mask |= Self::bit(hash);
                let entry = Indexed {
                    statement: i,
                    names: globs.into(),
                };
                let key = (hash, name.as_str());
                match idx
                    .by_service
                    .binary_search_by(|e| (e.hash, &*e.name).cmp(&key))
                {
                    Ok(pos) => idx.by_service[pos].statements.push(entry),
                    Err(pos) => idx.by_service.insert(
                        pos,
                        ServiceEntry {
                            hash,
                            name: name.into(),
                            statements: vec![entry],
                        },
                    ),
                }
            }
        }
        idx
    }

    /// Whether any statement can match an action of the service with this
    /// [`ServiceIndex::bit`]: false skips the policy with one AND.
    #[inline]
    pub(crate) fn may_match(&self, bit: u64) -> bool {
        self.mask & bit != 0 || !self.any.is_empty()
    }

    /// Statements for a service (ASCII lower case, with its [`service_hash`]), in
    /// document order within each of the two lists.
    #[inline]
    pub(crate) fn candidates(&self, folded_service: &[u8], hash: u64) -> (&[u32], &[Indexed]) {
        if self.mask & Self::bit(hash) == 0 {
            return (&self.any, &[]);
        }
        let hit =
            |e: &&ServiceEntry| e.hash == hash && same_bytes(e.name.as_bytes(), folded_service);
        let found = match self.by_service.as_slice() {
            // Most policies name one or two services: no search.
            [one] => Some(one).filter(hit),
            [a, b] => Some(a).filter(hit).or_else(|| Some(b).filter(hit)),
            many => {
                let from = many.partition_point(|e| e.hash < hash);
                many[from..]
                    .iter()
                    .take_while(|e| e.hash == hash)
                    .find(|e| same_bytes(e.name.as_bytes(), folded_service))
            }
        };
        let specific = found.map_or(&[][..], |e| e.statements.as_slice());
        (&self.any, specific)
    }
}

/// Characters that are not whitespace, counted up to `cap` (AWS does not count
/// whitespace towards the size quotas).
fn non_whitespace_chars(s: &str, cap: usize) -> usize {
    if s.is_ascii() {
        // char::is_whitespace on ASCII: space, \t, \n, \x0b, \x0c, \r.
        s.bytes()
            .filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
            .take(cap)
            .count()
    } else {
        s.chars().filter(|c| !c.is_whitespace()).take(cap).count()
    }
}

/// A validated, compiled policy document, ready to evaluate many times.
///
/// Exists so that parsing and pattern compilation happen once (at write time or when a
/// principal's policies are loaded), and evaluation only matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) version: Version,
    pub(crate) id: Option<String>,
    pub(crate) kind: PolicyKind,
    pub(crate) statements: Vec<Statement>,
    pub(crate) index: ServiceIndex,
}

impl Policy {
    /// Parses, validates and compiles a document of the given kind.
    ///
    /// # Errors
    /// A [`PolicyError`] with AWS's code and wording, naming the statement (index
    /// and Sid) and the field at fault: bad JSON, duplicate keys, unknown elements,
    /// missing Effect/Action/Resource, bad Effect, unknown condition operators, bad
    /// CIDRs, dates, numbers or wildcards, wrong Version, or a document over the size
    /// quota of its kind (whitespace not counted).
    pub fn parse(json: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let limit = kind.size_limit();
        let size = non_whitespace_chars(json, limit + 1);
        if size > limit {
            return Err(PolicyError {
                code: ErrorCode::LimitExceeded,
                message: kind.size_error(),
                statement: None,
                sid: None,
                field: None,
            });
        }
        super::validate::compile(json, kind)
    }

    /// The language version the document declared.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The kind the document was validated as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The optional top-level `Id`.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// The Sid of each statement, in order (for listings and logs).
    pub fn sids(&self) -> Vec<Option<&str>> {
        self.statements.iter().map(|s| s.sid.as_deref()).collect()
    }
}
