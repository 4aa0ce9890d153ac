//! `peercall-server`: the signaling server and the static files of the client.

use std::process::ExitCode;

use clap::Parser;
use peercall_server::{Config, Prepared, shutdown_signal};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    // Everything the flags name is read and checked before the port is taken.
    let prepared = match Prepared::new(config) {
        Ok(prepared) => prepared,
        Err(error) => {
            eprintln!("peercall-server: {error}");
            return ExitCode::from(2);
        }
    };
    let addr = prepared.config.addr;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("peercall-server: cannot listen on {addr}: {error}");
            return ExitCode::from(2);
        }
    };
    let Ok(addr) = listener.local_addr() else {
        eprintln!("peercall-server: the listening socket has no address");
        return ExitCode::FAILURE;
    };
    // The one line on standard output that is not a log line: where to reach the server,
    // also when it was asked for port 0.
    println!("peercall-server listening on {addr}");
    let (http, ws) = match prepared.tls {
        Some(_) => ("https", "wss"),
        None => ("http", "ws"),
    };
    tracing::info!(
        static_dir = %prepared.config.static_dir.display(),
        "peercall is up: open {http}://{addr}/ (signaling at {ws}://{addr}/ws)"
    );
    match peercall_server::serve_prepared(listener, prepared, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("peercall-server: {error}");
            ExitCode::FAILURE
        }
    }
}
