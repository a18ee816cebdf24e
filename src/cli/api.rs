//! The `iam` operations as a server calls them (`iamd`): the CLI's own handlers,
//! validation and errors, driven by named parameters (AWS's member names, `UserName`)
//! instead of argv. The operation table comes from the CLI grammar itself, so the server
//! and the CLI can never disagree on what an operation takes.

use super::args::Command as Commands;
use super::{CliError, Ctx, Effect, Op, args::Cli, operation_name};
use crate::store::Store;
use clap::{ArgAction, CommandFactory, FromArgMatches};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// How a parameter is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamKind {
    /// One value (`--user-name bob`).
    Scalar,
    /// A boolean flag (`--set-as-default`), with its `--no-…` twin if the CLI has one.
    Flag {
        /// The long name of the negating flag.
        negated: Option<String>,
    },
    /// Repeated values (`--tag-keys a b`), or one JSON document of structures.
    List,
    /// A password: the CLI reads it from a terminal, a remote caller gives it as a
    /// value; it never goes into an argv.
    Secret,
}

/// One parameter of an operation.
#[derive(Debug, Clone)]
pub struct Param {
    /// AWS member name (`UserName`).
    pub aws: String,
    /// The CLI's long flag (`user-name`).
    pub long: String,
    /// How it is given.
    pub kind: ParamKind,
    /// The CLI requires it.
    pub required: bool,
}

/// One operation of the CLI.
#[derive(Debug, Clone)]
pub struct Operation {
    /// AWS operation name (`CreateUser`).
    pub name: String,
    /// The CLI subcommand (`create-user`).
    pub subcommand: String,
    /// Its parameters.
    pub params: Vec<Param>,
    /// A grammar holding only this subcommand (parsing is then cheap).
    grammar: clap::Command,
}

impl Operation {
    /// The parameter with AWS member name `aws`.
    pub fn param(&self, aws: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.aws == aws)
    }
}

/// A parameter's value as the Query protocol delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgValue {
    /// `Name=value`.
    Scalar(String),
    /// `Name.member.N=…`, in order.
    List(Vec<ArgValue>),
    /// `Name.Key=…` members of a structure (or `entry.N.key/value` of a map).
    Struct(Vec<(String, ArgValue)>),
}

