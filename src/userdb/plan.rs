//! Pure comparison of the records the store asks for with what the userdb directory
//! holds. No I/O here: [`super::fsops`] scans and applies, this module decides.
//!
//! Ownership rule: a `.user`, `.group` or `.membership` file is ours when it is a
//! regular file whose JSON carries `"service": "pam-iam"`; a numeric `UID.user` /
//! `GID.group` symlink is ours when it points at one of our files (or dangles and its
//! number lies in our id range). Anything else is never changed or removed: a clash
//! with it is reported as a conflict and left alone.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use super::ids::IdRange;
use super::record::{self, Snapshot};

/// What a desired directory entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file, mode 0644, with this content.
    File(String),
    /// A symlink with this (relative, same-directory) target.
    Symlink(String),
}

/// What the scan found under one name in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A regular file: its text (None when unreadable or too large) and permission bits.
    File { text: Option<String>, mode: u32 },
    /// A symlink and its target.
    Symlink(String),
    /// A directory, socket, ...: never ours.
    Other,
}

/// Kinds of drift between the store and the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DriftKind {
    /// A record the store asks for is absent.
    Missing,
    /// One of our records is there but differs (content, mode or link target).
    Different,
    /// One of our records describes something the store no longer has.
    Extra,
    /// The name is taken by something we do not manage; left alone.
    Conflict,
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriftKind::Missing => "missing",
            DriftKind::Different => "different",
            DriftKind::Extra => "extra",
            DriftKind::Conflict => "conflict",
        })
    }
}

/// One difference, named by the file it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub kind: DriftKind,
    pub name: String,
    pub detail: String,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<9} {}", self.kind.to_string(), self.name)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// Names and ids of the machine's own accounts (`/etc/passwd`, `/etc/group`): they win
/// over records (nss `files` comes first), so we never describe a clashing account.
#[derive(Debug, Clone, Default)]
pub struct Local {
    pub user_names: HashSet<String>,
    pub uids: HashSet<u32>,
    pub group_names: HashSet<String>,
    pub gids: HashSet<u32>,
}

impl Local {
    /// Parses the text of `/etc/passwd` and `/etc/group` (name:x:id:...).
    pub fn parse(passwd: &str, group: &str) -> Local {
        let mut l = Local::default();
        for (name, id) in fields(passwd) {
            l.user_names.insert(name);
            if let Some(id) = id {
                l.uids.insert(id);
            }
        }
        for (name, id) in fields(group) {
            l.group_names.insert(name);
            if let Some(id) = id {
                l.gids.insert(id);
            }
        }
        l
    }
}

fn fields(text: &str) -> impl Iterator<Item = (String, Option<u32>)> + '_ {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.starts_with('+'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?.to_string();
            let _ = f.next();
            let id = f.next().and_then(|s| s.parse().ok());
            Some((name, id))
        })
}

