//! Login profiles, password history and policy, failure counting and locks in SQLite.

use super::*;

pub(super) fn lock_state(tx: &Connection, pk: i64) -> Result<LockState> {
    Ok(tx
        .query_row(
            "SELECT failed_attempts, last_failure, locked_until FROM login_failures WHERE user_pk = ?1",
            [pk],
            |r| Ok(LockState { failed_attempts: r.get(0)?, last_failure: r.get(1)?, locked_until: r.get(2)? }),
        )
        .optional()?
        .unwrap_or_default())
}

/// One more failure under the lockout rule, saved; the state after.
pub(super) fn count_failure(tx: &Connection, pk: i64, now: i64) -> Result<LockState> {
    let next = lock_state(tx, pk)?.after_failure(&lockout_settings(tx)?, now);
    tx.execute(
        "INSERT INTO login_failures (user_pk, failed_attempts, last_failure, locked_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO UPDATE SET failed_attempts = excluded.failed_attempts,
           last_failure = excluded.last_failure, locked_until = excluded.locked_until",
        params![pk, next.failed_attempts, next.last_failure, next.locked_until],
    )?;
    Ok(next)
}

/// When the user is locked at `now`: the attempt counts as a failure, and the lock's end
/// (after counting) is the answer.
pub(super) fn refuse_if_locked(tx: &Connection, pk: i64, now: i64) -> Result<Option<i64>> {
    if !lock_state(tx, pk)?.is_locked(now) {
        return Ok(None);
    }
    let after = count_failure(tx, pk, now)?;
    Ok(Some(after.locked_until.unwrap_or(now)))
}