impl ArgValue {
    fn to_json(&self) -> Value {
        match self {
            ArgValue::Scalar(s) => Value::String(s.clone()),
            ArgValue::List(items) => Value::Array(items.iter().map(ArgValue::to_json).collect()),
            ArgValue::Struct(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Global flags, clap's own, and flags that make the CLI touch the local machine (files,
/// standard input): never parameters a remote caller may set.
const NOT_PARAMS: &[&str] = &[
    "db",
    "output",
    "help",
    "version",
    "outfile",
    "password-stdin",
];

/// Every CLI operation, by AWS name.
pub fn operations() -> &'static HashMap<String, Operation> {
    static OPS: OnceLock<HashMap<String, Operation>> = OnceLock::new();
    OPS.get_or_init(|| {
        let cli = Cli::command();
        cli.get_subcommands()
            .map(|sub| {
                let longs: Vec<String> = sub
                    .get_arguments()
                    .filter_map(|a| a.get_long().map(str::to_string))
                    .collect();
                let params = sub
                    .get_arguments()
                    .filter_map(|a| {
                        let long = a.get_long()?.to_string();
                        if NOT_PARAMS.contains(&long.as_str()) || long.starts_with("no-") {
                            return None;
                        }
                        let kind = match a.get_action() {
                            ArgAction::SetTrue | ArgAction::SetFalse => {
                                let no = format!("no-{long}");
                                ParamKind::Flag {
                                    negated: longs.contains(&no).then_some(no),
                                }
                            }
                            ArgAction::Append => ParamKind::List,
                            _ if a.get_num_args().is_some_and(|n| n.max_values() > 1) => {
                                ParamKind::List
                            }
                            _ => ParamKind::Scalar,
                        };
                        Some(Param {
                            aws: operation_name(&long),
                            long,
                            kind,
                            required: a.is_required_set(),
                        })
                    })
                    .collect();
                let name = operation_name(sub.get_name());
                let grammar = clap::Command::new("iam")
                    .subcommand(sub.clone())
                    .subcommand_required(true);
                (
                    name.clone(),
                    Operation {
                        name,
                        subcommand: sub.get_name().to_string(),
                        params,
                        grammar,
                    },
                )
            })
            .chain(std::iter::once(change_password()))
            .map(|(name, mut op)| {
                with_passwords(&mut op);
                (name, op)
            })
            .collect()
    })
}

/// Members that are passwords, by operation: given as values by remote callers.
const PASSWORDS: &[(&str, &[&str])] = &[
    ("CreateLoginProfile", &["Password"]),
    ("UpdateLoginProfile", &["Password"]),
    ("ChangePassword", &["OldPassword", "NewPassword"]),
];

/// The password members of `op` become [`ParamKind::Secret`] (the CLI's terminal flags
/// of the same name are not parameters remotely).
fn with_passwords(op: &mut Operation) {
    let Some((_, members)) = PASSWORDS.iter().find(|(n, _)| *n == op.name) else {
        return;
    };
    op.params.retain(|p| !members.contains(&p.aws.as_str()));
    for m in *members {
        op.params.push(Param {
            aws: (*m).to_string(),
            long: String::new(),
            kind: ParamKind::Secret,
            // UpdateLoginProfile may change only PasswordResetRequired.
            required: op.name != "UpdateLoginProfile",
        });
    }
}

/// `ChangePassword`: the caller changes its own password. The CLI (run as root on the
/// store) sets passwords with update-login-profile; over the API it is the operation
/// self-service users have. `UserName` is the caller, filled in by the server.
fn change_password() -> (String, Operation) {
    let name = "ChangePassword".to_string();
    (
        name.clone(),
        Operation {
            name,
            subcommand: String::new(),
            params: vec![Param {
                aws: "UserName".into(),
                long: "user-name".into(),
                kind: ParamKind::Scalar,
                required: true,
            }],
            grammar: clap::Command::new("iam"),
        },
    )
}

/// lowerCamel member name, as AWS's validation messages spell it.
pub fn lower_camel(aws: &str) -> String {
    let mut c = aws.chars();
    c.next()
        .map_or(String::new(), |f| f.to_lowercase().chain(c).collect())
}

/// Every required member given, every member one of `op`'s: AWS's validation errors.
fn check_members(op: &Operation, args: &[(String, ArgValue)]) -> Result<(), CliError> {
    for p in op.params.iter().filter(|p| p.required) {
        if !args.iter().any(|(k, _)| *k == p.aws) {
            return Err(CliError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_camel(&p.aws)
            )));
        }
    }
    match args.iter().find(|(k, _)| op.param(k).is_none()) {
        Some((name, _)) => Err(unknown(op, name)),
        None => Ok(()),
    }
}

fn unknown(op: &Operation, name: &str) -> CliError {
    CliError::new(
        "InvalidParameter",
        format!("{name} is not a parameter of {}", op.name),
    )
}

/// The argv for `op` with `args` (AWS member names), or AWS's validation error.
fn argv(op: &Operation, args: &[(String, ArgValue)]) -> Result<Vec<String>, CliError> {
    check_members(op, args)?;
    let mut argv = vec!["iam".to_string(), op.subcommand.clone()];
    for (name, value) in args {
        let p = op.param(name).ok_or_else(|| unknown(op, name))?;
        let scalar = |v: &str| -> Result<String, CliError> {
            // The CLI reads `file://` arguments from disk; a remote caller never may.
            if v.starts_with("file://") || v.starts_with("fileb://") {
                return Err(CliError::validation(format!(
                    "{name}: file:// values are read by clients, not by the server"
                )));
            }
            Ok(format!("--{}={v}", p.long))
        };
        match (&p.kind, value) {
            (ParamKind::Flag { negated }, ArgValue::Scalar(v)) => match v.as_str() {
                "true" => argv.push(format!("--{}", p.long)),
                "false" => {
                    if let Some(no) = negated {
                        argv.push(format!("--{no}"));
                    }
                }
                _ => {
                    return Err(CliError::validation(format!(
                        "{name}: expected true or false, got {v:?}"
                    )));
                }
            },
            (ParamKind::Scalar, ArgValue::Scalar(v)) => argv.push(scalar(v)?),
            (ParamKind::List, ArgValue::List(items))
                if items.iter().all(|i| matches!(i, ArgValue::Scalar(_))) =>
            {
                for i in items {
                    if let ArgValue::Scalar(v) = i {
                        argv.push(scalar(v)?);
                    }
                }
            }
            (ParamKind::List, ArgValue::Scalar(v)) if v.is_empty() => {}
            (
                ParamKind::List | ParamKind::Scalar,
                v @ (ArgValue::List(_) | ArgValue::Struct(_)),
            ) => {
                argv.push(scalar(&v.to_json().to_string())?);
            }
            (_, _) => {
                return Err(CliError::validation(format!(
                    "{name}: this value does not have the parameter's shape"
                )));
            }
        }
    }
    Ok(argv)
}

/// What one call did.
#[derive(Debug)]
pub struct Outcome {
    /// The result in AWS's JSON shape (the CLI's `--output json`), if any.
    pub result: Option<Value>,
    /// The call changed the store.
    pub wrote: bool,
}

/// Run `op` with `args` against `store`, as `iam` would: the same validation, handler
/// and errors. `secrets_key` is the file sealing access-key secrets.
///
/// # Errors
/// The CLI's error (AWS code and message) when the arguments or the operation fail.
pub fn call(
    store: &dyn Store,
    secrets_key: &Path,
    now: i64,
    op: &Operation,
    args: &[(String, ArgValue)],
) -> Result<Outcome, CliError> {
    if op.params.iter().any(|p| p.kind == ParamKind::Secret) {
        return with_passwords_call(store, secrets_key, now, op, args);
    }
    let argv = argv(op, args)?;
    let matches = op
        .grammar
        .clone()
        .try_get_matches_from(&argv)
        .map_err(|e| {
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("invalid parameters");
            CliError::validation(first.trim_start_matches("error: ").to_string())
        })?;
    let command = Commands::from_arg_matches(&matches)
        .map_err(|e| CliError::validation(e.to_string().trim_start_matches("error: ").trim()))?;
    match command.op() {
        Op::NoStore(handler) => Ok(Outcome {
            result: handler()?,
            wrote: false,
        }),
        Op::Store(effect, handler) => {
            let ctx = server_ctx(store, now, secrets_key);
            Ok(Outcome {
                result: handler(&ctx)?,
                wrote: effect != Effect::Read,
            })
        }
    }
}

/// A handler's context for a server's call: JSON output, the server's clock and key.
fn server_ctx<'a>(store: &'a dyn Store, now: i64, secrets_key: &Path) -> Ctx<'a> {
    Ctx {
        store,
        now,
        output: super::args::Output::Json,
        secrets_key: secrets_key.to_path_buf(),
    }
}

