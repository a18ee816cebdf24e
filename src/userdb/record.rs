//! Pure rendering of systemd JSON user, group and membership records.
//!
//! Only public fields (the ones `/etc/passwd` and `/etc/group` show) are written: no
//! password hash, no MFA seed, no key material. Field names follow systemd's
//! "JSON User Records" / "JSON Group Records" specifications.

use serde_json::json;

use super::SERVICE;

/// Default home directory parent: `/home/NAME`.
pub const DEFAULT_HOME_PARENT: &str = "/home";
/// Default login shell.
pub const DEFAULT_SHELL: &str = "/bin/bash";
/// User tag overriding the home directory.
pub const TAG_HOME: &str = "pam-iam:home";
/// User tag overriding the login shell.
pub const TAG_SHELL: &str = "pam-iam:shell";
/// User tag giving the GECOS / real name.
pub const TAG_REAL_NAME: &str = "pam-iam:real-name";

/// One IAM user as a Linux account: what `getent passwd` shows, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    /// Primary group: the user's personal group, whose gid equals the uid.
    pub gid: u32,
    pub real_name: Option<String>,
    pub home: String,
    pub shell: String,
}

/// One IAM group as a Linux group, with the names of its IAM user members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Everything the store says the userdb directory should describe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub users: Vec<Account>,
    pub groups: Vec<GroupEntry>,
    /// Problems met while reading (e.g. an unusable `pam-iam:shell` tag).
    pub warnings: Vec<String>,
}

/// Linux user/group names we accept as file names and accounts: Debian's default
/// `NAME_REGEX` (`^[a-z][-a-z0-9_]*$`, plus a leading `_`), at most 32 characters.
/// Strict on purpose: the name becomes a file name in a root-owned directory.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || b.len() > 32 {
        return false;
    }
    let first_ok = b[0].is_ascii_lowercase() || b[0] == b'_';
    first_ok
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// A value that may go into a passwd field: absolute, printable, no `:` and no
/// `..` component (it ends up in `struct passwd`, where `:` or a newline would corrupt
/// the line other programs parse).
fn valid_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() <= 4096
        && !p.chars().any(|c| c == ':' || c.is_control())
        && !p.split('/').any(|c| c == "..")
}

fn valid_gecos(s: &str) -> bool {
    s.len() <= 256 && !s.chars().any(|c| c == ':' || c.is_control())
}

impl Account {
    /// Builds the account of an IAM user from its name, ids and tags.
    ///
    /// Tags `pam-iam:home`, `pam-iam:shell`, `pam-iam:real-name` override the defaults
    /// (`/home/NAME`, `/bin/bash`, none). An unusable tag value is ignored and reported in
    /// the returned warnings, so one bad tag never blocks the account.
    pub fn from_tags(
        name: &str,
        uid: u32,
        gid: u32,
        tags: &[(String, String)],
    ) -> (Account, Vec<String>) {
        let mut warnings = Vec::new();
        let mut home = format!("{DEFAULT_HOME_PARENT}/{name}");
        let mut shell = DEFAULT_SHELL.to_string();
        let mut real_name = None;
        for (k, v) in tags {
            match k.as_str() {
                TAG_HOME if valid_path(v) => home = v.clone(),
                TAG_SHELL if valid_path(v) => shell = v.clone(),
                TAG_REAL_NAME if valid_gecos(v) => real_name = Some(v.clone()),
                TAG_HOME | TAG_SHELL | TAG_REAL_NAME => warnings.push(format!(
                    "user {name}: tag {k} has an unusable value {v:?}; using the default"
                )),
                _ => {}
            }
        }
        let account = Account {
            name: name.to_string(),
            uid,
            gid,
            real_name,
            home,
            shell,
        };
        (account, warnings)
    }
}

