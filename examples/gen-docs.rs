//! Generates the man pages and shell completions the Debian package ships, from the
//! same clap definitions the binaries parse with, so they never drift from the CLI.
//!
//! `cargo run --release --example gen-docs -- OUTDIR [DATE]` writes, under OUTDIR
//! (DATE, for the pages' footer, is the release date scripts/build-deb takes from
//! packaging/changelog):
//! `man/iam.8` plus one `iam-<subcommand>.8` page per subcommand,
//! `bash/iam` and `zsh/_iam`.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;
use pam_iam::cli::args::Cli;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: gen-docs OUTDIR [DATE]");
        return ExitCode::from(2);
    };
    let date = std::env::args().nth(2).unwrap_or_default();
    // The grammar is large: building it needs more than the default 2 MiB stack.
    let run = std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(move || generate(&out, &date))
        .map_err(|e| e.to_string())
        .and_then(|h| {
            h.join()
                .map_err(|_| "generator thread panicked".to_string())
        })
        .and_then(|r| r.map_err(|e| e.to_string()));
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gen-docs: {err}");
            ExitCode::FAILURE
        }
    }
}

fn generate(out: &Path, date: &str) -> std::io::Result<()> {
    let man_dir = out.join("man");
    std::fs::create_dir_all(&man_dir)?;
    // `iam` lives in /usr/sbin: section 8 (system administration commands).
    let mut iam = Cli::command();
    iam.build();
    write_man(&iam, "iam", "8", date, &man_dir)?;
    for sub in iam.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("iam-{}", sub.get_name());
        // The page is named like git's (iam-create-user(8)); its synopsis shows the real
        // invocation, `iam create-user`.
        let title: &'static str = Box::leak(name.clone().into_boxed_str());
        let page = sub
            .clone()
            .name(title)
            .bin_name(format!("iam {}", sub.get_name()));
        write_man(&page, &name, "8", date, &man_dir)?;
    }

    for (shell, dir, file) in [(Shell::Bash, "bash", "iam"), (Shell::Zsh, "zsh", "_iam")] {
        let dir = out.join(dir);
        std::fs::create_dir_all(&dir)?;
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "iam", &mut buf);
        std::fs::write(dir.join(file), buf)?;
    }
    Ok(())
}

fn write_man(
    cmd: &clap::Command,
    name: &str,
    section: &str,
    date: &str,
    dir: &Path,
) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .section(section)
        .date(date.to_string())
        .source(format!("pam-iam {}", env!("CARGO_PKG_VERSION")))
        .manual("pam-iam manual");
    let mut buf = Vec::new();
    man.render(&mut buf)?;
    std::fs::write(dir.join(format!("{name}.{section}")), buf)
}
