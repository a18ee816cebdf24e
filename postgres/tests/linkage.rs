//! pam_iam.so and iam-sts never link a database client, async runtime, HTTP or TLS
//! stack: the root crate's normal dependency tree has none of them (this crate's does).

use std::process::Command;

const FORBIDDEN: [&str; 7] = [
    "tokio",
    "tokio-postgres",
    "postgres",
    "postgres-openssl",
    "openssl",
    "hyper",
    "rustls",
];

fn tree(package: &str) -> Vec<String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "tree",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn the_pam_module_crate_links_no_database_client_runtime_http_or_tls() {
    let root = tree("pam-iam");
    assert!(root.iter().any(|c| c == "rusqlite"), "sanity: {root:?}");
    for c in FORBIDDEN {
        assert!(
            !root.iter().any(|d| d == c),
            "pam-iam (pam_iam.so, iam-sts) depends on {c}"
        );
    }
    // The check can see them: the backend crate has them.
    let pg = tree("pam-iam-postgres");
    assert!(pg.iter().any(|c| c == "tokio-postgres"), "{pg:?}");
}

#[test]
fn the_built_pam_module_loads_no_libpq_or_libssl() {
    let dir = std::env::current_exe().expect("exe");
    let Some(profile) = dir.parent().and_then(|d| d.parent()) else {
        return;
    };
    let so = profile.join("libpam_iam.so");
    if !so.exists() {
        eprintln!("skipped: {} is not built", so.display());
        return;
    }
    let out = Command::new("ldd").arg(&so).output().expect("ldd");
    let libs = String::from_utf8_lossy(&out.stdout);
    for bad in ["libpq", "libssl", "libcrypto"] {
        assert!(!libs.contains(bad), "pam_iam.so links {bad}: {libs}");
    }
}
