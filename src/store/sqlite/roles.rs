//! Roles in SQLite.

use super::*;

impl SqliteStore {
    pub(super) fn roles_where(&self, tx: &Connection, cond: &str, arg: Value) -> Result<Vec<Role>> {
        let mut st = tx.prepare(&format!(
            "SELECT r.pk, r.name, r.role_id, r.path, r.trust, r.description, r.max_session, p.arn, r.created
             FROM roles r LEFT JOIN policies p ON p.pk = r.boundary_pk WHERE {cond} ORDER BY r.name"
        ))?;
        let rows = st
            .query_map([arg], |r| {
                let name: String = r.get(1)?;
                let path: String = r.get(3)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    Role {
                        arn: self.arn("role", &path, &name),
                        name,
                        role_id: r.get(2)?,
                        path,
                        assume_role_policy_document: r.get(4)?,
                        description: r.get(5)?,
                        max_session_duration: r.get(6)?,
                        permissions_boundary: r.get(7)?,
                        create_date: r.get(8)?,
                        tags: Vec::new(),
                    },
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for (pk, mut role) in rows {
            role.tags = tags_of(tx, TagTarget::Role, pk)?;
            out.push(role);
        }
        Ok(out)
    }
}

impl RoleStore for SqliteStore {
    fn create_role(&self, r: &NewRole, now: i64) -> Result<Role> {
        self.write(|tx| {
            if tx.query_row("SELECT 1 FROM roles WHERE name = ?1", [&r.name], |_| Ok(())).optional()?.is_some() {
                return Err(rules::role_exists(&r.name));
            }
            let boundary = match &r.permissions_boundary {
                Some(arn) => Some(policy_pk(tx, arn)?),
                None => None,
            };
            let id = ids::new_id(ids::IdKind::Role)?;
            tx.execute(
                "INSERT INTO roles (name, role_id, path, trust, description, max_session, boundary_pk, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![r.name, id, r.path, r.assume_role_policy_document, r.description, r.max_session_duration, boundary, now],
            )?;
            let pk = tx.last_insert_rowid();
            put_tags(tx, TagTarget::Role, pk, &r.tags)?;
            self.roles_where(tx, "r.pk = ?1", Value::Integer(pk))?
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Database("role vanished".into()))
        })
    }

    fn get_role(&self, name: &str) -> Result<Role> {
        self.read(|tx| {
            self.roles_where(tx, "r.name = ?1", Value::Text(name.into()))?
                .into_iter()
                .next()
                .ok_or_else(|| rules::no_such_role(name))
        })
    }

    fn list_roles(&self, path_prefix: &str) -> Result<Vec<Role>> {
        self.read(|tx| {
            self.roles_where(
                tx,
                "substr(r.path, 1, length(?1)) = ?1",
                exact_prefix(path_prefix),
            )
        })
    }

    fn update_role(
        &self,
        name: &str,
        description: Option<&str>,
        max_session_duration: Option<i64>,
    ) -> Result<()> {
        self.write(|tx| {
            let pk = role_pk(tx, name)?;
            if let Some(d) = description {
                tx.execute(
                    "UPDATE roles SET description = ?1 WHERE pk = ?2",
                    params![d, pk],
                )?;
            }
            if let Some(m) = max_session_duration {
                tx.execute(
                    "UPDATE roles SET max_session = ?1 WHERE pk = ?2",
                    params![m, pk],
                )?;
            }
            Ok(())
        })
    }

    fn update_assume_role_policy(&self, name: &str, document: &str) -> Result<()> {
        self.write(|tx| {
            let pk = role_pk(tx, name)?;
            tx.execute(
                "UPDATE roles SET trust = ?1 WHERE pk = ?2",
                params![document, pk],
            )?;
            Ok(())
        })
    }

    fn set_role_boundary(&self, name: &str, policy_arn: Option<&str>) -> Result<()> {
        self.write(|tx| {
            let pk = role_pk(tx, name)?;
            let b = match policy_arn {
                Some(a) => Some(policy_pk(tx, a)?),
                None => None,
            };
            tx.execute(
                "UPDATE roles SET boundary_pk = ?1 WHERE pk = ?2",
                params![b, pk],
            )?;
            Ok(())
        })
    }

    fn delete_role(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let pk = role_pk(tx, name)?;
            if count(
                tx,
                "SELECT count(*) FROM role_attached WHERE owner_pk = ?1",
                pk,
            )? > 0
                || count(
                    tx,
                    "SELECT count(*) FROM role_inline WHERE owner_pk = ?1",
                    pk,
                )? > 0
            {
                return Err(rules::role_has_policies());
            }
            tx.execute("DELETE FROM roles WHERE pk = ?1", [pk])?;
            Ok(())
        })
    }
}
