//! `iamd`: the AWS IAM and STS wire APIs over a pam-iam store, so the real AWS CLI,
//! boto3 and Terraform administer pam-iam. Every request is verified by SigV4 with the
//! store's access keys and authorized with the caller's own policies.

pub mod config;
pub mod conn;
pub mod host_api;
pub mod host_sts;
pub mod operations;
pub mod paging;
pub mod policy_cache;
pub mod pool;
pub mod prune;
pub mod query;
pub mod resource;
pub mod server;
pub mod service;
pub mod sigv4;
pub mod sts;
pub mod sts_members;
pub mod watch;
pub mod xml;
