//! Login profiles, password history and policy, failure counting and locks in
//! PostgreSQL. The counters are single conditional statements under READ COMMITTED: each
//! writes the state the lockout rule (`LockState::after_failure`, in the root crate)
//! computed from the state it read, on condition that the row still holds what was read;
//! when another login changed it meanwhile, it reads again. No update is lost and the
//! rule exists once.

use super::*;
use pam_iam::credentials::second_factor::{Admission, Proof, Record, Settled, Slot, Throttle};
use users::USER_FROM;
use zeroize::Zeroizing;

/// How often a counter update re-reads after losing a race before giving up (each loss
/// means another login's update landed, so this bounds only pathological contention).
const CAS_ATTEMPTS: u32 = 10_000;

fn u32_of(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The user's failure state (and whether its row exists) with the lockout settings, in
/// one statement.
fn lock_and_settings(db: &mut Db<'_>, pk: i64) -> Result<(LockState, bool, LockoutSettings)> {
    let r = db.one(
        "SELECT f.failed_attempts, f.last_failure, f.locked_until, f.user_pk IS NOT NULL,
                s.max_failed_attempts, s.lockout_duration
         FROM (SELECT 1) one LEFT JOIN login_failures f ON f.user_pk = $1
         LEFT JOIN lockout_settings s ON s.id = 1",
        &[&pk],
    )?;
    let present: bool = g(&r, 3)?;
    let state = if present {
        LockState {
            failed_attempts: u32_of(g(&r, 0)?),
            last_failure: g(&r, 1)?,
            locked_until: g(&r, 2)?,
        }
    } else {
        LockState::default()
    };
    let settings = match (g::<Option<i64>>(&r, 4)?, g::<Option<i64>>(&r, 5)?) {
        (Some(m), Some(d)) => LockoutSettings {
            max_failed_attempts: u32_of(m),
            lockout_duration_seconds: d,
        },
        _ => LockoutSettings::default(),
    };
    Ok((state, present, settings))
}

pub(crate) fn lock_state(db: &mut Db<'_>, pk: i64) -> Result<LockState> {
    Ok(lock_and_settings(db, pk)?.0)
}

/// Writes `next` if the row still holds `seen` (or is still missing); whether it did.
fn swap_state(
    db: &mut Db<'_>,
    pk: i64,
    seen: Option<&LockState>,
    next: &LockState,
) -> Result<bool> {
    let fa = i64::from(next.failed_attempts);
    let n = match seen {
        Some(old) => db.exec(
            "UPDATE login_failures SET failed_attempts = $2, last_failure = $3, locked_until = $4
             WHERE user_pk = $1 AND failed_attempts = $5
               AND last_failure IS NOT DISTINCT FROM $6 AND locked_until IS NOT DISTINCT FROM $7",
            &[
                &pk,
                &fa,
                &next.last_failure,
                &next.locked_until,
                &i64::from(old.failed_attempts),
                &old.last_failure,
                &old.locked_until,
            ],
        )?,
        None => db.exec(
            "INSERT INTO login_failures (user_pk, failed_attempts, last_failure, locked_until)
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_pk) DO NOTHING",
            &[&pk, &fa, &next.last_failure, &next.locked_until],
        )?,
    };
    Ok(n == 1)
}

/// One more failure under the lockout rule, saved; the state after.
pub(crate) fn count_failure(db: &mut Db<'_>, pk: i64, now: i64) -> Result<LockState> {
    for _ in 0..CAS_ATTEMPTS {
        let (state, present, settings) = lock_and_settings(db, pk)?;
        let next = state.after_failure(&settings, now);
        if swap_state(db, pk, present.then_some(&state), &next)? {
            return Ok(next);
        }
    }
    Err(contended())
}

fn contended() -> StoreError {
    StoreError::Database(
        "the failure counter kept changing under this update (extreme contention); nothing was counted, try again".into(),
    )
}

/// When the user is locked at `now`: the attempt counts as a failure, and the lock's end
/// (after counting) is the answer.
fn refuse_if_locked(db: &mut Db<'_>, pk: i64, now: i64) -> Result<Option<i64>> {
    for _ in 0..CAS_ATTEMPTS {
        let (state, present, settings) = lock_and_settings(db, pk)?;
        if !state.is_locked(now) {
            return Ok(None);
        }
        let next = state.after_failure(&settings, now);
        if swap_state(db, pk, present.then_some(&state), &next)? {
            return Ok(Some(next.locked_until.unwrap_or(now)));
        }
    }
    Err(contended())
}

