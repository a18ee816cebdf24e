//! Slow and idle clients: 1,000 idle connections, slowloris heads and bodies held open
//! while a signed call is answered at once, the server's descriptors and threads
//! bounded; silent, kept-alive and trickling connections closed by their deadlines;
//! connections past `max_connections` closed as soon as they are accepted. The settings come
//! from an `iamd.toml` (`--config`), so this also drives the configuration file.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::{Server, signed_call};

/// Raise this process's open-file limit (the client end of 1,000+ connections); the
/// server inherits it.
fn raise_nofile(want: u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a struct we own.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        if r.rlim_cur < want {
            let n = libc::rlimit {
                rlim_cur: want.max(r.rlim_cur),
                rlim_max: want.max(r.rlim_max),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &n) != 0 {
                // Not root: as far as the hard limit goes.
                let n = libc::rlimit {
                    rlim_cur: r.rlim_max,
                    rlim_max: r.rlim_max,
                };
                libc::setrlimit(libc::RLIMIT_NOFILE, &n);
            }
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
    }
    assert!(
        r.rlim_cur >= want,
        "the open-file limit is {} and cannot be raised to {want}",
        r.rlim_cur
    );
}

/// The two flood tests one at a time (each floods the loopback and counts descriptors).
static FLOOD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn threads(pid: u32) -> usize {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A slowloris head: one more header byte every 300 ms, never the blank line, until
/// `stop`; `Some(when)` the server closed it.
fn slow_head(
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Option<Duration>> {
    std::thread::spawn(move || {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let start = Instant::now();
        if c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .is_err()
        {
            return Some(start.elapsed());
        }
        while !stop.load(std::sync::atomic::Ordering::Relaxed)
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(300));
            if c.write_all(b"a").is_err() {
                return Some(start.elapsed());
            }
        }
        closed_within(&mut c, Duration::from_millis(10))
    })
}

/// Wait until `cond` holds (polling), at most `limit`.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// Read until EOF or error: `Some(when)` the server closed it, `None` if still open at
/// `limit`.
fn closed_within(c: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut b = [0u8; 4096];
    while start.elapsed() < limit {
        match c.read(&mut b) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

fn config(dir: &std::path::Path, text: &str) -> PathBuf {
    let p = dir.join("iamd.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_thousand_idle_and_slow_clients_do_not_stop_signed_calls() {
    let _one = FLOOD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    raise_nofile(8192);
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg = config(
        cfgdir.path(),
        "# the flood is held: long head deadline, short body deadline\nheader_timeout = 60\nbody_timeout = 4\nidle_timeout = 60\nmax_connections = 1100\n",
    );
    let (s, root) = Server::start_with(PathBuf::new(), &["--config", cfg.to_str().unwrap()]);
    let pid = s.pid();
    let (st, body, _) = signed_call(
        s.port,
        &root,
        "sts",
        "Action=GetCallerIdentity&Version=2011-06-15",
    );
    assert_eq!(st, 200, "{body}");
    let (fd0, th0) = (fds(pid), threads(pid));

    let opened = Instant::now();
    let idle: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(("127.0.0.1", s.port)).unwrap())
        .collect();
    eprintln!("1,000 connections made in {:?}", opened.elapsed());
    // Slowloris heads: one more header byte every 300 ms, never the blank line.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let heads: Vec<_> = (0..10)
        .map(|_| slow_head(s.port, std::sync::Arc::clone(&stop)))
        .collect();
    // Slow bodies: a complete head, then one body byte every 300 ms.
    let bodies: Vec<_> = (0..10)
        .map(|_| {
            let port = s.port;
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
                c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nAction=").unwrap();
                c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
                let start = Instant::now();
                let mut out = Vec::new();
                let mut b = [0u8; 4096];
                while start.elapsed() < Duration::from_secs(15) {
                    let _ = c.write_all(b"x");
                    match c.read(&mut b) {
                        Ok(0) => break,
                        Ok(n) => out.extend_from_slice(&b[..n]),
                        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                        Err(_) => break,
                    }
                    if String::from_utf8_lossy(&out).contains("</ErrorResponse>") {
                        break;
                    }
                }
                (start.elapsed(), String::from_utf8_lossy(&out).into_owned())
            })
        })
        .collect();
    assert!(
        wait_for(Duration::from_secs(10), || fds(pid) >= fd0 + 1000 + 20),
        "the server did not take the 1,000 connections: {} descriptors (after {:?})\n{}",
        fds(pid),
        opened.elapsed(),
        s.log()
    );
    // All held: a signed call is answered promptly, from a bounded server.
    let (st, body, took) = signed_call(s.port, &root, "iam", "Action=GetUser&Version=2010-05-08");
    assert_eq!(st, 200, "{body}\n{}", s.log());
    assert!(body.contains("<GetUserResult>"), "{body}");
    assert!(
        took < Duration::from_secs(2),
        "the signed call took {took:?}"
    );
    let (fd1, th1) = (fds(pid), threads(pid));
    eprintln!(
        "held: descriptors {fd0} -> {fd1}, threads {th0} -> {th1}, signed GetUser in {took:?} ({:?} after the first connect)",
        opened.elapsed()
    );
    assert!(fd1 <= fd0 + 1000 + 20 + 8, "descriptors {fd0} -> {fd1}");
    assert!(
        th1 <= th0 + 2,
        "threads grew with the connections: {th0} -> {th1}"
    );

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in heads {
        assert!(
            h.join().unwrap().is_none(),
            "a slowloris head was closed before its deadline"
        );
    }
    for b in bodies {
        let (t, out) = b.join().unwrap();
        assert!(
            out.contains("<Code>RequestTimeout</Code>"),
            "slow body answer: {out}"
        );
        assert!(t < Duration::from_secs(10), "a slow body lasted {t:?}");
    }
    drop(idle);
    assert!(
        wait_for(Duration::from_secs(5), || fds(pid) <= fd0 + 2),
        "descriptors did not come back: {fd0} -> {}",
        fds(pid)
    );
    let (st, body, _) = signed_call(s.port, &root, "iam", "Action=GetUser&Version=2010-05-08");
    assert_eq!(st, 200, "{body}");
    assert!(threads(pid) <= th0 + 2);
}

