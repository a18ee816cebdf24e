use super::*;
use pam_iam::credentials::LockoutSettings;

const NOW: i64 = 1_700_000_000;

fn open(path: &std::path::Path) -> Offline {
    Offline::open(
        path,
        "web-a",
        3600,
        LockoutSettings {
            max_failed_attempts: 3,
            lockout_duration_seconds: 900,
        },
    )
    .unwrap()
}

/// `n` rows: a login with a code, then failures.
fn write(o: &Offline, n: usize, time: i64) {
    o.with(|c| {
        for i in 0..n {
            if i == 0 {
                c.execute(
                    "INSERT INTO journal(time, user, kind, serial, step, reason, service)
                     VALUES (?1, 'alice', 'login', 'arn:mfa/alice', 7, 'offline: password + verification code', 'sshd')",
                    [time],
                )?;
            } else {
                c.execute(
                    "INSERT INTO journal(time, user, kind, reason) VALUES (?1, 'alice', 'failure', 'offline: wrong password')",
                    [time],
                )?;
            }
        }
        Ok(())
    })
    .unwrap();
    o.journal_pending.store(true, Ordering::SeqCst);
}

fn shipped(o: &Offline) -> Vec<(i64, bool)> {
    o.with(|c| {
        let mut st = c.prepare("SELECT seq, shipped FROM journal ORDER BY seq")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
    })
    .unwrap()
}

#[test]
fn entries_ship_from_one_in_order_and_the_position_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offline.db");
    let o = open(&path);
    assert!(!o.journal_pending());
    assert_eq!(o.next_batch().unwrap(), None);
    write(&o, 3, NOW);
    let b = o.next_batch().unwrap().unwrap();
    let (id, ack) = o.journal_position().unwrap();
    assert_eq!((b.journal.as_str(), ack), (id.as_str(), 0));
    assert_eq!(id.len(), 32, "{id}");
    let seqs: Vec<i64> = b.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    let e = &b.entries[0];
    assert_eq!(
        (e.kind, e.serial.as_deref(), e.step, e.service.as_deref()),
        (
            JournalKind::Login,
            Some("arn:mfa/alice"),
            Some(7),
            Some("sshd")
        )
    );
    assert_eq!(b.entries[1].kind, JournalKind::Failure);
    // Acknowledged up to 2 (a batch cut short by the server is not a case, but the
    // position is the server's word): row 3 is sent next.
    assert_eq!(
        o.journal_acked(&b, 2, NOW).unwrap(),
        Acked::Moved { rest: true }
    );
    assert_eq!(shipped(&o), [(1, true), (2, true), (3, false)]);
    drop(o);
    // The agent restarts: the same journal, from entry 3.
    let o = open(&path);
    assert!(o.journal_pending());
    assert_eq!(o.journal_position().unwrap(), (id.clone(), 2));
    let b = o.next_batch().unwrap().unwrap();
    assert_eq!(
        (b.journal.as_str(), b.entries.len(), b.entries[0].seq),
        (id.as_str(), 1, 3)
    );
    assert_eq!(
        o.journal_acked(&b, 3, NOW).unwrap(),
        Acked::Moved { rest: false }
    );
    assert_eq!(o.next_batch().unwrap(), None);
    assert!(!o.journal_pending());
    // Rows acknowledged are kept a while, then deleted; the numbering goes on.
    write(&o, 1, NOW + SHIPPED_KEPT + 10);
    let b = o.next_batch().unwrap().unwrap();
    assert_eq!(b.entries[0].seq, 4);
    o.journal_acked(&b, 4, NOW + SHIPPED_KEPT + 10).unwrap();
    assert_eq!(shipped(&o), [(4, true)]);
    drop(o);
    // A re-created offline.db is a new journal, from Seq 1.
    std::fs::remove_file(&path).unwrap();
    let o = open(&path);
    write(&o, 1, NOW);
    let b = o.next_batch().unwrap().unwrap();
    assert_ne!(b.journal, id);
    assert_eq!(b.entries[0].seq, 1);
}

