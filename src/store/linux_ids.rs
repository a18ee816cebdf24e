//! Linux ids bound to IAM entities, for userdb (owned by the userdb engineer; kept in
//! this separate file so the rest of the store stays untouched).
//!
//! Uses the existing `id_allocations` table with `space = 'uid'` for users *and*
//! groups (one sequence: a user's personal group has gid = uid, so an IAM group can
//! never get a user's gid) and `name` = the entity's unique id (`AIDA…`, `AGPA…`), not
//! its name: a rename keeps the id, and a deleted-then-recreated user gets a new unique
//! id, hence a new uid. Rows are never deleted, so an id is never handed out twice.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Result, StoreError};

const SPACE: &str = "uid";

/// The id bound to `entity_id`, if any.
pub(crate) fn lookup(tx: &Transaction<'_>, entity_id: &str) -> Result<Option<u32>> {
    Ok(tx
        .query_row(
            "SELECT id FROM id_allocations WHERE space = ?1 AND name = ?2",
            params![SPACE, entity_id],
            |r| r.get::<_, u32>(0),
        )
        .optional()?)
}

/// Binds an id to `entity_id` (returning the existing one if already bound): `explicit`
/// when given (it must never have been handed out), else the next id above every id
/// ever handed out inside `range`, skipping ids `in_use` reports.
pub(crate) fn assign(
    tx: &Transaction<'_>,
    entity_id: &str,
    explicit: Option<u32>,
    range: (u32, u32),
    in_use: &dyn Fn(u32) -> bool,
) -> Result<u32> {
    if let Some(id) = lookup(tx, entity_id)? {
        return match explicit {
            Some(e) if e != id => Err(StoreError::EntityAlreadyExists(format!(
                "{entity_id} already has id {id}; ids never change"
            ))),
            _ => Ok(id),
        };
    }
    let id = match explicit {
        Some(id) => {
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM id_allocations WHERE id = ?1)",
                params![id],
                |r| r.get(0),
            )?;
            if taken {
                return Err(StoreError::EntityAlreadyExists(format!(
                    "id {id} was already handed out by this store (ids are never reused)"
                )));
            }
            id
        }
        None => {
            let highest: Option<u32> = tx.query_row(
                "SELECT max(id) FROM id_allocations WHERE id BETWEEN ?1 AND ?2",
                params![range.0, range.1],
                |r| r.get(0),
            )?;
            let start = match highest {
                Some(h) => h.checked_add(1),
                None => Some(range.0),
            };
            start
                .and_then(|s| {
                    (s..=range.1).find(|id| !matches!(id, 65534 | 65535) && !in_use(*id))
                })
                .ok_or_else(|| {
                    StoreError::LimitExceeded(format!(
                        "the UID/GID range {}-{} is exhausted (ids are never reused); widen it with PAM_IAM_ID_RANGE",
                        range.0, range.1
                    ))
                })?
        }
    };
    tx.execute(
        "INSERT INTO id_allocations (space, name, id) VALUES (?1, ?2, ?3)",
        params![SPACE, entity_id, id],
    )?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use crate::store::{OpenMode, open_path};

    #[test]
    fn ids_are_bound_to_entities_never_reused_and_skip_local_ones() {
        let dir = crate::store::safe_open::private_tempdir();
        let s = open_path(&dir.path().join("iam.db"), OpenMode::ReadWrite).unwrap();
        let none = |_: u32| false;
        let r = (70000, 70004);
        assert_eq!(s.linux_id("AIDAALICE").unwrap(), None);
        assert_eq!(
            s.assign_linux_id("AIDAALICE", None, r, &none).unwrap(),
            70000
        );
        assert_eq!(
            s.assign_linux_id("AIDAALICE", None, r, &none).unwrap(),
            70000
        );
        assert_eq!(s.linux_id("AIDAALICE").unwrap(), Some(70000));
        // Local accounts are skipped; groups share the sequence.
        assert_eq!(
            s.assign_linux_id("AGPAOPS", None, r, &|i| i == 70001)
                .unwrap(),
            70002
        );
        // Explicit ids: never one already handed out, and never changed afterwards.
        assert!(s.assign_linux_id("AIDABOB", Some(70000), r, &none).is_err());
        assert_eq!(
            s.assign_linux_id("AIDABOB", Some(5000), r, &none).unwrap(),
            5000
        );
        assert!(s.assign_linux_id("AIDABOB", Some(5001), r, &none).is_err());
        // Ids only grow: 70001 (skipped above) is not handed out later.
        assert_eq!(
            s.assign_linux_id("AIDACAROL", None, r, &none).unwrap(),
            70003
        );
        assert_eq!(
            s.assign_linux_id("AIDADAVE", None, r, &none).unwrap(),
            70004
        );
        let e = s.assign_linux_id("AIDAERIN", None, r, &none).unwrap_err();
        assert_eq!(e.code(), "LimitExceeded");
    }
}