#[test]
fn the_head_deadline_closes_silent_and_trickling_connections() {
    let _one = FLOOD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (s, root) = Server::start_with(PathBuf::new(), &["--header-timeout", "2"]);
    let pid = s.pid();
    let fd0 = fds(pid);
    let opened = Instant::now();
    let mut silent: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(("127.0.0.1", s.port)).unwrap())
        .collect();
    // One that made a request and then sits on the kept-alive connection.
    let mut kept = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let heads: Vec<_> = (0..5)
        .map(|_| slow_head(s.port, std::sync::Arc::clone(&stop)))
        .collect();
    for c in silent.iter_mut().chain(std::iter::once(&mut kept)) {
        assert!(
            closed_within(c, Duration::from_secs(10)).is_some(),
            "a connection was still open {:?} after it was made (header_timeout 2 s)",
            opened.elapsed()
        );
    }
    for h in heads {
        let t = h
            .join()
            .unwrap()
            .expect("a slowloris head outlived its 2 s deadline");
        assert!(t < Duration::from_secs(8), "a slowloris head lasted {t:?}");
    }
    drop(silent);
    assert!(wait_for(Duration::from_secs(5), || fds(pid) <= fd0 + 1));
    let (st, body, _) = signed_call(s.port, &root, "iam", "Action=GetUser&Version=2010-05-08");
    assert_eq!(st, 200, "{body}");
}

#[test]
fn connections_past_the_limit_are_closed_and_idle_ones_time_out() {
    let _one = FLOOD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    raise_nofile(4096);
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg = config(
        cfgdir.path(),
        "max_connections = 1000\nheader_timeout = 30\n",
    );
    // The flags win over the file: 50 connections, 2 s of idleness.
    let (s, root) = Server::start_with(
        PathBuf::new(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--max-connections",
            "50",
            "--idle-timeout",
            "2",
        ],
    );
    let pid = s.pid();
    let fd0 = fds(pid);
    let mut conns: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(("127.0.0.1", s.port)).unwrap())
        .collect();
    let opened = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    let peak = fds(pid);
    assert!(
        peak <= fd0 + 50 + 2,
        "descriptors {fd0} -> {peak} with max_connections 50"
    );
    // 250 were closed at once; 50 hold a slot until the idle deadline.
    let mut refused = 0;
    for c in &mut conns {
        if closed_within(c, Duration::from_millis(20)).is_some() {
            refused += 1;
        }
    }
    assert!(
        refused >= 250,
        "only {refused} of 300 were closed past the limit"
    );
    let mut late = Vec::new();
    for c in &mut conns {
        if let Some(_t) = closed_within(c, Duration::from_secs(6)) {
            late.push(opened.elapsed());
        }
    }
    assert_eq!(late.len(), 300, "connections left open past idle_timeout");
    assert!(
        late.iter().all(|t| *t < Duration::from_secs(6)),
        "idle closes took {:?}",
        late.iter().max()
    );
    drop(conns);
    assert!(wait_for(Duration::from_secs(5), || fds(pid) <= fd0 + 2));
    let (st, body, _) = signed_call(s.port, &root, "iam", "Action=GetUser&Version=2010-05-08");
    assert_eq!(st, 200, "{body}");
}

#[test]
fn bad_configuration_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in [
        (
            "listen_addr = \"127.0.0.1:1\"\n",
            "unknown key `listen_addr`",
        ),
        (
            "workers = 0\n",
            "`workers`: must be between 1 and 256, not 0",
        ),
        (
            "listen = \"nowhere\"\n",
            "`listen`: \"nowhere\" is not ADDR:PORT",
        ),
        (
            "http = true\nlisten = \"0.0.0.0:9\"\n",
            "refused on 0.0.0.0:9",
        ),
        ("db = \n", "line 1: "),
    ] {
        let p = config(dir.path(), text);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_iamd"))
            .args(["--config", p.to_str().unwrap()])
            .env("PAM_IAM_DB", dir.path().join("iam.db"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert_eq!(err.lines().count(), 1, "{text}: {err}");
        assert!(
            err.starts_with(&format!("iamd: {}", p.display())) || want.starts_with("refused"),
            "{err}"
        );
        assert!(err.contains(want), "{text}: want {want:?}, got {err}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iamd"))
        .args([
            "--config",
            dir.path().join("missing.toml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.toml: No such file"), "{err}");
}

#[test]
fn a_deeply_nested_member_name_does_not_kill_the_server() {
    let (s, root) = Server::start_with(PathBuf::new(), &[]);
    // Unsigned, so refused, but parsed first: 200,000 nested parts in 400 KB.
    let mut body = b"Action=GetUser&Version=2010-05-08&A".to_vec();
    body.extend(b".a".repeat(195_000));
    body.extend(b"=1");
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    c.write_all(&body).unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 403"), "{out}\n{}", s.log());
    assert!(out.contains("MissingAuthenticationToken"), "{out}");
    let (st, body, _) = signed_call(s.port, &root, "iam", "Action=GetUser&Version=2010-05-08");
    assert_eq!(st, 200, "{body}\n{}", s.log());
}
