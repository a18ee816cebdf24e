//! Users and the tags of users and roles in SQLite.

use super::*;

pub(super) fn tag_table(t: TagTarget) -> (&'static str, &'static str) {
    match t {
        TagTarget::User => ("user_tags", "user_pk"),
        TagTarget::Role => ("role_tags", "role_pk"),
    }
}

pub(super) fn tags_of(tx: &Connection, target: TagTarget, pk: i64) -> Result<Vec<Tag>> {
    let (table, col) = tag_table(target);
    let mut st = tx.prepare_cached(&format!(
        "SELECT key, value FROM {table} WHERE {col} = ?1 ORDER BY key"
    ))?;
    let rows = st.query_map([pk], |r| {
        Ok(Tag {
            key: r.get(0)?,
            value: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn put_tags(tx: &Connection, target: TagTarget, pk: i64, tags: &[Tag]) -> Result<()> {
    let (table, col) = tag_table(target);
    for t in tags {
        rules::check_tag(t)?;
        tx.execute(
            &format!("INSERT INTO {table} ({col}, key, value) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET value = excluded.value"),
            params![pk, t.key, t.value],
        )?;
    }
    let n: i64 = tx.query_row(
        &format!("SELECT count(*) FROM {table} WHERE {col} = ?1"),
        [pk],
        |r| r.get(0),
    )?;
    rules::check_tag_count(n)
}

pub(super) const USER_COLS: &str = "u.pk, u.name, u.user_id, u.path, u.created, p.arn, u.password_last_used \
     FROM users u LEFT JOIN policies p ON p.pk = u.boundary_pk";

impl SqliteStore {
    pub(super) fn user_row(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, User)> {
        let name: String = r.get(1)?;
        let path: String = r.get(3)?;
        Ok((
            r.get(0)?,
            User {
                arn: self.arn("user", &path, &name),
                name,
                user_id: r.get(2)?,
                path,
                create_date: r.get(4)?,
                permissions_boundary: r.get(5)?,
                password_last_used: r.get(6)?,
                tags: Vec::new(),
            },
        ))
    }

    pub(super) fn users_where(&self, tx: &Connection, cond: &str, arg: Value) -> Result<Vec<User>> {
        let mut st =
            tx.prepare_cached(&format!("SELECT {USER_COLS} WHERE {cond} ORDER BY u.name"))?;
        let rows = st
            .query_map([arg], |r| self.user_row(r))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (pk, mut u) in rows {
            u.tags = tags_of(tx, TagTarget::User, pk)?;
            out.push(u);
        }
        Ok(out)
    }

    pub(super) fn one_user(
        &self,
        tx: &Connection,
        cond: &str,
        arg: Value,
        what: &str,
    ) -> Result<User> {
        self.users_where(tx, cond, arg)?
            .into_iter()
            .next()
            .ok_or_else(|| rules::no_such_user_with(what))
    }
}

/// How many of `part` a user (`?1`) has left.
fn user_part_count(part: rules::UserPart) -> &'static str {
    use rules::UserPart as P;
    match part {
        P::LoginProfile => "SELECT count(*) FROM login_profiles WHERE user_pk = ?1",
        P::AccessKeys => "SELECT count(*) FROM access_keys WHERE user_pk = ?1",
        P::SshKeys => "SELECT count(*) FROM ssh_keys WHERE user_pk = ?1",
        P::MfaDevices => "SELECT count(*) FROM mfa_devices WHERE user_pk = ?1",
        P::Groups => "SELECT count(*) FROM group_members WHERE user_pk = ?1",
        P::AttachedPolicies => "SELECT count(*) FROM user_attached WHERE owner_pk = ?1",
        P::InlinePolicies => "SELECT count(*) FROM user_inline WHERE owner_pk = ?1",
    }
}

impl UserStore for SqliteStore {
    fn create_user(&self, u: &NewUser, now: i64) -> Result<User> {
        self.write(|tx| {
            let exists: Option<i64> = tx.query_row("SELECT pk FROM users WHERE name = ?1", [&u.name], |r| r.get(0)).optional()?;
            if exists.is_some() {
                return Err(rules::user_exists(&u.name));
            }
            let boundary = match &u.permissions_boundary {
                Some(arn) => Some(policy_pk(tx, arn)?),
                None => None,
            };
            let id = ids::new_id(ids::IdKind::User)?;
            tx.execute(
                "INSERT INTO users (name, user_id, path, created, boundary_pk) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![u.name, id, u.path, now, boundary],
            )?;
            let pk = tx.last_insert_rowid();
            put_tags(tx, TagTarget::User, pk, &u.tags)?;
            self.one_user(tx, "u.pk = ?1", Value::Integer(pk), "that id")
        })
    }

    fn get_user(&self, name: &str) -> Result<User> {
        self.read(|tx| {
            self.one_user(
                tx,
                "u.name = ?1",
                Value::Text(name.into()),
                &format!("name {name}"),
            )
        })
    }

    fn get_user_by_id(&self, user_id: &str) -> Result<User> {
        self.read(|tx| {
            self.one_user(
                tx,
                "u.user_id = ?1",
                Value::Text(user_id.into()),
                &format!("id {user_id}"),
            )
        })
    }

    fn list_users(&self, path_prefix: &str) -> Result<Vec<User>> {
        self.read(|tx| {
            self.users_where(
                tx,
                "substr(u.path, 1, length(?1)) = ?1",
                exact_prefix(path_prefix),
            )
        })
    }

    fn update_user(
        &self,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, name)?;
            rename(tx, "users", pk, new_name, new_path, rules::user_exists)
        })
    }

    fn delete_user(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, name)?;
            for part in rules::UserPart::ALL {
                if count(tx, user_part_count(part), pk)? > 0 {
                    return Err(part.conflict());
                }
            }
            tx.execute("DELETE FROM users WHERE pk = ?1", [pk])?;
            Ok(())
        })
    }

    fn set_user_boundary(&self, name: &str, policy_arn: Option<&str>) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, name)?;
            let b = match policy_arn {
                Some(a) => Some(policy_pk(tx, a)?),
                None => None,
            };
            tx.execute(
                "UPDATE users SET boundary_pk = ?1 WHERE pk = ?2",
                params![b, pk],
            )?;
            Ok(())
        })
    }
}

impl TagStore for SqliteStore {
    fn tag(&self, target: TagTarget, name: &str, tags: &[Tag]) -> Result<()> {
        self.write(|tx| {
            let pk = match target {
                TagTarget::User => user_pk(tx, name)?,
                TagTarget::Role => role_pk(tx, name)?,
            };
            put_tags(tx, target, pk, tags)
        })
    }

    fn untag(&self, target: TagTarget, name: &str, keys: &[String]) -> Result<()> {
        self.write(|tx| {
            let pk = match target {
                TagTarget::User => user_pk(tx, name)?,
                TagTarget::Role => role_pk(tx, name)?,
            };
            let (table, col) = tag_table(target);
            for k in keys {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE {col} = ?1 AND key = ?2"),
                    params![pk, k],
                )?;
            }
            Ok(())
        })
    }

    fn list_tags(&self, target: TagTarget, name: &str) -> Result<Vec<Tag>> {
        self.read(|tx| {
            let pk = match target {
                TagTarget::User => user_pk(tx, name)?,
                TagTarget::Role => role_pk(tx, name)?,
            };
            tags_of(tx, target, pk)
        })
    }
}
