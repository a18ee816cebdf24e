//! Roles in PostgreSQL.

use super::*;
use postgres::types::ToSql;
use users::{parse_tags, tags_json};

impl PgStore {
    pub(crate) fn roles_where(
        &self,
        db: &mut Db<'_>,
        cond: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Role>> {
        db.rows(
            &format!(
                "SELECT r.name, r.role_id, r.path, r.trust, r.description, r.max_session, p.arn, r.created, {}
                 FROM roles r LEFT JOIN policies p ON p.pk = r.boundary_pk WHERE {cond} ORDER BY r.name",
                tags_json(TagTarget::Role, "r.pk")
            ),
            p,
        )?
        .iter()
        .map(|r| {
            let name: String = g(r, 0)?;
            let path: String = g(r, 2)?;
            let tags: String = g(r, 8)?;
            Ok(Role {
                arn: self.arn("role", &path, &name),
                name,
                role_id: g(r, 1)?,
                path,
                assume_role_policy_document: g(r, 3)?,
                description: g(r, 4)?,
                max_session_duration: g(r, 5)?,
                permissions_boundary: g(r, 6)?,
                create_date: g(r, 7)?,
                tags: parse_tags(&tags)?,
            })
        })
        .collect()
    }
}

impl RoleStore for PgStore {
    fn create_role(&self, r: &NewRole, now: i64) -> Result<Role> {
        self.write(Iso::Serializable, |db| {
            if db.opt("SELECT 1 FROM roles WHERE name = $1", &[&r.name])?.is_some() {
                return Err(rules::role_exists(&r.name));
            }
            let boundary = match &r.permissions_boundary {
                Some(arn) => Some(policy_pk(db, arn)?),
                None => None,
            };
            let id = pam_iam::credentials::ids::new_id(pam_iam::credentials::ids::IdKind::Role)?;
            let row = db.one(
                "INSERT INTO roles (name, role_id, path, trust, description, max_session, boundary_pk, created)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING pk",
                &[&r.name, &id, &r.path, &r.assume_role_policy_document, &r.description, &r.max_session_duration, &boundary, &now],
            )?;
            let pk: i64 = g(&row, 0)?;
            users::put_tags(db, TagTarget::Role, pk, &r.tags)?;
            self.roles_where(db, "r.pk = $1", &[&pk])?
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Database("role vanished".into()))
        })
    }

    fn get_role(&self, name: &str) -> Result<Role> {
        self.read1(|db| {
            self.roles_where(db, "r.name = $1", &[&name])?
                .into_iter()
                .next()
                .ok_or_else(|| rules::no_such_role(name))
        })
    }

    fn list_roles(&self, path_prefix: &str) -> Result<Vec<Role>> {
        self.read1(|db| self.roles_where(db, &prefix_cond("r.path"), &[&path_prefix]))
    }

    fn update_role(
        &self,
        name: &str,
        description: Option<&str>,
        max_session_duration: Option<i64>,
    ) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec(
                "UPDATE roles SET description = coalesce($1, description), max_session = coalesce($2, max_session) WHERE name = $3",
                &[&description, &max_session_duration, &name],
            )?;
            found(n, || rules::no_such_role(name))
        })
    }

    fn update_assume_role_policy(&self, name: &str, document: &str) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec(
                "UPDATE roles SET trust = $1 WHERE name = $2",
                &[&document, &name],
            )?;
            found(n, || rules::no_such_role(name))
        })
    }

    fn set_role_boundary(&self, name: &str, policy_arn: Option<&str>) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = role_pk(db, name)?;
            let b = match policy_arn {
                Some(a) => Some(policy_pk(db, a)?),
                None => None,
            };
            db.exec(
                "UPDATE roles SET boundary_pk = $1 WHERE pk = $2",
                &[&b, &pk],
            )?;
            Ok(())
        })
    }

    fn delete_role(&self, name: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = role_pk(db, name)?;
            let r = db.one(
                "SELECT (SELECT count(*) FROM role_attached WHERE owner_pk = $1) + (SELECT count(*) FROM role_inline WHERE owner_pk = $1)",
                &[&pk],
            )?;
            if g::<i64>(&r, 0)? > 0 {
                return Err(rules::role_has_policies());
            }
            db.exec("DELETE FROM roles WHERE pk = $1", &[&pk])?;
            Ok(())
        })
    }
}
