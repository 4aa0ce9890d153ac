//! `peercall-server`: the signaling server and the static files of the client.

use std::process::ExitCode;

use clap::Parser;
use peercall_server::{Command, Config, Prepared, auth, shutdown_signal};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    if let Some(Command::MintToken {
        room,
        name,
        ttl,
        admin,
    }) = &config.command
    {
        return mint_token(&config, room.clone(), name.clone(), *ttl, *admin);
    }
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

/// `peercall-server mint-token`: prints a token for `name` in `room`.
fn mint_token(
    config: &Config,
    room: Option<String>,
    name: String,
    ttl: u64,
    admin: bool,
) -> ExitCode {
    let secret = match peercall_server::auth_secret(config) {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            eprintln!(
                "peercall-server: mint-token needs the token secret: --auth-secret-file or PEERCALL_AUTH_SECRET"
            );
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("peercall-server: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(Err(error)) = room.as_deref().map(protocol::validate_room) {
        eprintln!("peercall-server: --room: {error}");
        return ExitCode::from(2);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let claims = auth::Claims {
        sub: name,
        room,
        exp: now.saturating_add(ttl),
        nbf: None,
        admin,
    };
    println!("{}", auth::mint(&secret, &claims));
    ExitCode::SUCCESS
}
