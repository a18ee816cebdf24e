//! Managed policies, versions, attachments, inline policies and the applicable policy
//! set of a principal in SQLite.

use super::*;

pub(super) fn inline_table(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user_inline",
        PrincipalKind::Group => "group_inline",
        PrincipalKind::Role => "role_inline",
    }
}

pub(super) fn attached_table(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user_attached",
        PrincipalKind::Group => "group_attached",
        PrincipalKind::Role => "role_attached",
    }
}

impl SqliteStore {
    pub(super) fn policies_where(
        &self,
        tx: &Connection,
        cond: &str,
        arg: Value,
    ) -> Result<Vec<ManagedPolicy>> {
        let sql = format!(
            "SELECT p.name, p.policy_id, p.arn, p.path, p.description, p.default_version, p.created, p.updated,
               (SELECT count(*) FROM user_attached a WHERE a.policy_pk = p.pk)
             + (SELECT count(*) FROM group_attached a WHERE a.policy_pk = p.pk)
             + (SELECT count(*) FROM role_attached a WHERE a.policy_pk = p.pk),
               (SELECT count(*) FROM users x WHERE x.boundary_pk = p.pk)
             + (SELECT count(*) FROM roles x WHERE x.boundary_pk = p.pk)
             FROM policies p WHERE {cond} ORDER BY p.name"
        );
        let mut st = tx.prepare(&sql)?;
        let rows = st.query_map([arg], |r| {
            Ok(ManagedPolicy {
                name: r.get(0)?,
                policy_id: r.get(1)?,
                arn: r.get(2)?,
                path: r.get(3)?,
                description: r.get(4)?,
                default_version_id: format!("v{}", r.get::<_, i64>(5)?),
                create_date: r.get(6)?,
                update_date: r.get(7)?,
                attachment_count: r.get(8)?,
                permissions_boundary_usage_count: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

impl SqliteStore {
    /// A user's policy set, read in `tx`.
    fn user_policies_in(&self, tx: &Connection, user: &str) -> Result<PrincipalPolicies> {
        let pk = user_pk(tx, user)?;
        let mut identity = self.applicable(tx, PrincipalKind::User, pk, None)?;
        let mut st = tx.prepare_cached(
            "SELECT g.pk, g.name FROM groups g JOIN group_members m ON m.group_pk = g.pk WHERE m.user_pk = ?1 ORDER BY g.name",
        )?;
        let groups = st
            .query_map([pk], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (gpk, gname) in groups {
            identity.extend(self.applicable(tx, PrincipalKind::Group, gpk, Some(&gname))?);
        }
        Ok(PrincipalPolicies {
            identity,
            boundary: boundary_of(tx, "users", pk)?,
        })
    }

    pub(super) fn applicable(
        &self,
        tx: &Connection,
        kind: PrincipalKind,
        pk: i64,
        group: Option<&str>,
    ) -> Result<Vec<ApplicablePolicy>> {
        let mut out = Vec::new();
        let mut st = tx.prepare_cached(&format!(
            "SELECT name, document FROM {} WHERE owner_pk = ?1 ORDER BY name",
            inline_table(kind)
        ))?;
        let rows = st.query_map([pk], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (name, document) = row?;
            let origin = match group {
                Some(g) => PolicyOrigin::GroupInline(g.to_string()),
                None => PolicyOrigin::Inline,
            };
            out.push(ApplicablePolicy {
                source: name.clone(),
                name,
                origin,
                document,
            });
        }
        let mut st = tx.prepare_cached(&format!(
            "SELECT p.arn, p.name, v.document FROM {} a JOIN policies p ON p.pk = a.policy_pk
             JOIN policy_versions v ON v.policy_pk = p.pk AND v.version = p.default_version
             WHERE a.owner_pk = ?1 ORDER BY p.name",
            attached_table(kind)
        ))?;
        let rows = st.query_map([pk], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (arn, name, document) = row?;
            let origin = match group {
                Some(g) => PolicyOrigin::GroupAttached(g.to_string()),
                None => PolicyOrigin::Attached,
            };
            out.push(ApplicablePolicy {
                source: arn,
                name,
                origin,
                document,
            });
        }
        Ok(out)
    }
}

pub(super) fn boundary_of(
    tx: &Connection,
    table: &str,
    pk: i64,
) -> Result<Option<ApplicablePolicy>> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT p.arn, p.name, v.document FROM {table} x JOIN policies p ON p.pk = x.boundary_pk
             JOIN policy_versions v ON v.policy_pk = p.pk AND v.version = p.default_version WHERE x.pk = ?1"
        ))?
        .query_row(
            [pk],
            |r| {
                Ok(ApplicablePolicy {
                    source: r.get(0)?,
                    name: r.get(1)?,
                    origin: PolicyOrigin::Boundary,
                    document: r.get(2)?,
                })
            },
        )
        .optional()?)
}

impl PolicyStore for SqliteStore {
    fn create_policy(&self, p: &NewPolicy, now: i64) -> Result<ManagedPolicy> {
        self.write(|tx| {
            if tx.query_row("SELECT 1 FROM policies WHERE name = ?1", [&p.name], |_| Ok(())).optional()?.is_some() {
                return Err(rules::policy_exists(&p.name));
            }
            let id = ids::new_id(ids::IdKind::Policy)?;
            let arn = self.arn("policy", &p.path, &p.name);
            tx.execute(
                "INSERT INTO policies (name, policy_id, arn, path, description, created, updated, default_version, next_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, 2)",
                params![p.name, id, arn, p.path, p.description, now],
            )?;
            let pk = tx.last_insert_rowid();
            tx.execute("INSERT INTO policy_versions (policy_pk, version, document, created) VALUES (?1, 1, ?2, ?3)", params![pk, p.document, now])?;
            self.policies_where(tx, "p.pk = ?1", Value::Integer(pk))?
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Database("policy vanished".into()))
        })
    }

    fn get_policy(&self, arn: &str) -> Result<ManagedPolicy> {
        self.read(|tx| {
            self.policies_where(tx, "p.arn = ?1", Value::Text(arn.into()))?
                .into_iter()
                .next()
                .ok_or_else(|| rules::no_such_policy(arn))
        })
    }

    fn list_policies(&self, path_prefix: &str, only_attached: bool) -> Result<Vec<ManagedPolicy>> {
        self.read(|tx| {
            let all = self.policies_where(
                tx,
                "substr(p.path, 1, length(?1)) = ?1",
                exact_prefix(path_prefix),
            )?;
            Ok(all
                .into_iter()
                .filter(|p| !only_attached || p.attachment_count > 0)
                .collect())
        })
    }

    fn delete_policy(&self, arn: &str) -> Result<()> {
        self.write(|tx| {
            let p = self
                .policies_where(tx, "p.arn = ?1", Value::Text(arn.into()))?
                .into_iter()
                .next()
                .ok_or_else(|| rules::no_such_policy(arn))?;
            if p.attachment_count > 0 || p.permissions_boundary_usage_count > 0 {
                return Err(rules::policy_in_use());
            }
            let pk = policy_pk(tx, arn)?;
            if count(
                tx,
                "SELECT count(*) FROM policy_versions WHERE policy_pk = ?1",
                pk,
            )? > 1
            {
                return Err(rules::policy_has_versions());
            }
            tx.execute("DELETE FROM policies WHERE pk = ?1", [pk])?;
            Ok(())
        })
    }

    fn create_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_default: bool,
        now: i64,
    ) -> Result<PolicyVersion> {
        self.write(|tx| {
            let pk = policy_pk(tx, arn)?;
            rules::check_policy_versions(count(tx, "SELECT count(*) FROM policy_versions WHERE policy_pk = ?1", pk)?)?;
            let v: i64 = tx.query_row("SELECT next_version FROM policies WHERE pk = ?1", [pk], |r| r.get(0))?;
            tx.execute("INSERT INTO policy_versions (policy_pk, version, document, created) VALUES (?1, ?2, ?3, ?4)", params![pk, v, document, now])?;
            tx.execute("UPDATE policies SET next_version = ?1 WHERE pk = ?2", params![v + 1, pk])?;
            if set_default {
                tx.execute("UPDATE policies SET default_version = ?1, updated = ?2 WHERE pk = ?3", params![v, now, pk])?;
            }
            Ok(PolicyVersion { version_id: format!("v{v}"), document: document.into(), is_default_version: set_default, create_date: now })
        })
    }

    fn get_policy_version(&self, arn: &str, version_id: &str) -> Result<PolicyVersion> {
        let v = rules::version_number(version_id)?;
        self.list_policy_versions(arn)?
            .into_iter()
            .find(|x| x.version_id == format!("v{v}"))
            .ok_or_else(|| rules::no_such_policy_version_attachable(arn, version_id))
    }

    fn list_policy_versions(&self, arn: &str) -> Result<Vec<PolicyVersion>> {
        self.read(|tx| {
            let pk = policy_pk(tx, arn)?;
            let mut st = tx.prepare(
                "SELECT v.version, v.document, v.version = p.default_version, v.created FROM policy_versions v
                 JOIN policies p ON p.pk = v.policy_pk WHERE v.policy_pk = ?1 ORDER BY v.version DESC",
            )?;
            let rows = st.query_map([pk], |r| {
                Ok(PolicyVersion {
                    version_id: format!("v{}", r.get::<_, i64>(0)?),
                    document: r.get(1)?,
                    is_default_version: r.get(2)?,
                    create_date: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<()> {
        let v = rules::version_number(version_id)?;
        self.write(|tx| {
            let pk = policy_pk(tx, arn)?;
            let default: i64 = tx.query_row(
                "SELECT default_version FROM policies WHERE pk = ?1",
                [pk],
                |r| r.get(0),
            )?;
            if default == v {
                return Err(rules::default_version_delete());
            }
            let changed = tx.execute(
                "DELETE FROM policy_versions WHERE policy_pk = ?1 AND version = ?2",
                params![pk, v],
            )?;
            found(changed, || rules::no_such_policy_version(arn, version_id))
        })
    }

    fn set_default_policy_version(&self, arn: &str, version_id: &str, now: i64) -> Result<()> {
        let v = rules::version_number(version_id)?;
        self.write(|tx| {
            let pk = policy_pk(tx, arn)?;
            if tx
                .query_row(
                    "SELECT 1 FROM policy_versions WHERE policy_pk = ?1 AND version = ?2",
                    params![pk, v],
                    |_| Ok(()),
                )
                .optional()?
                .is_none()
            {
                return Err(rules::no_such_policy_version(arn, version_id));
            }
            tx.execute(
                "UPDATE policies SET default_version = ?1, updated = ?2 WHERE pk = ?3",
                params![v, now, pk],
            )?;
            Ok(())
        })
    }

    fn attach_policy(&self, kind: PrincipalKind, name: &str, arn: &str) -> Result<()> {
        self.write(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            let p = policy_pk(tx, arn)?;
            let table = attached_table(kind);
            let n = tx.execute(
                &format!("INSERT OR IGNORE INTO {table} (owner_pk, policy_pk) VALUES (?1, ?2)"),
                params![owner, p],
            )?;
            if n == 1 {
                rules::check_attached(
                    kind,
                    count(
                        tx,
                        &format!("SELECT count(*) FROM {table} WHERE owner_pk = ?1"),
                        owner,
                    )?,
                )?;
            }
            Ok(())
        })
    }

    fn detach_policy(&self, kind: PrincipalKind, name: &str, arn: &str) -> Result<()> {
        self.write(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            let p = policy_pk(tx, arn)?;
            let n = tx.execute(
                &format!(
                    "DELETE FROM {} WHERE owner_pk = ?1 AND policy_pk = ?2",
                    attached_table(kind)
                ),
                params![owner, p],
            )?;
            if n == 0 {
                return Err(rules::policy_not_attached(arn, kind, name));
            }
            Ok(())
        })
    }

    fn list_attached_policies(
        &self,
        kind: PrincipalKind,
        name: &str,
    ) -> Result<Vec<AttachedPolicy>> {
        self.read(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            let mut st = tx.prepare(&format!(
                "SELECT p.name, p.arn FROM {} a JOIN policies p ON p.pk = a.policy_pk WHERE a.owner_pk = ?1 ORDER BY p.name",
                attached_table(kind)
            ))?;
            let rows = st.query_map([owner], |r| Ok(AttachedPolicy { policy_name: r.get(0)?, policy_arn: r.get(1)? }))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn list_entities_for_policy(&self, arn: &str) -> Result<PolicyEntities> {
        self.read(|tx| {
            let p = policy_pk(tx, arn)?;
            let pairs = |sql: &str| -> Result<Vec<(String, String)>> {
                let mut st = tx.prepare(sql)?;
                let rows = st.query_map([p], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            };
            Ok(PolicyEntities {
                groups: pairs("SELECT g.name, g.group_id FROM group_attached a JOIN groups g ON g.pk = a.owner_pk WHERE a.policy_pk = ?1 ORDER BY g.name")?,
                users: pairs("SELECT u.name, u.user_id FROM user_attached a JOIN users u ON u.pk = a.owner_pk WHERE a.policy_pk = ?1 ORDER BY u.name")?,
                roles: pairs("SELECT r.name, r.role_id FROM role_attached a JOIN roles r ON r.pk = a.owner_pk WHERE a.policy_pk = ?1 ORDER BY r.name")?,
            })
        })
    }

    fn put_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()> {
        self.write(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            tx.execute(
                &format!(
                    "INSERT INTO {} (owner_pk, name, document) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET document = excluded.document",
                    inline_table(kind)
                ),
                params![owner, policy_name, document],
            )?;
            Ok(())
        })
    }

    fn get_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
    ) -> Result<String> {
        self.read(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            tx.query_row(
                &format!(
                    "SELECT document FROM {} WHERE owner_pk = ?1 AND name = ?2",
                    inline_table(kind)
                ),
                params![owner, policy_name],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| rules::no_such_inline_policy(kind, policy_name))
        })
    }

    fn delete_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
    ) -> Result<()> {
        self.write(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            let changed = tx.execute(
                &format!(
                    "DELETE FROM {} WHERE owner_pk = ?1 AND name = ?2",
                    inline_table(kind)
                ),
                params![owner, policy_name],
            )?;
            found(changed, || rules::no_such_inline_policy(kind, policy_name))
        })
    }

    fn list_inline_policies(&self, kind: PrincipalKind, name: &str) -> Result<Vec<String>> {
        self.read(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            let mut st = tx.prepare(&format!(
                "SELECT name FROM {} WHERE owner_pk = ?1 ORDER BY name",
                inline_table(kind)
            ))?;
            let rows = st.query_map([owner], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn user_policies(&self, user: &str) -> Result<PrincipalPolicies> {
        self.read(|tx| self.user_policies_in(tx, user))
    }

    fn versioned_user_policies(&self, user: &str) -> Result<(PrincipalPolicies, i64)> {
        self.read(|tx| Ok((self.user_policies_in(tx, user)?, store_version_in(tx)?)))
    }

    fn role_policies(&self, role: &str) -> Result<PrincipalPolicies> {
        self.read(|tx| {
            let pk = role_pk(tx, role)?;
            Ok(PrincipalPolicies {
                identity: self.applicable(tx, PrincipalKind::Role, pk, None)?,
                boundary: boundary_of(tx, "roles", pk)?,
            })
        })
    }
}
