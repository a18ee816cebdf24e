//! The STS operations iamd serves and their members as AWS's model defines them: which
//! members each takes, which are required, and the lengths, patterns and list sizes
//! AWS checks. Every STS request is checked against this table before its operation
//! runs, so a member is refused the way AWS refuses it; `iamd/tests/aws_model.rs`
//! holds the table against botocore's STS model.

use crate::query::QueryRequest;
use crate::service::ApiError;
use pam_iam::cli::api::{self, ArgValue};
use pam_iam::store::Tag;
use pam_iam::sts::passed::{Passed, identity_char};

/// AWS's text of a pattern, and the character test that implements it.
pub type Pattern = (&'static str, fn(char) -> bool);

/// What a member holds, with AWS's constraints on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A string of `min..=max` characters (`max` `None`: unbounded), matching
    /// `pattern` (AWS's text, and the character test that implements it).
    Str {
        /// Fewest characters.
        min: usize,
        /// Most characters.
        max: Option<usize>,
        /// AWS's pattern and our test of each character against it.
        pattern: Option<Pattern>,
    },
    /// An integer in `min..=max` (AWS's bounds; the operation narrows them further,
    /// for example to a role's MaxSessionDuration).
    Int {
        /// Lowest.
        min: i64,
        /// Highest.
        max: i64,
    },
    /// A list of at most `max` items (`None`: AWS sets no bound in its model).
    List {
        /// Most items.
        max: Option<usize>,
    },
}

/// One member of an operation's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// AWS's member name.
    pub name: &'static str,
    /// AWS requires it.
    pub required: bool,
    /// Its shape.
    pub shape: Shape,
}

/// One STS operation and its input members.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// AWS's operation name.
    pub name: &'static str,
    /// Its input members.
    pub members: &'static [Member],
}

/// `[\w+=,.@:\/-]*`.
fn external_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c)
}

/// `[\w+=/:,.@-]*`.
fn serial_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=/:,.@-".contains(c)
}

/// `[\d]*`.
fn digit(c: char) -> bool {
    c.is_ascii_digit()
}

/// AWS's `arnType`/`roleArnType` pattern: any printable character or tab/newline.
fn arn_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..)
}

/// `sessionPolicyDocumentType`: tab, newline and U+0020 to U+00FF.
fn policy_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{FF}')
}

const ARN_PATTERN: &str = "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+";
const NAME_PATTERN: &str = "[\\w+=,.@-]*";

const SERIAL: Member = Member {
    name: "SerialNumber",
    required: false,
    shape: Shape::Str {
        min: 9,
        max: Some(256),
        pattern: Some(("[\\w+=/:,.@-]*", serial_char)),
    },
};
const TOKEN_CODE: Member = Member {
    name: "TokenCode",
    required: false,
    shape: Shape::Str {
        min: 6,
        max: Some(6),
        pattern: Some(("[\\d]*", digit)),
    },
};

/// The STS operations served, with their members as AWS's model has them.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "GetCallerIdentity",
        members: &[],
    },
    Operation {
        name: "GetSessionToken",
        members: &[
            Member {
                name: "DurationSeconds",
                required: false,
                shape: Shape::Int {
                    min: 900,
                    max: 129_600,
                },
            },
            SERIAL,
            TOKEN_CODE,
        ],
    },
    Operation {
        name: "AssumeRole",
        members: &[
            Member {
                name: "RoleArn",
                required: true,
                shape: Shape::Str {
                    min: 20,
                    max: Some(2048),
                    pattern: Some((ARN_PATTERN, arn_char)),
                },
            },
            Member {
                name: "RoleSessionName",
                required: true,
                shape: Shape::Str {
                    min: 2,
                    max: Some(64),
                    pattern: Some((NAME_PATTERN, identity_char)),
                },
            },
            Member {
                name: "PolicyArns",
                required: false,
                shape: Shape::List { max: None },
            },
            Member {
                name: "Policy",
                required: false,
                shape: Shape::Str {
                    min: 1,
                    max: None,
                    pattern: Some(("[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+", policy_char)),
                },
            },
            Member {
                name: "DurationSeconds",
                required: false,
                shape: Shape::Int {
                    min: 900,
                    max: 43_200,
                },
            },
            Member {
                name: "Tags",
                required: false,
                shape: Shape::List { max: Some(50) },
            },
            Member {
                name: "TransitiveTagKeys",
                required: false,
                shape: Shape::List { max: Some(50) },
            },
            Member {
                name: "ExternalId",
                required: false,
                shape: Shape::Str {
                    min: 2,
                    max: Some(1224),
                    pattern: Some(("[\\w+=,.@:\\/-]*", external_id_char)),
                },
            },
            SERIAL,
            TOKEN_CODE,
            Member {
                name: "SourceIdentity",
                required: false,
                shape: Shape::Str {
                    min: 2,
                    max: Some(256),
                    pattern: Some((NAME_PATTERN, identity_char)),
                },
            },
        ],
    },
];

