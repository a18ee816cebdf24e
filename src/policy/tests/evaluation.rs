//! The evaluation logic: explicit deny, matching, variables, boundaries and session
//! policies, missing context, trust policies, hostile inputs.

use super::*;

const HOST: &str = "arn:aws:iam::123456789012:host/web1";

#[test]
fn explicit_deny_beats_allow_and_reports_statements() {
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Login","Effect":"Allow","Action":"host:*","Resource":"*"}]}"#;
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Deny","Action":"iam:*","Resource":"*"},{"Sid":"NoSudo","Effect":"Deny","Action":"host:Sudo","Resource":"arn:aws:iam::*:host/web*"}]}"#;
    let set = set_of(&[allow, deny]);
    let d = evaluate(&set, &req("host:Login", HOST, Context::new()));
    assert_eq!(d.effect, Effect::Allowed);
    assert_eq!(d.matched.len(), 1);
    assert_eq!(
        (d.matched[0].source.as_str(), d.matched[0].index),
        ("p0", 0)
    );
    assert_eq!(d.matched[0].sid.as_deref(), Some("Login"));
    let d = evaluate(&set, &req("HOST:sudo", HOST, Context::new()));
    assert_eq!(d.effect, Effect::ExplicitDeny);
    assert_eq!(d.matched.len(), 1);
    assert_eq!(
        (d.matched[0].source.as_str(), d.matched[0].index),
        ("p1", 1)
    );
    assert_eq!(d.matched[0].effect, StatementEffect::Deny);
    let d = evaluate(&set, &req("sts:AssumeRole", HOST, Context::new()));
    assert_eq!(d.effect, Effect::ImplicitDeny);
    assert!(d.matched.is_empty());
    let empty = PolicySet::default();
    assert_eq!(
        evaluate(&empty, &req("host:Login", HOST, Context::new())).effect,
        Effect::ImplicitDeny
    );
}

#[test]
fn actions_case_insensitive_resources_case_sensitive() {
    let set = set_of(&[
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"Host:LOGIN","Resource":"arn:aws:iam::123456789012:host/Web1"}}"#,
    ]);
    assert!(
        evaluate(
            &set,
            &req(
                "host:login",
                "arn:aws:iam::123456789012:host/Web1",
                Context::new()
            )
        )
        .is_allowed()
    );
    assert!(
        !evaluate(
            &set,
            &req(
                "host:login",
                "arn:aws:iam::123456789012:host/web1",
                Context::new()
            )
        )
        .is_allowed()
    );
}

#[test]
fn not_action_and_not_resource() {
    let set = set_of(&[
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"*","NotResource":"arn:aws:iam::*:host/web*"}]}"#,
    ]);
    assert!(evaluate(&set, &req("host:Login", HOST, Context::new())).is_allowed());
    assert_eq!(
        evaluate(&set, &req("iam:CreateUser", HOST, Context::new())).effect,
        Effect::ImplicitDeny
    );
    assert_eq!(
        evaluate(
            &set,
            &req(
                "host:Login",
                "arn:aws:iam::123456789012:host/db1",
                Context::new()
            )
        )
        .effect,
        Effect::ExplicitDeny
    );
}

#[test]
fn resource_variables_and_version() {
    let v2012 = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"host:Login","Resource":"arn:aws:iam::123456789012:host/${aws:PrincipalTag/host}"}}"#;
    let set = set_of(&[v2012]);
    let c = ctx(&[("aws:PrincipalTag/host", "web1")]);
    assert!(evaluate(&set, &req("host:Login", HOST, c)).is_allowed());
    let d = evaluate(&set, &req("host:Login", HOST, Context::new()));
    assert!(!d.is_allowed(), "unresolvable variable: no match");
    assert_eq!(d.missing_context, vec!["aws:PrincipalTag/host".to_string()]);
    // Under 2008-10-17 (or no Version) the variable is literal text.
    let v2008 = v2012.replace("2012-10-17", "2008-10-17");
    let set = set_of(&[&v2008]);
    let literal = "arn:aws:iam::123456789012:host/${aws:PrincipalTag/host}";
    assert!(evaluate(&set, &req("host:Login", literal, Context::new())).is_allowed());
    let c = ctx(&[("aws:PrincipalTag/host", "web1")]);
    assert!(!evaluate(&set, &req("host:Login", HOST, c)).is_allowed());
}

