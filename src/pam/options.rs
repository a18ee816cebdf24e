//! Module arguments from the PAM service file (`auth required pam_iam.so db=... debug`).

/// Where the store lives unless `db=` says otherwise.
pub const DEFAULT_DB: &str = "/var/lib/pam-iam/iam.db";

/// PAM services that raise privileges, decided as `host:Sudo` by default: sudo (and
/// sudo-rs), polkit (pkexec, and run0, which authenticates through polkit), systemd's
/// run0 session service and OpenDoas. They reach pam_iam through `common-*`; deciding
/// them as `host:Login` would let any user allowed to log in become root.
pub const DEFAULT_SUDO_SERVICES: &[&str] =
    &["sudo", "sudo-i", "polkit-1", "run0", "systemd-run0", "doas"];

/// How `auth` asks for the credentials; each matches an SSH setup people use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `Password: ` then, for users with an MFA device, `Verification code: `.
    PasswordThenCode,
    /// One answer: the password immediately followed by the 6-digit code
    /// (for clients that answer only one prompt).
    Combined,
    /// Only `Verification code: ` (after publickey in
    /// `AuthenticationMethods publickey,keyboard-interactive`).
    CodeOnly,
}

/// Parsed module arguments. Unknown arguments are a configuration error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `db=PATH`
    pub db: String,
    /// `host=NAME`: the host name in `arn:aws:iam::ACCT:host/NAME` (default: hostname).
    pub host: Option<String>,
    /// `debug`: log every step.
    pub debug: bool,
    /// `use_first_pass`: take the password from an earlier module, never prompt.
    pub use_first_pass: bool,
    /// `try_first_pass`: take the password from an earlier module, prompt if there is none.
    pub try_first_pass: bool,
    /// `use_authtok` (password): take the new password from an earlier module.
    pub use_authtok: bool,
    /// `mode=password|combined|code`
    pub mode: Mode,
    /// `code_prompt=always`: in password mode, ask every user for a code (unknown users
    /// and users without an MFA device too), so the prompts do not tell who has MFA.
    /// Default `code_prompt=mfa`: only users with an MFA device are asked.
    pub code_prompt_always: bool,
    /// `window=N`: accept TOTP codes N steps before and after now (default 1).
    pub window: u8,
    /// `fail_delay=USEC`: minimum delay reported after a failure (default 2 s).
    pub fail_delay_usec: u32,
    /// `action=host:Login`: the action `account` evaluates (default: `host:Sudo` in the
    /// services of `sudo_services`, `host:Login` elsewhere).
    pub action: Option<String>,
    /// `sudo_services=sudo,sudo-i,...`: the PAM services that raise privileges
    /// (default [`DEFAULT_SUDO_SERVICES`]).
    pub sudo_services: Vec<String>,
    /// `sudo`: auth and account decide by the role session of the terminal (sts).
    pub sudo: bool,
    /// `conf=PATH`: the host's mode file (default [`crate::fleet::conf::DEFAULT_CONF`]),
    /// which says whether logins use the local store or `iam-agent`.
    pub conf: String,
    /// `auth_max_age=SECONDS`: how long the authentication facts handed from `auth` to
    /// `account` stay valid (default 600).
    pub auth_max_age: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            db: DEFAULT_DB.to_string(),
            host: None,
            debug: false,
            use_first_pass: false,
            try_first_pass: false,
            use_authtok: false,
            mode: Mode::PasswordThenCode,
            code_prompt_always: false,
            window: 1,
            fail_delay_usec: 2_000_000,
            action: None,
            sudo_services: DEFAULT_SUDO_SERVICES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            auth_max_age: 600,
            conf: crate::fleet::conf::DEFAULT_CONF.to_string(),
            sudo: false,
        }
    }
}

/// Why the module arguments are unusable; logged and mapped to PAM_SERVICE_ERR.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    /// An argument this module does not know.
    #[error("unknown module argument {0:?} (see pam_iam(8))")]
    Unknown(String),
    /// A known argument with a value that does not parse.
    #[error("bad value in module argument {0:?} (see pam_iam(8))")]
    BadValue(String),
}

/// A PAM service name as it can appear in /etc/pam.d (no separators, not empty).
fn valid_service_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+@".contains(&b))
}

impl Options {
    /// The action `account` evaluates for `service`: `action=` when given, else
    /// `host:Sudo` for a privilege-raising service, `host:Login` for every other.
    pub fn account_action(&self, service: Option<&str>) -> String {
        if let Some(a) = &self.action {
            return a.clone();
        }
        match service {
            Some(s) if self.sudo_services.iter().any(|x| x == s) => "host:Sudo".into(),
            _ => "host:Login".into(),
        }
    }

