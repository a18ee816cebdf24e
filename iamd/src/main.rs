//! `iamd [--config PATH] --db LOCATION --listen ADDR:PORT [--tls-cert PEM --tls-key PEM | --http]`;
//! every flag may instead be a key of `/etc/pam-iam/iamd.toml` (see `iamd::config`).

use clap::Parser;
use iamd::config::{self, Config, Partial};
use pam_iam::fleet::reconnect::OnReplay;
use pam_iam::store::{self, OpenMode, OpenOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The AWS IAM and STS APIs (Query protocol, SigV4) over a pam-iam store.
///
/// Every flag can also be set in the configuration file (the same name with `_` for
/// `-`: `tls_cert = "/etc/pam-iam/iamd.crt"`); a flag given here wins.
#[derive(Debug, Parser)]
#[command(name = "iamd", version, about)]
struct Args {
    /// Configuration file (default /etc/pam-iam/iamd.toml, if it exists).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Store location: a SQLite path, sqlite:PATH, or a postgres:// URL
    /// [default: /var/lib/pam-iam/iam.db].
    #[arg(long, env = "PAM_IAM_DB")]
    db: Option<String>,
    /// Address and port to serve the API on [default: 127.0.0.1:8443].
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// TLS certificate chain (PEM).
    #[arg(
        long,
        requires = "tls_key",
        conflicts_with = "http",
        value_name = "PEM"
    )]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(
        long,
        requires = "tls_cert",
        conflicts_with = "http",
        value_name = "PEM"
    )]
    tls_key: Option<PathBuf>,
    /// Plain HTTP (refused on anything but a loopback address).
    #[arg(long)]
    http: bool,
    /// Address and port for Prometheus metrics (`GET /metrics`); none by default.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_listen: Option<SocketAddr>,
    /// The key file sealing access-key secrets (default: beside a SQLite store,
    /// /var/lib/pam-iam/pam_iam_secrets.key for a PostgreSQL store).
    #[arg(long, value_name = "PATH", env = "PAM_IAM_SECRETS_KEY")]
    secrets_key: Option<PathBuf>,
    /// Store threads, each with its own store connection [default: 4].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    workers: Option<u64>,
    /// Open connections at most; more are closed as soon as they are accepted
    /// [default: 4096].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: Option<u64>,
    /// Seconds a client has to send a request's head, the next one on a kept-alive
    /// connection included [default: 10].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: Option<u64>,
    /// Seconds a connection may sit with nothing read or written [default: 60].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_timeout: Option<u64>,
    /// Seconds a client has to send a request's body [default: 10].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: Option<u64>,
    /// What a replay incident (an MFA code accepted twice, found in a host's offline
    /// journal) does besides being recorded and audited: audit, lock (the user, until
    /// iam unlock-user), lock-and-revoke-sessions [default: audit].
    #[arg(long, value_name = "ACTION", value_parser = parse_on_replay)]
    on_replay: Option<OnReplay>,
    /// Seconds a request may wait for the store (a frozen or unreachable PostgreSQL
    /// server) before it is answered 503 ServiceUnavailable [default: 10].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    store_timeout: Option<u64>,
}

fn parse_on_replay(s: &str) -> Result<OnReplay, String> {
    OnReplay::parse(s)
}

impl Args {
    fn partial(&self) -> Partial {
        let size = |n: Option<u64>| n.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        Partial {
            db: self.db.clone(),
            listen: self.listen,
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            http: self.http.then_some(true),
            metrics_listen: self.metrics_listen,
            secrets_key: self.secrets_key.clone(),
            workers: size(self.workers),
            max_connections: size(self.max_connections),
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            body_timeout: self.body_timeout,
            on_replay: self.on_replay,
            store_timeout: self.store_timeout,
        }
    }
}

fn main() -> ExitCode {
    store::register_server_backend(pam_iam_postgres::open);
    let args = Args::parse();
    let settings = args
        .config
        .as_deref()
        .map_or_else(
            || config::load(std::path::Path::new(config::DEFAULT_PATH), false),
            |p| config::load(p, true),
        )
        .and_then(|file| Config::merge(args.partial(), file, store::DEFAULT_PATH));
    let result = settings.map_err(|e| e.to_string()).and_then(run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iamd: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(cfg: Config) -> Result<(), String> {
    let nofile = iamd::conn::raise_nofile_limit();
    let wanted = u64::try_from(cfg.max_connections).unwrap_or(u64::MAX) + 64;
    if nofile < wanted {
        eprintln!(
            "iamd: warning: the open-file limit is {nofile}, below max_connections ({}) plus the server's own; connections may fail before the limit (raise LimitNOFILE)",
            cfg.max_connections
        );
    }
    let opts = OpenOptions {
        insecure_ok: std::env::var(store::ENV_INSECURE).is_ok_and(|v| v == "1"),
        ..OpenOptions::new(cfg.db.as_str(), OpenMode::ReadWrite)
    };
    let key = cfg
        .secrets_key
        .clone()
        .unwrap_or_else(|| opts.location.default_secrets_key());
    let state = iamd::server::state(&opts, key, &cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        if let Some(m) = cfg.metrics_listen {
            let l = tokio::net::TcpListener::bind(m)
                .await
                .map_err(|e| format!("{m}: {e}"))?;
            let router = iamd::server::metrics_router(state.clone());
            tokio::spawn(async move {
                let _ = axum::serve(l, router).await;
            });
        }
        let limit = iamd::conn::Limit::new(
            cfg.max_connections,
            cfg.header_timeout,
            cfg.idle_timeout,
            Arc::clone(&state.metrics.conns),
        );
        iamd::prune::start(Arc::clone(&state));
        let app =
            iamd::server::api_router(state).into_make_service_with_connect_info::<SocketAddr>();
        eprintln!(
            "iamd: serving IAM and STS on {}{}",
            cfg.listen,
            if cfg.tls.is_none() {
                " (plain HTTP)"
            } else {
                ""
            }
        );
        let configure = |b: &mut hyper_util::server::conn::auto::Builder<_>| {
            b.http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(cfg.header_timeout)
                .max_buf_size(64 * 1024);
            b.http2()
                .timer(hyper_util::rt::TokioTimer::new())
                .max_concurrent_streams(64);
        };
        if let Some((cert, key)) = &cfg.tls {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| format!("TLS certificate/key: {e}"))?;
            let mut server = axum_server::bind(cfg.listen).acceptor(
                axum_server::tls_rustls::RustlsAcceptor::new(tls)
                    .handshake_timeout(cfg.header_timeout)
                    .acceptor(limit),
            );
            configure(server.http_builder());
            server
                .serve(app)
                .await
                .map_err(|e| format!("{}: {e}", cfg.listen))
        } else {
            let mut server = axum_server::bind(cfg.listen).acceptor(limit);
            configure(server.http_builder());
            server
                .serve(app)
                .await
                .map_err(|e| format!("{}: {e}", cfg.listen))
        }
    })
}