pub(crate) fn lockout_settings(db: &mut Db<'_>) -> Result<LockoutSettings> {
    Ok(
        match db.opt(
            "SELECT max_failed_attempts, lockout_duration FROM lockout_settings WHERE id = 1",
            &[],
        )? {
            Some(r) => LockoutSettings {
                max_failed_attempts: u32_of(g(&r, 0)?),
                lockout_duration_seconds: g(&r, 1)?,
            },
            None => LockoutSettings::default(),
        },
    )
}

const PROFILE_COLS: &str = "l.hash, l.reset_required, l.created, l.changed";

fn profile_from(r: &postgres::Row, at: usize, name: &str) -> Result<LoginProfile> {
    Ok(LoginProfile {
        user_name: name.to_string(),
        password_hash: Zeroizing::new(g(r, at)?),
        password_reset_required: g::<i64>(r, at + 1)? != 0,
        create_date: g(r, at + 2)?,
        password_last_changed: g(r, at + 3)?,
    })
}

pub(crate) fn login_profile(db: &mut Db<'_>, pk: i64, name: &str) -> Result<Option<LoginProfile>> {
    match db.opt(
        &format!("SELECT {PROFILE_COLS} FROM login_profiles l WHERE l.user_pk = $1"),
        &[&pk],
    )? {
        Some(r) => Ok(Some(profile_from(&r, 0, name)?)),
        None => Ok(None),
    }
}

impl LoginProfileStore for PgStore {
    fn create_login_profile(
        &self,
        user: &str,
        hash: &str,
        reset_required: bool,
        now: i64,
    ) -> Result<LoginProfile> {
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, user)?;
            if login_profile(db, pk, user)?.is_some() {
                return Err(rules::login_profile_exists(user));
            }
            db.exec(
                "INSERT INTO login_profiles (user_pk, hash, reset_required, created, changed) VALUES ($1, $2, $3, $4, $4)",
                &[&pk, &hash, &i64::from(reset_required), &now],
            )?;
            login_profile(db, pk, user)?
                .ok_or_else(|| StoreError::Database("login profile vanished".into()))
        })
    }

    fn get_login_profile(&self, user: &str) -> Result<LoginProfile> {
        self.read1(|db| {
            let r = db.opt(
                &format!("SELECT {PROFILE_COLS} FROM login_profiles l JOIN users u ON u.pk = l.user_pk WHERE u.name = $1"),
                &[&user],
            )?;
            match r {
                Some(r) => profile_from(&r, 0, user),
                None => {
                    if db.opt("SELECT 1 FROM users WHERE name = $1", &[&user])?.is_none() {
                        Err(rules::no_such_user(user))
                    } else {
                        Err(rules::no_login_profile(user))
                    }
                }
            }
        })
    }

    fn update_login_profile(
        &self,
        user: &str,
        hash: Option<&str>,
        reset_required: Option<bool>,
        now: i64,
    ) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, user)?;
            let lp = login_profile(db, pk, user)?.ok_or_else(|| rules::no_login_profile(user))?;
            if let Some(h) = hash {
                db.exec(
                    "INSERT INTO password_history (user_pk, hash, retired) VALUES ($1, $2, $3)",
                    &[&pk, &lp.password_hash.as_str(), &now],
                )?;
                db.exec(
                    "DELETE FROM password_history WHERE user_pk = $1 AND id NOT IN
                     (SELECT id FROM password_history WHERE user_pk = $1 ORDER BY id DESC LIMIT $2)",
                    &[&pk, &rules::PASSWORD_HISTORY_KEPT],
                )?;
                db.exec(
                    "UPDATE login_profiles SET hash = $1, changed = $2 WHERE user_pk = $3",
                    &[&h, &now, &pk],
                )?;
            }
            if let Some(r) = reset_required {
                db.exec(
                    "UPDATE login_profiles SET reset_required = $1 WHERE user_pk = $2",
                    &[&i64::from(r), &pk],
                )?;
            }
            Ok(())
        })
    }

    fn delete_login_profile(&self, user: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, user)?;
            let n = db.exec("DELETE FROM login_profiles WHERE user_pk = $1", &[&pk])?;
            found(n, || rules::no_login_profile(user))
        })
    }

    fn password_history(&self, user: &str, depth: usize) -> Result<Vec<String>> {
        self.read(|db| {
            let pk = user_pk(db, user)?;
            let rows = db.rows(
                "SELECT hash FROM (SELECT hash, 0 AS o, 0::bigint AS id FROM login_profiles WHERE user_pk = $1
                  UNION ALL SELECT hash, 1, id FROM password_history WHERE user_pk = $1) h ORDER BY o, id DESC",
                &[&pk],
            )?;
            let mut out = rows.iter().map(|r| g(r, 0)).collect::<Result<Vec<String>>>()?;
            out.truncate(depth);
            Ok(out)
        })
    }

    /// One statement: the user with tags, the login profile, the failure state and the
    /// enabled device.
    fn auth_info(&self, user: &str) -> Result<Option<AuthInfo>> {
        self.read1(|db| {
            let Some(r) = db.opt(&auth_info_sql(), &[&user])? else {
                return Ok(None);
            };
            let (_, u) = self.user_row(&r, 0)?;
            let login_profile = if g::<bool>(&r, 12)? {
                Some(profile_from(&r, 8, user)?)
            } else {
                None
            };
            let lock = match g::<Option<i64>>(&r, 13)? {
                Some(fa) => LockState {
                    failed_attempts: u32_of(fa),
                    last_failure: g(&r, 14)?,
                    locked_until: g(&r, 15)?,
                },
                None => LockState::default(),
            };
            let mfa = match g::<Option<String>>(&r, 16)? {
                Some(serial) => Some(MfaSecret {
                    seed: crate::mfa::open_seed(
                        &self.secrets_key,
                        &serial,
                        g::<Option<Vec<u8>>>(&r, 17)?.as_deref(),
                    )?,
                    serial_number: serial,
                    watermark: g(&r, 18)?,
                    user_name: Some(u.name.clone()),
                }),
                None => None,
            };
            Ok(Some(AuthInfo {
                user: u,
                login_profile,
                lock,
                mfa,
            }))
        })
    }

    fn get_password_policy(&self) -> Result<Option<PasswordPolicy>> {
        let v: Option<String> = self.read1(|db| {
            match db.opt("SELECT json FROM password_policy WHERE id = 1", &[])? {
                Some(r) => Ok(Some(g(&r, 0)?)),
                None => Ok(None),
            }
        })?;
        rules::decode_password_policy(v)
    }

    fn put_password_policy(&self, p: &PasswordPolicy) -> Result<()> {
        let json = rules::encode_password_policy(p)?;
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                "INSERT INTO password_policy (id, json) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET json = excluded.json",
                &[&json],
            )?;
            Ok(())
        })
    }

    fn delete_password_policy(&self) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec("DELETE FROM password_policy WHERE id = 1", &[])?;
            found(n, rules::no_password_policy)
        })
    }
}

