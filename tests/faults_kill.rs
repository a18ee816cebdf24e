//! kill -9 at random points: `iam` writers and pamtester logins against one store, each
//! killed at a random moment of its life (calibrated on unkilled runs, so most kills land
//! while it has the store open). Afterwards the store passes `PRAGMA integrity_check`,
//! every write whose command reported success is there, no TOTP watermark ever went
//! back, no reported failure is missing from a counter, and logins still work.
//!
//! `FAULTS_KILLS` sets the number of kills (default 1,000).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use support::sandbox::Sandbox;
use support::store::Iam;

const STACK: &str = "auth required {module} db={db} fail_delay=0
account required {module} db={db} host=web-1
";

/// MFA users: each can log in once per TOTP step (three steps in the window).
const TOTP_USERS: usize = 30;

/// The driver, run inside the namespace: spawns, waits a random time, kills, records.
const DRIVER: &str = r#"
import base64, hmac, json, os, random, signal, sqlite3, struct, subprocess, sys, time

db, iam, kills_wanted, seeds_file, out_file = sys.argv[1:6]
kills_wanted = int(kills_wanted)
seeds = json.load(open(seeds_file))
out = open(out_file, "w")
rng = random.Random(int(os.environ.get("FAULTS_SEED", "0")) or None)

def totp(seed, step):
    key = base64.b32decode(seed + "=" * (-len(seed) % 8))
    h = hmac.new(key, struct.pack(">Q", step), "sha1").digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)

def watermarks():
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return dict(c.execute("SELECT u.name, d.watermark FROM mfa_devices d JOIN users u ON u.pk = d.user_pk"))
    finally:
        c.close()

created = []          # users whose create-user reported success
next_user = 0
last_step = {u: -1 for u in seeds}  # last TOTP step tried per user (killed or not)

def attempt():
    """One command: (record, argv, stdin)."""
    global next_user
    kind = rng.choice(["create-user", "create-user", "login-profile", "totp", "totp", "wrong", "wrong", "key"])
    if kind == "login-profile" and created:
        u = rng.choice(created)
        return {"kind": kind, "user": u}, [iam, "--db", db, "create-login-profile", "--user-name", u, "--password-stdin"], "Kill-Passw0rd-1\n"
    if kind == "totp":
        step = int(time.time()) // 30
        free = [u for u in seeds if last_step[u] < step + 1]
        if free:
            u = rng.choice(free)
            s = max(last_step[u] + 1, step - 1)
            last_step[u] = s
            return {"kind": kind, "user": u, "step": s}, ["pamtester", "iam-test", u, "authenticate", "acct_mgmt"], "%s-Passw0rd\n%s\n" % (u, totp(seeds[u], s))
    if kind == "wrong":
        return {"kind": kind, "user": "wrong"}, ["pamtester", "iam-test", "wrong", "authenticate"], "not-the-password\n"
    if kind == "key":
        # The first login of a host creates pam_iam_auth.key: kill that too.
        try:
            os.unlink(os.path.join(os.path.dirname(db), "pam_iam_auth.key"))
        except FileNotFoundError:
            pass
        return {"kind": kind, "user": "pw"}, ["pamtester", "iam-test", "pw", "authenticate", "acct_mgmt"], "pw-Passw0rd\n"
    u = "k%d" % next_user
    next_user += 1
    return {"kind": "create-user", "user": u}, [iam, "--db", db, "create-user", "--user-name", u], None

def store_open(pid):
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(db):
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False

