//! The store side of userdb: reads users, groups, memberships, tags and SSH keys from
//! the store, binds Linux ids to new entities, and decides per user whether keys may be
//! exported (see [`super::login`]).

use super::keys::UserKeys;
use super::plan::Local;
use super::record::{Account, GroupEntry, Snapshot};
use super::sync::{Config, Mode, Report, sync};
use super::{Source, UserdbError};
use crate::store::{Status, Store, StoreError};

/// The decision "may this user log in here, as far as we can know at key time":
/// `Ok(None)` possibly, `Ok(Some(why))` certainly not.
pub type LoginCheck<'a> = dyn Fn(&dyn Store, &str) -> Result<Option<String>, String> + 'a;

/// A [`Source`] over the store.
pub struct StoreSource<'a> {
    pub store: &'a dyn Store,
    pub login: &'a LoginCheck<'a>,
}

fn store_err(e: StoreError) -> String {
    e.to_string()
}

impl Source for StoreSource<'_> {
    fn snapshot(&self) -> Result<Snapshot, String> {
        let mut snap = Snapshot::default();
        for u in self.store.list_users("/").map_err(store_err)? {
            // Users without an id yet (created before userdb, or check mode) are left
            // out: they get one at the next change or `iam sync-userdb`.
            let Some(uid) = self.store.linux_id(&u.user_id).map_err(store_err)? else {
                continue;
            };
            let tags: Vec<(String, String)> = u
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            let (account, warnings) = Account::from_tags(&u.name, uid, uid, &tags);
            snap.warnings.extend(warnings);
            snap.users.push(account);
        }
        for g in self.store.list_groups("/").map_err(store_err)? {
            let Some(gid) = self.store.linux_id(&g.group_id).map_err(store_err)? else {
                continue;
            };
            let members = self
                .store
                .group_members(&g.name)
                .map_err(store_err)?
                .into_iter()
                .map(|u| u.name)
                .collect();
            snap.groups.push(GroupEntry {
                name: g.name,
                gid,
                members,
            });
        }
        Ok(snap)
    }

    fn key_export(&self) -> Result<Vec<UserKeys>, String> {
        let mut out = Vec::new();
        for u in self.store.list_users("/").map_err(store_err)? {
            let keys: Vec<(String, String)> = self
                .store
                .list_ssh_public_keys(&u.name)
                .map_err(store_err)?
                .into_iter()
                .filter(|k| k.status == Status::Active)
                .map(|k| (k.ssh_public_key_id, k.body))
                .collect();
            if keys.is_empty() {
                continue;
            }
            let denied = (self.login)(self.store, &u.name)?;
            out.push(UserKeys {
                user: u.name,
                keys,
                denied,
            });
        }
        Ok(out)
    }
}

/// Gives every user and group that has no Linux id yet the next one of the range
/// (skipping ids of local accounts). Returns warnings for entities left without one.
///
/// # Errors
/// [`UserdbError::Source`] when the store cannot be read or written.
pub fn ensure_ids(store: &dyn Store, cfg: &Config, local: &Local) -> Result<(), UserdbError> {
    let src = |e: StoreError| UserdbError::Source(e.to_string());
    let range = (cfg.range.first, cfg.range.last);
    let in_use = |id: u32| local.uids.contains(&id) || local.gids.contains(&id);
    let mut entities: Vec<String> = store
        .list_users("/")
        .map_err(src)?
        .into_iter()
        .map(|u| u.user_id)
        .collect();
    entities.extend(
        store
            .list_groups("/")
            .map_err(src)?
            .into_iter()
            .map(|g| g.group_id),
    );
    for id in entities {
        if store.linux_id(&id).map_err(src)?.is_none() {
            crate::store::assign_linux_id(store, &id, None, range, &in_use).map_err(
                |e| match e {
                    StoreError::LimitExceeded(_) => UserdbError::RangeExhausted {
                        first: range.0,
                        last: range.1,
                    },
                    e => src(e),
                },
            )?;
        }
    }
    Ok(())
}