/// The entries the store asks for, plus conflicts with local accounts or invalid names.
pub fn desired(snap: &Snapshot, local: &Local) -> (BTreeMap<String, Entry>, Vec<Drift>) {
    let mut want = BTreeMap::new();
    let mut conflicts = Vec::new();
    let mut conflict = |name: String, detail: String| {
        conflicts.push(Drift {
            kind: DriftKind::Conflict,
            name,
            detail,
        })
    };

    let mut seen_ids: HashSet<u32> = HashSet::new();
    let mut users_ok: BTreeSet<&str> = BTreeSet::new();
    let mut groups_ok: BTreeSet<&str> = BTreeSet::new();
    let iam_group_names: HashSet<&str> = snap.groups.iter().map(|g| g.name.as_str()).collect();

    for g in &snap.groups {
        let file = format!("{}.group", g.name);
        if !record::valid_name(&g.name) {
            conflict(
                file,
                "not a valid Linux group name; no record written".into(),
            );
        } else if local.group_names.contains(&g.name) {
            conflict(file, "a group of that name exists in /etc/group".into());
        } else if local.gids.contains(&g.gid) {
            conflict(file, format!("gid {} is used in /etc/group", g.gid));
        } else if !seen_ids.insert(g.gid) {
            conflict(file, format!("gid {} is used twice in the store", g.gid));
        } else {
            let desc = format!("IAM group {}", g.name);
            want.insert(
                file.clone(),
                Entry::File(record::render_group(&g.name, g.gid, &desc)),
            );
            want.insert(format!("{}.group", g.gid), Entry::Symlink(file));
            groups_ok.insert(&g.name);
        }
    }

    for u in &snap.users {
        let file = format!("{}.user", u.name);
        if !record::valid_name(&u.name) {
            conflict(
                file,
                "not a valid Linux user name; no record written".into(),
            );
            continue;
        }
        if local.user_names.contains(&u.name) {
            conflict(file, "a user of that name exists in /etc/passwd".into());
            continue;
        }
        if local.uids.contains(&u.uid) {
            conflict(file, format!("uid {} is used in /etc/passwd", u.uid));
            continue;
        }
        if u.uid != u.gid || !seen_ids.insert(u.uid) {
            conflict(file, format!("uid {} is used twice in the store", u.uid));
            continue;
        }
        want.insert(file.clone(), Entry::File(record::render_user(u)));
        want.insert(format!("{}.user", u.uid), Entry::Symlink(file));
        users_ok.insert(&u.name);

        // Personal group (Debian's user private groups): same name, gid = uid. An IAM
        // group or local group of the same name keeps the name; the gid stays numeric.
        let pg = format!("{}.group", u.name);
        if iam_group_names.contains(u.name.as_str()) {
            conflict(
                pg,
                "an IAM group has the user's name; personal group not written".into(),
            );
        } else if local.group_names.contains(&u.name) || local.gids.contains(&u.gid) {
            conflict(
                pg,
                "the user's personal group clashes with /etc/group".into(),
            );
        } else {
            let desc = format!("personal group of IAM user {}", u.name);
            want.insert(
                pg.clone(),
                Entry::File(record::render_group(&u.name, u.gid, &desc)),
            );
            want.insert(format!("{}.group", u.gid), Entry::Symlink(pg));
        }
    }

    // Every IAM user with a record joins the host's `iam-users` group, when the host has
    // one (the package makes it): sshd's `Match Group iam-users` relies on it.
    if local.group_names.contains(super::ALL_USERS_GROUP) {
        for u in &users_ok {
            want.insert(
                format!("{u}:{}.membership", super::ALL_USERS_GROUP),
                Entry::File(record::render_membership(u, super::ALL_USERS_GROUP)),
            );
        }
    }

    for g in &snap.groups {
        if !groups_ok.contains(g.name.as_str()) {
            continue;
        }
        for m in &g.members {
            if users_ok.contains(m.as_str()) {
                want.insert(
                    format!("{m}:{}.membership", g.name),
                    Entry::File(record::render_membership(m, &g.name)),
                );
            }
        }
    }
    (want, conflicts)
}

/// The changes that bring the directory to the desired state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Every difference found (including conflicts, which are not repaired).
    pub drift: Vec<Drift>,
    /// Entries to create or replace, files before symlinks.
    pub writes: Vec<(String, Entry)>,
    /// Our entries to remove, symlinks and memberships before records.
    pub removes: Vec<String>,
}

fn numeric_link(name: &str) -> Option<u32> {
    let stem = name
        .strip_suffix(".user")
        .or_else(|| name.strip_suffix(".group"))?;
    stem.parse().ok()
}

fn is_record_name(name: &str) -> bool {
    name.ends_with(".user") || name.ends_with(".group") || name.ends_with(".membership")
}

/// Which scanned entries are ours (see the module documentation).
pub fn ours(found: &BTreeMap<String, Found>, range: &IdRange) -> BTreeSet<String> {
    let mut files: BTreeSet<String> = found
        .iter()
        .filter(|(name, f)| {
            is_record_name(name)
                && matches!(f, Found::File { text: Some(t), .. } if record::is_ours(t))
        })
        .map(|(n, _)| n.clone())
        .collect();
    let links: Vec<String> = found
        .iter()
        .filter_map(|(name, f)| match f {
            Found::Symlink(target) => {
                let id = numeric_link(name)?;
                let points_to_ours = files.contains(target);
                let dangling = !target.contains('/') && !found.contains_key(target);
                (points_to_ours || (dangling && range.contains(id))).then(|| name.clone())
            }
            _ => None,
        })
        .collect();
    files.extend(links);
    files
}