pub(super) fn lockout_settings(tx: &Connection) -> Result<LockoutSettings> {
    Ok(tx
        .query_row(
            "SELECT max_failed_attempts, lockout_duration FROM lockout_settings WHERE id = 1",
            [],
            |r| {
                Ok(LockoutSettings {
                    max_failed_attempts: r.get(0)?,
                    lockout_duration_seconds: r.get(1)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

pub(super) fn login_profile(tx: &Connection, pk: i64, name: &str) -> Result<Option<LoginProfile>> {
    Ok(tx
        .query_row(
            "SELECT hash, reset_required, created, changed FROM login_profiles WHERE user_pk = ?1",
            [pk],
            |r| {
                Ok(LoginProfile {
                    user_name: name.to_string(),
                    password_hash: Zeroizing::new(r.get(0)?),
                    password_reset_required: r.get(1)?,
                    create_date: r.get(2)?,
                    password_last_changed: r.get(3)?,
                })
            },
        )
        .optional()?)
}

impl LoginProfileStore for SqliteStore {
    fn create_login_profile(
        &self,
        user: &str,
        hash: &str,
        reset_required: bool,
        now: i64,
    ) -> Result<LoginProfile> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            if login_profile(tx, pk, user)?.is_some() {
                return Err(rules::login_profile_exists(user));
            }
            tx.execute(
                "INSERT INTO login_profiles (user_pk, hash, reset_required, created, changed) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![pk, hash, reset_required, now],
            )?;
            login_profile(tx, pk, user)?.ok_or_else(|| StoreError::Database("login profile vanished".into()))
        })
    }

    fn get_login_profile(&self, user: &str) -> Result<LoginProfile> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            login_profile(tx, pk, user)?.ok_or_else(|| rules::no_login_profile(user))
        })
    }

    fn update_login_profile(
        &self,
        user: &str,
        hash: Option<&str>,
        reset_required: Option<bool>,
        now: i64,
    ) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let lp = login_profile(tx, pk, user)?.ok_or_else(|| rules::no_login_profile(user))?;
            if let Some(h) = hash {
                tx.execute(
                    "INSERT INTO password_history (user_pk, hash, retired) VALUES (?1, ?2, ?3)",
                    params![pk, lp.password_hash.as_str(), now],
                )?;
                tx.execute(
                    "DELETE FROM password_history WHERE user_pk = ?1 AND id NOT IN
                     (SELECT id FROM password_history WHERE user_pk = ?1 ORDER BY id DESC LIMIT ?2)",
                    params![pk, rules::PASSWORD_HISTORY_KEPT],
                )?;
                tx.execute("UPDATE login_profiles SET hash = ?1, changed = ?2 WHERE user_pk = ?3", params![h, now, pk])?;
            }
            if let Some(r) = reset_required {
                tx.execute("UPDATE login_profiles SET reset_required = ?1 WHERE user_pk = ?2", params![r, pk])?;
            }
            Ok(())
        })
    }

    fn delete_login_profile(&self, user: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let n = tx.execute("DELETE FROM login_profiles WHERE user_pk = ?1", [pk])?;
            if n == 0 {
                return Err(rules::no_login_profile(user));
            }
            Ok(())
        })
    }

    fn password_history(&self, user: &str, depth: usize) -> Result<Vec<String>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            let mut out = Vec::new();
            if let Some(lp) = login_profile(tx, pk, user)? {
                out.push(lp.password_hash.to_string());
            }
            let mut st = tx
                .prepare("SELECT hash FROM password_history WHERE user_pk = ?1 ORDER BY id DESC")?;
            let rows = st.query_map([pk], |r| r.get::<_, String>(0))?;
            for h in rows {
                out.push(h?);
            }
            out.truncate(depth);
            Ok(out)
        })
    }

    fn auth_info(&self, user: &str) -> Result<Option<AuthInfo>> {
        self.read(|tx| {
            let Some((pk, mut u)) = tx
                .query_row(
                    &format!("SELECT {USER_COLS} WHERE u.name = ?1"),
                    [user],
                    |r| self.user_row(r),
                )
                .optional()?
            else {
                return Ok(None);
            };
            u.tags = tags_of(tx, TagTarget::User, pk)?;
            Ok(Some(AuthInfo {
                login_profile: login_profile(tx, pk, user)?,
                lock: lock_state(tx, pk)?,
                mfa: mfa_secret_where(
                    tx,
                    &self.secrets_key,
                    "d.user_pk = ?1 AND d.enabled IS NOT NULL",
                    Value::Integer(pk),
                )?,
                user: u,
            }))
        })
    }

    fn get_password_policy(&self) -> Result<Option<PasswordPolicy>> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT json FROM password_policy WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        rules::decode_password_policy(v)
    }

    fn put_password_policy(&self, p: &PasswordPolicy) -> Result<()> {
        let json = rules::encode_password_policy(p)?;
        self.write(|tx| {
            tx.execute("INSERT INTO password_policy (id, json) VALUES (1, ?1) ON CONFLICT DO UPDATE SET json = excluded.json", [json])?;
            Ok(())
        })
    }

    fn delete_password_policy(&self) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute("DELETE FROM password_policy WHERE id = 1", [])?;
            found(changed, rules::no_password_policy)
        })
    }
}

/// The admission of a second-factor attempt, in the caller's transaction.
fn admit_step(tx: &Connection, user: &str, now_ms: i64, throttle: &Throttle) -> Result<Admission> {
    let pk = user_pk(tx, user)?;
    if let Some(until) = refuse_if_locked(tx, pk, now_ms.div_euclid(1000))? {
        return Ok(Admission::Locked { until });
    }
    let next: Option<i64> = tx
        .query_row(
            "SELECT next_free_ms FROM factor_throttle WHERE user_pk = ?1",
            [pk],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match throttle.slot(next, now_ms) {
        Slot::Take {
            wait_ms,
            next_free_ms,
        } => {
            tx.execute(
                "INSERT INTO factor_throttle (user_pk, next_free_ms) VALUES (?1, ?2)
                 ON CONFLICT DO UPDATE SET next_free_ms = excluded.next_free_ms",
                params![pk, next_free_ms],
            )?;
            Admission::Admitted { wait_ms }
        }
        Slot::Refuse { retry_after_ms } => Admission::Throttled { retry_after_ms },
    })
}