    /// Parse the arguments libpam hands to every hook.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Options, OptionsError> {
        let mut o = Options::default();
        for arg in args {
            let arg = arg.as_ref();
            let bad = || OptionsError::BadValue(arg.to_string());
            match arg.split_once('=') {
                None => match arg {
                    "debug" => o.debug = true,
                    "use_first_pass" => o.use_first_pass = true,
                    "try_first_pass" => o.try_first_pass = true,
                    "use_authtok" => o.use_authtok = true,
                    "sudo" => o.sudo = true,
                    _ => return Err(OptionsError::Unknown(arg.to_string())),
                },
                Some((k, v)) => match k {
                    "db" if v.starts_with('/') => o.db = v.to_string(),
                    "conf" if v.starts_with('/') => o.conf = v.to_string(),
                    "host" if !v.is_empty() && !v.contains('/') => o.host = Some(v.to_string()),
                    "mode" => {
                        o.mode = match v {
                            "password" => Mode::PasswordThenCode,
                            "combined" => Mode::Combined,
                            "code" => Mode::CodeOnly,
                            _ => return Err(bad()),
                        }
                    }
                    "code_prompt" => {
                        o.code_prompt_always = match v {
                            "always" => true,
                            "mfa" => false,
                            _ => return Err(bad()),
                        }
                    }
                    "window" => o.window = v.parse().ok().filter(|w| *w <= 10).ok_or_else(bad)?,
                    "fail_delay" => o.fail_delay_usec = v.parse().map_err(|_| bad())?,
                    "action" if v.contains(':') => o.action = Some(v.to_string()),
                    "sudo_services" => {
                        let list: Vec<String> = v.split(',').map(str::to_string).collect();
                        if list.iter().any(|s| !valid_service_name(s)) {
                            return Err(bad());
                        }
                        o.sudo_services = list;
                    }
                    "auth_max_age" => {
                        o.auth_max_age = v.parse().ok().filter(|a| *a > 0).ok_or_else(bad)?
                    }
                    "db" | "conf" | "host" | "action" => return Err(bad()),
                    _ => return Err(OptionsError::Unknown(arg.to_string())),
                },
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        struct Case {
            args: &'static [&'static str],
            want: Result<Options, OptionsError>,
        }
        let cases = [
            Case {
                args: &[],
                want: Ok(Options::default()),
            },
            Case {
                args: &[
                    "db=/tmp/x.db",
                    "host=web-1",
                    "debug",
                    "try_first_pass",
                    "window=2",
                ],
                want: Ok(Options {
                    db: "/tmp/x.db".into(),
                    host: Some("web-1".into()),
                    debug: true,
                    try_first_pass: true,
                    window: 2,
                    ..Options::default()
                }),
            },
            Case {
                args: &["mode=combined"],
                want: Ok(Options {
                    mode: Mode::Combined,
                    ..Options::default()
                }),
            },
            Case {
                args: &["mode=code", "fail_delay=0", "action=host:Sudo"],
                want: Ok(Options {
                    mode: Mode::CodeOnly,
                    fail_delay_usec: 0,
                    action: Some("host:Sudo".into()),
                    ..Options::default()
                }),
            },
            Case {
                args: &["sudo_services=sudo,polkit-1"],
                want: Ok(Options {
                    sudo_services: vec!["sudo".into(), "polkit-1".into()],
                    ..Options::default()
                }),
            },
            Case {
                args: &["sudo_services="],
                want: Err(OptionsError::BadValue("sudo_services=".into())),
            },
            Case {
                args: &["sudo_services=sudo,,su"],
                want: Err(OptionsError::BadValue("sudo_services=sudo,,su".into())),
            },
            Case {
                args: &["sudo_services=sudo polkit-1"],
                want: Err(OptionsError::BadValue("sudo_services=sudo polkit-1".into())),
            },
            Case {
                args: &["code_prompt=always"],
                want: Ok(Options {
                    code_prompt_always: true,
                    ..Options::default()
                }),
            },
            Case {
                args: &["code_prompt=sometimes"],
                want: Err(OptionsError::BadValue("code_prompt=sometimes".into())),
            },
            Case {
                args: &["db=relative.db"],
                want: Err(OptionsError::BadValue("db=relative.db".into())),
            },
            Case {
                args: &["mode=sms"],
                want: Err(OptionsError::BadValue("mode=sms".into())),
            },
            Case {
                args: &["window=99"],
                want: Err(OptionsError::BadValue("window=99".into())),
            },
            Case {
                args: &["nullok"],
                want: Err(OptionsError::Unknown("nullok".into())),
            },
        ];
        for c in cases {
            assert_eq!(Options::parse(c.args), c.want, "{:?}", c.args);
        }
    }

    #[test]
    fn privilege_raising_services_are_decided_as_sudo() {
        let o = Options::default();
        for svc in ["sudo", "sudo-i", "polkit-1", "run0", "systemd-run0", "doas"] {
            assert_eq!(o.account_action(Some(svc)), "host:Sudo", "{svc}");
        }
        for svc in ["sshd", "login", "su", "cron"] {
            assert_eq!(o.account_action(Some(svc)), "host:Login", "{svc}");
        }
        assert_eq!(o.account_action(None), "host:Login");
        let only_sudo = Options::parse(&["sudo_services=sudo"]).unwrap();
        assert_eq!(only_sudo.account_action(Some("polkit-1")), "host:Login");
        let forced = Options::parse(&["action=host:Login"]).unwrap();
        assert_eq!(forced.account_action(Some("sudo")), "host:Login");
    }
}
