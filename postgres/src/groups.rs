//! Groups and memberships in PostgreSQL.

use super::*;
use postgres::types::ToSql;

impl PgStore {
    pub(crate) fn groups_where(
        &self,
        db: &mut Db<'_>,
        tail: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Group>> {
        db.rows(
            &format!(
                "SELECT g.name, g.group_id, g.path, g.created FROM groups g {tail} ORDER BY g.name"
            ),
            p,
        )?
        .iter()
        .map(|r| {
            let name: String = g(r, 0)?;
            let path: String = g(r, 2)?;
            Ok(Group {
                arn: self.arn("group", &path, &name),
                name,
                group_id: g(r, 1)?,
                path,
                create_date: g(r, 3)?,
            })
        })
        .collect()
    }
}

impl GroupStore for PgStore {
    fn create_group(&self, name: &str, path: &str, now: i64) -> Result<Group> {
        self.write(Iso::Serializable, |db| {
            if db
                .opt("SELECT 1 FROM groups WHERE name = $1", &[&name])?
                .is_some()
            {
                return Err(rules::group_exists(name));
            }
            let id = pam_iam::credentials::ids::new_id(pam_iam::credentials::ids::IdKind::Group)?;
            db.exec(
                "INSERT INTO groups (name, group_id, path, created) VALUES ($1, $2, $3, $4)",
                &[&name, &id, &path, &now],
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
        self.read1(|db| {
            self.groups_where(db, "WHERE g.name = $1", &[&name])?
                .into_iter()
                .next()
                .ok_or_else(|| rules::no_such_group(name))
        })
    }

    fn group_members(&self, name: &str) -> Result<Vec<User>> {
        self.read(|db| {
            let pk = group_pk(db, name)?;
            self.users_where(
                db,
                "u.pk IN (SELECT user_pk FROM group_members WHERE group_pk = $1)",
                &pk,
            )
        })
    }

    fn list_groups(&self, path_prefix: &str) -> Result<Vec<Group>> {
        self.read1(|db| {
            self.groups_where(
                db,
                &format!("WHERE {}", prefix_cond("g.path")),
                &[&path_prefix],
            )
        })
    }

    fn list_groups_for_user(&self, user: &str) -> Result<Vec<Group>> {
        self.read(|db| {
            let pk = user_pk(db, user)?;
            self.groups_where(
                db,
                "JOIN group_members m ON m.group_pk = g.pk WHERE m.user_pk = $1",
                &[&pk],
            )
        })
    }

    fn add_user_to_group(&self, group: &str, user: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let gp = group_pk(db, group)?;
            let u = user_pk(db, user)?;
            let n = db.exec(
                "INSERT INTO group_members (group_pk, user_pk) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&gp, &u],
            )?;
            if n == 1 {
                rules::check_groups_per_user(count(
                    db,
                    "SELECT count(*) FROM group_members WHERE user_pk = $1",
                    u,
                )?)?;
            }
            Ok(())
        })
    }

    fn remove_user_from_group(&self, group: &str, user: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let gp = group_pk(db, group)?;
            let u = user_pk(db, user)?;
            let n = db.exec(
                "DELETE FROM group_members WHERE group_pk = $1 AND user_pk = $2",
                &[&gp, &u],
            )?;
            found(n, || rules::not_in_group(user, group))
        })
    }

    fn update_group(
        &self,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = group_pk(db, name)?;
            if let Some(n) = new_name {
                if let Some(r) = db.opt("SELECT pk FROM groups WHERE name = $1", &[&n])? {
                    if g::<i64>(&r, 0)? != pk {
                        return Err(rules::group_exists(n));
                    }
                }
            }
            db.exec(
                "UPDATE groups SET name = coalesce($1, name), path = coalesce($2, path) WHERE pk = $3",
                &[&new_name, &new_path, &pk],
            )?;
            Ok(())
        })
    }

    fn delete_group(&self, name: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = group_pk(db, name)?;
            let r = db.one(
                "SELECT (SELECT count(*) FROM group_members WHERE group_pk = $1),
                        (SELECT count(*) FROM group_attached WHERE owner_pk = $1)
                      + (SELECT count(*) FROM group_inline WHERE owner_pk = $1)",
                &[&pk],
            )?;
            if g::<i64>(&r, 0)? > 0 {
                return Err(rules::group_has_members());
            }
            if g::<i64>(&r, 1)? > 0 {
                return Err(rules::group_has_policies());
            }
            db.exec("DELETE FROM groups WHERE pk = $1", &[&pk])?;
            Ok(())
        })
    }
}