/// The settle of a success, in the caller's transaction.
fn settle_step(
    tx: &Connection,
    user: &str,
    proof: &Proof<'_>,
    password_login: bool,
    now: i64,
) -> Result<Settled> {
    let pk = user_pk(tx, user)?;
    if let Some(until) = refuse_if_locked(tx, pk, now)? {
        return Ok(Settled::Locked { until });
    }
    let spent = match proof {
        Proof::Nothing => 1,
        // Only the user's own enabled device, and only above its watermark.
        Proof::Totp { serial, step, .. } => tx.execute(
            "UPDATE mfa_devices SET watermark = ?1
             WHERE serial = ?2 AND user_pk = ?3 AND enabled IS NOT NULL AND watermark < ?1",
            params![step, serial, pk],
        )?,
        Proof::Recovery { code_hash, .. } => tx.execute(
            "UPDATE recovery_codes SET used = ?1 WHERE user_pk = ?2 AND code_hash = ?3 AND used IS NULL",
            params![now, pk, code_hash],
        )?,
    };
    if spent == 0 {
        return Ok(Settled::Spent(count_failure(tx, pk, now)?));
    }
    match proof {
        Proof::Totp { serial, step, host } => {
            super::reconnect::record_step(tx, &spent_online(user, serial, *step, host, now))?;
        }
        Proof::Recovery { code_hash, host } => {
            let key = crate::credentials::recovery::spent_key(code_hash);
            super::reconnect::record_step(tx, &spent_online(user, &key, 0, host, now))?;
        }
        Proof::Nothing => {}
    }
    tx.execute("DELETE FROM login_failures WHERE user_pk = ?1", [pk])?;
    if password_login {
        tx.execute(
            "UPDATE users SET password_last_used = ?1 WHERE pk = ?2",
            params![now, pk],
        )?;
    }
    Ok(Settled::Accepted)
}

impl LockoutStore for SqliteStore {
    fn get_lockout_settings(&self) -> Result<LockoutSettings> {
        lockout_settings(&self.conn)
    }

    fn put_lockout_settings(&self, s: &LockoutSettings) -> Result<()> {
        rules::check_lockout_settings(s)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO lockout_settings (id, max_failed_attempts, lockout_duration) VALUES (1, ?1, ?2)
                 ON CONFLICT DO UPDATE SET max_failed_attempts = excluded.max_failed_attempts, lockout_duration = excluded.lockout_duration",
                params![s.max_failed_attempts, s.lockout_duration_seconds],
            )?;
            Ok(())
        })
    }

    fn record_failure(
        &self,
        user: &str,
        now: i64,
        audit: Record<'_, LockState>,
    ) -> Result<LockState> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let state = count_failure(tx, pk, now)?;
            super::audit::with_row(tx, audit, state)
        })
    }

    fn admit_attempt(
        &self,
        user: &str,
        now_ms: i64,
        throttle: &Throttle,
        audit: Record<'_, Admission>,
    ) -> Result<Admission> {
        self.write(|tx| {
            let admission = admit_step(tx, user, now_ms, throttle)?;
            super::audit::with_row(tx, audit, admission)
        })
    }

    fn settle_success(
        &self,
        user: &str,
        proof: &Proof<'_>,
        password_login: bool,
        now: i64,
        audit: Record<'_, Settled>,
    ) -> Result<Settled> {
        self.write(|tx| {
            let settled = settle_step(tx, user, proof, password_login, now)?;
            super::audit::with_row(tx, audit, settled)
        })
    }
    fn unlock_user(&self, user: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            tx.execute("DELETE FROM login_failures WHERE user_pk = ?1", [pk])?;
            Ok(())
        })
    }

    fn lock_user_until(&self, user: &str, until: i64) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            tx.execute(
                "INSERT INTO login_failures (user_pk, failed_attempts, last_failure, locked_until) VALUES (?1, 0, NULL, ?2)
                 ON CONFLICT DO UPDATE SET locked_until = max(coalesce(locked_until, ?2), ?2)",
                params![pk, until],
            )?;
            Ok(())
        })
    }

    fn lock_state(&self, user: &str) -> Result<LockState> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            lock_state(tx, pk)
        })
    }
}
