//! Fleet mode on a host: how `pam_iam.so` (and `iam-sts`) talk to `iam-agent`.
//! [`conf`] reads `/etc/pam-iam/pam_iam.conf` (local store or agent), [`proto`] is the
//! socket protocol both sides share, [`client`] the module's blocking client (a std
//! `UnixStream` with timeouts: no thread, no network socket).

pub mod client;
pub mod conf;
pub mod proto;
pub mod reconnect;
