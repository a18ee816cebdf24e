//! Reading what the administrator gives: documents (inline or file://), tags (AWS
//! shorthand or JSON), names (validated), and passwords (terminal or stdin, never argv).

use super::CliError;
use crate::policy::{Policy, PolicyKind};
use crate::store::Tag;
use std::io::Write;
use zeroize::Zeroizing;

/// Read `file://PATH` or take the argument itself.
pub fn load(arg: &str) -> Result<String, CliError> {
    match arg.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| CliError::validation(format!("cannot read {path}: {e}"))),
        None => Ok(arg.to_string()),
    }
}

/// Load and validate a policy document of `kind`: refused documents never reach the store.
pub fn policy_document(arg: &str, kind: PolicyKind) -> Result<String, CliError> {
    let doc = load(arg)?;
    Policy::parse(&doc, kind).map_err(|e| CliError::new(e.code.as_str(), e.to_string()))?;
    Ok(doc)
}

/// Parse `--tags`: each argument is `Key=k,Value=v` or a JSON list of `{"Key","Value"}`.
pub fn tags(args: &[String]) -> Result<Vec<Tag>, CliError> {
    let mut out = Vec::new();
    for a in args {
        let a = load(a)?;
        let t = a.trim();
        if t.starts_with('[') || t.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(t)
                .map_err(|e| CliError::validation(format!("--tags: invalid JSON: {e}")))?;
            let items = match v {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            };
            for item in items {
                let tag: Tag = serde_json::from_value(item).map_err(|e| {
                    CliError::validation(format!("--tags: expected {{\"Key\":…,\"Value\":…}}: {e}"))
                })?;
                out.push(tag);
            }
        } else {
            let (mut key, mut value) = (None, None);
            for part in t.split(',') {
                match part.split_once('=') {
                    Some(("Key", k)) => key = Some(k.to_string()),
                    Some(("Value", v)) => value = Some(v.to_string()),
                    _ => {
                        return Err(CliError::validation(format!(
                            "--tags: expected Key=k,Value=v, got {t:?}"
                        )));
                    }
                }
            }
            let key =
                key.ok_or_else(|| CliError::validation(format!("--tags: missing Key in {t:?}")))?;
            out.push(Tag {
                key,
                value: value.unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// IAM user names are Linux login names: `[a-z_][a-z0-9_-]*`, at most 32 characters, and
/// never a name reserved for the system.
pub fn user_name(name: &str) -> Result<(), CliError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !first_ok || !rest_ok || name.len() > 32 {
        return Err(CliError::validation(format!(
            "Invalid user name {name:?}: IAM user names are Linux login names: a lower-case letter or _, then lower-case letters, digits, _ or -, at most 32 characters"
        )));
    }
    if ["root", "nobody", "daemon", "bin", "sys", "sshd"].contains(&name) {
        return Err(CliError::validation(format!(
            "The user name {name} is reserved for the system"
        )));
    }
    Ok(())
}

/// Group, role, policy and device names: AWS's `[\w+=,.@-]+` with a length limit.
pub fn entity_name(what: &str, name: &str, max: usize) -> Result<(), CliError> {
    let ok = !name.is_empty()
        && name.chars().count() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(CliError::validation(format!(
            "Invalid {what} {name:?}: use 1-{max} letters, digits and _+=,.@-"
        )))
    }
}

/// IAM paths: `/` or `/a/b/`, printable ASCII, at most 512 characters.
pub fn path(p: &str) -> Result<(), CliError> {
    let ok = p.starts_with('/')
        && p.ends_with('/')
        && p.len() <= 512
        && p.chars().all(|c| ('\x21'..='\x7e').contains(&c))
        && !p.contains("//");
    if ok {
        Ok(())
    } else {
        Err(CliError::validation(format!(
            "Invalid path {p:?}: must be / or /name/…/"
        )))
    }
}

/// Read one line from `fd` a byte at a time into zeroizing memory: no buffered reader
/// keeps a copy of the secret after we are done (at most 4096 bytes).
fn read_secret_line(fd: impl std::os::fd::AsFd) -> std::io::Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(128));
    let mut b = Zeroizing::new([0u8; 1]);
    loop {
        match nix::unistd::read(&fd, b.as_mut()) {
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => {
                if bytes.len() >= 4096 {
                    return Err(std::io::Error::other("line longer than 4096 bytes"));
                }
                bytes.push(b[0]);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| std::io::Error::other("the password is not valid UTF-8"))?;
    Ok(Zeroizing::new(text.to_string()))
}

/// The first line of stdin, without its newline.
pub fn password_from_stdin() -> Result<Zeroizing<String>, CliError> {
    let line = read_secret_line(std::io::stdin())
        .map_err(|e| CliError::validation(format!("cannot read stdin: {e}")))?;
    if line.is_empty() {
        return Err(CliError::validation(
            "--password-stdin: standard input held no password",
        ));
    }
    Ok(line)
}

/// Prompt on the controlling terminal with echo off, twice; refuses when there is no
/// terminal (use --password-stdin in scripts).
pub fn password_from_tty(prompt: &str) -> Result<Zeroizing<String>, CliError> {
    let first = read_tty(prompt)?;
    let second = read_tty("Retype password: ")?;
    if first.as_str() != second.as_str() {
        return Err(CliError::validation("The passwords do not match"));
    }
    if first.is_empty() {
        return Err(CliError::validation("Empty password"));
    }
    Ok(first)
}

fn read_tty(prompt: &str) -> Result<Zeroizing<String>, CliError> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let no_tty = |e: std::io::Error| {
        CliError::validation(format!(
            "no terminal to read the password from ({e}); use --password-stdin"
        ))
    };
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(no_tty)?;
    let saved = tcgetattr(&tty).map_err(|e| no_tty(e.into()))?;
    let mut silent = saved.clone();
    silent.local_flags.remove(LocalFlags::ECHO);
    silent.local_flags.insert(LocalFlags::ECHONL);
    // Echo off before the prompt appears, so nothing typed after the prompt is echoed.
    tcsetattr(&tty, SetArg::TCSAFLUSH, &silent).map_err(|e| no_tty(e.into()))?;
    let mut w = &tty;
    let _ = w.write_all(prompt.as_bytes());
    let _ = w.flush();
    let res = read_secret_line(&tty);
    // Restore echo whatever happened.
    let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, &saved);
    res.map_err(no_tty)
}

/// This host's name, the default of the host-tag commands.
pub fn hostname(given: Option<String>) -> Result<String, CliError> {
    match given {
        Some(h) if !h.is_empty() => Ok(h),
        _ => nix::unistd::gethostname()
            .map_err(|e| CliError::validation(format!("cannot read the host name: {e}")))
            .map(|h| h.to_string_lossy().into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_forms() {
        let t = tags(&[
            "Key=team,Value=ops".into(),
            r#"[{"Key":"env","Value":"prod"}]"#.into(),
        ])
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].value, "prod");
        assert!(tags(&["team=ops".into()]).is_err());
    }

    #[test]
    fn names() {
        assert!(user_name("alice").is_ok());
        assert!(user_name("_svc-1").is_ok());
        for bad in ["Alice", "1abc", "a b", "root", "", "a.b", &"a".repeat(33)] {
            assert!(user_name(bad).is_err(), "{bad}");
        }
        assert!(entity_name("group", "ops+dev@x", 128).is_ok());
        assert!(entity_name("group", "a/b", 128).is_err());
        assert!(path("/").is_ok() && path("/a/b/").is_ok());
        assert!(path("a/").is_err() && path("/a").is_err() && path("/a//").is_err());
    }
}
