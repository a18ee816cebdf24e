//! Managed policies, versions, attachments, inline policies and the applicable policy
//! set of a principal in PostgreSQL. The policy set of a login (the user's inline and
//! attached policies, each group's, the boundary) is one statement.

use super::*;
use postgres::types::ToSql;

pub(crate) fn inline_table(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user_inline",
        PrincipalKind::Group => "group_inline",
        PrincipalKind::Role => "role_inline",
    }
}

pub(crate) fn attached_table(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user_attached",
        PrincipalKind::Group => "group_attached",
        PrincipalKind::Role => "role_attached",
    }
}

const POLICY_SELECT: &str = "SELECT p.name, p.policy_id, p.arn, p.path, p.description, p.default_version, p.created, p.updated,
       (SELECT count(*) FROM user_attached a WHERE a.policy_pk = p.pk)
     + (SELECT count(*) FROM group_attached a WHERE a.policy_pk = p.pk)
     + (SELECT count(*) FROM role_attached a WHERE a.policy_pk = p.pk),
       (SELECT count(*) FROM users x WHERE x.boundary_pk = p.pk)
     + (SELECT count(*) FROM roles x WHERE x.boundary_pk = p.pk),
       p.pk
     FROM policies p";

fn policies_where(
    db: &mut Db<'_>,
    cond: &str,
    p: &[&(dyn ToSql + Sync)],
) -> Result<Vec<(i64, ManagedPolicy)>> {
    db.rows(&format!("{POLICY_SELECT} WHERE {cond} ORDER BY p.name"), p)?
        .iter()
        .map(|r| {
            Ok((
                g(r, 10)?,
                ManagedPolicy {
                    name: g(r, 0)?,
                    policy_id: g(r, 1)?,
                    arn: g(r, 2)?,
                    path: g(r, 3)?,
                    description: g(r, 4)?,
                    default_version_id: format!("v{}", g::<i64>(r, 5)?),
                    create_date: g(r, 6)?,
                    update_date: g(r, 7)?,
                    attachment_count: g(r, 8)?,
                    permissions_boundary_usage_count: g(r, 9)?,
                },
            ))
        })
        .collect()
}

/// The default version's document of policy `p`.
const DEFAULT_DOC: &str =
    "JOIN policy_versions v ON v.policy_pk = p.pk AND v.version = p.default_version";

/// One statement for a principal's whole policy set: rows of (part, group name, name,
/// arn, document); part 0 inline, 1 attached, 2 the boundary, 3 a marker that the
/// principal exists. Plain joins, no window or sort (ordered in [`policy_set`]): the
/// executor's start-up of a larger plan was most of its cost per API call.
fn policy_set_sql(kind: PrincipalKind) -> String {
    let (table, inline, attached) = match kind {
        PrincipalKind::Role => ("roles", "role_inline", "role_attached"),
        _ => ("users", "user_inline", "user_attached"),
    };
    let mut sql = format!(
        "WITH me AS (SELECT pk, boundary_pk FROM {table} WHERE name = $1)
         SELECT 0, NULL::text COLLATE \"C\", i.name COLLATE \"C\", NULL::text COLLATE \"C\", i.document
           FROM me JOIN {inline} i ON i.owner_pk = me.pk
         UNION ALL
         SELECT 1, NULL, p.name, p.arn, v.document
           FROM me JOIN {attached} a ON a.owner_pk = me.pk JOIN policies p ON p.pk = a.policy_pk {DEFAULT_DOC}
         UNION ALL
         SELECT 2, NULL, p.name, p.arn, v.document FROM me JOIN policies p ON p.pk = me.boundary_pk {DEFAULT_DOC}
         UNION ALL
         SELECT 3, NULL, NULL, NULL, NULL FROM me"
    );
    if kind == PrincipalKind::User {
        sql.push_str(&format!(
            "
         UNION ALL
         SELECT 0, g.name, i.name, NULL, i.document
           FROM me JOIN group_members m ON m.user_pk = me.pk JOIN groups g ON g.pk = m.group_pk
           JOIN group_inline i ON i.owner_pk = g.pk
         UNION ALL
         SELECT 1, g.name, p.name, p.arn, v.document
           FROM me JOIN group_members m ON m.user_pk = me.pk JOIN groups g ON g.pk = m.group_pk
           JOIN group_attached a ON a.owner_pk = g.pk JOIN policies p ON p.pk = a.policy_pk {DEFAULT_DOC}"
        ));
    }
    sql
}

