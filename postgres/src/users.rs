//! Users and the tags of users and roles in PostgreSQL.

use super::*;

pub(crate) fn tag_table(t: TagTarget) -> (&'static str, &'static str) {
    match t {
        TagTarget::User => ("user_tags", "user_pk"),
        TagTarget::Role => ("role_tags", "role_pk"),
    }
}

/// A column holding an entity's tags as JSON (`[[key, value], …]` by key), so a list
/// of entities and their tags is one query.
pub(crate) fn tags_json(target: TagTarget, pk_col: &str) -> String {
    let (table, col) = tag_table(target);
    format!(
        "(SELECT coalesce(json_agg(json_build_array(t.key, t.value) ORDER BY t.key), '[]')::text FROM {table} t WHERE t.{col} = {pk_col})"
    )
}

pub(crate) fn parse_tags(json: &str) -> Result<Vec<Tag>> {
    let pairs: Vec<(String, String)> =
        serde_json::from_str(json).map_err(|e| StoreError::Database(format!("bad tags: {e}")))?;
    Ok(pairs
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect())
}

pub(crate) fn tags_of(db: &mut Db<'_>, target: TagTarget, pk: i64) -> Result<Vec<Tag>> {
    let (table, col) = tag_table(target);
    db.rows(
        &format!("SELECT key, value FROM {table} WHERE {col} = $1 ORDER BY key"),
        &[&pk],
    )?
    .iter()
    .map(|r| {
        Ok(Tag {
            key: g(r, 0)?,
            value: g(r, 1)?,
        })
    })
    .collect()
}

