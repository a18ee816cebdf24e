//! The AWS Query protocol's response side: `<XResponse xmlns=…><XResult>…</XResult>
//! <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></XResponse>` built
//! from the CLI's JSON result (AWS's own member names), lists as `<member>`, maps as
//! `<entry><key/><value/></entry>`, policy documents URL-encoded as IAM returns them;
//! and `<ErrorResponse>`.

use quick_xml::escape::escape;
use serde_json::Value;

/// IAM's XML namespace.
pub const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's XML namespace.
pub const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Members holding a policy document: IAM returns them URL-encoded.
const DOCUMENTS: &[&str] = &["PolicyDocument", "AssumeRolePolicyDocument", "Document"];
/// Blob members whose JSON value is text: base64 on the wire, as botocore decodes
/// them (`QRCodePNG` is base64 already in the CLI's JSON).
const TEXT_BLOBS: &[&str] = &["Base32StringSeed"];
/// Members that are maps.
const MAPS: &[&str] = &["SummaryMap"];

/// RFC 3986 encoding of a policy document, as IAM sends it.
fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URL_SET).to_string()
}

const URL_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn element(out: &mut String, name: &str, v: &Value) {
    if v.is_null() {
        return;
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    if DOCUMENTS.contains(&name) {
        let doc = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&url_encode(&doc));
    } else if let (true, Value::String(t)) = (TEXT_BLOBS.contains(&name), v) {
        out.push_str(&<base64ct::Base64 as base64ct::Encoding>::encode_string(
            t.as_bytes(),
        ));
    } else if MAPS.contains(&name) {
        if let Value::Object(m) = v {
            for (k, val) in m {
                out.push_str("<entry><key>");
                out.push_str(&escape(k.as_str()));
                out.push_str("</key>");
                element(out, "value", val);
                out.push_str("</entry>");
            }
        }
    } else {
        body(out, v);
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn body(out: &mut String, v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                element(out, k, val);
            }
        }
        Value::Array(items) => {
            for i in items {
                element(out, "member", i);
            }
        }
        other => out.push_str(&escape(text(other).as_str())),
    }
}

/// Operations whose AWS output is an empty structure in a result wrapper: their answer
/// carries an empty `<XResult/>` (botocore looks for it), where other operations without
/// output carry none. Held against botocore's model by `iamd/tests/aws_model.rs`.
pub const EMPTY_RESULTS: &[&str] = &["UpdateRole"];

/// A success response of `action` in namespace `ns`.
pub fn response(ns: &str, action: &str, result: Option<&Value>, request_id: &str) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(&format!("<{action}Response xmlns=\"{ns}\">"));
    if let Some(r) = result {
        out.push_str(&format!("<{action}Result>"));
        body(&mut out, r);
        out.push_str(&format!("</{action}Result>"));
    } else if EMPTY_RESULTS.contains(&action) {
        out.push_str(&format!("<{action}Result/>"));
    }
    out.push_str("<ResponseMetadata><RequestId>");
    out.push_str(request_id);
    out.push_str("</RequestId></ResponseMetadata>");
    out.push_str(&format!("</{action}Response>"));
    out
}

/// An error response: `Sender` for the caller's mistakes, `Receiver` for ours.
pub fn error(ns: &str, status: u16, code: &str, message: &str, request_id: &str) -> String {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    format!(
        "<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        escape(code),
        escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let v = json!({"User": {"UserName": "a<b", "Tags": [{"Key": "k", "Value": "v"}]}, "IsTruncated": false, "Gone": null});
        let x = response(IAM_NS, "GetUser", Some(&v), "r1");
        assert_eq!(
            x,
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult><User><UserName>a&lt;b</UserName><Tags><member><Key>k</Key><Value>v</Value></member></Tags></User><IsTruncated>false</IsTruncated></GetUserResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetUserResponse>"
        );
        let d = response(
            IAM_NS,
            "GetUserPolicy",
            Some(&json!({"PolicyDocument": {"Version": "2012-10-17"}})),
            "r",
        );
        assert!(
            d.contains("<PolicyDocument>%7B%22Version%22%3A%222012-10-17%22%7D</PolicyDocument>"),
            "{d}"
        );
        let m = response(
            IAM_NS,
            "GetAccountSummary",
            Some(&json!({"SummaryMap": {"Users": 3}})),
            "r",
        );
        assert!(
            m.contains("<SummaryMap><entry><key>Users</key><value>3</value></entry></SummaryMap>"),
            "{m}"
        );
        let b = response(
            IAM_NS,
            "CreateVirtualMFADevice",
            Some(&json!({"VirtualMFADevice": {"Base32StringSeed": "JBSWY3DP"}})),
            "r",
        );
        assert!(
            b.contains("<Base32StringSeed>SkJTV1kzRFA=</Base32StringSeed>"),
            "{b}"
        );
        let e = error(IAM_NS, 404, "NoSuchEntity", "no <user>", "r2");
        assert!(e.contains("<Type>Sender</Type><Code>NoSuchEntity</Code><Message>no &lt;user&gt;</Message></Error><RequestId>r2</RequestId>"));
    }
}