#[test]
fn boundary_and_session_intersect() {
    let identity = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["host:*","iam:*"],"Resource":"*"}}"#;
    let boundary = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"host:*","Resource":"*"}}"#;
    let session = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"host:Login","Resource":"*"}}"#;
    let mut set = set_of(&[identity]);
    assert!(evaluate(&set, &req("iam:CreateUser", HOST, Context::new())).is_allowed());
    set.boundary = Some((
        Source::named("boundary"),
        Policy::parse(boundary, PolicyKind::Boundary).unwrap(),
    ));
    let d = evaluate(&set, &req("iam:CreateUser", HOST, Context::new()));
    assert_eq!(d.effect, Effect::ImplicitDeny);
    assert_eq!(d.boundary_allowed, Some(false));
    let d = evaluate(&set, &req("host:Sudo", HOST, Context::new()));
    assert!(d.is_allowed());
    assert_eq!(
        d.matched.len(),
        2,
        "identity and boundary statements reported"
    );
    set.session = Some((
        Source::named("session"),
        Policy::parse(session, PolicyKind::Session).unwrap(),
    ));
    assert_eq!(
        evaluate(&set, &req("host:Sudo", HOST, Context::new())).effect,
        Effect::ImplicitDeny
    );
    assert!(evaluate(&set, &req("host:Login", HOST, Context::new())).is_allowed());
    // Managed session policies join the session policy: one of them must allow too.
    let managed = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"host:Sudo","Resource":"*"}}"#;
    set.managed_session.push((
        Source::named("arn:aws:iam::123456789012:policy/sudo"),
        Policy::parse(managed, PolicyKind::Managed).unwrap(),
    ));
    assert!(evaluate(&set, &req("host:Sudo", HOST, Context::new())).is_allowed());
    assert!(evaluate(&set, &req("host:Login", HOST, Context::new())).is_allowed());
    set.session = None;
    assert_eq!(
        evaluate(&set, &req("host:Login", HOST, Context::new())).effect,
        Effect::ImplicitDeny,
        "managed session policies alone still narrow the session"
    );
    let d = evaluate(&set, &req("host:Sudo", HOST, Context::new()));
    assert!(d.is_allowed());
    assert!(
        d.matched.iter().any(|m| m.source.contains("policy/sudo")),
        "{:?}",
        d.matched
    );
    // A boundary alone grants nothing.
    set.identity.clear();
    assert_eq!(
        evaluate(&set, &req("host:Login", HOST, Context::new())).effect,
        Effect::ImplicitDeny
    );
    // A Deny in the boundary is an explicit deny.
    let deny_boundary = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"host:Sudo","Resource":"*"}]}"#;
    let mut set = set_of(&[identity]);
    set.boundary = Some((
        Source::named("b"),
        Policy::parse(deny_boundary, PolicyKind::Boundary).unwrap(),
    ));
    assert_eq!(
        evaluate(&set, &req("host:Sudo", HOST, Context::new())).effect,
        Effect::ExplicitDeny
    );
}

#[test]
fn missing_context_values_are_reported() {
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"host:Login","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#;
    let set = set_of(&[doc]);
    let d = evaluate(&set, &req("host:Login", HOST, Context::new()));
    assert_eq!(d.effect, Effect::ImplicitDeny);
    assert_eq!(
        d.missing_context,
        vec![
            "aws:MultiFactorAuthPresent".to_string(),
            "aws:SourceIp".to_string()
        ]
    );
    let d = evaluate(&set, &req("iam:CreateUser", HOST, Context::new()));
    assert!(
        d.missing_context.is_empty(),
        "statements that do not apply need no keys"
    );
}

fn trust(doc: &str) -> Policy {
    Policy::parse(doc, PolicyKind::Trust).unwrap_or_else(|e| panic!("{e}"))
}

fn assume(principal: &str) -> Request {
    Request {
        action: "sts:AssumeRole".into(),
        resource: "arn:aws:iam::123456789012:role/admin".into(),
        principal_arn: principal.into(),
        context: Context::new().with("aws:MultiFactorAuthPresent", "true"),
    }
}