/// A password operation: its members checked as [`argv`] checks them, then the
/// login-profile handler that takes passwords as values.
fn with_passwords_call(
    store: &dyn Store,
    secrets_key: &Path,
    now: i64,
    op: &Operation,
    args: &[(String, ArgValue)],
) -> Result<Outcome, CliError> {
    check_members(op, args)?;
    let mut members = Vec::with_capacity(args.len());
    for (name, value) in args {
        let ArgValue::Scalar(v) = value else {
            return Err(CliError::validation(format!(
                "{name}: this value does not have the parameter's shape"
            )));
        };
        members.push((name.as_str(), v.as_str()));
    }
    let ctx = server_ctx(store, now, secrets_key);
    let out = super::login_profile::remote(
        &ctx,
        &op.name,
        &super::login_profile::RemoteMembers(members),
    )
    .ok_or_else(|| CliError::new("InvalidAction", format!("{} takes no password", op.name)))?;
    Ok(Outcome {
        result: out?,
        wrote: true,
    })
}

/// After a change made through the server: refresh this host's userdb directory and
/// SSH key export as `iam` does, when `store_path` is the host's store.
pub fn after_change(store: &dyn Store, store_path: &Path) {
    let ctx = server_ctx(store, 0, Path::new(""));
    super::userdb::after_change(&ctx, store_path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_from_the_grammar() {
        let ops = operations();
        let cu = &ops["CreateUser"];
        assert_eq!(cu.subcommand, "create-user");
        assert!(cu.param("UserName").unwrap().required);
        assert_eq!(cu.param("Tags").unwrap().kind, ParamKind::List);
        assert!(ops.contains_key("EnableMFADevice"));
        assert!(
            ops["UploadSSHPublicKey"]
                .param("SSHPublicKeyBody")
                .is_some()
        );
        assert!(cu.param("Db").is_none());
    }

    #[test]
    fn argv_shapes() {
        let ops = operations();
        let tags = ArgValue::List(vec![ArgValue::Struct(vec![
            ("Key".into(), ArgValue::Scalar("a".into())),
            ("Value".into(), ArgValue::Scalar("b,c".into())),
        ])]);
        let a = argv(
            &ops["CreateUser"],
            &[
                ("UserName".into(), ArgValue::Scalar("-x".into())),
                ("Tags".into(), tags),
            ],
        )
        .unwrap();
        assert_eq!(
            a,
            [
                "iam",
                "create-user",
                "--user-name=-x",
                r#"--tags=[{"Key":"a","Value":"b,c"}]"#
            ]
        );
        let e = argv(&ops["CreateUser"], &[]).unwrap_err();
        assert!(e.message.contains("'userName'"), "{}", e.message);
        let e = argv(
            &ops["CreatePolicy"],
            &[
                ("PolicyName".into(), ArgValue::Scalar("p".into())),
                (
                    "PolicyDocument".into(),
                    ArgValue::Scalar("file:///etc/shadow".into()),
                ),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");
        let e = argv(
            &ops["GetUser"],
            &[
                ("UserName".into(), ArgValue::Scalar("x".into())),
                ("Nope".into(), ArgValue::Scalar("x".into())),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameter");
    }

    #[test]
    fn passwords_are_values_never_argv() {
        let dir = crate::store::sqlite::safe_open::private_tempdir();
        let store = crate::store::open_path(
            &dir.path().join("iam.db"),
            crate::store::OpenMode::ReadWrite,
        )
        .unwrap();
        let ops = operations();
        let cp = &ops["CreateLoginProfile"];
        assert_eq!(cp.param("Password").unwrap().kind, ParamKind::Secret);
        assert!(cp.param("Password").unwrap().required);
        assert_eq!(
            ops["UpdateLoginProfile"].param("Password").unwrap().kind,
            ParamKind::Secret
        );
        assert!(
            !ops["UpdateLoginProfile"]
                .param("Password")
                .unwrap()
                .required
        );
        let s = |v: &str| ArgValue::Scalar(v.into());
        let key = dir.path().join("k");
        let run = |op: &str, args: &[(&str, ArgValue)]| {
            let args: Vec<(String, ArgValue)> = args
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            call(&*store, &key, 0, &ops[op], &args)
        };
        let e = run("CreateLoginProfile", &[("UserName", s("alice"))]).unwrap_err();
        assert!(e.message.contains("'password'"), "{}", e.message);
        let e = run(
            "CreateLoginProfile",
            &[
                ("UserName", s("alice")),
                ("Password", s("Secret-pw-1")),
                ("Nope", s("x")),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameter");
        let e = run(
            "CreateLoginProfile",
            &[
                ("UserName", s("alice")),
                ("Password", ArgValue::List(vec![s("a")])),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");
        let e = run(
            "CreateLoginProfile",
            &[("UserName", s("ghost")), ("Password", s("Secret-pw-1"))],
        )
        .unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
        let e = run(
            "ChangePassword",
            &[("UserName", s("ghost")), ("OldPassword", s("a"))],
        )
        .unwrap_err();
        assert!(e.message.contains("'newPassword'"), "{}", e.message);
        let e = run("UpdateLoginProfile", &[("UserName", s("ghost"))]).unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
    }
}
