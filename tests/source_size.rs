//! No source file in src/ (the root crate's, and every workspace member's) grows past
//! ~800 lines unless it is listed below with the reason it is still one idea: a longer
//! file is where two ideas start sharing a page.
//! The check reads files only (no root, no build of anything else).

use std::path::{Path, PathBuf};

/// The most lines (as `wc -l` counts them) a source file may have unlisted.
const LIMIT: usize = 800;

/// Files allowed over [`LIMIT`], each with why it is one idea (or why it waits).
const LISTED: &[(&str, &str)] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_source_file_is_over_800_lines_unless_listed_with_a_reason() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    // Workspace members: directories beside src/ with a Cargo.toml and a src/.
    for e in std::fs::read_dir(root).unwrap().flatten() {
        let member = e.path();
        if member.join("Cargo.toml").is_file() && member.join("src").is_dir() {
            rust_files(&member.join("src"), &mut files);
        }
    }
    files.sort();
    let mut over = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(root).unwrap().display().to_string();
        let lines = std::fs::read_to_string(f).unwrap().matches('\n').count();
        let listed = LISTED.iter().any(|(p, _)| *p == rel);
        if lines > LIMIT && !listed {
            over.push(format!("{rel}: {lines} lines"));
        }
        if listed && lines <= LIMIT {
            eprintln!(
                "note: {rel} is {lines} lines now: remove it from LISTED in {}",
                file!()
            );
        }
    }
    assert!(
        over.is_empty(),
        "source files over {LIMIT} lines: {over:?}; split them by idea, or list them in \
         LISTED ({}) with the reason each is one idea",
        file!()
    );
    for (p, why) in LISTED {
        assert!(!why.trim().is_empty(), "{p} is listed without a reason");
        if !root.join(p).is_file() {
            eprintln!("note: {p} is gone: remove it from LISTED in {}", file!());
        }
    }
}
