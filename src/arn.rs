//! The ARNs of this account's resources, built in one place: every module that names
//! a user, group, role, host, policy, assumed-role session or the account root asks
//! here, so the shape cannot drift between the store, the decision core and the CLI.

/// `arn:aws:iam::ACCOUNT:KIND PATH NAME`, with `path` `/` or `/a/b/` (IAM's shape for
/// users, groups, roles and managed policies).
pub fn iam(account: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:{kind}{path}{name}")
}

/// `arn:aws:iam::ACCOUNT:user/PATH/NAME`.
pub fn user(account: &str, path: &str, name: &str) -> String {
    iam(account, "user", path, name)
}

/// `arn:aws:iam::ACCOUNT:group/PATH/NAME`.
pub fn group(account: &str, path: &str, name: &str) -> String {
    iam(account, "group", path, name)
}

/// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
pub fn role(account: &str, path: &str, name: &str) -> String {
    iam(account, "role", path, name)
}

/// `arn:aws:iam::ACCOUNT:policy/PATH/NAME`.
pub fn policy(account: &str, path: &str, name: &str) -> String {
    iam(account, "policy", path, name)
}

/// `arn:aws:iam::ACCOUNT:host/NAME`: the resource of `host:Login` and `host:Sudo`.
pub fn host(account: &str, host: &str) -> String {
    format!("arn:aws:iam::{account}:host/{host}")
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`: the principal of a role session.
pub fn assumed_role(account: &str, role: &str, session: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")
}

/// `arn:aws:iam::ACCOUNT:root`: the account itself (trust policies name it).
pub fn root(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// The part after `arn:aws:iam::ACCOUNT:` (`user/alice`, `role/ops/admin`), or `None`
/// when `arn` is not an IAM ARN of this account.
pub fn iam_resource<'a>(account: &str, arn: &'a str) -> Option<&'a str> {
    arn.strip_prefix("arn:aws:iam::")?
        .strip_prefix(account)?
        .strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "123456789012";

    #[test]
    fn shapes() {
        assert_eq!(
            user(A, "/", "alice"),
            "arn:aws:iam::123456789012:user/alice"
        );
        assert_eq!(
            group(A, "/ops/", "web"),
            "arn:aws:iam::123456789012:group/ops/web"
        );
        assert_eq!(
            role(A, "/", "admin"),
            "arn:aws:iam::123456789012:role/admin"
        );
        assert_eq!(policy(A, "/", "P"), "arn:aws:iam::123456789012:policy/P");
        assert_eq!(host(A, "web1"), "arn:aws:iam::123456789012:host/web1");
        assert_eq!(
            assumed_role(A, "admin", "s1"),
            "arn:aws:sts::123456789012:assumed-role/admin/s1"
        );
        assert_eq!(root(A), "arn:aws:iam::123456789012:root");
    }

    #[test]
    fn resource_part() {
        assert_eq!(
            iam_resource(A, "arn:aws:iam::123456789012:role/ops/admin"),
            Some("role/ops/admin")
        );
        assert_eq!(iam_resource(A, "arn:aws:iam::999999999999:role/x"), None);
        assert_eq!(
            iam_resource(A, "arn:aws:sts::123456789012:assumed-role/a/b"),
            None
        );
    }
}