#[test]
fn a_gap_resends_from_the_servers_ack_and_entries_no_longer_held_start_a_new_journal() {
    let dir = tempfile::tempdir().unwrap();
    let o = open(&dir.path().join("offline.db"));
    write(&o, 4, NOW);
    let b = o.next_batch().unwrap().unwrap();
    let id = b.journal.clone();
    o.journal_acked(&b, 4, NOW).unwrap();
    write(&o, 1, NOW);
    // The server says it holds only entry 1 (JournalGap, Ack 1): 2.. go again, and the
    // rows above are no longer marked shipped.
    let b = o.next_batch().unwrap().unwrap();
    assert_eq!(b.entries[0].seq, 5);
    assert_eq!(
        o.journal_acked(&b, 1, NOW).unwrap(),
        Acked::Moved { rest: true }
    );
    assert_eq!(
        shipped(&o),
        [(1, true), (2, false), (3, false), (4, false), (5, false)]
    );
    let b = o.next_batch().unwrap().unwrap();
    let seqs: Vec<i64> = b.entries.iter().map(|e| e.seq).collect();
    assert_eq!((b.journal.as_str(), seqs), (id.as_str(), vec![2, 3, 4, 5]));
    // Entries 2 and 3 are gone (deleted by hand): what is held goes as a new journal.
    o.with(|c| c.execute("DELETE FROM journal WHERE seq IN (2, 3)", []))
        .unwrap();
    let b = o.next_batch().unwrap().unwrap();
    let seqs: Vec<i64> = b.entries.iter().map(|e| e.seq).collect();
    assert_ne!(b.journal, id);
    assert_eq!((seqs, b.first_row), (vec![1, 2], 4));
    assert_eq!(
        o.journal_acked(&b, 2, NOW).unwrap(),
        Acked::Moved { rest: false }
    );
    // An answer about the old journal changes nothing now.
    let old = Batch {
        journal: id,
        ..b.clone()
    };
    assert_eq!(o.journal_acked(&old, 9, NOW).unwrap(), Acked::Stale);
    assert_eq!(o.journal_position().unwrap(), (b.journal, 2));
}

#[test]
fn an_ack_beyond_what_this_host_wrote_ships_the_rest_as_a_new_journal() {
    let dir = tempfile::tempdir().unwrap();
    let o = open(&dir.path().join("offline.db"));
    write(&o, 2, NOW);
    let b = o.next_batch().unwrap().unwrap();
    // The server holds 9 entries of this id (a restored copy of offline.db shipped
    // before): these two would be skipped as already applied.
    let Acked::Restarted { journal } = o.journal_acked(&b, 9, NOW).unwrap() else {
        panic!("not restarted")
    };
    assert_ne!(journal, b.journal);
    let again = o.next_batch().unwrap().unwrap();
    let seqs: Vec<i64> = again.entries.iter().map(|e| e.seq).collect();
    assert_eq!((again.journal, seqs), (journal, vec![1, 2]));
}

#[test]
fn a_batch_is_bounded_and_its_texts_fit_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let o = open(&dir.path().join("offline.db"));
    write(&o, MAX_JOURNAL_ENTRIES + 3, NOW);
    let long = "é".repeat(MAX_TEXT);
    o.with(|c| c.execute("UPDATE journal SET reason = ?1 WHERE seq = 2", [&long]))
        .unwrap();
    let b = o.next_batch().unwrap().unwrap();
    assert_eq!(b.entries.len(), MAX_JOURNAL_ENTRIES);
    let r = &b.entries[1].reason;
    assert!(r.len() <= MAX_TEXT && r.len() > MAX_TEXT - 2, "{}", r.len());
    let wire = pam_iam::fleet::proto::JournalBatch {
        journal: b.journal.clone(),
        entries: b.entries.clone(),
    };
    pam_iam::fleet::reconnect::check(&wire).unwrap();
    o.journal_acked(&b, MAX_JOURNAL_ENTRIES as i64, NOW)
        .unwrap();
    let b = o.next_batch().unwrap().unwrap();
    assert_eq!(b.entries.len(), 3);
    assert_eq!(b.entries[0].seq, MAX_JOURNAL_ENTRIES as i64 + 1);
}

