//! Seed a store for scripts/bench-login through the store API (not 100,000 CLI calls).
//!
//! usage: bench_seed DB USERS GROUPS POLICIES BENCH_USERS PASSWORD SEED_B32
//! Creates USERS filler users (no password), GROUPS groups each with an attached managed
//! policy (POLICIES in total, spread over the groups), every filler user in 2 groups, and
//! BENCH_USERS users `bench0..` with PASSWORD (argon2id m=19456,t=2,p=1), an MFA device
//! holding SEED_B32, and membership in 3 groups, one of which allows host:Login on web-*.
use pam_iam::credentials::{self, HashParams};
use pam_iam::store::{self, NewPolicy, NewUser, OpenMode, PrincipalKind};

fn base32_decode(s: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut acc = 0u32;
    let mut out = Vec::new();
    for c in s.trim().trim_end_matches('=').chars() {
        let v = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .find(c.to_ascii_uppercase())
            .expect("base32") as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 8 {
        return Err(
            "usage: bench_seed DB USERS GROUPS POLICIES BENCH_USERS PASSWORD SEED_B32".into(),
        );
    }
    let (users, groups, policies, bench): (usize, usize, usize, usize) =
        (a[2].parse()?, a[3].parse()?, a[4].parse()?, a[5].parse()?);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let s = store::open_path(std::path::Path::new(&a[1]), OpenMode::ReadWrite)?;
    s.set_hash_params(&HashParams::default())?;
    let acct = s.account_id()?;
    let t = std::time::Instant::now();
    let groups = groups.max(1);
    for g in 0..groups {
        s.create_group(&format!("g{g}"), "/", now)?;
    }
    for p in 0..policies {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"S{p}","Effect":"Allow","Action":"host:Login","Resource":"arn:aws:iam::{acct}:host/team{p}-*"}}]}}"#
        );
        let pol = s.create_policy(
            &NewPolicy {
                name: format!("p{p}"),
                path: "/".into(),
                description: None,
                document: doc,
                tags: vec![],
            },
            now,
        )?;
        s.attach_policy(PrincipalKind::Group, &format!("g{}", p % groups), &pol.arn)?;
    }
    eprintln!("{groups} groups, {policies} policies in {:?}", t.elapsed());
    for u in 0..users {
        let name = format!("f{u}");
        s.create_user(
            &NewUser {
                name: name.clone(),
                path: "/".into(),
                ..NewUser::default()
            },
            now,
        )?;
        s.add_user_to_group(&format!("g{}", u % groups), &name)?;
        s.add_user_to_group(&format!("g{}", (u * 7 + 1) % groups), &name)?;
        if u % 10_000 == 0 && u > 0 {
            eprintln!("{u} users in {:?}", t.elapsed());
        }
    }
    let web = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Web","Effect":"Allow","Action":"host:Login","Resource":"arn:aws:iam::{acct}:host/web-*"}}]}}"#
    );
    s.create_group("web", "/", now)?;
    let pol = s.create_policy(
        &NewPolicy {
            name: "web-login".into(),
            path: "/".into(),
            description: None,
            document: web,
            tags: vec![],
        },
        now,
    )?;
    s.attach_policy(PrincipalKind::Group, "web", &pol.arn)?;
    let hash = credentials::hash_password(a[6].as_bytes(), &HashParams::default())?;
    let seed = base32_decode(&a[7]);
    for b in 0..bench {
        let name = format!("bench{b}");
        s.create_user(
            &NewUser {
                name: name.clone(),
                path: "/".into(),
                ..NewUser::default()
            },
            now,
        )?;
        s.create_login_profile(&name, &hash, false, now)?;
        let dev = s.create_virtual_mfa_device(&name, "/", &seed, now)?;
        s.enable_mfa_device(&name, &dev.serial_number, -1, &[], now)?;
        s.add_user_to_group("web", &name)?;
        s.add_user_to_group(&format!("g{}", b % groups), &name)?;
        s.add_user_to_group(&format!("g{}", (b + 1) % groups), &name)?;
    }
    eprintln!("done in {:?}", t.elapsed());
    println!("{acct}");
    Ok(())
}
