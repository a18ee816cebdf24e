//! Every condition operator: a case that holds, one that does not, and the missing key.

use super::*;

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