/// Everything `iam` does after a change, or for `iam sync-userdb`: bind ids to new
/// entities (repair mode only), then compare/repair records and the key export.
///
/// # Errors
/// As [`sync`]; nothing is removed when the store cannot be read.
pub fn apply(
    store: &dyn Store,
    cfg: &Config,
    login: &LoginCheck<'_>,
    mode: Mode,
) -> Result<Report, UserdbError> {
    if mode == Mode::Repair {
        let local = cfg.local_accounts()?;
        ensure_ids(store, cfg, &local)?;
    }
    let source = StoreSource { store, login };
    let mut report = sync(&source, cfg, mode)?;
    if mode == Mode::Check {
        let src = |e: StoreError| UserdbError::Source(e.to_string());
        for u in store.list_users("/").map_err(src)? {
            if store.linux_id(&u.user_id).map_err(src)?.is_none() {
                report.warnings.push(format!(
                    "user {} has no uid yet (run `iam sync-userdb` to assign one)",
                    u.name
                ));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewUser, OpenMode, Tag, open_path};
    use crate::userdb::IdRange;
    use std::os::unix::fs::PermissionsExt;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbZkzmyqFz4jqL7g3Jtq3xKq3sB1cXx2x0n1cY9b5rT a@b";

    fn new_user(s: &dyn Store, name: &str, tags: Vec<Tag>) {
        s.create_user(
            &NewUser {
                name: name.into(),
                path: "/".into(),
                tags,
                ..Default::default()
            },
            1,
        )
        .unwrap();
    }

    fn read(c: &Config, name: &str) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(c.dir.join(name)).unwrap()).unwrap()
    }

    #[test]
    fn store_to_records_rename_delete_and_keys() {
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = open_path(&d.path().join("db/iam.db"), OpenMode::ReadWrite).unwrap();
        let c = Config {
            dir: d.path().join("userdb"),
            keys_dir: d.path().join("keys"),
            range: IdRange::default(),
            passwd: d.path().join("passwd"),
            group: d.path().join("group"),
        };
        let allow = |_: &dyn Store, _: &str| Ok(None);
        let shell = Tag {
            key: "pam-iam:shell".into(),
            value: "/bin/zsh".into(),
        };
        new_user(&*s, "alice", vec![shell]);
        new_user(&*s, "bob", vec![]);
        s.create_group("ops", "/", 1).unwrap();
        s.add_user_to_group("ops", "alice").unwrap();
        s.upload_ssh_public_key("alice", "APKAALICE", KEY, "SHA256:x", 1)
            .unwrap();
        s.upload_ssh_public_key("bob", "APKABOB", KEY, "SHA256:y", 1)
            .unwrap();
        s.update_ssh_public_key("bob", "APKABOB", Status::Inactive)
            .unwrap();

        apply(&*s, &c, &allow, Mode::Repair).unwrap();
        let a = read(&c, "alice.user");
        assert_eq!(
            (a["uid"].as_u64(), a["shell"].as_str()),
            (Some(70000), Some("/bin/zsh"))
        );
        assert_eq!(read(&c, "bob.user")["uid"], 70001);
        assert_eq!(read(&c, "ops.group")["gid"], 70002);
        assert!(c.dir.join("alice:ops.membership").exists());
        assert!(c.keys_dir.join("alice").exists());
        assert!(
            !c.keys_dir.join("bob").exists(),
            "inactive keys are not exported"
        );
        assert_eq!(apply(&*s, &c, &allow, Mode::Check).unwrap().repairable(), 0);

        // Rename keeps the uid; delete frees nothing; a new user gets a new id.
        s.update_user("alice", Some("alicia"), None).unwrap();
        s.delete_ssh_public_key("bob", "APKABOB").unwrap();
        s.delete_user("bob").unwrap();
        new_user(&*s, "carol", vec![]);
        apply(&*s, &c, &allow, Mode::Repair).unwrap();
        assert_eq!(read(&c, "alicia.user")["uid"], 70000);
        assert!(!c.dir.join("alice.user").exists());
        assert!(c.dir.join("alicia:ops.membership").exists());
        assert!(!c.dir.join("bob.user").exists());
        assert!(!c.dir.join("70001.user").exists());
        assert_eq!(read(&c, "carol.user")["uid"], 70003);
        assert!(c.keys_dir.join("alicia").exists() && !c.keys_dir.join("alice").exists());

        // A group rename keeps the gid.
        s.update_group("ops", Some("operators"), None).unwrap();
        apply(&*s, &c, &allow, Mode::Repair).unwrap();
        assert_eq!(read(&c, "operators.group")["gid"], 70002);
        assert!(!c.dir.join("ops.group").exists());
        assert!(c.dir.join("alicia:operators.membership").exists());

        // A certain denial removes the export.
        let deny = |_: &dyn Store, _: &str| Ok(Some("explicit deny".to_string()));
        apply(&*s, &c, &deny, Mode::Repair).unwrap();
        assert!(!c.keys_dir.join("alicia").exists());
    }
}
