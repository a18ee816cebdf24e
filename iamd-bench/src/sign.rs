//! SigV4 signing with `aws-sigv4`: what the AWS SDKs sign with, so a verifier bug in
//! iamd cannot cancel out against the same bug in the client.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;

/// The Query protocol's body type, as botocore sends it.
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Access key credentials for one service and region.
#[derive(Clone, Debug)]
pub struct Key {
    /// `AKIA…`.
    pub id: String,
    /// The secret access key.
    pub secret: String,
}

/// Signs `POST /` requests for one key, service and region.
pub struct Signer {
    identity: Identity,
    region: String,
    service: String,
}

impl Signer {
    /// A signer for `key` on `service` (`iam`, `sts`) in `region`.
    pub fn new(key: &Key, service: &str, region: &str) -> Signer {
        let creds = Credentials::new(&key.id, &key.secret, None, None, "iamd-bench");
        Signer {
            identity: creds.into(),
            region: region.to_string(),
            service: service.to_string(),
        }
    }

    /// The headers of a signed `POST /` of `body` to `host` (`127.0.0.1:PORT`), signed
    /// now: `host`, `content-type`, `x-amz-date`, `authorization`.
    ///
    /// # Errors
    /// The signer's message (an unusable host or region).
    pub fn headers(&self, host: &str, body: &[u8]) -> Result<Vec<(String, String)>, String> {
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(&self.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let uri = format!("http://{host}/");
        let base = [("host", host), ("content-type", CONTENT_TYPE)];
        let req = SignableRequest::new(
            "POST",
            uri.as_str(),
            base.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(req, &params).map_err(|e| e.to_string())?.into_parts();
        let mut out: Vec<(String, String)> = base
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        out.extend(
            instructions
                .headers()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        Ok(out)
    }
}
