//! Groups and memberships in SQLite.

use super::*;

impl SqliteStore {
    pub(super) fn group_row(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<Group> {
        let name: String = r.get(0)?;
        let path: String = r.get(2)?;
        Ok(Group {
            arn: self.arn("group", &path, &name),
            name,
            group_id: r.get(1)?,
            path,
            create_date: r.get(3)?,
        })
    }

    pub(super) fn groups_where(
        &self,
        tx: &Connection,
        sql_tail: &str,
        arg: Value,
    ) -> Result<Vec<Group>> {
        let mut st = tx.prepare(&format!(
            "SELECT g.name, g.group_id, g.path, g.created FROM groups g {sql_tail} ORDER BY g.name"
        ))?;
        let rows = st.query_map([arg], |r| self.group_row(r))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

impl GroupStore for SqliteStore {
    fn create_group(&self, name: &str, path: &str, now: i64) -> Result<Group> {
        self.write(|tx| {
            if tx
                .query_row("SELECT 1 FROM groups WHERE name = ?1", [name], |_| Ok(()))
                .optional()?
                .is_some()
            {
                return Err(rules::group_exists(name));
            }
            let id = ids::new_id(ids::IdKind::Group)?;
            tx.execute(
                "INSERT INTO groups (name, group_id, path, created) VALUES (?1, ?2, ?3, ?4)",
                params![name, id, path, now],
            )?;
            Ok(Group {
                arn: self.arn("group", path, name),
                name: name.into(),
                group_id: id,
                path: path.into(),
                create_date: now,
            })
        })
    }

    fn get_group(&self, name: &str) -> Result<Group> {
        self.read(|tx| {
            self.groups_where(tx, "WHERE g.name = ?1", Value::Text(name.into()))?
                .into_iter()
                .next()
                .ok_or_else(|| rules::no_such_group(name))
        })
    }

    fn group_members(&self, name: &str) -> Result<Vec<User>> {
        self.read(|tx| {
            let pk = group_pk(tx, name)?;
            self.users_where(
                tx,
                "u.pk IN (SELECT user_pk FROM group_members WHERE group_pk = ?1)",
                Value::Integer(pk),
            )
        })
    }

    fn list_groups(&self, path_prefix: &str) -> Result<Vec<Group>> {
        self.read(|tx| {
            self.groups_where(
                tx,
                "WHERE substr(g.path, 1, length(?1)) = ?1",
                exact_prefix(path_prefix),
            )
        })
    }

    fn list_groups_for_user(&self, user: &str) -> Result<Vec<Group>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            self.groups_where(
                tx,
                "JOIN group_members m ON m.group_pk = g.pk WHERE m.user_pk = ?1",
                Value::Integer(pk),
            )
        })
    }

    fn add_user_to_group(&self, group: &str, user: &str) -> Result<()> {
        self.write(|tx| {
            let g = group_pk(tx, group)?;
            let u = user_pk(tx, user)?;
            let n = tx.execute(
                "INSERT OR IGNORE INTO group_members (group_pk, user_pk) VALUES (?1, ?2)",
                params![g, u],
            )?;
            if n == 1 {
                rules::check_groups_per_user(count(
                    tx,
                    "SELECT count(*) FROM group_members WHERE user_pk = ?1",
                    u,
                )?)?;
            }
            Ok(())
        })
    }

    fn remove_user_from_group(&self, group: &str, user: &str) -> Result<()> {
        self.write(|tx| {
            let g = group_pk(tx, group)?;
            let u = user_pk(tx, user)?;
            let changed = tx.execute(
                "DELETE FROM group_members WHERE group_pk = ?1 AND user_pk = ?2",
                params![g, u],
            )?;
            found(changed, || rules::not_in_group(user, group))
        })
    }

    fn update_group(
        &self,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            let pk = group_pk(tx, name)?;
            rename(tx, "groups", pk, new_name, new_path, rules::group_exists)
        })
    }

    fn delete_group(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let pk = group_pk(tx, name)?;
            if count(
                tx,
                "SELECT count(*) FROM group_members WHERE group_pk = ?1",
                pk,
            )? > 0
            {
                return Err(rules::group_has_members());
            }
            if count(
                tx,
                "SELECT count(*) FROM group_attached WHERE owner_pk = ?1",
                pk,
            )? > 0
                || count(
                    tx,
                    "SELECT count(*) FROM group_inline WHERE owner_pk = ?1",
                    pk,
                )? > 0
            {
                return Err(rules::group_has_policies());
            }
            tx.execute("DELETE FROM groups WHERE pk = ?1", [pk])?;
            Ok(())
        })
    }
}
