//! Fleet reconnect in SQLite: accepted MFA steps, hosts' journal positions and replay
//! incidents (migration 14).

use super::*;

const STEP_COLS: &str = "serial, step, host, user_name, time, offline";

fn step_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SpentStep> {
    Ok(SpentStep {
        serial: r.get(0)?,
        step: r.get(1)?,
        host: r.get(2)?,
        user: r.get(3)?,
        time: r.get(4)?,
        offline: r.get(5)?,
    })
}

/// Record `s` in an open transaction (also the online login's settle); the earlier
/// acceptances of its (serial, step).
pub(super) fn record_step(tx: &Connection, s: &SpentStep) -> Result<Vec<SpentStep>> {
    let mut st = tx.prepare_cached(&format!(
        "SELECT {STEP_COLS} FROM mfa_spent_steps WHERE serial = ?1 AND step = ?2 ORDER BY time, host"
    ))?;
    let earlier = st
        .query_map(params![s.serial, s.step], step_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.execute(
        &format!(
            "INSERT INTO mfa_spent_steps ({STEP_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING"
        ),
        params![s.serial, s.step, s.host, s.user, s.time, s.offline],
    )?;
    Ok(earlier)
}

fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReplayIncident> {
    let (user, serial, step): (String, String, i64) = (r.get(2)?, r.get(3)?, r.get(4)?);
    let side = |host: String, time: i64, offline: bool| SpentStep {
        serial: serial.clone(),
        step,
        host,
        user: user.clone(),
        time,
        offline,
    };
    Ok(ReplayIncident {
        id: r.get(0)?,
        time: r.get(1)?,
        first: side(r.get(5)?, r.get(6)?, r.get(7)?),
        second: side(r.get(8)?, r.get(9)?, r.get(10)?),
        action: r.get(11)?,
        user,
        serial,
        step,
    })
}

impl ReconnectStore for SqliteStore {
    fn journal_position(&self, host: &str, journal: &str) -> Result<i64> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT seq FROM host_journals WHERE host = ?1 AND journal = ?2",
                    params![host, journal],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0))
        })
    }

    fn set_journal_position(&self, host: &str, journal: &str, seq: i64, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO host_journals (host, journal, seq, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO UPDATE SET seq = excluded.seq, updated = excluded.updated",
                params![host, journal, seq, now],
            )?;
            Ok(())
        })
    }

    fn record_spent_step(&self, s: &SpentStep) -> Result<Vec<SpentStep>> {
        self.write(|tx| record_step(tx, s))
    }

    fn prune_spent_steps(&self, before: i64) -> Result<u64> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM mfa_spent_steps WHERE time < ?1", [before])?;
            Ok(n as u64)
        })
    }

    fn spent_steps(&self, serial: &str) -> Result<Vec<SpentStep>> {
        self.read(|tx| {
            let mut st = tx.prepare(&format!(
                "SELECT {STEP_COLS} FROM mfa_spent_steps WHERE serial = ?1 ORDER BY step, time, host"
            ))?;
            let rows = st.query_map([serial], step_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn record_replay_incident(&self, i: &ReplayIncident) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO replay_incidents (time, user_name, serial, step, first_host, first_time,
                   first_offline, second_host, second_time, second_offline, action)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    i.time,
                    i.user,
                    i.serial,
                    i.step,
                    i.first.host,
                    i.first.time,
                    i.first.offline,
                    i.second.host,
                    i.second.time,
                    i.second.offline,
                    i.action
                ],
            )?;
            Ok(())
        })
    }

    fn list_replay_incidents(&self, since: Option<i64>) -> Result<Vec<ReplayIncident>> {
        self.read(|tx| {
            let mut st = tx.prepare(
                "SELECT id, time, user_name, serial, step, first_host, first_time, first_offline,
                   second_host, second_time, second_offline, action
                 FROM replay_incidents WHERE time >= ?1 ORDER BY time, id",
            )?;
            let rows = st.query_map([since.unwrap_or(i64::MIN)], incident_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