pub(crate) fn put_tags(db: &mut Db<'_>, target: TagTarget, pk: i64, tags: &[Tag]) -> Result<()> {
    let (table, col) = tag_table(target);
    for t in tags {
        rules::check_tag(t)?;
    }
    if !tags.is_empty() {
        let keys: Vec<&str> = tags.iter().map(|t| t.key.as_str()).collect();
        let values: Vec<&str> = tags.iter().map(|t| t.value.as_str()).collect();
        // As one upsert after another: a key keeps its first spelling, the last value wins.
        db.exec(
            &format!(
                "INSERT INTO {table} ({col}, key, value)
                 SELECT DISTINCT ON (k COLLATE nocase) $1::bigint, k,
                   last_value(v) OVER (PARTITION BY k COLLATE nocase ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS x(k, v, n)
                 ORDER BY k COLLATE nocase, n
                 ON CONFLICT ({col}, key) DO UPDATE SET value = excluded.value"
            ),
            &[&pk, &keys, &values],
        )?;
    }
    let n = count(
        db,
        &format!("SELECT count(*) FROM {table} WHERE {col} = $1"),
        pk,
    )?;
    rules::check_tag_count(n)
}

pub(crate) const USER_COLS: &str =
    "u.pk, u.name, u.user_id, u.path, u.created, p.arn, u.password_last_used";
/// A user's row and its boundary's ARN. Each to-one join of a user's lookups is a
/// `LATERAL … LIMIT 1` by key: its estimate is one row whatever the statistics, where a
/// plain join on a table never analyzed (no autovacuum yet on a small store) beside an
/// analyzed `users` multiplied the estimate to a million rows and the cost past JIT's
/// threshold (a second of compilation per login; see `conninfo`).
pub(crate) const USER_FROM: &str = "FROM users u LEFT JOIN LATERAL (SELECT arn FROM policies WHERE pk = u.boundary_pk LIMIT 1) p ON true";

impl PgStore {
    /// A user from the [`USER_COLS`] columns starting at `at`, tags JSON at `at + 7`.
    pub(crate) fn user_row(&self, r: &postgres::Row, at: usize) -> Result<(i64, User)> {
        let name: String = g(r, at + 1)?;
        let path: String = g(r, at + 3)?;
        let tags: String = g(r, at + 7)?;
        Ok((
            g(r, at)?,
            User {
                arn: self.arn("user", &path, &name),
                name,
                user_id: g(r, at + 2)?,
                path,
                create_date: g(r, at + 4)?,
                permissions_boundary: g(r, at + 5)?,
                password_last_used: g(r, at + 6)?,
                tags: parse_tags(&tags)?,
            },
        ))
    }

    /// The user columns and tags, for a SELECT list.
    pub(crate) fn user_select() -> String {
        format!("{USER_COLS}, {}", tags_json(TagTarget::User, "u.pk"))
    }

    pub(crate) fn users_where(
        &self,
        db: &mut Db<'_>,
        cond: &str,
        arg: &(dyn postgres::types::ToSql + Sync),
    ) -> Result<Vec<User>> {
        let sql = format!(
            "SELECT {} {USER_FROM} WHERE {cond} ORDER BY u.name",
            Self::user_select()
        );
        db.rows(&sql, &[arg])?
            .iter()
            .map(|r| Ok(self.user_row(r, 0)?.1))
            .collect()
    }

    pub(crate) fn one_user(
        &self,
        db: &mut Db<'_>,
        cond: &str,
        arg: &(dyn postgres::types::ToSql + Sync),
        what: &str,
    ) -> Result<User> {
        self.users_where(db, cond, arg)?
            .into_iter()
            .next()
            .ok_or_else(|| rules::no_such_user_with(what))
    }
}

impl UserStore for PgStore {
    fn create_user(&self, u: &NewUser, now: i64) -> Result<User> {
        self.write(Iso::Serializable, |db| {
            if db.opt("SELECT 1 FROM users WHERE name = $1", &[&u.name])?.is_some() {
                return Err(rules::user_exists(&u.name));
            }
            let boundary = match &u.permissions_boundary {
                Some(arn) => Some(policy_pk(db, arn)?),
                None => None,
            };
            let id = pam_iam::credentials::ids::new_id(pam_iam::credentials::ids::IdKind::User)?;
            let r = db.one(
                "INSERT INTO users (name, user_id, path, created, boundary_pk) VALUES ($1, $2, $3, $4, $5) RETURNING pk",
                &[&u.name, &id, &u.path, &now, &boundary],
            )?;
            let pk: i64 = g(&r, 0)?;
            put_tags(db, TagTarget::User, pk, &u.tags)?;
            self.one_user(db, "u.pk = $1", &pk, "that id")
        })
    }

    fn get_user(&self, name: &str) -> Result<User> {
        self.read1(|db| self.one_user(db, "u.name = $1", &name, &format!("name {name}")))
    }

    fn get_user_by_id(&self, user_id: &str) -> Result<User> {
        self.read1(|db| self.one_user(db, "u.user_id = $1", &user_id, &format!("id {user_id}")))
    }

    fn list_users(&self, path_prefix: &str) -> Result<Vec<User>> {
        self.read1(|db| self.users_where(db, &prefix_cond("u.path"), &path_prefix))
    }

    fn update_user(
        &self,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, name)?;
            if let Some(n) = new_name {
                if n != name && db.opt("SELECT 1 FROM users WHERE name = $1", &[&n])?.is_some() {
                    return Err(rules::user_exists(n));
                }
            }
            db.exec(
                "UPDATE users SET name = coalesce($1, name), path = coalesce($2, path) WHERE pk = $3",
                &[&new_name, &new_path, &pk],
            )?;
            Ok(())
        })
    }

    fn delete_user(&self, name: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, name)?;
            let r = db.one(
                "SELECT (SELECT count(*) FROM login_profiles WHERE user_pk = $1),
                        (SELECT count(*) FROM access_keys WHERE user_pk = $1),
                        (SELECT count(*) FROM ssh_keys WHERE user_pk = $1),
                        (SELECT count(*) FROM mfa_devices WHERE user_pk = $1),
                        (SELECT count(*) FROM group_members WHERE user_pk = $1),
                        (SELECT count(*) FROM user_attached WHERE owner_pk = $1),
                        (SELECT count(*) FROM user_inline WHERE owner_pk = $1)",
                &[&pk],
            )?;
            for part in rules::UserPart::ALL {
                if g::<i64>(&r, user_part_column(part))? > 0 {
                    return Err(part.conflict());
                }
            }
            db.exec("DELETE FROM users WHERE pk = $1", &[&pk])?;
            Ok(())
        })
    }

    fn set_user_boundary(&self, name: &str, policy_arn: Option<&str>) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, name)?;
            let b = match policy_arn {
                Some(a) => Some(policy_pk(db, a)?),
                None => None,
            };
            db.exec(
                "UPDATE users SET boundary_pk = $1 WHERE pk = $2",
                &[&b, &pk],
            )?;
            Ok(())
        })
    }
}

/// The column of `part`'s count in `delete_user`'s query.
fn user_part_column(part: rules::UserPart) -> usize {
    use rules::UserPart as P;
    match part {
        P::LoginProfile => 0,
        P::AccessKeys => 1,
        P::SshKeys => 2,
        P::MfaDevices => 3,
        P::Groups => 4,
        P::AttachedPolicies => 5,
        P::InlinePolicies => 6,
    }
}

fn tagged_pk(db: &mut Db<'_>, target: TagTarget, name: &str) -> Result<i64> {
    match target {
        TagTarget::User => user_pk(db, name),
        TagTarget::Role => role_pk(db, name),
    }
}

impl TagStore for PgStore {
    fn tag(&self, target: TagTarget, name: &str, tags: &[Tag]) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = tagged_pk(db, target, name)?;
            put_tags(db, target, pk, tags)
        })
    }

    fn untag(&self, target: TagTarget, name: &str, keys: &[String]) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = tagged_pk(db, target, name)?;
            let (table, col) = tag_table(target);
            db.exec(
                &format!("DELETE FROM {table} WHERE {col} = $1 AND key = ANY($2::text[])"),
                &[&pk, &keys],
            )?;
            Ok(())
        })
    }

    fn list_tags(&self, target: TagTarget, name: &str) -> Result<Vec<Tag>> {
        self.read(|db| {
            let pk = tagged_pk(db, target, name)?;
            tags_of(db, target, pk)
        })
    }
}
