//! Validation errors: each names its statement and field, and the size limits per kind.

use super::*;

struct Invalid {
    doc: &'static str,
    kind: PolicyKind,
    message: &'static str,
    statement: Option<usize>,
    field: Option<&'static str>,
}

#[test]
fn validation_errors_name_statement_and_field() {
    let allow = r#""Effect":"Allow","Action":"host:Login","Resource":"*""#;
    let _ = allow;
    let cases = [
        Invalid {
            doc: "{",
            kind: PolicyKind::Managed,
            message: "Syntax errors in policy.",
            statement: None,
            field: None,
        },
        Invalid {
            doc: "[]",
            kind: PolicyKind::Managed,
            message: "Syntax errors in policy.",
            statement: None,
            field: None,
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}}"#,
            kind: PolicyKind::Managed,
            message: "duplicate key \"Effect\"",
            statement: None,
            field: None,
        },
        Invalid {
            doc: r#"{"Version":"2012-10-18","Statement":[]}"#,
            kind: PolicyKind::Managed,
            message: "Policy document must be version 2012-10-17 or greater.",
            statement: None,
            field: Some("Version"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statment":[]}"#,
            kind: PolicyKind::Managed,
            message: "Unknown element \"Statment\"",
            statement: None,
            field: Some("Statment"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17"}"#,
            kind: PolicyKind::Managed,
            message: "Missing required field Statement",
            statement: None,
            field: Some("Statement"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"B","Effect":"Allow","Acton":"*","Resource":"*"}]}"#,
            kind: PolicyKind::Managed,
            message: "Unknown element \"Acton\"",
            statement: Some(1),
            field: Some("Acton"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Action":"*","Resource":"*"}}"#,
            kind: PolicyKind::Managed,
            message: "Missing required field Effect",
            statement: Some(0),
            field: Some("Effect"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#,
            kind: PolicyKind::Managed,
            message: "Invalid effect: allow",
            statement: Some(0),
            field: Some("Effect"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}"#,
            kind: PolicyKind::Managed,
            message: "Policy statement must contain actions.",
            statement: Some(0),
            field: Some("Action"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}}"#,
            kind: PolicyKind::Managed,
            message: "Policy statement must contain resources.",
            statement: Some(0),
            field: Some("Resource"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotAction":"x:y","Resource":"*"}}"#,
            kind: PolicyKind::Managed,
            message: "both Action and NotAction",
            statement: Some(0),
            field: Some("NotAction"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"Login","Resource":"*"}}"#,
            kind: PolicyKind::Managed,
            message: "Actions/Conditions must be prefaced by a vendor",
            statement: Some(0),
            field: Some("Action"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"host/web"}}"#,
            kind: PolicyKind::Managed,
            message: "must be in ARN format or \"*\"",
            statement: Some(0),
            field: Some("Resource"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:*:::x"}}"#,
            kind: PolicyKind::Managed,
            message: "Resource vendor must be fully qualified and cannot contain regexes.",
            statement: Some(0),
            field: Some("Resource"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Sid":"X","Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}}"#,
            kind: PolicyKind::Managed,
            message: "Invalid Condition type : StringEqualz",
            statement: Some(0),
            field: Some("Condition.StringEqualz"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}}"#,
            kind: PolicyKind::Managed,
            message: "is not an IP address or CIDR block",
            statement: Some(0),
            field: Some("Condition.IpAddress.aws:SourceIp"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}}"#,
            kind: PolicyKind::Managed,
            message: "is not a date",
            statement: Some(0),
            field: Some("Condition.DateLessThan.aws:CurrentTime"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"ten"}}}}"#,
            kind: PolicyKind::Managed,
            message: "is not a number",
            statement: Some(0),
            field: Some("Condition.NumericLessThan.aws:MultiFactorAuthAge"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"yes"}}}}"#,
            kind: PolicyKind::Managed,
            message: "is not true or false",
            statement: Some(0),
            field: Some("Condition.Bool.aws:MultiFactorAuthPresent"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"aws:x":"true"}}}}"#,
            kind: PolicyKind::Managed,
            message: "Invalid Condition type : NullIfExists",
            statement: Some(0),
            field: Some("Condition.NullIfExists"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:iam::1:host/${aws:username"}}"#,
            kind: PolicyKind::Managed,
            message: "missing its closing",
            statement: Some(0),
            field: Some("Resource"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            kind: PolicyKind::Managed,
            message: "Statement IDs (SID) in a single policy must be unique.",
            statement: Some(1),
            field: Some("Sid"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Sid":"no spaces","Effect":"Allow","Action":"*","Resource":"*"}}"#,
            kind: PolicyKind::Managed,
            message: "Statement IDs (SID) must be alpha-numeric.",
            statement: Some(0),
            field: Some("Sid"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
            kind: PolicyKind::UserInline,
            message: "Policy document should not specify a principal.",
            statement: Some(0),
            field: Some("Principal"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
            kind: PolicyKind::Trust,
            message: "Missing required field Principal",
            statement: Some(0),
            field: Some("Principal"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"sts:AssumeRole"}}"#,
            kind: PolicyKind::Trust,
            message: "Invalid principal in policy: \"AWS\":\"alice\"",
            statement: Some(0),
            field: Some("Principal"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/*"},"Action":"sts:AssumeRole"}}"#,
            kind: PolicyKind::Trust,
            message: "Invalid principal in policy",
            statement: Some(0),
            field: Some("Principal"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"username":"a"}}}}"#,
            kind: PolicyKind::Managed,
            message: "Actions/Conditions must be prefaced by a vendor",
            statement: Some(0),
            field: Some("Condition.StringEquals.username"),
        },
        Invalid {
            doc: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":{"nested":1}}}}}"#,
            kind: PolicyKind::Managed,
            message: "Condition values must be strings, numbers or booleans",
            statement: Some(0),
            field: Some("Condition.StringEquals.aws:username"),
        },
    ];
    for case in &cases {
        let err = Policy::parse(case.doc, case.kind).expect_err(case.doc);
        assert_eq!(err.code, ErrorCode::MalformedPolicyDocument, "{}", case.doc);
        assert!(
            err.message.contains(case.message),
            "{}\n  got: {err}",
            case.doc
        );
        assert_eq!(err.statement, case.statement, "{}\n  got: {err}", case.doc);
        assert_eq!(
            err.field.as_deref(),
            case.field,
            "{}\n  got: {err}",
            case.doc
        );
    }
}

#[test]
fn error_display_names_sid_and_field() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Ok","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"Login","Effect":"Allow","Action":"host:Login","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}}]}"#;
    let err = Policy::parse(doc, PolicyKind::Managed).unwrap_err();
    let shown = err.to_string();
    assert!(shown.starts_with("Syntax errors in policy."), "{shown}");
    assert!(shown.contains("Statement[1]"), "{shown}");
    assert!(shown.contains("Sid \"Login\""), "{shown}");
    assert!(
        shown.contains("Condition.IpAddress.aws:SourceIp"),
        "{shown}"
    );
    assert_eq!(err.sid.as_deref(), Some("Login"));
}

#[test]
fn size_limits_per_kind_ignore_whitespace() {
    let body = |n: usize| {
        let sid = "A".repeat(n);
        format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Sid":"{sid}","Effect":"Allow","Action":"*","Resource":"*"}}}}"#
        )
    };
    let base = body(0).len();
    for (kind, limit) in [
        (PolicyKind::Managed, 6144),
        (PolicyKind::UserInline, 2048),
        (PolicyKind::GroupInline, 5120),
        (PolicyKind::RoleInline, 10240),
        (PolicyKind::Boundary, 6144),
        (PolicyKind::Session, 2048),
    ] {
        let at = body(limit - base);
        assert_eq!(at.len(), limit);
        assert!(Policy::parse(&at, kind).is_ok(), "{kind:?} at limit");
        let spaced = at.replace(',', " ,\n\t ");
        assert!(
            Policy::parse(&spaced, kind).is_ok(),
            "{kind:?} whitespace is free"
        );
        let over = body(limit - base + 1);
        let err = Policy::parse(&over, kind).unwrap_err();
        assert_eq!(err.code, ErrorCode::LimitExceeded, "{kind:?}");
        assert!(err.to_string().contains(&limit.to_string()), "{err}");
    }
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"aws:username":"{}"}}}}}}}}"#,
        "x".repeat(2100)
    );
    let err = Policy::parse(&trust, PolicyKind::Trust).unwrap_err();
    assert_eq!(err.message, "Cannot exceed quota for ACLSizePerRole: 2048");
}