/// The served operation named `action`.
pub fn operation(action: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == action)
}

/// AWS's wording of one failed constraint.
fn invalid(value: &str, member: &str, constraint: &str) -> ApiError {
    let shown: String = value.chars().take(100).collect();
    ApiError::new(
        "ValidationError",
        format!(
            "1 validation error detected: Value '{shown}' at '{}' failed to satisfy constraint: {constraint}",
            api::lower_camel(member)
        ),
    )
}

/// A string member against its length and pattern (`at` names it in the message:
/// `externalId`, `tags.1.member.key`, …).
pub fn check_str(
    value: &str,
    at: &str,
    min: usize,
    max: Option<usize>,
    pattern: Option<Pattern>,
) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min {
        return Err(invalid(
            value,
            at,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if let Some(max) = max.filter(|m| n > *m) {
        return Err(invalid(
            value,
            at,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    if let Some((text, ok)) = pattern {
        if !value.chars().all(ok) {
            return Err(invalid(
                value,
                at,
                &format!("Member must satisfy regular expression pattern: {text}"),
            ));
        }
    }
    Ok(())
}

/// Check a request's members against its operation: unknown members, required ones
/// left out, shapes, lengths, patterns, list sizes.
///
/// # Errors
/// `InvalidAction` for an operation not served, `InvalidParameter` for a member the
/// operation does not take, `ValidationError` as AWS words it for the rest.
pub fn check(q: &QueryRequest) -> Result<&'static Operation, ApiError> {
    let op = operation(&q.action).ok_or_else(|| {
        ApiError::new(
            "InvalidAction",
            format!(
                "Could not find operation {} for version 2011-06-15",
                q.action
            ),
        )
    })?;
    for (name, value) in &q.params {
        let Some(m) = op.members.iter().find(|m| m.name == name) else {
            return Err(ApiError::new(
                "InvalidParameter",
                format!("{name} is not a parameter of {}", op.name),
            ));
        };
        match (m.shape, value) {
            (Shape::Str { min, max, pattern }, ArgValue::Scalar(s)) => {
                check_str(s, m.name, min, max, pattern)?;
            }
            (Shape::Int { .. }, ArgValue::Scalar(s)) => {
                if s.parse::<i64>().is_err() {
                    return Err(invalid(s, m.name, "Member must be a number"));
                }
            }
            (Shape::List { max }, ArgValue::List(items)) => {
                if let Some(max) = max.filter(|x| items.len() > *x) {
                    return Err(invalid(
                        &format!("{} items", items.len()),
                        m.name,
                        &format!("Member must have length less than or equal to {max}"),
                    ));
                }
            }
            _ => {
                return Err(ApiError::new(
                    "ValidationError",
                    format!("{name} of {} is not of the shape AWS defines", op.name),
                ));
            }
        }
    }
    for m in op.members.iter().filter(|m| m.required) {
        if !q.params.iter().any(|(k, _)| k == m.name) {
            return Err(ApiError::new(
                "ValidationError",
                format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    api::lower_camel(m.name)
                ),
            ));
        }
    }
    Ok(op)
}

fn list<'q>(q: &'q QueryRequest, name: &str) -> &'q [ArgValue] {
    q.params
        .iter()
        .find_map(|(k, v)| match v {
            ArgValue::List(items) if k == name => Some(items.as_slice()),
            _ => None,
        })
        .unwrap_or_default()
}

fn field<'v>(v: &'v ArgValue, name: &str) -> Option<&'v str> {
    match v {
        ArgValue::Struct(members) => members.iter().find_map(|(k, x)| match x {
            ArgValue::Scalar(s) if k == name => Some(s.as_str()),
            _ => None,
        }),
        _ => None,
    }
}

