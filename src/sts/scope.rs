//! Who is calling, and from which terminal session.
//!
//! A role session is usable only by the Linux user who assumed it and only from the
//! terminal session where it was assumed, exactly like sudo's timestamp records
//! (sudo 1.9 `tty_tickets`, sudo-rs `RecordScope`): the controlling tty device plus the
//! session leader's start time, or — without a controlling tty — the parent process, the
//! session and the start times of both. Both `iam-sts` (run from the user's shell) and
//! the PAM module inside `sudo` (run from the same shell) compute the scope of their own
//! process, so they agree when, and only when, they run in the same terminal session.
//!
//! Without a tty the parent must be a real parent: a process in the caller's own session,
//! other than pid 1. An orphan (`setsid -f iam-sts …`, `(iam-sts … &)` after the shell
//! exited) is re-parented by the kernel to pid 1 or to the nearest *subreaper* ancestor
//! (systemd --user, a container init), which every other orphan shares. Whether another
//! process is a subreaper cannot be read (`PR_GET_CHILD_SUBREAPER` answers only for the
//! caller, and /proc/PID/status has no such field), so the rule relies only on
//! /proc/PID/stat: ppid (field 4), session (6), tty_nr (7) and start time (22). A reaper
//! outside the caller's session is refused; a subreaper inside it belongs to that session,
//! which then shares the role session exactly as the processes of one terminal do.
//!
//! Nothing here trusts the environment or arguments: the identity is the kernel's real
//! uid, the scope comes from `/proc`.

use std::fmt;
use std::fs;

use nix::unistd::{Uid, User};

/// Why the caller or its terminal scope could not be determined.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    /// The real uid has no passwd entry, so there is no user name to map to IAM.
    #[error("uid {0} has no user name (getpwuid found no entry): ask an administrator")]
    UnknownUid(u32),
    /// The passwd lookup itself failed.
    #[error("cannot look up uid {uid}: {reason}")]
    Lookup {
        /// The uid being looked up.
        uid: u32,
        /// The system error.
        reason: String,
    },
    /// No tty, and the parent is pid 1 or outside the caller's session: the caller is an
    /// orphan, and its parent is shared by unrelated processes.
    #[error(
        "iam-sts has no terminal and its parent (pid {ppid}) {why}; a role session without a terminal belongs to the process that runs iam-sts, so run it directly from the shell or script that will use the session (not through setsid -f, nohup … & or a daemon)"
    )]
    Orphan {
        /// The parent pid as the kernel reports it.
        ppid: i32,
        /// Why that parent cannot scope a session.
        why: &'static str,
    },
    /// `/proc` could not be read or parsed (is /proc mounted?).
    #[error("cannot read {path}: {reason} (is /proc mounted?)")]
    Proc {
        /// The file that failed.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// The Linux user the kernel says is calling: the real uid and its passwd name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Real uid of the process.
    pub uid: u32,
    /// Its passwd name, which is also the IAM user name.
    pub name: String,
}

/// The caller of this process: real uid (never the effective one, never the environment).
pub fn caller() -> Result<Caller, ScopeError> {
    caller_for_uid(nix::unistd::getuid().as_raw())
}

/// The Linux user of `uid`; used by the PAM module under sudo, where the real uid is the
/// invoking user.
pub fn caller_for_uid(uid: u32) -> Result<Caller, ScopeError> {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(u)) => Ok(Caller { uid, name: u.name }),
        Ok(None) => Err(ScopeError::UnknownUid(uid)),
        Err(e) => Err(ScopeError::Lookup {
            uid,
            reason: e.desc().to_string(),
        }),
    }
}