/// The login's lookup of a user by name (`$1`): row and tags, login profile, failure
/// state, enabled device. Each to-one join is `LATERAL … LIMIT 1` (see [`USER_FROM`]).
pub(crate) fn auth_info_sql() -> String {
    format!(
        "SELECT {}, l.hash, l.reset_required, l.created, l.changed, l.user_pk IS NOT NULL,
                f.failed_attempts, f.last_failure, f.locked_until,
                d.serial, d.seed_sealed, d.watermark
         {USER_FROM}
         LEFT JOIN LATERAL (SELECT * FROM login_profiles WHERE user_pk = u.pk LIMIT 1) l ON true
         LEFT JOIN LATERAL (SELECT * FROM login_failures WHERE user_pk = u.pk LIMIT 1) f ON true
         LEFT JOIN LATERAL (SELECT * FROM mfa_devices WHERE user_pk = u.pk AND enabled IS NOT NULL LIMIT 1) d ON true
         WHERE u.name = $1",
        PgStore::user_select()
    )
}

/// The admission of a second-factor attempt, in the caller's transaction.
fn admit_step(db: &mut Db<'_>, user: &str, now_ms: i64, throttle: &Throttle) -> Result<Admission> {
    let pk = user_pk(db, user)?;
    if let Some(until) = refuse_if_locked(db, pk, now_ms.div_euclid(1000))? {
        return Ok(Admission::Locked { until });
    }
    for _ in 0..CAS_ATTEMPTS {
        let next: Option<i64> = match db.opt(
            "SELECT next_free_ms FROM factor_throttle WHERE user_pk = $1",
            &[&pk],
        )? {
            Some(r) => Some(g(&r, 0)?),
            None => None,
        };
        match throttle.slot(next, now_ms) {
            Slot::Take {
                wait_ms,
                next_free_ms,
            } => {
                // Taken only if nobody took the slot meanwhile.
                let n = match next {
                    Some(old) => db.exec(
                        "UPDATE factor_throttle SET next_free_ms = $2 WHERE user_pk = $1 AND next_free_ms = $3",
                        &[&pk, &next_free_ms, &old],
                    )?,
                    None => db.exec(
                        "INSERT INTO factor_throttle (user_pk, next_free_ms) VALUES ($1, $2) ON CONFLICT (user_pk) DO NOTHING",
                        &[&pk, &next_free_ms],
                    )?,
                };
                if n == 1 {
                    return Ok(Admission::Admitted { wait_ms });
                }
            }
            Slot::Refuse { retry_after_ms } => {
                return Ok(Admission::Throttled { retry_after_ms });
            }
        }
    }
    Err(contended())
}