fn item_error(member: &str, i: usize, what: &str) -> ApiError {
    ApiError::new(
        "ValidationError",
        format!(
            "1 validation error detected: Value null at '{}.{}.member.{what}' failed to satisfy constraint: Member must not be null",
            api::lower_camel(member),
            i + 1
        ),
    )
}

/// `AssumeRole`'s `SourceIdentity`, `Tags` (`Tags.member.N.Key/Value`),
/// `TransitiveTagKeys` and `PolicyArns` (`PolicyArns.member.N.arn`), as the shared
/// assume logic takes them (it checks their values).
///
/// # Errors
/// `ValidationError` for a tag without its key or value, a policy without its `arn`.
pub fn passed(q: &QueryRequest) -> Result<Passed, ApiError> {
    let mut p = Passed {
        source_identity: q.scalar("SourceIdentity").map(str::to_string),
        ..Passed::default()
    };
    for (i, t) in list(q, "Tags").iter().enumerate() {
        let key = field(t, "Key").ok_or_else(|| item_error("Tags", i, "key"))?;
        let value = field(t, "Value").ok_or_else(|| item_error("Tags", i, "value"))?;
        p.tags.push(Tag {
            key: key.into(),
            value: value.into(),
        });
    }
    for k in list(q, "TransitiveTagKeys") {
        match k {
            ArgValue::Scalar(s) => p.transitive_tag_keys.push(s.clone()),
            _ => {
                return Err(ApiError::new(
                    "ValidationError",
                    "TransitiveTagKeys.member.N must be tag keys",
                ));
            }
        }
    }
    for (i, a) in list(q, "PolicyArns").iter().enumerate() {
        let arn = field(a, "arn").ok_or_else(|| item_error("PolicyArns", i, "arn"))?;
        check_str(arn, "PolicyArns.member.arn", 20, Some(2048), None)?;
        p.policy_arns.push(arn.into());
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(action: &str, params: &[(&str, ArgValue)]) -> QueryRequest {
        QueryRequest {
            action: action.into(),
            version: "2011-06-15".into(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
        }
    }

    fn s(v: &str) -> ArgValue {
        ArgValue::Scalar(v.into())
    }

    #[test]
    fn members_are_checked_as_aws_words_it() {
        let base = [
            ("RoleArn", s("arn:aws:iam::123456789012:role/r")),
            ("RoleSessionName", s("s1")),
        ];
        assert!(check(&q("AssumeRole", &base)).is_ok());
        let e = check(&q("AssumeRole", &base[..1])).unwrap_err();
        assert!(e.message.contains("at 'roleSessionName'"), "{}", e.message);
        let mut p = base.to_vec();
        p.push(("ExternalId", s("x")));
        let e = check(&q("AssumeRole", &p)).unwrap_err();
        assert!(
            e.message.contains("at 'externalId'")
                && e.message.contains("greater than or equal to 2"),
            "{}",
            e.message
        );
        p.pop();
        p.push(("ExternalId", s("has space")));
        let e = check(&q("AssumeRole", &p)).unwrap_err();
        assert!(
            e.message.contains("regular expression pattern"),
            "{}",
            e.message
        );
        p.pop();
        p.push(("SourceIdentity", s(&"a".repeat(257))));
        assert!(check(&q("AssumeRole", &p)).is_err());
        p.pop();
        p.push(("Tags", ArgValue::List(vec![s("x"); 51])));
        assert!(check(&q("AssumeRole", &p)).is_err());
        p.pop();
        p.push(("Color", s("red")));
        assert_eq!(
            check(&q("AssumeRole", &p)).unwrap_err().code,
            "InvalidParameter"
        );
        assert_eq!(
            check(&q("AssumeRoot", &[])).unwrap_err().code,
            "InvalidAction"
        );
        let e = check(&q("GetSessionToken", &[("DurationSeconds", s("ten"))])).unwrap_err();
        assert!(e.message.contains("must be a number"), "{}", e.message);
    }
}
