//! Command-line flags, each with an environment fallback.

use std::{net::SocketAddr, path::PathBuf};

/// How the server is run.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "peercall-server", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "PEERCALL_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Folder of static files to serve (the built client).
    #[arg(long, env = "PEERCALL_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,
    /// Folder served at `/pkg` (the embeddable module), if not `pkg/` inside the static
    /// folder: kept apart, a live-reloading `trunk serve` that rewrites the static folder
    /// cannot take it away.
    #[arg(long, env = "PEERCALL_PKG_DIR")]
    pub pkg_dir: Option<PathBuf>,
    /// Most sockets open at once; further upgrades get 503.
    #[arg(long, env = "PEERCALL_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Frames queued for one socket before it counts as too slow and is dropped.
    #[arg(long, env = "PEERCALL_OUTBOX", default_value_t = 1024)]
    pub outbox: usize,
    /// How often every socket is pinged, in ms; one silent for two pings is dropped.
    #[arg(long, env = "PEERCALL_PING_INTERVAL_MS", default_value_t = 5_000)]
    pub ping_interval_ms: u64,
    /// How long a dropped user's name and id stay reserved for its resume token, in ms,
    /// before everyone is told it left.
    #[arg(long, env = "PEERCALL_RESUME_GRACE_MS", default_value_t = 30_000)]
    pub resume_grace_ms: u64,
    /// Key for resume tokens. Give the same one across restarts so that clients get their
    /// ids back after a restart; by default a random key lives as long as the process.
    #[arg(long, env = "PEERCALL_RESUME_SECRET", hide_env_values = true)]
    pub resume_secret: Option<String>,
}

impl Config {
    /// The defaults (and environment), serving files from `static_dir`.
    pub fn with_static_dir(static_dir: impl Into<PathBuf>) -> Self {
        let mut config = <Self as clap::Parser>::parse_from(["peercall-server"]);
        config.static_dir = static_dir.into();
        config
    }
}
