//! Behaviour tests of the policy engine, derived from AWS's documentation examples:
//! every condition operator (a case that holds, one that does not, the missing key),
//! validation errors, and the evaluation logic.

use super::*;

const ACCT: &str = "123456789012";

fn ctx(pairs: &[(&str, &str)]) -> Context {
    let mut c = Context::new();
    for (k, v) in pairs {
        c.insert(k, *v);
    }
    c
}

fn req(action: &str, resource: &str, context: Context) -> Request {
    Request {
        action: action.into(),
        resource: resource.into(),
        principal_arn: format!("arn:aws:iam::{ACCT}:user/alice"),
        context,
    }
}

fn set_of(docs: &[&str]) -> PolicySet {
    PolicySet {
        identity: docs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let p = Policy::parse(d, PolicyKind::Managed)
                    .unwrap_or_else(|e| panic!("policy {i} refused: {e}\n{d}"));
                (Source::named(format!("p{i}")), p)
            })
            .collect(),
        boundary: None,
        session: None,
    }
}

/// An Allow-everything statement guarded by one Condition block.
fn allow_if(condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{condition}}}]}}"#
    )
}

struct Case {
    name: &'static str,
    condition: &'static str,
    context: Vec<(&'static str, Vec<&'static str>)>,
    want: bool,
}

fn c(
    name: &'static str,
    condition: &'static str,
    context: &[(&'static str, &[&'static str])],
    want: bool,
) -> Case {
    Case {
        name,
        condition,
        context: context.iter().map(|(k, v)| (*k, v.to_vec())).collect(),
        want,
    }
}

