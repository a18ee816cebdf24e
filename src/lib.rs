//! pam-iam: AWS IAM brought to Linux hosts.
//!
//! The core (`policy`, `credentials`, `authz`) is pure: no I/O, clock passed in.
//! The edges (`store`, `pam`, `cli`, `sts`, `userdb`) are thin and call inward.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]

pub mod arn;
pub mod audit;
pub mod authz;
pub mod cli;
pub mod credentials;
pub mod fleet;
pub mod pam;
pub mod policy;
pub mod store;
pub mod sts;
pub mod time;
pub mod userdb;