fn pretty(v: &serde_json::Value) -> String {
    // Serializing a `Value` built from strings and integers cannot fail; fall back to
    // the compact form rather than panicking if it ever did.
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// The `NAME.user` record.
pub fn render_user(a: &Account) -> String {
    let mut v = json!({
        "userName": a.name,
        "uid": a.uid,
        "gid": a.gid,
    });
    if let (Some(obj), Some(rn)) = (v.as_object_mut(), &a.real_name) {
        obj.insert("realName".into(), json!(rn));
    }
    if let Some(obj) = v.as_object_mut() {
        obj.insert("homeDirectory".into(), json!(a.home));
        obj.insert("shell".into(), json!(a.shell));
        obj.insert("disposition".into(), json!("regular"));
        obj.insert("service".into(), json!(SERVICE));
    }
    pretty(&v)
}

/// The `NAME.group` record. `description` says where it comes from.
pub fn render_group(name: &str, gid: u32, description: &str) -> String {
    pretty(&json!({
        "groupName": name,
        "gid": gid,
        "description": description,
        "disposition": "regular",
        "service": SERVICE,
    }))
}

/// The `USER:GROUP.membership` file. nss-systemd only looks at its name, but an empty
/// file counts as "masked" (ignored), so it carries a small JSON body that also serves
/// as our ownership marker.
pub fn render_membership(user: &str, group: &str) -> String {
    pretty(&json!({
        "userName": user,
        "groupName": group,
        "service": SERVICE,
    }))
}

/// True when a record's text carries our marker (`"service": "pam-iam"`).
pub fn is_ours(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("service")
                .and_then(|s| s.as_str())
                .map(|s| s == SERVICE)
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names() {
        struct Case {
            name: &'static str,
            want: bool,
        }
        let cases = [
            Case {
                name: "alice",
                want: true,
            },
            Case {
                name: "_svc",
                want: true,
            },
            Case {
                name: "a-b_c9",
                want: true,
            },
            Case {
                name: "",
                want: false,
            },
            Case {
                name: "Alice",
                want: false,
            },
            Case {
                name: "9lives",
                want: false,
            },
            Case {
                name: "-x",
                want: false,
            },
            Case {
                name: "a.b",
                want: false,
            },
            Case {
                name: "../etc",
                want: false,
            },
            Case {
                name: "a:b",
                want: false,
            },
            Case {
                name: "a/b",
                want: false,
            },
            Case {
                name: "abcdefghijabcdefghijabcdefghijab",
                want: true,
            },
            Case {
                name: "abcdefghijabcdefghijabcdefghijabc",
                want: false,
            },
        ];
        for c in cases {
            assert_eq!(valid_name(c.name), c.want, "{:?}", c.name);
        }
    }

    #[test]
    fn user_record_has_public_fields_only() {
        let (a, w) = Account::from_tags("alice", 70001, 70001, &[]);
        assert!(w.is_empty());
        let text = render_user(&a);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["userName"], "alice");
        assert_eq!(v["uid"], 70001);
        assert_eq!(v["gid"], 70001);
        assert_eq!(v["homeDirectory"], "/home/alice");
        assert_eq!(v["shell"], "/bin/bash");
        assert_eq!(v["disposition"], "regular");
        assert_eq!(v["service"], SERVICE);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "userName",
                "uid",
                "gid",
                "homeDirectory",
                "shell",
                "disposition",
                "service"
            ]
        );
        assert!(!text.contains("privileged"));
        assert!(!text.contains("hashedPassword"));
        assert!(text.ends_with("}\n"));
        assert!(is_ours(&text));
    }

    #[test]
    fn tags_override_home_shell_and_real_name() {
        let (a, w) = Account::from_tags(
            "bob",
            70002,
            70002,
            &tags(&[
                (TAG_HOME, "/srv/home/bob"),
                (TAG_SHELL, "/bin/zsh"),
                (TAG_REAL_NAME, "Bob Smith"),
                ("team", "ops"),
            ]),
        );
        assert!(w.is_empty());
        assert_eq!(a.home, "/srv/home/bob");
        assert_eq!(a.shell, "/bin/zsh");
        assert_eq!(a.real_name.as_deref(), Some("Bob Smith"));
        let v: serde_json::Value = serde_json::from_str(&render_user(&a)).unwrap();
        assert_eq!(v["realName"], "Bob Smith");
    }

    #[test]
    fn unusable_tags_fall_back_with_a_warning() {
        for (k, v) in [
            (TAG_HOME, "relative/home"),
            (TAG_HOME, "/home/../etc"),
            (TAG_SHELL, "/bin/sh:x"),
            (TAG_SHELL, "/bin/sh\n"),
            (TAG_REAL_NAME, "a:b"),
        ] {
            let (a, w) = Account::from_tags("carol", 1, 1, &tags(&[(k, v)]));
            assert_eq!(w.len(), 1, "{k}={v:?}");
            assert_eq!(a.home, "/home/carol");
            assert_eq!(a.shell, "/bin/bash");
            assert_eq!(a.real_name, None);
        }
    }

    #[test]
    fn group_and_membership_records() {
        let g: serde_json::Value =
            serde_json::from_str(&render_group("ops", 70010, "IAM group ops")).unwrap();
        assert_eq!(g["groupName"], "ops");
        assert_eq!(g["gid"], 70010);
        assert_eq!(g["service"], SERVICE);
        let m = render_membership("alice", "ops");
        assert!(
            !m.is_empty(),
            "an empty membership file is a mask to systemd"
        );
        assert!(is_ours(&m));
    }

    #[test]
    fn foreign_records_are_not_ours() {
        assert!(!is_ours(r#"{"userName":"x","uid":5}"#));
        assert!(!is_ours(r#"{"userName":"x","service":"io.systemd.Home"}"#));
        assert!(!is_ours(""));
        assert!(!is_ours("not json"));
    }
}