/// Where a role session may be used, as sudo scopes its timestamp records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A controlling terminal: its device number, the session id and the session
    /// leader's start time (so a recycled pid in a new session does not match).
    Tty {
        /// `tty_nr` from /proc/PID/stat (the kernel's encoded device number).
        tty: u32,
        /// Session id (pid of the session leader).
        session: i32,
        /// Start time of the session leader in clock ticks since boot.
        session_start: u64,
    },
    /// No controlling terminal: the parent process, the session they share, and the
    /// start times of the parent and of the session leader.
    Parent {
        /// Parent pid.
        ppid: i32,
        /// Start time of the parent in clock ticks since boot.
        start: u64,
        /// Session id (pid of the session leader), the same for caller and parent.
        session: i32,
        /// Start time of the session leader in clock ticks since boot.
        session_start: u64,
    },
}

/// A scope on one boot of this machine (start times restart at every boot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalScope {
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
    /// The terminal or parent scope.
    pub scope: Scope,
}

impl TerminalScope {
    /// The key stored with a role session and compared on use.
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// A short description for people (`tty 136:3`, `parent pid 1234`).
    pub fn describe(&self) -> String {
        match &self.scope {
            Scope::Tty { tty, session, .. } => {
                let (major, minor) = tty_major_minor(*tty);
                format!("tty {major}:{minor} (session {session})")
            }
            Scope::Parent { ppid, session, .. } => {
                format!("no tty, parent pid {ppid} (session {session})")
            }
        }
    }
}

impl fmt::Display for TerminalScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Scope::Tty {
                tty,
                session,
                session_start,
            } => write!(f, "tty:{}:{tty}:{session}:{session_start}", self.boot_id),
            Scope::Parent {
                ppid,
                start,
                session,
                session_start,
            } => write!(
                f,
                "ppid:{}:{ppid}:{start}:{session}:{session_start}",
                self.boot_id
            ),
        }
    }
}

/// [`TerminalScope::describe`] for a stored key (`tty:BOOT:TTY:SID:START` or
/// `ppid:BOOT:PPID:START:SID:START`, or the `ppid:BOOT:PPID:START` of older versions,
/// which no scope matches any more); unknown shapes are shown as they are.
pub fn describe_key(key: &str) -> String {
    let parts: Vec<&str> = key.split(':').collect();
    match parts.as_slice() {
        ["tty", _, tty, sid, _] => match tty.parse::<u32>() {
            Ok(t) => {
                let (major, minor) = tty_major_minor(t);
                format!("tty {major}:{minor} (session {sid})")
            }
            Err(_) => key.to_string(),
        },
        ["ppid", _, ppid, _, sid, _] => format!("no tty, parent pid {ppid} (session {sid})"),
        ["ppid", _, ppid, _] => format!("no tty, parent pid {ppid}"),
        _ => key.to_string(),
    }
}

/// The fields of /proc/PID/stat this module needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 4.
    pub ppid: i32,
    /// Field 6.
    pub session: i32,
    /// Field 7 (0 when there is no controlling terminal).
    pub tty_nr: u32,
    /// Field 22, clock ticks since boot.
    pub start_time: u64,
}

/// Parses /proc/PID/stat. The command name (field 2) may hold spaces and parentheses,
/// so fields are counted after the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    let get = |n: usize| fields.get(n - 3).copied();
    Some(ProcStat {
        ppid: get(4)?.parse().ok()?,
        session: get(6)?.parse().ok()?,
        // tty_nr is printed as a signed int by the kernel.
        tty_nr: get(7)?
            .parse::<i64>()
            .ok()
            .and_then(|v| u32::try_from(v).ok())?,
        start_time: get(22)?.parse().ok()?,
    })
}

/// The kernel's `tty_nr` encoding: minor in bits 0-7 and 20-31, major in bits 8-19.
pub fn tty_major_minor(tty_nr: u32) -> (u32, u32) {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    (major, minor)
}

