//! Fleet reconnect in PostgreSQL: accepted MFA steps, hosts' journal positions and
//! replay incidents (migration 14).

use super::*;
use postgres::Row;

const STEP_COLS: &str = "serial, step, host, user_name, time, offline";

fn step_row(r: &Row) -> Result<SpentStep> {
    Ok(SpentStep {
        serial: g(r, 0)?,
        step: g(r, 1)?,
        host: g(r, 2)?,
        user: g(r, 3)?,
        time: g(r, 4)?,
        offline: g::<i64>(r, 5)? != 0,
    })
}

/// Record `s` in the caller's transaction (also the online login's settle); the earlier
/// acceptances of its (serial, step).
pub(crate) fn record_step(db: &mut Db<'_>, s: &SpentStep) -> Result<Vec<SpentStep>> {
    let earlier = db
        .rows(
            &format!(
                "SELECT {STEP_COLS} FROM mfa_spent_steps WHERE serial = $1 AND step = $2 ORDER BY time, host"
            ),
            &[&s.serial, &s.step],
        )?
        .iter()
        .map(step_row)
        .collect::<Result<Vec<_>>>()?;
    db.exec(
        &format!(
            "INSERT INTO mfa_spent_steps ({STEP_COLS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (serial, step, host) DO NOTHING"
        ),
        &[
            &s.serial,
            &s.step,
            &s.host,
            &s.user,
            &s.time,
            &i64::from(s.offline),
        ],
    )?;
    Ok(earlier)
}

fn incident_row(r: &Row) -> Result<ReplayIncident> {
    let (user, serial, step): (String, String, i64) = (g(r, 2)?, g(r, 3)?, g(r, 4)?);
    let side = |host: String, time: i64, offline: i64| SpentStep {
        serial: serial.clone(),
        step,
        host,
        user: user.clone(),
        time,
        offline: offline != 0,
    };
    Ok(ReplayIncident {
        id: g(r, 0)?,
        time: g(r, 1)?,
        first: side(g(r, 5)?, g(r, 6)?, g(r, 7)?),
        second: side(g(r, 8)?, g(r, 9)?, g(r, 10)?),
        action: g(r, 11)?,
        user,
        serial,
        step,
    })
}

impl ReconnectStore for PgStore {
    fn journal_position(&self, host: &str, journal: &str) -> Result<i64> {
        self.read1(|db| {
            match db.opt(
                "SELECT seq FROM host_journals WHERE host = $1 AND journal = $2",
                &[&host, &journal],
            )? {
                Some(r) => g(&r, 0),
                None => Ok(0),
            }
        })
    }

    fn set_journal_position(&self, host: &str, journal: &str, seq: i64, now: i64) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                "INSERT INTO host_journals (host, journal, seq, updated) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (host, journal) DO UPDATE SET seq = excluded.seq, updated = excluded.updated",
                &[&host, &journal, &seq, &now],
            )?;
            Ok(())
        })
    }

    fn record_spent_step(&self, s: &SpentStep) -> Result<Vec<SpentStep>> {
        self.write(Iso::Serializable, |db| record_step(db, s))
    }

    fn prune_spent_steps(&self, before: i64) -> Result<u64> {
        self.write(Iso::ReadCommitted, |db| {
            db.exec("DELETE FROM mfa_spent_steps WHERE time < $1", &[&before])
        })
    }

    fn spent_steps(&self, serial: &str) -> Result<Vec<SpentStep>> {
        self.read1(|db| {
            db.rows(
                &format!(
                    "SELECT {STEP_COLS} FROM mfa_spent_steps WHERE serial = $1 ORDER BY step, time, host"
                ),
                &[&serial],
            )?
            .iter()
            .map(step_row)
            .collect()
        })
    }

    fn record_replay_incident(&self, i: &ReplayIncident) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                "INSERT INTO replay_incidents (time, user_name, serial, step, first_host, first_time,
                   first_offline, second_host, second_time, second_offline, action)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &i.time,
                    &i.user,
                    &i.serial,
                    &i.step,
                    &i.first.host,
                    &i.first.time,
                    &i64::from(i.first.offline),
                    &i.second.host,
                    &i.second.time,
                    &i64::from(i.second.offline),
                    &i.action,
                ],
            )?;
            Ok(())
        })
    }

    fn list_replay_incidents(&self, since: Option<i64>) -> Result<Vec<ReplayIncident>> {
        self.read1(|db| {
            db.rows(
                "SELECT id, time, user_name, serial, step, first_host, first_time, first_offline,
                   second_host, second_time, second_offline, action
                 FROM replay_incidents WHERE time >= $1 ORDER BY time, id",
                &[&since.unwrap_or(i64::MIN)],
            )?
            .iter()
            .map(incident_row)
            .collect()
        })
    }
}