def run(argv, stdin, mode, delay=0.0):
    """mode "measure": (rc, life, life after the store opened); "life": kill `delay` after
    the start; "open": kill `delay` after the store was seen open. Returns (rc, opened)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, bufsize=0)
    if stdin:
        try:
            p.stdin.write(stdin.encode())
            p.stdin.close()
        except BrokenPipeError:
            pass
    opened_at = None
    if mode in ("measure", "open"):
        while p.poll() is None and opened_at is None:
            if store_open(p.pid):
                opened_at = time.monotonic()
    if mode == "measure":
        rc = p.wait()
        end = time.monotonic()
        return rc, end - t0, end - (opened_at or t0)
    target = (opened_at or t0) + delay if mode == "open" else t0 + delay
    while time.monotonic() < target and p.poll() is None:
        pass
    opened = False
    if p.poll() is None:
        opened = store_open(p.pid)
        p.send_signal(signal.SIGKILL)
    return p.wait(), opened

def record(rec, rc, opened):
    rec["rc"] = rc
    rec["killed"] = rc == -signal.SIGKILL
    rec["open_at_kill"] = opened
    if not rec["killed"] and rec["kind"] == "create-user" and rc == 0:
        created.append(rec["user"])
    out.write(json.dumps(rec) + "\n")

# Calibrate: how long each kind of command lives when left alone, and after it opened
# the store (these runs are recorded like the others).
life = {}
for _ in range(4):
    for _ in range(3):
        rec, argv, stdin = attempt()
        rc, whole, after_open = run(argv, stdin, "measure")
        record(rec, rc, False)
        l = life.setdefault(rec["kind"], [0.0, 0.0, 0])
        l[0] += whole; l[1] += after_open; l[2] += 1
life = {k: (v[0] / v[2], v[1] / v[2]) for k, v in life.items()}

kills = opened_kills = attempts = 0
marks = watermarks()
went_back = []
while kills < kills_wanted and attempts < kills_wanted * 10:
    rec, argv, stdin = attempt()
    whole, after_open = life.get(rec["kind"], max(life.values()))
    if rng.random() < 0.3:
        rc, opened = run(argv, stdin, "life", rng.uniform(0, 0.9 * whole))
    else:
        rc, opened = run(argv, stdin, "open", rng.uniform(0, 0.9 * after_open))
    attempts += 1
    record(rec, rc, opened)
    if rec["killed"]:
        kills += 1
        opened_kills += opened
    if attempts % 25 == 0:
        now = watermarks()
        for u, w in now.items():
            if w < marks.get(u, w):
                went_back.append((u, marks[u], w))
        marks = now
out.write(json.dumps({"summary": True, "kills": kills, "attempts": attempts, "opened_kills": opened_kills,
                      "life_ms": {k: [round(v[0] * 1000, 1), round(v[1] * 1000, 1)] for k, v in life.items()},
                      "went_back": went_back}) + "\n")
out.close()
"#;

#[test]
fn a_thousand_kill_9s_lose_nothing_and_let_nobody_in() {
    require_root!();
    let kills: u32 = std::env::var("FAULTS_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut sb = Sandbox::new();
    sb.service("iam-test", STACK);
    let iam = Iam::create(&sb.db());
    sb.user("wrong", 2000).user("pw", 2001);
    iam.user("wrong", Some("wrong-Passw0rd"))
        .user("pw", Some("pw-Passw0rd"));
    let mut seeds = BTreeMap::new();
    let mut members = vec!["wrong".to_string(), "pw".to_string()];
    for i in 0..TOTP_USERS {
        let name = format!("t{i}");
        sb.user(&name, 3000 + i as u32);
        iam.user(&name, Some(&format!("{name}-Passw0rd")));
        seeds.insert(name.clone(), iam.mfa(&name).0);
        members.push(name);
    }
    iam.web_group(&members.iter().map(String::as_str).collect::<Vec<_>>());
    std::fs::write(
        sb.path("seeds.json"),
        serde_json::to_string(&seeds).unwrap(),
    )
    .unwrap();
    sb.write("driver.py", DRIVER, 0o644);
    let script = format!(
        "cd $T\npython3 driver.py {db} {iam} {kills} seeds.json results.jsonl > driver.log 2>&1; echo $? > driver.rc\n\
         sqlite3 {db} 'PRAGMA integrity_check' > integrity 2>&1\n\
         printf 'pw-Passw0rd\\n' | pamtester iam-test pw authenticate acct_mgmt > after.out 2>&1; echo $? > after.rc\n\
         printf 'nope\\n' | pamtester iam-test pw authenticate > after-wrong.out 2>&1; echo $? > after-wrong.rc\n\
         ls {dir} > dir.ls\n",
        db = sb.db(),
        iam = support::bin("iam").display(),
        dir = sb.dir.path().display(),
    );
    let out = sb.run(&script, Duration::from_secs(1800));
    let read = |f: &str| std::fs::read_to_string(sb.path(f)).unwrap_or_default();
    assert!(out.ok(), "{out}");
    assert_eq!(read("driver.rc").trim(), "0", "{}", read("driver.log"));
    assert_eq!(read("integrity").trim(), "ok");

    let mut reported_wrong = 0u32;
    let mut killed_wrong = 0u32;
    let mut max_step: HashMap<String, i64> = HashMap::new();
    let mut summary = serde_json::Value::Null;
    let (mut users_ok, mut profiles_ok, mut totp_ok) = (Vec::new(), Vec::new(), 0u32);
    for line in read("results.jsonl").lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        if r.get("summary").is_some() {
            summary = r;
            continue;
        }
        let kind = r["kind"].as_str().unwrap();
        let user = r["user"].as_str().unwrap().to_string();
        let killed = r["killed"].as_bool().unwrap();
        let ok = r["rc"].as_i64() == Some(0);
        let n = r["calibration"].as_u64().unwrap_or(1) as u32;
        match kind {
            "wrong" if killed => killed_wrong += 1,
            "wrong" => {
                assert!(!ok, "a wrong password was let in: {line}");
                reported_wrong += n;
            }
            "create-user" if ok => users_ok.push(user),
            "login-profile" if ok => profiles_ok.push(user),
            "totp" if ok => {
                totp_ok += 1;
                let s = r["step"].as_i64().unwrap();
                let m = max_step.entry(user).or_insert(s);
                *m = (*m).max(s);
            }
            _ => {}
        }
    }
    println!("{summary}");
    assert_eq!(
        summary["kills"].as_u64(),
        Some(u64::from(kills)),
        "{summary}"
    );
    assert_eq!(
        summary["went_back"],
        serde_json::json!([]),
        "a watermark went back"
    );

    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    let one = |sql: &str, arg: &str| -> i64 {
        conn.query_row(sql, [arg], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql} {arg}: {e}"))
    };
    for u in &users_ok {
        assert_eq!(
            one("SELECT count(*) FROM users WHERE name = ?1", u),
            1,
            "{u} lost"
        );
    }
    for u in &profiles_ok {
        assert_eq!(
            one(
                "SELECT count(*) FROM login_profiles p JOIN users u ON u.pk = p.user_pk WHERE u.name = ?1",
                u
            ),
            1,
            "login profile of {u} lost"
        );
    }
    for (u, step) in &max_step {
        let w = one(
            "SELECT d.watermark FROM mfa_devices d JOIN users u ON u.pk = d.user_pk WHERE u.name = ?1",
            u,
        );
        assert!(
            w >= *step,
            "{u}: watermark {w} below an accepted step {step}"
        );
    }
    let failures = iam.failures("wrong");
    assert!(
        failures >= reported_wrong && failures <= reported_wrong + killed_wrong,
        "failure counter {failures}: {reported_wrong} reported, {killed_wrong} killed"
    );
    let allows = one(
        "SELECT count(*) FROM audit_events WHERE action = 'authenticate' AND decision = 'allow' AND user LIKE ?1",
        "t%",
    );
    assert!(
        allows >= i64::from(totp_ok),
        "{totp_ok} reported TOTP logins, {allows} audited allows"
    );
    assert_eq!(read("after.rc").trim(), "0", "{}", read("after.out"));
    assert_ne!(read("after-wrong.rc").trim(), "0");
    println!(
        "kills {kills}; created users {}, login profiles {}, TOTP logins {totp_ok}, wrong passwords reported {reported_wrong} (killed {killed_wrong}), counter {failures}; stray key files: {}",
        users_ok.len(),
        profiles_ok.len(),
        read("dir.ls").matches(".tmp.").count()
    );
}