/// Compares desired entries with the scanned directory.
pub fn plan(
    want: &BTreeMap<String, Entry>,
    mut conflicts: Vec<Drift>,
    found: &BTreeMap<String, Found>,
    range: &IdRange,
) -> Plan {
    let ours = ours(found, range);
    let mut p = Plan::default();
    let mut blocked: BTreeSet<&str> = BTreeSet::new();

    // Files first, so symlinks and memberships can depend on them.
    let (files, links): (Vec<_>, Vec<_>) =
        want.iter().partition(|(_, e)| matches!(e, Entry::File(_)));
    for (name, entry) in files.into_iter().chain(links) {
        let depends_blocked = match entry {
            Entry::Symlink(t) => blocked.contains(t.as_str()),
            Entry::File(_) => name.strip_suffix(".membership").is_some_and(|s| {
                s.split_once(':').is_some_and(|(u, g)| {
                    blocked.contains(format!("{u}.user").as_str())
                        || blocked.contains(format!("{g}.group").as_str())
                })
            }),
        };
        if depends_blocked {
            blocked.insert(name);
            conflicts.push(Drift {
                kind: DriftKind::Conflict,
                name: name.clone(),
                detail: "depends on a record we do not manage; left alone".into(),
            });
            continue;
        }
        match found.get(name) {
            None => {
                p.drift.push(Drift {
                    kind: DriftKind::Missing,
                    name: name.clone(),
                    detail: String::new(),
                });
                p.writes.push((name.clone(), entry.clone()));
            }
            Some(f) if !ours.contains(name) => {
                let _ = f;
                blocked.insert(name);
                conflicts.push(Drift {
                    kind: DriftKind::Conflict,
                    name: name.clone(),
                    detail: "exists and is not managed by pam-iam; left alone".into(),
                });
            }
            Some(f) => {
                let detail = match (entry, f) {
                    (Entry::File(want), Found::File { text, mode }) => {
                        if text.as_deref() != Some(want.as_str()) {
                            Some("content differs".to_string())
                        } else if mode & 0o7777 != 0o644 {
                            Some(format!("mode {:o}, want 644", mode & 0o7777))
                        } else {
                            None
                        }
                    }
                    (Entry::Symlink(want), Found::Symlink(have)) => {
                        (want != have).then(|| format!("points to {have}, want {want}"))
                    }
                    _ => Some("wrong file type".to_string()),
                };
                if let Some(detail) = detail {
                    p.drift.push(Drift {
                        kind: DriftKind::Different,
                        name: name.clone(),
                        detail,
                    });
                    p.writes.push((name.clone(), entry.clone()));
                }
            }
        }
    }

    let mut extra: Vec<&String> = ours.iter().filter(|n| !want.contains_key(*n)).collect();
    // Links and memberships go before the records they refer to.
    extra.sort_by_key(|n| {
        (
            !(numeric_link(n).is_some() || n.ends_with(".membership")),
            *n,
        )
    });
    for name in extra {
        p.drift.push(Drift {
            kind: DriftKind::Extra,
            name: name.clone(),
            detail: String::new(),
        });
        p.removes.push(name.clone());
    }
    p.drift.extend(conflicts);
    p.drift
        .sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::userdb::record::{Account, GroupEntry};

    fn range() -> IdRange {
        IdRange {
            first: 70000,
            last: 99999,
        }
    }

    fn snap() -> Snapshot {
        let (alice, _) = Account::from_tags("alice", 70000, 70000, &[]);
        let (bob, _) = Account::from_tags("bob", 70001, 70001, &[]);
        Snapshot {
            users: vec![alice, bob],
            groups: vec![GroupEntry {
                name: "ops".into(),
                gid: 70002,
                members: vec!["alice".into()],
            }],
            ..Default::default()
        }
    }

    /// The directory exactly as `want` describes it.
    fn materialize(want: &BTreeMap<String, Entry>) -> BTreeMap<String, Found> {
        want.iter()
            .map(|(n, e)| {
                let f = match e {
                    Entry::File(t) => Found::File {
                        text: Some(t.clone()),
                        mode: 0o100644,
                    },
                    Entry::Symlink(t) => Found::Symlink(t.clone()),
                };
                (n.clone(), f)
            })
            .collect()
    }

    fn names(v: &[Drift], kind: DriftKind) -> Vec<&str> {
        v.iter()
            .filter(|d| d.kind == kind)
            .map(|d| d.name.as_str())
            .collect()
    }

    #[test]
    fn desired_entries() {
        let (want, conflicts) = desired(&snap(), &Local::default());
        assert!(conflicts.is_empty());
        let got: Vec<&str> = want.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            got,
            [
                "70000.group",
                "70000.user",
                "70001.group",
                "70001.user",
                "70002.group",
                "alice.group",
                "alice.user",
                "alice:ops.membership",
                "bob.group",
                "bob.user",
                "ops.group",
            ]
        );
        assert_eq!(want["70000.user"], Entry::Symlink("alice.user".into()));
    }

    #[test]
    fn empty_directory_everything_missing_then_clean() {
        let (want, c) = desired(&snap(), &Local::default());
        let p = plan(&want, c.clone(), &BTreeMap::new(), &range());
        assert_eq!(p.writes.len(), want.len());
        assert!(p.removes.is_empty());
        assert!(p.drift.iter().all(|d| d.kind == DriftKind::Missing));
        // Files are written before the links that point at them.
        let first_link = p
            .writes
            .iter()
            .position(|(_, e)| matches!(e, Entry::Symlink(_)))
            .unwrap();
        assert!(
            p.writes[first_link..]
                .iter()
                .all(|(_, e)| matches!(e, Entry::Symlink(_)))
        );

        let p = plan(&want, c, &materialize(&want), &range());
        assert_eq!(p, Plan::default(), "in sync: no drift");
    }

    #[test]
    fn deleted_user_is_extra_and_links_go_first() {
        let (want, _) = desired(&snap(), &Local::default());
        let found = materialize(&want);
        let mut s = snap();
        s.users.retain(|u| u.name != "alice");
        let (want2, c) = desired(&s, &Local::default());
        let p = plan(&want2, c, &found, &range());
        assert_eq!(
            p.removes,
            [
                "70000.group",
                "70000.user",
                "alice:ops.membership",
                "alice.group",
                "alice.user"
            ]
        );
        assert!(p.writes.is_empty());
    }

    #[test]
    fn renamed_user_keeps_uid() {
        let (want, _) = desired(&snap(), &Local::default());
        let found = materialize(&want);
        let mut s = snap();
        s.users[0].name = "alicia".into();
        s.users[0].home = "/home/alicia".into();
        s.groups[0].members = vec!["alicia".into()];
        let (want2, c) = desired(&s, &Local::default());
        let p = plan(&want2, c, &found, &range());
        assert_eq!(
            names(&p.drift, DriftKind::Different),
            ["70000.group", "70000.user"]
        );
        assert_eq!(
            names(&p.drift, DriftKind::Missing),
            ["alicia.group", "alicia.user", "alicia:ops.membership"]
        );
        assert_eq!(
            names(&p.drift, DriftKind::Extra),
            ["alice.group", "alice.user", "alice:ops.membership"]
        );
    }

    #[test]
    fn changed_content_and_mode_are_different() {
        let (want, c) = desired(&snap(), &Local::default());
        let mut found = materialize(&want);
        found.insert(
            "bob.user".into(),
            Found::File {
                text: Some(want_text(&want, "bob.user").replace("/bin/bash", "/bin/sh")),
                mode: 0o644,
            },
        );
        found.insert(
            "ops.group".into(),
            Found::File {
                text: Some(want_text(&want, "ops.group")),
                mode: 0o666,
            },
        );
        found.insert("70001.user".into(), Found::Symlink("alice.user".into()));
        let p = plan(&want, c, &found, &range());
        assert_eq!(
            names(&p.drift, DriftKind::Different),
            ["70001.user", "bob.user", "ops.group"]
        );
        assert_eq!(p.writes.len(), 3);
    }

    fn want_text(want: &BTreeMap<String, Entry>, n: &str) -> String {
        match &want[n] {
            Entry::File(t) => t.clone(),
            Entry::Symlink(_) => String::new(),
        }
    }

    #[test]
    fn foreign_records_are_never_touched() {
        let (want, c) = desired(&snap(), &Local::default());
        let mut found = BTreeMap::new();
        // Someone else's alice.user and an unrelated record.
        let foreign = Found::File {
            text: Some(r#"{"userName":"alice","uid":4711}"#.into()),
            mode: 0o644,
        };
        found.insert("alice.user".to_string(), foreign.clone());
        found.insert("carol.user".to_string(), foreign.clone());
        found.insert("4711.user".to_string(), Found::Symlink("carol.user".into()));
        found.insert("README".to_string(), Found::Other);
        let p = plan(&want, c, &found, &range());
        assert!(!p.writes.iter().any(|(n, _)| n == "alice.user"));
        assert!(
            !p.writes.iter().any(|(n, _)| n == "70000.user"),
            "no link to a foreign record"
        );
        assert!(!p.writes.iter().any(|(n, _)| n == "alice:ops.membership"));
        assert!(
            p.removes.is_empty(),
            "foreign entries are not extra: {:?}",
            p.removes
        );
        assert_eq!(
            names(&p.drift, DriftKind::Conflict),
            ["70000.user", "alice.user", "alice:ops.membership"]
        );
    }

    #[test]
    fn dangling_links_in_our_range_are_ours() {
        let mut found = BTreeMap::new();
        found.insert("70005.user".to_string(), Found::Symlink("gone.user".into()));
        found.insert("500.user".to_string(), Found::Symlink("other.user".into()));
        let p = plan(&BTreeMap::new(), vec![], &found, &range());
        assert_eq!(p.removes, ["70005.user"]);
    }

    #[test]
    fn local_accounts_win() {
        let local = Local::parse(
            "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/sh\n",
            "root:x:0:\nops:x:1001:\nalice:x:1002:\n",
        );
        let (want, conflicts) = desired(&snap(), &local);
        assert!(!want.contains_key("bob.user"));
        assert!(!want.contains_key("ops.group"));
        assert!(!want.contains_key("alice.group"));
        assert!(want.contains_key("alice.user"));
        assert!(!want.contains_key("alice:ops.membership"));
        assert_eq!(
            names(&conflicts, DriftKind::Conflict),
            ["ops.group", "alice.group", "bob.user"]
        );
    }

    #[test]
    fn iam_group_named_like_a_user_keeps_the_name() {
        let mut s = snap();
        s.groups.push(GroupEntry {
            name: "bob".into(),
            gid: 70003,
            members: vec!["bob".into()],
        });
        let (want, conflicts) = desired(&s, &Local::default());
        assert!(
            want["bob.group"] == Entry::File(record::render_group("bob", 70003, "IAM group bob"))
        );
        assert!(!want.contains_key("70001.group"));
        assert_eq!(conflicts.len(), 1);
    }

    #[test]
    fn every_user_record_joins_the_hosts_iam_users_group() {
        let local = Local::parse(
            "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/sh\n",
            "root:x:0:\niam-users:x:990:\n",
        );
        let mut s = snap();
        // An IAM group of the same name never takes the local group's place.
        s.groups.push(GroupEntry {
            name: "iam-users".into(),
            gid: 70005,
            members: vec!["alice".into()],
        });
        let (want, conflicts) = desired(&s, &local);
        let members: Vec<&str> = want
            .keys()
            .filter(|k| k.ends_with(":iam-users.membership"))
            .map(|k| k.as_str())
            .collect();
        // bob is a local account (his record is not written): not an IAM login.
        assert_eq!(members, ["alice:iam-users.membership"]);
        assert!(!want.contains_key("iam-users.group"));
        assert!(names(&conflicts, DriftKind::Conflict).contains(&"iam-users.group"));
        // Without the local group (not installed by the package): no memberships.
        let (want, _) = desired(&snap(), &Local::default());
        assert!(!want.keys().any(|k| k.contains("iam-users")));
    }

    #[test]
    fn invalid_names_are_skipped() {
        let mut s = snap();
        s.groups.push(GroupEntry {
            name: "Ops.Team".into(),
            gid: 70004,
            members: vec!["alice".into()],
        });
        let (want, conflicts) = desired(&s, &Local::default());
        assert!(!want.keys().any(|k| k.contains("Ops")));
        assert_eq!(names(&conflicts, DriftKind::Conflict), ["Ops.Team.group"]);
    }
}