/// One row of [`policy_set_sql`].
struct SetRow {
    part: i32,
    group: Option<String>,
    name: Option<String>,
    arn: Option<String>,
    document: Option<String>,
}

fn policy_set(db: &mut Db<'_>, kind: PrincipalKind, name: &str) -> Result<PrincipalPolicies> {
    let mut rows = db
        .rows(&policy_set_sql(kind), &[&name])?
        .iter()
        .map(|r| {
            Ok(SetRow {
                part: g(r, 0)?,
                group: g(r, 1)?,
                name: g(r, 2)?,
                arn: g(r, 3)?,
                document: g(r, 4)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // The principal's own policies first (inline, then attached, each by name), then
    // each group's by group name in the same way: names compare as bytes (COLLATE "C").
    rows.sort_by(|a, b| {
        (a.group.is_some(), &a.group, a.part, &a.name).cmp(&(
            b.group.is_some(),
            &b.group,
            b.part,
            &b.name,
        ))
    });
    let mut out = PrincipalPolicies::default();
    let mut exists = false;
    for r in rows {
        if r.part == 3 {
            exists = true;
            continue;
        }
        let (Some(pname), Some(document)) = (r.name, r.document) else {
            return Err(StoreError::Database(
                "a policy row without name or document".into(),
            ));
        };
        let origin = match (r.part, r.group) {
            (2, _) => PolicyOrigin::Boundary,
            (0, None) => PolicyOrigin::Inline,
            (0, Some(gn)) => PolicyOrigin::GroupInline(gn),
            (_, None) => PolicyOrigin::Attached,
            (_, Some(gn)) => PolicyOrigin::GroupAttached(gn),
        };
        let p = ApplicablePolicy {
            source: r.arn.unwrap_or_else(|| pname.clone()),
            name: pname,
            origin,
            document,
        };
        if r.part == 2 {
            out.boundary = Some(p);
        } else {
            out.identity.push(p);
        }
    }
    if !exists {
        return Err(match kind {
            PrincipalKind::Role => rules::no_such_role(name),
            _ => rules::no_such_user(name),
        });
    }
    Ok(out)
}

impl PolicyStore for PgStore {
    fn create_policy(&self, p: &NewPolicy, now: i64) -> Result<ManagedPolicy> {
        self.write(Iso::Serializable, |db| {
            if db.opt("SELECT 1 FROM policies WHERE name = $1", &[&p.name])?.is_some() {
                return Err(rules::policy_exists(&p.name));
            }
            let id = pam_iam::credentials::ids::new_id(pam_iam::credentials::ids::IdKind::Policy)?;
            let arn = self.arn("policy", &p.path, &p.name);
            let r = db.one(
                "INSERT INTO policies (name, policy_id, arn, path, description, created, updated, default_version, next_version)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, 1, 2) RETURNING pk",
                &[&p.name, &id, &arn, &p.path, &p.description, &now],
            )?;
            let pk: i64 = g(&r, 0)?;
            db.exec(
                "INSERT INTO policy_versions (policy_pk, version, document, created) VALUES ($1, 1, $2, $3)",
                &[&pk, &p.document, &now],
            )?;
            policies_where(db, "p.pk = $1", &[&pk])?
                .into_iter()
                .next()
                .map(|(_, p)| p)
                .ok_or_else(|| StoreError::Database("policy vanished".into()))
        })
    }

    fn get_policy(&self, arn: &str) -> Result<ManagedPolicy> {
        self.read1(|db| {
            policies_where(db, "p.arn = $1", &[&arn])?
                .into_iter()
                .next()
                .map(|(_, p)| p)
                .ok_or_else(|| rules::no_such_policy(arn))
        })
    }

    fn list_policies(&self, path_prefix: &str, only_attached: bool) -> Result<Vec<ManagedPolicy>> {
        let all = self.read1(|db| policies_where(db, &prefix_cond("p.path"), &[&path_prefix]))?;
        Ok(all
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| !only_attached || p.attachment_count > 0)
            .collect())
    }

    fn delete_policy(&self, arn: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let (pk, p) = policies_where(db, "p.arn = $1", &[&arn])?
                .into_iter()
                .next()
                .ok_or_else(|| rules::no_such_policy(arn))?;
            if p.attachment_count > 0 || p.permissions_boundary_usage_count > 0 {
                return Err(rules::policy_in_use());
            }
            if count(
                db,
                "SELECT count(*) FROM policy_versions WHERE policy_pk = $1",
                pk,
            )? > 1
            {
                return Err(rules::policy_has_versions());
            }
            db.exec("DELETE FROM policies WHERE pk = $1", &[&pk])?;
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
        self.write(Iso::Serializable, |db| {
            let pk = policy_pk(db, arn)?;
            rules::check_policy_versions(count(
                db,
                "SELECT count(*) FROM policy_versions WHERE policy_pk = $1",
                pk,
            )?)?;
            let r = db.one(
                "UPDATE policies SET next_version = next_version + 1,
                   default_version = CASE WHEN $2 THEN next_version ELSE default_version END,
                   updated = CASE WHEN $2 THEN $3 ELSE updated END
                 WHERE pk = $1 RETURNING next_version - 1",
                &[&pk, &set_default, &now],
            )?;
            let v: i64 = g(&r, 0)?;
            db.exec(
                "INSERT INTO policy_versions (policy_pk, version, document, created) VALUES ($1, $2, $3, $4)",
                &[&pk, &v, &document, &now],
            )?;
            Ok(PolicyVersion {
                version_id: format!("v{v}"),
                document: document.into(),
                is_default_version: set_default,
                create_date: now,
            })
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
        self.read(|db| {
            let pk = policy_pk(db, arn)?;
            db.rows(
                "SELECT v.version, v.document, v.version = p.default_version, v.created FROM policy_versions v
                 JOIN policies p ON p.pk = v.policy_pk WHERE v.policy_pk = $1 ORDER BY v.version DESC",
                &[&pk],
            )?
            .iter()
            .map(|r| {
                Ok(PolicyVersion {
                    version_id: format!("v{}", g::<i64>(r, 0)?),
                    document: g(r, 1)?,
                    is_default_version: g(r, 2)?,
                    create_date: g(r, 3)?,
                })
            })
            .collect()
        })
    }

    fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<()> {
        let v = rules::version_number(version_id)?;
        self.write(Iso::Serializable, |db| {
            let pk = policy_pk(db, arn)?;
            let r = db.one("SELECT default_version FROM policies WHERE pk = $1", &[&pk])?;
            if g::<i64>(&r, 0)? == v {
                return Err(rules::default_version_delete());
            }
            let n = db.exec(
                "DELETE FROM policy_versions WHERE policy_pk = $1 AND version = $2",
                &[&pk, &v],
            )?;
            found(n, || rules::no_such_policy_version(arn, version_id))
        })
    }

    fn set_default_policy_version(&self, arn: &str, version_id: &str, now: i64) -> Result<()> {
        let v = rules::version_number(version_id)?;
        self.write(Iso::Serializable, |db| {
            let pk = policy_pk(db, arn)?;
            if db
                .opt(
                    "SELECT 1 FROM policy_versions WHERE policy_pk = $1 AND version = $2",
                    &[&pk, &v],
                )?
                .is_none()
            {
                return Err(rules::no_such_policy_version(arn, version_id));
            }
            db.exec(
                "UPDATE policies SET default_version = $1, updated = $2 WHERE pk = $3",
                &[&v, &now, &pk],
            )?;
            Ok(())
        })
    }

    fn attach_policy(&self, kind: PrincipalKind, name: &str, arn: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let owner = principal_pk(db, kind, name)?;
            let p = policy_pk(db, arn)?;
            let table = attached_table(kind);
            let n = db.exec(
                &format!("INSERT INTO {table} (owner_pk, policy_pk) VALUES ($1, $2) ON CONFLICT DO NOTHING"),
                &[&owner, &p],
            )?;
            if n == 1 {
                rules::check_attached(
                    kind,
                    count(db, &format!("SELECT count(*) FROM {table} WHERE owner_pk = $1"), owner)?,
                )?;
            }
            Ok(())
        })
    }

    fn detach_policy(&self, kind: PrincipalKind, name: &str, arn: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let owner = principal_pk(db, kind, name)?;
            let p = policy_pk(db, arn)?;
            let n = db.exec(
                &format!(
                    "DELETE FROM {} WHERE owner_pk = $1 AND policy_pk = $2",
                    attached_table(kind)
                ),
                &[&owner, &p],
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
        self.read(|db| {
            let owner = principal_pk(db, kind, name)?;
            db.rows(
                &format!(
                    "SELECT p.name, p.arn FROM {} a JOIN policies p ON p.pk = a.policy_pk WHERE a.owner_pk = $1 ORDER BY p.name",
                    attached_table(kind)
                ),
                &[&owner],
            )?
            .iter()
            .map(|r| {
                Ok(AttachedPolicy {
                    policy_name: g(r, 0)?,
                    policy_arn: g(r, 1)?,
                })
            })
            .collect()
        })
    }

    fn list_entities_for_policy(&self, arn: &str) -> Result<PolicyEntities> {
        self.read(|db| {
            let p = policy_pk(db, arn)?;
            let rows = db.rows(
                "SELECT * FROM (
                   SELECT 0 AS k, g.name COLLATE \"C\" AS name, g.group_id AS id, row_number() OVER (ORDER BY g.name) AS o FROM group_attached a JOIN groups g ON g.pk = a.owner_pk WHERE a.policy_pk = $1
                   UNION ALL SELECT 1, u.name, u.user_id, row_number() OVER (ORDER BY u.name) FROM user_attached a JOIN users u ON u.pk = a.owner_pk WHERE a.policy_pk = $1
                   UNION ALL SELECT 2, r.name COLLATE \"C\", r.role_id, row_number() OVER (ORDER BY r.name) FROM role_attached a JOIN roles r ON r.pk = a.owner_pk WHERE a.policy_pk = $1
                 ) x ORDER BY k, o",
                &[&p],
            )?;
            let mut out = PolicyEntities::default();
            for r in &rows {
                let pair = (g(r, 1)?, g(r, 2)?);
                match g::<i32>(r, 0)? {
                    0 => out.groups.push(pair),
                    1 => out.users.push(pair),
                    _ => out.roles.push(pair),
                }
            }
            Ok(out)
        })
    }

    fn put_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let owner = principal_pk(db, kind, name)?;
            db.exec(
                &format!(
                    "INSERT INTO {} (owner_pk, name, document) VALUES ($1, $2, $3) ON CONFLICT (owner_pk, name) DO UPDATE SET document = excluded.document",
                    inline_table(kind)
                ),
                &[&owner, &policy_name, &document],
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
        self.read(|db| {
            let owner = principal_pk(db, kind, name)?;
            match db.opt(
                &format!(
                    "SELECT document FROM {} WHERE owner_pk = $1 AND name = $2",
                    inline_table(kind)
                ),
                &[&owner, &policy_name],
            )? {
                Some(r) => g(&r, 0),
                None => Err(rules::no_such_inline_policy(kind, policy_name)),
            }
        })
    }

    fn delete_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
    ) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let owner = principal_pk(db, kind, name)?;
            let n = db.exec(
                &format!(
                    "DELETE FROM {} WHERE owner_pk = $1 AND name = $2",
                    inline_table(kind)
                ),
                &[&owner, &policy_name],
            )?;
            found(n, || rules::no_such_inline_policy(kind, policy_name))
        })
    }

    fn list_inline_policies(&self, kind: PrincipalKind, name: &str) -> Result<Vec<String>> {
        self.read(|db| {
            let owner = principal_pk(db, kind, name)?;
            db.rows(
                &format!(
                    "SELECT name FROM {} WHERE owner_pk = $1 ORDER BY name",
                    inline_table(kind)
                ),
                &[&owner],
            )?
            .iter()
            .map(|r| g(r, 0))
            .collect()
        })
    }

    fn user_policies(&self, user: &str) -> Result<PrincipalPolicies> {
        self.read1(|db| policy_set(db, PrincipalKind::User, user))
    }

    fn versioned_user_policies(&self, user: &str) -> Result<(PrincipalPolicies, i64)> {
        // Two statements in one REPEATABLE READ snapshot; only a cache miss runs it.
        self.read(|db| {
            let version = g(&db.one(STORE_VERSION, &[])?, 0)?;
            Ok((policy_set(db, PrincipalKind::User, user)?, version))
        })
    }

    fn role_policies(&self, role: &str) -> Result<PrincipalPolicies> {
        self.read1(|db| policy_set(db, PrincipalKind::Role, role))
    }
}
