//! The benchmark's world, made through the API itself (the same calls on iamd and on
//! moto): the user `bench` with an identity policy allowing exactly the benchmarked
//! actions, more users so that a `ListUsers` page of 100 is full, and an
//! access key for `bench`.

use crate::check::USER;
use crate::load::{self, Target};
use crate::sign::{Key, Signer};
use bytes::Bytes;

/// The identity policy of `bench`: what the benchmark calls, nothing else.
pub const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:ListUsers"],"Resource":"*"}]}"#;

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The text of the first `<name>` element of `xml`.
pub fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// Make `users` users in all (`bench` among them) as `admin` (a root key, or anything
/// for moto) on `target`, and return an access key for `bench`.
///
/// # Errors
/// The call that failed, with its answer.
pub fn seed(target: &Target, users: usize) -> Result<Key, String> {
    let rt = load::runtime(1)?;
    let signer = Signer::new(&target.key, "iam", "us-east-1");
    rt.block_on(async {
        let mut conn = None;
        let mut call = async |pairs: &[(&str, &str)]| -> Result<String, String> {
            let mut all = vec![("Version", "2010-05-08")];
            all.extend_from_slice(pairs);
            let body = Bytes::from(form(&all));
            let (status, answer, _, _) = load::one(&mut conn, target.addr, &signer, &body).await?;
            let text = String::from_utf8_lossy(&answer).into_owned();
            if status == 200 {
                Ok(text)
            } else {
                Err(format!("{pairs:?}: {status} {text}"))
            }
        };
        call(&[("Action", "CreateUser"), ("UserName", USER)]).await?;
        call(&[
            ("Action", "PutUserPolicy"),
            ("UserName", USER),
            ("PolicyName", "bench"),
            ("PolicyDocument", POLICY),
        ])
        .await?;
        for i in 1..users {
            let name = format!("user{i:04}");
            call(&[
                ("Action", "CreateUser"),
                ("UserName", &name),
                ("Path", "/seed/"),
            ])
            .await?;
        }
        let made = call(&[("Action", "CreateAccessKey"), ("UserName", USER)]).await?;
        match (
            element(&made, "AccessKeyId"),
            element(&made, "SecretAccessKey"),
        ) {
            (Some(id), Some(secret)) => Ok(Key {
                id: id.to_string(),
                secret: secret.to_string(),
            }),
            _ => Err(format!("CreateAccessKey answered no key: {made}")),
        }
    })
}
