//! `iamd --db LOCATION --listen ADDR:PORT [--tls-cert PEM --tls-key PEM | --http]`.

use clap::Parser;
use pam_iam::store::{self, OpenMode, OpenOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// The AWS IAM and STS APIs (Query protocol, SigV4) over a pam-iam store.
#[derive(Debug, Parser)]
#[command(name = "iamd", version, about)]
struct Args {
    /// Store location: a SQLite path, sqlite:PATH, or a postgres:// URL.
    #[arg(long, env = "PAM_IAM_DB", default_value = store::DEFAULT_PATH)]
    db: String,
    /// Address and port to serve the API on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key", conflicts_with = "http")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert", conflicts_with = "http")]
    tls_key: Option<PathBuf>,
    /// Plain HTTP (refused on anything but a loopback address).
    #[arg(long)]
    http: bool,
    /// Address and port for Prometheus metrics (`GET /metrics`); none by default.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// The key file sealing access-key secrets (default: beside a SQLite store).
    #[arg(long)]
    secrets_key: Option<PathBuf>,
    /// Store threads (each holds one store connection).
    #[arg(long, default_value_t = 4)]
    workers: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iamd: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    store::register_server_backend(pam_iam_postgres::open);
    if args.http && !args.listen.ip().is_loopback() {
        return Err(format!(
            "--http serves plain HTTP and is refused on {}: use a loopback address or --tls-cert/--tls-key",
            args.listen
        ));
    }
    if !args.http && args.tls_cert.is_none() {
        return Err("give --tls-cert and --tls-key (or --http on a loopback address)".into());
    }
    let opts = OpenOptions {
        insecure_ok: std::env::var(store::ENV_INSECURE).is_ok_and(|v| v == "1"),
        ..OpenOptions::new(args.db.as_str(), OpenMode::ReadWrite)
    };
    let key = args
        .secrets_key
        .clone()
        .unwrap_or_else(|| opts.location.default_secrets_key());
    let state = iamd::server::state(&opts, key, args.workers)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        if let Some(m) = args.metrics_listen {
            let l = tokio::net::TcpListener::bind(m)
                .await
                .map_err(|e| format!("{m}: {e}"))?;
            let router = iamd::server::metrics_router(state.clone());
            tokio::spawn(async move {
                let _ = axum::serve(l, router).await;
            });
        }
        let app =
            iamd::server::api_router(state).into_make_service_with_connect_info::<SocketAddr>();
        eprintln!(
            "iamd: serving IAM and STS on {}{}",
            args.listen,
            if args.http { " (plain HTTP)" } else { "" }
        );
        if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| format!("TLS certificate/key: {e}"))?;
            axum_server::bind_rustls(args.listen, tls)
                .serve(app)
                .await
                .map_err(|e| format!("{}: {e}", args.listen))
        } else {
            axum_server::bind(args.listen)
                .serve(app)
                .await
                .map_err(|e| format!("{}: {e}", args.listen))
        }
    })
}