#[test]
fn trust_policies() {
    let alice = "arn:aws:iam::123456789012:user/alice";
    let bob = "arn:aws:iam::123456789012:user/bob";
    let other = "arn:aws:iam::999999999999:user/alice";
    let p = trust(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}"#,
    );
    assert!(evaluate_trust(&p, &assume(alice)).is_allowed());
    assert_eq!(
        evaluate_trust(&p, &assume(bob)).effect,
        Effect::ImplicitDeny
    );
    let mut no_mfa = assume(alice);
    no_mfa.context = Context::new();
    assert!(!evaluate_trust(&p, &no_mfa).is_allowed());

    for root in [r#""arn:aws:iam::123456789012:root""#, r#""123456789012""#] {
        let p = trust(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":{root}}},"Action":"sts:AssumeRole"}}}}"#
        ));
        assert!(evaluate_trust(&p, &assume(alice)).is_allowed(), "{root}");
        assert!(
            evaluate_trust(&p, &assume("arn:aws:sts::123456789012:assumed-role/ops/s"))
                .is_allowed()
        );
        assert!(!evaluate_trust(&p, &assume(other)).is_allowed(), "{root}");
    }
    let p = trust(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::123456789012:user/bob"]},"Action":"sts:*"}]}"#,
    );
    assert!(evaluate_trust(&p, &assume(other)).is_allowed());
    let d = evaluate_trust(&p, &assume(bob));
    assert_eq!(d.effect, Effect::ExplicitDeny);
    assert_eq!(d.matched[0].index, 1);
    let p = trust(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}"#,
    );
    assert!(evaluate_trust(&p, &assume(alice)).is_allowed());
    assert_eq!(
        evaluate_trust(&p, &assume(bob)).effect,
        Effect::ExplicitDeny
    );
    // Wrong action.
    let mut r = assume(alice);
    r.action = "sts:TagSession".into();
    let p = trust(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}"#,
    );
    assert!(!evaluate_trust(&p, &r).is_allowed());
}

#[test]
fn statement_as_object_or_array_and_sids_listed() {
    let one = Policy::parse(
        r#"{"Statement":{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyKind::Managed,
    )
    .unwrap();
    assert_eq!(one.version(), Version::V2008_10_17);
    assert_eq!(one.sids(), vec![Some("A")]);
    let two = Policy::parse(r#"{"Version":"2012-10-17","Id":"x","Statement":[{"Effect":"Allow","Action":["a:b","c:d"],"Resource":["*"]},{"Sid":"B","Effect":"Deny","Action":"*","Resource":"*"}]}"#, PolicyKind::Managed).unwrap();
    assert_eq!(two.statement_count(), 2);
    assert_eq!(two.id(), Some("x"));
    assert_eq!(two.sids(), vec![None, Some("B")]);
}

#[test]
fn hostile_inputs_do_not_crash() {
    let inputs = [
        String::new(),
        "null".into(),
        "\u{0}".into(),
        "{".repeat(10_000),
        format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"{}"}}}}"#, "*".repeat(5000)),
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${${${${"}}"#.into(),
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"\u{1F600}:?\",\"Resource\":\"arn:\u{1F600}:s:::?\"}}".into(),
    ];
    for i in &inputs {
        if let Ok(p) = Policy::parse(i, PolicyKind::RoleInline) {
            let set = PolicySet {
                identity: vec![(Source::named("x"), p)],
                boundary: None,
                session: None,
                managed_session: Vec::new(),
            };
            let _ = evaluate(
                &set,
                &req("\u{1F600}:x", &"a?".repeat(3000), Context::new()),
            );
        }
    }
    // Pathological glob: many stars against a long non-matching text finishes.
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::{}b"}}}}"#,
        "a*".repeat(1000)
    );
    let set = set_of(&[&doc]);
    assert!(
        !evaluate(
            &set,
            &req(
                "s3:GetObject",
                &format!("arn:aws:s3:::{}", "a".repeat(5000)),
                Context::new()
            )
        )
        .is_allowed()
    );
}