#[test]
fn every_condition_operator() {
    let cases = [
        // String operators (AWS examples: aws:PrincipalTag/job-category, s3:prefix).
        c(
            "StringEquals holds",
            r#"{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}"#,
            &[("aws:PrincipalTag/job-category", &["iamuser-admin"])],
            true,
        ),
        c(
            "StringEquals differs",
            r#"{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}"#,
            &[("aws:PrincipalTag/job-category", &["dev"])],
            false,
        ),
        c(
            "StringEquals is case-sensitive",
            r#"{"StringEquals":{"aws:username":"Alice"}}"#,
            &[("aws:username", &["alice"])],
            false,
        ),
        c(
            "StringEquals missing key",
            r#"{"StringEquals":{"aws:username":"alice"}}"#,
            &[],
            false,
        ),
        c(
            "StringEquals OR across values",
            r#"{"StringEquals":{"aws:username":["bob","alice"]}}"#,
            &[("aws:username", &["alice"])],
            true,
        ),
        c(
            "StringNotEquals holds",
            r#"{"StringNotEquals":{"aws:username":"bob"}}"#,
            &[("aws:username", &["alice"])],
            true,
        ),
        c(
            "StringNotEquals fails",
            r#"{"StringNotEquals":{"aws:username":["bob","alice"]}}"#,
            &[("aws:username", &["alice"])],
            false,
        ),
        c(
            "StringNotEquals missing key is true",
            r#"{"StringNotEquals":{"aws:username":"bob"}}"#,
            &[],
            true,
        ),
        c(
            "StringEqualsIgnoreCase holds",
            r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"OPS"}}"#,
            &[("aws:PrincipalTag/team", &["Ops"])],
            true,
        ),
        c(
            "StringEqualsIgnoreCase differs",
            r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"OPS"}}"#,
            &[("aws:PrincipalTag/team", &["dev"])],
            false,
        ),
        c(
            "StringEqualsIgnoreCase missing",
            r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"OPS"}}"#,
            &[],
            false,
        ),
        c(
            "StringNotEqualsIgnoreCase holds",
            r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"OPS"}}"#,
            &[("aws:PrincipalTag/team", &["dev"])],
            true,
        ),
        c(
            "StringNotEqualsIgnoreCase fails",
            r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"OPS"}}"#,
            &[("aws:PrincipalTag/team", &["ops"])],
            false,
        ),
        c(
            "StringNotEqualsIgnoreCase missing",
            r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"OPS"}}"#,
            &[],
            true,
        ),
        c(
            "StringLike with variable holds",
            r#"{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}"#,
            &[
                ("s3:prefix", &["home/alice/docs"]),
                ("aws:username", &["alice"]),
            ],
            true,
        ),
        c(
            "StringLike with variable fails",
            r#"{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}"#,
            &[
                ("s3:prefix", &["home/bob/docs"]),
                ("aws:username", &["alice"]),
            ],
            false,
        ),
        c(
            "StringLike empty-string value",
            r#"{"StringLike":{"s3:prefix":["","home/"]}}"#,
            &[("s3:prefix", &[""])],
            true,
        ),
        c(
            "StringLike ? wildcard",
            r#"{"StringLike":{"host:Tty":"pts/?"}}"#,
            &[("host:Tty", &["pts/3"])],
            true,
        ),
        c(
            "StringLike ? needs one char",
            r#"{"StringLike":{"host:Tty":"pts/?"}}"#,
            &[("host:Tty", &["pts/12"])],
            false,
        ),
        c(
            "StringLike missing",
            r#"{"StringLike":{"host:Tty":"pts/*"}}"#,
            &[],
            false,
        ),
        c(
            "StringNotLike holds",
            r#"{"StringNotLike":{"host:Service":"ssh*"}}"#,
            &[("host:Service", &["sudo"])],
            true,
        ),
        c(
            "StringNotLike fails",
            r#"{"StringNotLike":{"host:Service":"ssh*"}}"#,
            &[("host:Service", &["sshd"])],
            false,
        ),
        c(
            "StringNotLike missing is true",
            r#"{"StringNotLike":{"host:Service":"ssh*"}}"#,
            &[],
            true,
        ),
        // Numeric (AWS example: s3:max-keys <= 10).
        c(
            "NumericLessThanEquals holds",
            r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["10"])],
            true,
        ),
        c(
            "NumericLessThanEquals fails",
            r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["11"])],
            false,
        ),
        c(
            "NumericLessThanEquals missing",
            r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#,
            &[],
            false,
        ),
        c(
            "NumericEquals holds (json number)",
            r#"{"NumericEquals":{"aws:MultiFactorAuthAge":300}}"#,
            &[("aws:MultiFactorAuthAge", &["300.0"])],
            true,
        ),
        c(
            "NumericEquals fails",
            r#"{"NumericEquals":{"aws:MultiFactorAuthAge":300}}"#,
            &[("aws:MultiFactorAuthAge", &["301"])],
            false,
        ),
        c(
            "NumericEquals non-number never matches",
            r#"{"NumericEquals":{"aws:MultiFactorAuthAge":300}}"#,
            &[("aws:MultiFactorAuthAge", &["abc"])],
            false,
        ),
        c(
            "NumericNotEquals holds",
            r#"{"NumericNotEquals":{"aws:MultiFactorAuthAge":"300"}}"#,
            &[("aws:MultiFactorAuthAge", &["5"])],
            true,
        ),
        c(
            "NumericNotEquals fails",
            r#"{"NumericNotEquals":{"aws:MultiFactorAuthAge":"300"}}"#,
            &[("aws:MultiFactorAuthAge", &["300"])],
            false,
        ),
        c(
            "NumericNotEquals missing is true",
            r#"{"NumericNotEquals":{"aws:MultiFactorAuthAge":"300"}}"#,
            &[],
            true,
        ),
        c(
            "NumericLessThan holds",
            r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}"#,
            &[("aws:MultiFactorAuthAge", &["3599"])],
            true,
        ),
        c(
            "NumericLessThan fails",
            r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}"#,
            &[("aws:MultiFactorAuthAge", &["3600"])],
            false,
        ),
        c(
            "NumericGreaterThan holds",
            r#"{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"1.5"}}"#,
            &[("aws:MultiFactorAuthAge", &["2"])],
            true,
        ),
        c(
            "NumericGreaterThan fails",
            r#"{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"1.5"}}"#,
            &[("aws:MultiFactorAuthAge", &["1.5"])],
            false,
        ),
        c(
            "NumericGreaterThanEquals holds",
            r#"{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"-1"}}"#,
            &[("aws:MultiFactorAuthAge", &["-1"])],
            true,
        ),
        c(
            "NumericGreaterThanEquals fails",
            r#"{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"-1"}}"#,
            &[("aws:MultiFactorAuthAge", &["-2"])],
            false,
        ),
        // Date (AWS examples: aws:TokenIssueTime, aws:CurrentTime; ISO 8601 and epoch).
        c(
            "DateGreaterThan holds",
            r#"{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}"#,
            &[("aws:TokenIssueTime", &["2020-01-01T00:00:02Z"])],
            true,
        ),
        c(
            "DateGreaterThan fails",
            r#"{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}"#,
            &[("aws:TokenIssueTime", &["2020-01-01T00:00:01Z"])],
            false,
        ),
        c(
            "DateGreaterThan missing",
            r#"{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}"#,
            &[],
            false,
        ),
        c(
            "DateLessThan holds (epoch request)",
            r#"{"DateLessThan":{"aws:CurrentTime":"2019-07-16T12:00:00Z"}}"#,
            &[("aws:CurrentTime", &["1563278399"])],
            true,
        ),
        c(
            "DateLessThan fails",
            r#"{"DateLessThan":{"aws:CurrentTime":"2019-07-16T12:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2019-07-16T12:00:00Z"])],
            false,
        ),
        c(
            "DateLessThanEquals holds (epoch policy)",
            r#"{"DateLessThanEquals":{"aws:EpochTime":"1563278400"}}"#,
            &[("aws:EpochTime", &["2019-07-16T12:00:00Z"])],
            true,
        ),
        c(
            "DateLessThanEquals fails",
            r#"{"DateLessThanEquals":{"aws:EpochTime":"1563278400"}}"#,
            &[("aws:EpochTime", &["1563278401"])],
            false,
        ),
        c(
            "DateGreaterThanEquals holds",
            r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-01-01"}}"#,
            &[("aws:CurrentTime", &["2026-01-01T00:00:00Z"])],
            true,
        ),
        c(
            "DateGreaterThanEquals fails",
            r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-01-01"}}"#,
            &[("aws:CurrentTime", &["2025-12-31T23:59:59Z"])],
            false,
        ),
        c(
            "DateEquals holds across offsets",
            r#"{"DateEquals":{"aws:CurrentTime":"2026-01-01T01:00:00+01:00"}}"#,
            &[("aws:CurrentTime", &["2026-01-01T00:00:00Z"])],
            true,
        ),
        c(
            "DateEquals fails",
            r#"{"DateEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2026-01-01T00:00:01Z"])],
            false,
        ),
        c(
            "DateNotEquals holds",
            r#"{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2026-01-02T00:00:00Z"])],
            true,
        ),
        c(
            "DateNotEquals fails",
            r#"{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["1767225600"])],
            false,
        ),
        c(
            "DateNotEquals missing is true",
            r#"{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[],
            true,
        ),
        // Bool (AWS example: aws:SecureTransport / aws:MultiFactorAuthPresent).
        c(
            "Bool holds",
            r#"{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#,
            &[("aws:MultiFactorAuthPresent", &["true"])],
            true,
        ),
        c(
            "Bool fails",
            r#"{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#,
            &[("aws:MultiFactorAuthPresent", &["false"])],
            false,
        ),
        c(
            "Bool missing",
            r#"{"Bool":{"aws:MultiFactorAuthPresent":true}}"#,
            &[],
            false,
        ),
        c(
            "BoolIfExists missing is true",
            r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#,
            &[],
            true,
        ),
        c(
            "BoolIfExists present is compared",
            r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#,
            &[("aws:MultiFactorAuthPresent", &["true"])],
            false,
        ),
        // Binary (AWS example value).
        c(
            "BinaryEquals holds",
            r#"{"BinaryEquals":{"host:Key":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#,
            &[("host:Key", &["QmluYXJ5VmFsdWVJbkJhc2U2NA=="])],
            true,
        ),
        c(
            "BinaryEquals fails",
            r#"{"BinaryEquals":{"host:Key":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#,
            &[("host:Key", &["QmluYXJ5"])],
            false,
        ),
        c(
            "BinaryEquals missing",
            r#"{"BinaryEquals":{"host:Key":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#,
            &[],
            false,
        ),
        // IP (AWS examples: 203.0.113.0/24 and 2001:DB8:1234:5678::/64).
        c(
            "IpAddress holds",
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["203.0.113.50"])],
            true,
        ),
        c(
            "IpAddress fails",
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["198.51.100.1"])],
            false,
        ),
        c(
            "IpAddress missing (local login)",
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[],
            false,
        ),
        c(
            "IpAddress IPv6 holds",
            r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}"#,
            &[("aws:SourceIp", &["2001:db8:1234:5678:abcd::1"])],
            true,
        ),
        c(
            "IpAddress IPv6 fails",
            r#"{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}"#,
            &[("aws:SourceIp", &["2001:db8:1234:9999::1"])],
            false,
        ),
        c(
            "NotIpAddress holds",
            r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["198.51.100.1"])],
            true,
        ),
        c(
            "NotIpAddress fails",
            r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["203.0.113.1"])],
            false,
        ),
        c(
            "NotIpAddress missing is true",
            r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[],
            true,
        ),
        // ARN (AWS example: aws:SourceArn; segment by segment).
        c(
            "ArnEquals holds",
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}"#,
            &[(
                "aws:SourceArn",
                &["arn:aws:sns:us-east-1:123456789012:topic"],
            )],
            true,
        ),
        c(
            "ArnEquals fails",
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}"#,
            &[(
                "aws:SourceArn",
                &["arn:aws:sns:us-east-1:123456789013:topic"],
            )],
            false,
        ),
        c(
            "ArnEquals not an ARN",
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}"#,
            &[("aws:SourceArn", &["topic"])],
            false,
        ),
        c(
            "ArnLike holds per segment",
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}"#,
            &[(
                "aws:PrincipalArn",
                &["arn:aws:iam::123456789012:role/admin-ops"],
            )],
            true,
        ),
        c(
            "ArnLike * stays in its segment",
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin"}}"#,
            &[("aws:PrincipalArn", &["arn:aws:iam::1:extra:role/admin"])],
            false,
        ),
        c(
            "ArnLike fails",
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}"#,
            &[(
                "aws:PrincipalArn",
                &["arn:aws:iam::123456789012:user/admin-x"],
            )],
            false,
        ),
        c(
            "ArnLike missing",
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}"#,
            &[],
            false,
        ),
        c(
            "ArnNotEquals holds",
            r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/bob"}}"#,
            &[(
                "aws:PrincipalArn",
                &["arn:aws:iam::123456789012:user/alice"],
            )],
            true,
        ),
        c(
            "ArnNotEquals fails",
            r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/bob"}}"#,
            &[("aws:PrincipalArn", &["arn:aws:iam::123456789012:user/bob"])],
            false,
        ),
        c(
            "ArnNotLike holds",
            r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}"#,
            &[(
                "aws:PrincipalArn",
                &["arn:aws:iam::123456789012:user/alice"],
            )],
            true,
        ),
        c(
            "ArnNotLike fails",
            r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}"#,
            &[("aws:PrincipalArn", &["arn:aws:iam::123456789012:role/ops"])],
            false,
        ),
        c(
            "ArnNotLike missing is true",
            r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}"#,
            &[],
            true,
        ),
        // Null (AWS example: aws:TokenIssueTime absent for long-term credentials).
        c(
            "Null true holds when absent",
            r#"{"Null":{"aws:TokenIssueTime":"true"}}"#,
            &[],
            true,
        ),
        c(
            "Null true fails when present",
            r#"{"Null":{"aws:TokenIssueTime":"true"}}"#,
            &[("aws:TokenIssueTime", &["2026-01-01T00:00:00Z"])],
            false,
        ),
        c(
            "Null false holds when present",
            r#"{"Null":{"aws:TokenIssueTime":"false"}}"#,
            &[("aws:TokenIssueTime", &["x"])],
            true,
        ),
        c(
            "Null false fails when absent",
            r#"{"Null":{"aws:TokenIssueTime":false}}"#,
            &[],
            false,
        ),
        // IfExists (AWS example: StringLikeIfExists on ec2:InstanceType).
        c(
            "StringLikeIfExists holds when absent",
            r#"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}}"#,
            &[],
            true,
        ),
        c(
            "StringLikeIfExists compares when present",
            r#"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}}"#,
            &[("ec2:InstanceType", &["m5.large"])],
            false,
        ),
        c(
            "StringLikeIfExists holds when present",
            r#"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}}"#,
            &[("ec2:InstanceType", &["t2.micro"])],
            true,
        ),
        c(
            "IpAddressIfExists absent",
            r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[],
            true,
        ),
        c(
            "NumericLessThanIfExists present",
            r#"{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"60"}}"#,
            &[("aws:MultiFactorAuthAge", &["61"])],
            false,
        ),
        // Set operators (AWS examples with aws:TagKeys).
        c(
            "ForAnyValue holds",
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#,
            &[("aws:TagKeys", &["other", "environment"])],
            true,
        ),
        c(
            "ForAnyValue fails",
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#,
            &[("aws:TagKeys", &["other"])],
            false,
        ),
        c(
            "ForAnyValue missing is false",
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment"]}}"#,
            &[],
            false,
        ),
        c(
            "ForAnyValue empty is false",
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment"]}}"#,
            &[("aws:TagKeys", &[])],
            false,
        ),
        c(
            "ForAllValues holds",
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#,
            &[("aws:TagKeys", &["environment", "cost-center"])],
            true,
        ),
        c(
            "ForAllValues fails",
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#,
            &[("aws:TagKeys", &["environment", "owner"])],
            false,
        ),
        c(
            "ForAllValues missing is true",
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment"]}}"#,
            &[],
            true,
        ),
        c(
            "ForAllValues empty is true",
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment"]}}"#,
            &[("aws:TagKeys", &[])],
            true,
        ),
        c(
            "ForAnyValue:StringNotEquals holds",
            r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}"#,
            &[("aws:TagKeys", &["a", "c"])],
            true,
        ),
        c(
            "ForAnyValue:StringNotEquals fails",
            r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}"#,
            &[("aws:TagKeys", &["a", "b"])],
            false,
        ),
        c(
            "ForAllValues:StringNotLike holds",
            r#"{"ForAllValues:StringNotLike":{"aws:TagKeys":["secret*"]}}"#,
            &[("aws:TagKeys", &["a", "b"])],
            true,
        ),
        c(
            "ForAllValues:StringNotLike fails",
            r#"{"ForAllValues:StringNotLike":{"aws:TagKeys":["secret*"]}}"#,
            &[("aws:TagKeys", &["a", "secret-x"])],
            false,
        ),
        c(
            "ForAnyValue:StringEqualsIfExists missing",
            r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["a"]}}"#,
            &[],
            true,
        ),
        // Combination rules.
        c(
            "AND across keys (both hold)",
            r#"{"StringEquals":{"aws:username":"alice","host:Service":"sshd"}}"#,
            &[("aws:username", &["alice"]), ("host:Service", &["sshd"])],
            true,
        ),
        c(
            "AND across keys (one fails)",
            r#"{"StringEquals":{"aws:username":"alice","host:Service":"sshd"}}"#,
            &[("aws:username", &["alice"]), ("host:Service", &["sudo"])],
            false,
        ),
        c(
            "AND across operators (one fails)",
            r#"{"StringEquals":{"aws:username":"alice"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[
                ("aws:username", &["alice"]),
                ("aws:SourceIp", &["192.0.2.1"]),
            ],
            false,
        ),
        c(
            "AND across operators (both hold)",
            r#"{"StringEquals":{"aws:username":"alice"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[
                ("aws:username", &["alice"]),
                ("aws:SourceIp", &["10.1.2.3"]),
            ],
            true,
        ),
        c(
            "condition keys are case-insensitive",
            r#"{"IpAddress":{"AWS:SOURCEIP":"10.0.0.0/8"}}"#,
            &[("aws:SourceIp", &["10.1.2.3"])],
            true,
        ),
        c(
            "variable in StringEquals value",
            r#"{"StringEquals":{"aws:PrincipalTag/owner":"${aws:username}"}}"#,
            &[
                ("aws:PrincipalTag/owner", &["alice"]),
                ("aws:username", &["alice"]),
            ],
            true,
        ),
        c(
            "unresolved variable does not match",
            r#"{"StringEquals":{"aws:PrincipalTag/owner":"${aws:username}"}}"#,
            &[("aws:PrincipalTag/owner", &["alice"])],
            false,
        ),
        c(
            "variable default used",
            r#"{"StringEquals":{"aws:PrincipalTag/owner":"${aws:username, 'nobody'}"}}"#,
            &[("aws:PrincipalTag/owner", &["nobody"])],
            true,
        ),
        c(
            "multi-valued key, plain operator: any value",
            r#"{"StringEquals":{"aws:TagKeys":"b"}}"#,
            &[("aws:TagKeys", &["a", "b"])],
            true,
        ),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let set = set_of(&[&allow_if(case.condition)]);
        let mut context = Context::new();
        for (k, vs) in &case.context {
            context.insert_values(k, vs.iter().map(|s| s.to_string()).collect());
        }
        let got = evaluate(&set, &req("host:Login", "*", context)).is_allowed();
        if got != case.want {
            failures.push(format!("{}: want {}, got {got}", case.name, case.want));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 100, "{} cases", cases.len());
}

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
