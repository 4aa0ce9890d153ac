//! `peercall-server`: the signaling server and the static files of the client.

use clap::Parser;
use peercall_server::{Config, shutdown_signal};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    // The one line on standard output that is not a log line: where to reach the server,
    // also when it was asked for port 0.
    println!("peercall-server listening on {addr}");
    tracing::info!(
        static_dir = %config.static_dir.display(),
        "peercall is up: open http://{addr}/ (signaling at ws://{addr}/ws)"
    );
    peercall_server::serve(listener, config, shutdown_signal()).await
}
