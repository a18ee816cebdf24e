//! Load generator for iamd's benchmark (scripts/bench-iamd, docs/iamd.md "Performance"):
//! requests signed per request by `aws-sigv4` (AWS's SDK signer, independent of iamd's
//! verifier), sent by N concurrent keep-alive HTTP/1 clients for a fixed time; every
//! answer must be a 200 with the expected, well-formed XML, or it counts as an error.

pub mod check;
pub mod load;
pub mod seed;
pub mod servers;
pub mod sign;