fn attempt(user: &str) -> LoginRequest {
    LoginRequest {
        user: user.into(),
        password: Some(zeroize::Zeroizing::new("pw".into())),
        code: None,
        service: Some("sshd".into()),
        rhost: Some("10.0.0.7".into()),
        tty: None,
        code_only: false,
    }
}

fn count(o: &Offline, sql: &str) -> i64 {
    o.with(|c| c.query_row(sql, [], |r| r.get(0))).unwrap()
}

#[test]
fn a_full_journal_refuses_offline_logins_counts_them_and_accounts_for_them_once_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = open(&dir.path().join("offline.db"));
    o.journal_max = 3;
    // No server ever answered: each attempt is a `deny`, journaled.
    for _ in 0..3 {
        let d = o.decide(&attempt("alice"), NOW, None).unwrap();
        assert!(matches!(d, Decided::Deny { .. }), "{d:?}");
    }
    // The bound: refused without a row, counted per user.
    for (user, t) in [("alice", NOW + 5), ("bob", NOW + 6), ("alice", NOW + 9)] {
        let d = o.decide(&attempt(user), t, None).unwrap();
        assert!(
            matches!(&d, Decided::Full { reason } if reason.contains("journal_max_entries = 3")),
            "{d:?}"
        );
    }
    assert_eq!(count(&o, "SELECT count(*) FROM journal"), 3);
    assert_eq!(
        o.with(|c| c.query_row(
            "SELECT attempts, first, last FROM journal_overflow WHERE user = 'alice'",
            [],
            |r| Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?
            ))
        ))
        .unwrap(),
        (2, NOW + 5, NOW + 9)
    );
    // Shipped and acknowledged: the counts become one `deny` row per user, next to ship.
    let b = o.next_batch().unwrap().unwrap();
    assert_eq!(b.entries.len(), 3);
    assert_eq!(
        o.journal_acked(&b, 3, NOW + 20).unwrap(),
        Acked::Moved { rest: true }
    );
    assert_eq!(count(&o, "SELECT count(*) FROM journal_overflow"), 0);
    let b = o.next_batch().unwrap().unwrap();
    let got: Vec<(i64, &str, JournalKind, i64)> = b
        .entries
        .iter()
        .map(|e| (e.seq, e.user.as_str(), e.kind, e.time))
        .collect();
    assert_eq!(
        got,
        [
            (4, "bob", JournalKind::Deny, NOW + 6),
            (5, "alice", JournalKind::Deny, NOW + 9)
        ]
    );
    assert!(
        b.entries[1].reason.contains("2 login attempt(s)")
            && b.entries[1].reason.contains("journal was full"),
        "{}",
        b.entries[1].reason
    );
    // Room again: a new decision is journaled, and shipped rows make room for it (the
    // table never holds more than the bound).
    let d = o.decide(&attempt("alice"), NOW + 30, None).unwrap();
    assert!(matches!(d, Decided::Deny { .. }), "{d:?}");
    assert_eq!(count(&o, "SELECT count(*) FROM journal"), 3);
    let d = o.decide(&attempt("alice"), NOW + 31, None).unwrap();
    assert!(matches!(d, Decided::Full { .. }), "{d:?}");
    let b = o.next_batch().unwrap().unwrap();
    assert_eq!(b.entries.len(), 3);
    o.journal_acked(&b, 6, NOW + 40).unwrap();
    assert_eq!(count(&o, "SELECT count(*) FROM journal"), 3);
    assert_eq!(
        count(
            &o,
            "SELECT count(*) FROM journal WHERE shipped = 0 AND reason LIKE '%1 login attempt(s)%'"
        ),
        1
    );
}

#[test]
fn a_warning_is_logged_from_80_percent_every_5_percent() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = open(&dir.path().join("offline.db"));
    o.journal_max = 20;
    let mut warned = Vec::new();
    for i in 0..20 {
        let before = o.journal_warned.load(Ordering::SeqCst);
        o.decide(&attempt("alice"), NOW + i, None).unwrap();
        if o.journal_warned.load(Ordering::SeqCst) != before {
            warned.push(i + 1);
        }
    }
    assert_eq!(warned, [16, 17, 18, 19, 20]);
}