/// The settle of a success, in the caller's transaction.
fn settle_step(
    db: &mut Db<'_>,
    user: &str,
    proof: &Proof<'_>,
    password_login: bool,
    now: i64,
) -> Result<Settled> {
    let pk = user_pk(db, user)?;
    if let Some(until) = refuse_if_locked(db, pk, now)? {
        return Ok(Settled::Locked { until });
    }
    let spent = match proof {
        Proof::Nothing => 1,
        // Only the user's own enabled device, and only above its watermark: of
        // racing logins with the same step, exactly one changes the row.
        Proof::Totp { serial, step, .. } => db.exec(
            "UPDATE mfa_devices SET watermark = $1
             WHERE serial = $2 AND user_pk = $3 AND enabled IS NOT NULL AND watermark < $1",
            &[step, serial, &pk],
        )?,
        Proof::Recovery { code_hash, .. } => db.exec(
            "UPDATE recovery_codes SET used = $1 WHERE user_pk = $2 AND code_hash = $3 AND used IS NULL",
            &[&now, &pk, code_hash],
        )?,
    };
    if spent == 0 {
        return Ok(Settled::Spent(count_failure(db, pk, now)?));
    }
    match proof {
        Proof::Totp { serial, step, host } => {
            crate::reconnect::record_step(db, &spent_online(user, serial, *step, host, now))?;
        }
        Proof::Recovery { code_hash, host } => {
            let key = pam_iam::credentials::recovery::spent_key(code_hash);
            crate::reconnect::record_step(db, &spent_online(user, &key, 0, host, now))?;
        }
        Proof::Nothing => {}
    }
    db.exec(
        "WITH cleared AS (DELETE FROM login_failures WHERE user_pk = $1)
         UPDATE users SET password_last_used = $2 WHERE pk = $1 AND $3",
        &[&pk, &now, &password_login],
    )?;
    Ok(Settled::Accepted)
}

impl LockoutStore for PgStore {
    fn get_lockout_settings(&self) -> Result<LockoutSettings> {
        self.read1(lockout_settings)
    }

    fn put_lockout_settings(&self, s: &LockoutSettings) -> Result<()> {
        rules::check_lockout_settings(s)?;
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                "INSERT INTO lockout_settings (id, max_failed_attempts, lockout_duration) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO UPDATE SET max_failed_attempts = excluded.max_failed_attempts, lockout_duration = excluded.lockout_duration",
                &[&i64::from(s.max_failed_attempts), &s.lockout_duration_seconds],
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
        self.write(Iso::ReadCommitted, |db| {
            let pk = user_pk(db, user)?;
            let state = count_failure(db, pk, now)?;
            crate::audit::with_row(db, audit, state)
        })
    }

    fn admit_attempt(
        &self,
        user: &str,
        now_ms: i64,
        throttle: &Throttle,
        audit: Record<'_, Admission>,
    ) -> Result<Admission> {
        self.write(Iso::ReadCommitted, |db| {
            let admission = admit_step(db, user, now_ms, throttle)?;
            crate::audit::with_row(db, audit, admission)
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
        self.write(Iso::ReadCommitted, |db| {
            let settled = settle_step(db, user, proof, password_login, now)?;
            crate::audit::with_row(db, audit, settled)
        })
    }

    fn unlock_user(&self, user: &str) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let pk = user_pk(db, user)?;
            db.exec("DELETE FROM login_failures WHERE user_pk = $1", &[&pk])?;
            Ok(())
        })
    }

    fn lock_user_until(&self, user: &str, until: i64) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let pk = user_pk(db, user)?;
            db.exec(
                "INSERT INTO login_failures (user_pk, failed_attempts, last_failure, locked_until) VALUES ($1, 0, NULL, $2)
                 ON CONFLICT (user_pk) DO UPDATE SET locked_until = greatest(login_failures.locked_until, $2)",
                &[&pk, &until],
            )?;
            Ok(())
        })
    }

    fn lock_state(&self, user: &str) -> Result<LockState> {
        self.read(|db| {
            let pk = user_pk(db, user)?;
            lock_state(db, pk)
        })
    }
}