fn read_proc(path: &str) -> Result<String, ScopeError> {
    fs::read_to_string(path).map_err(|e| ScopeError::Proc {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

fn stat_of(pid: &str) -> Result<ProcStat, ScopeError> {
    let path = format!("/proc/{pid}/stat");
    let text = read_proc(&path)?;
    parse_stat(&text).ok_or(ScopeError::Proc {
        path,
        reason: "unexpected format".to_string(),
    })
}

/// The pure part of the scope computation, given a process's stat and a way to read the
/// stat of another pid.
pub fn scope_from_stat(
    boot_id: &str,
    me: &ProcStat,
    stat_of_pid: impl Fn(i32) -> Result<ProcStat, ScopeError>,
) -> Result<TerminalScope, ScopeError> {
    let scope = if me.tty_nr != 0 && me.session > 0 {
        let leader = stat_of_pid(me.session)?;
        Scope::Tty {
            tty: me.tty_nr,
            session: me.session,
            session_start: leader.start_time,
        }
    } else {
        if me.ppid <= 1 {
            // 0: the parent is outside our pid namespace.
            return Err(ScopeError::Orphan {
                ppid: me.ppid,
                why: "is the init process (the caller was orphaned)",
            });
        }
        let parent = stat_of_pid(me.ppid)?;
        if me.session <= 0 || parent.session != me.session {
            return Err(ScopeError::Orphan {
                ppid: me.ppid,
                why: "is outside the caller's session (a reaper such as systemd --user or a container init adopted the caller, or the caller started a session of its own)",
            });
        }
        let leader = stat_of_pid(me.session)?;
        Scope::Parent {
            ppid: me.ppid,
            start: parent.start_time,
            session: me.session,
            session_start: leader.start_time,
        }
    };
    Ok(TerminalScope {
        boot_id: boot_id.trim().to_string(),
        scope,
    })
}

/// Who called and from where, taken before the setuid helper gives up the caller's ids
/// (afterwards the real uid is 0). Errors are kept so that `--help` still works where
/// they would refuse a command.
#[derive(Debug)]
pub struct CallerFacts {
    /// The caller's real uid.
    pub uid: u32,
    /// Its passwd entry.
    pub caller: Result<Caller, ScopeError>,
    /// Its terminal scope.
    pub scope: Result<TerminalScope, ScopeError>,
}

/// Records the [`CallerFacts`] of this process for the real uid `uid`.
pub fn record(uid: u32) -> CallerFacts {
    CallerFacts {
        uid,
        caller: caller_for_uid(uid),
        scope: current(),
    }
}

/// The terminal scope of the calling process. Called by `iam-sts` and by the PAM module
/// inside `sudo`: both are children of the user's shell on the same controlling tty.
pub fn current() -> Result<TerminalScope, ScopeError> {
    let boot_id = read_proc("/proc/sys/kernel/random/boot_id")?;
    let me = stat_of("self")?;
    scope_from_stat(&boot_id, &me, |pid| stat_of(&pid.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (we ird) (name)) S 4000 4242 3999 34819 4242 4194560 \
        100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 \
        0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn parses_stat_with_odd_command_names() {
        let s = parse_stat(STAT);
        assert_eq!(
            s,
            Some(ProcStat {
                ppid: 4000,
                session: 3999,
                tty_nr: 34819,
                start_time: 987654
            })
        );
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_stat("no parens here"), None);
        assert_eq!(parse_stat("1 (x) S 2"), None);
    }

    #[test]
    fn decodes_pts_device() {
        // 34819 = 0x8803: major 136 (pts), minor 3.
        assert_eq!(tty_major_minor(34819), (136, 3));
        assert_eq!(tty_major_minor((136 << 8) | (1 << 20) | 5), (136, 261));
    }

    /// Every pid below 100 leads session 40; higher ones lead their own session.
    fn fake(pid: i32) -> Result<ProcStat, ScopeError> {
        Ok(ProcStat {
            ppid: 1,
            session: if pid < 100 { 40 } else { pid },
            tty_nr: 0,
            start_time: 1000 + pid as u64,
        })
    }

    #[test]
    fn tty_scope_uses_session_leader_start() {
        let me = ProcStat {
            ppid: 50,
            session: 40,
            tty_nr: 34819,
            start_time: 5,
        };
        let s = scope_from_stat("boot\n", &me, fake).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.key(), "tty:boot:34819:40:1040");
        assert!(s.describe().contains("136:3"));
        assert_eq!(describe_key(&s.key()), s.describe());
        assert_eq!(describe_key("ppid:b:50:1050"), "no tty, parent pid 50");
    }

    #[test]
    fn no_tty_scope_uses_parent() {
        let me = ProcStat {
            ppid: 50,
            session: 40,
            tty_nr: 0,
            start_time: 5,
        };
        let s = scope_from_stat("b", &me, fake).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.key(), "ppid:b:50:1050:40:1040");
        assert_eq!(describe_key(&s.key()), s.describe());
        assert_eq!(describe_key("ppid:b:50:1050"), "no tty, parent pid 50");
    }

    #[test]
    fn orphans_have_no_scope() {
        // Re-parented to init (or to a parent outside our pid namespace).
        for ppid in [1, 0] {
            let me = ProcStat {
                ppid,
                session: 40,
                tty_nr: 0,
                start_time: 5,
            };
            assert!(matches!(
                scope_from_stat("b", &me, fake),
                Err(ScopeError::Orphan { .. })
            ));
        }
        // `setsid -f`: a session of our own, the parent (a subreaper) in another one.
        let me = ProcStat {
            ppid: 150,
            session: 4242,
            tty_nr: 0,
            start_time: 5,
        };
        let e = scope_from_stat("b", &me, fake).err();
        assert!(
            matches!(e, Some(ScopeError::Orphan { ppid: 150, .. })),
            "{e:?}"
        );
        assert!(
            e.map(|e| e.to_string())
                .unwrap_or_default()
                .contains("setsid -f")
        );
    }

    #[test]
    fn no_tty_scopes_of_two_sessions_differ() {
        let a = ProcStat {
            ppid: 50,
            session: 40,
            tty_nr: 0,
            start_time: 5,
        };
        let ka = scope_from_stat("b", &a, fake).map(|t| t.key()).ok();
        // Same parent pid and start, another session leader start (a recycled session).
        let other = |pid: i32| {
            fake(pid).map(|mut p| {
                if pid == 40 {
                    p.start_time += 1;
                }
                p
            })
        };
        let kb = scope_from_stat("b", &a, other).map(|t| t.key()).ok();
        assert!(ka.is_some() && kb.is_some());
        assert_ne!(ka, kb);
    }

    #[test]
    fn same_session_and_tty_same_key_other_tty_differs() {
        let a = ProcStat {
            ppid: 50,
            session: 40,
            tty_nr: 34819,
            start_time: 5,
        };
        let b = ProcStat {
            ppid: 77,
            ..a.clone()
        };
        let c = ProcStat {
            tty_nr: 34820,
            session: 41,
            ..a.clone()
        };
        let k = |s: &ProcStat| {
            scope_from_stat("b", s, fake)
                .map(|t| t.key())
                .unwrap_or_default()
        };
        assert_eq!(k(&a), k(&b));
        assert_ne!(k(&a), k(&c));
    }

    #[test]
    fn current_process_scope_follows_the_rule_and_caller_is_known() {
        // The test runner may have no terminal and a parent in another session (CI runners
        // start jobs that way), so the expected outcome is derived from /proc here.
        let me = stat_of("self").unwrap();
        let parent = stat_of(&me.ppid.to_string()).ok();
        let scoped = me.tty_nr != 0
            || (me.ppid > 1 && parent.is_some_and(|p| p.session == me.session && me.session > 0));
        match current() {
            Ok(s) => {
                assert!(scoped, "a scope for an orphan: {s:?}");
                assert!(!s.boot_id.is_empty());
            }
            Err(e) => assert!(
                !scoped && matches!(e, ScopeError::Orphan { .. }),
                "unexpected: {e}"
            ),
        }
        let c = caller().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.uid, nix::unistd::getuid().as_raw());
    }
}
