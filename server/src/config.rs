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
    /// Most sockets open at once from one address (one /64 for IPv6); one more is refused
    /// with `too-many-connections`.
    #[arg(
        long,
        env = "PEERCALL_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 64
    )]
    pub max_connections_per_address: usize,
    /// Login attempts per minute from one address (one /64 for IPv6), and as many at
    /// once; one more is refused with `rate-limited`. Each login on a fresh socket tells
    /// everyone in the room: this keeps one address from making their lists churn.
    #[arg(long, env = "PEERCALL_LOGINS_PER_ADDRESS", default_value_t = 120)]
    pub logins_per_address: u32,
    /// A reverse proxy (repeatable): for connections from it, the client's address is the
    /// last one in `X-Forwarded-For`.
    #[arg(
        long = "trusted-proxy",
        value_name = "ADDR",
        env = "PEERCALL_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A TCP balancer (repeatable) that begins each connection with a PROXY protocol
    /// header, version 1 or 2: for connections from it, the client's address is the one
    /// the header gives. Its connections without one are closed.
    #[arg(
        long = "proxy-protocol-from",
        value_name = "ADDR",
        env = "PEERCALL_PROXY_PROTOCOL_FROM",
        value_delimiter = ','
    )]
    pub proxy_protocol_from: Vec<std::net::IpAddr>,
    /// How long a socket may take to log in, in ms; then it is closed with code 1008.
    #[arg(long, env = "PEERCALL_LOGIN_TIMEOUT_MS", default_value_t = 10_000)]
    pub login_timeout_ms: u64,
    /// How long one frame may take to go out, in ms: a socket that takes its frames no
    /// faster is closed. Any write of a connection (a file too) that makes no progress
    /// for this long ends it.
    #[arg(long, env = "PEERCALL_WRITE_TIMEOUT_MS", default_value_t = 10_000)]
    pub write_timeout_ms: u64,
    /// How long a connection may go on speaking HTTP before it is closed, in ms (not a
    /// flag; tests shorten it): a page's files take seconds even on a slow link, and a
    /// connection still at it after two minutes (taking one byte at a time, say) holds
    /// its place on purpose. An upgraded WebSocket has left HTTP and is not bound by it.
    #[arg(skip = 120_000u64)]
    pub http_lifetime_ms: u64,
    /// What every per-connection rate limit (logins, rings, call signals by count and by
    /// bytes, pings) is multiplied by: above 1 for load tests from one machine.
    #[arg(long, env = "PEERCALL_RATE_LIMIT_FACTOR", default_value_t = 1.0)]
    pub rate_limit_factor: f64,
    /// Bytes queued for one socket before it counts as too slow and is dropped.
    #[arg(long, env = "PEERCALL_OUTBOX_BYTES", default_value_t = 1024 * 1024)]
    pub outbox_bytes: usize,
    /// Bytes of relayed call signals kept for one user until it acknowledges them (or,
    /// while it is away, until it resumes); each sender may fill a quarter of it.
    #[arg(long, env = "PEERCALL_BACKLOG_BYTES", default_value_t = 1024 * 1024)]
    pub backlog_bytes: usize,
    /// How often every socket is pinged, in ms; one silent for two pings is dropped.
    #[arg(long, env = "PEERCALL_PING_INTERVAL_MS", default_value_t = 5_000)]
    pub ping_interval_ms: u64,
    /// How long a dropped user's name and id stay reserved for its resume token, in ms,
    /// before everyone is told it left.
    #[arg(long, env = "PEERCALL_RESUME_GRACE_MS", default_value_t = 30_000)]
    pub resume_grace_ms: u64,
    /// File holding the key for resume tokens (at least 32 bytes), made with a random key
    /// if it does not exist yet: with the same key across restarts, clients get their ids
    /// back after a restart. Or set `PEERCALL_RESUME_SECRET`. By default a random key
    /// lives as long as the process.
    #[arg(long, env = "PEERCALL_RESUME_SECRET_FILE")]
    pub resume_secret_file: Option<PathBuf>,
    /// The resume key itself, from `PEERCALL_RESUME_SECRET` (never a flag: `ps` would
    /// show it).
    #[arg(skip = std::env::var("PEERCALL_RESUME_SECRET").ok())]
    pub resume_secret: Option<String>,
    /// How often a connected user gets a fresh resume token, in ms. A token lasts the
    /// resume grace period plus twice this.
    #[arg(long, env = "PEERCALL_RESUME_REFRESH_MS", default_value_t = 60_000)]
    pub resume_refresh_ms: u64,

    /// Most people in one named room; one more gets `room-full`.
    #[arg(long, env = "PEERCALL_ROOM_CAPACITY", default_value_t = 8)]
    pub room_capacity: usize,
    /// Most people in a named room's call (a full mesh, so 2 to 6); one more gets
    /// `call-full`.
    #[arg(long, env = "PEERCALL_CALL_CAPACITY", default_value_t = 4,
          value_parser = clap::value_parser!(u8).range(2..=6))]
    pub call_capacity: u8,
    /// Most people in the default room (the room of logins that name none); no limit by
    /// default.
    #[arg(long, env = "PEERCALL_DEFAULT_ROOM_CAPACITY")]
    pub default_room_capacity: Option<usize>,
    /// Refuse logins that name no room (`bad-room`): everyone joins by a room's link.
    #[arg(long, env = "PEERCALL_NO_DEFAULT_ROOM")]
    pub no_default_room: bool,
    /// Token mode: file holding the shared secret (at least 32 bytes) that signs the
    /// HS256 tokens every login must carry. Or set `PEERCALL_AUTH_SECRET`.
    #[arg(long, env = "PEERCALL_AUTH_SECRET_FILE", global = true)]
    pub auth_secret_file: Option<PathBuf>,
    /// How far the clocks of this server and of the backend minting tokens may disagree,
    /// in seconds.
    #[arg(long, env = "PEERCALL_TOKEN_LEEWAY_SECS", default_value_t = 30)]
    pub token_leeway_secs: u64,
    /// The token secret itself, from `PEERCALL_AUTH_SECRET` (never a flag).
    #[arg(skip = std::env::var("PEERCALL_AUTH_SECRET").ok())]
    pub auth_secret: Option<String>,
    /// A web origin (`https://site.example`) whose pages may open sockets and import
    /// `/pkg` (repeatable). Without it: this server's own pages and pages on localhost.
    #[arg(
        long = "allowed-origin",
        value_name = "ORIGIN",
        env = "PEERCALL_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// HTTPS: the certificate chain, PEM. Read again when the file changes or on SIGHUP.
    #[arg(long, env = "PEERCALL_TLS_CERT", requires = "tls_key", group = "tls")]
    pub tls_cert: Option<PathBuf>,
    /// HTTPS: the private key of `--tls-cert`, PEM.
    #[arg(long, env = "PEERCALL_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// HTTPS with a certificate made at start for localhost and every `--tls-name`.
    #[arg(long, env = "PEERCALL_TLS_SELF_SIGNED", group = "tls")]
    pub tls_self_signed: bool,
    /// A host name or IP address the self-signed certificate is for (repeatable).
    #[arg(long = "tls-name", value_name = "NAME", requires = "tls_self_signed")]
    pub tls_names: Vec<String>,
    /// HTTPS with a certificate from an ACME server (Let's Encrypt) for this domain
    /// (repeatable), validated with TLS-ALPN-01 on `--addr`, which must be port 443 as the
    /// ACME server sees it.
    #[arg(long = "acme-domain", value_name = "DOMAIN", group = "tls")]
    pub acme_domains: Vec<String>,
    /// Contact address given to the ACME server.
    #[arg(long, env = "PEERCALL_ACME_EMAIL", requires = "acme_domains")]
    pub acme_email: Option<String>,
    /// Folder that keeps the ACME account and certificates across restarts.
    #[arg(long, env = "PEERCALL_ACME_CACHE", default_value = "acme-cache")]
    pub acme_cache: PathBuf,
    /// The ACME server's directory URL.
    #[arg(
        long,
        env = "PEERCALL_ACME_DIRECTORY",
        default_value = "https://acme-v02.api.letsencrypt.org/directory"
    )]
    pub acme_directory: String,
    /// A PEM CA certificate to trust for the ACME server's own HTTPS, beside the usual
    /// roots: for a private or test ACME server.
    #[arg(long, env = "PEERCALL_ACME_CA")]
    pub acme_ca: Option<PathBuf>,
    /// How long a new connection may take for its TLS handshake, and any connection for a
    /// request head, in ms.
    #[arg(long, env = "PEERCALL_HANDSHAKE_TIMEOUT_MS", default_value_t = 10_000)]
    pub handshake_timeout_ms: u64,

    /// A STUN server URL handed to every client (repeatable), e.g. `stun:stun.example.org`.
    #[arg(long = "stun", value_name = "URL")]
    pub stun_urls: Vec<String>,
    /// A TURN server URL handed to every client with fresh credentials (repeatable), e.g.
    /// `turn:turn.example.org?transport=udp`, `turns:turn.example.org:5349`.
    #[arg(long = "turn-url", value_name = "URL")]
    pub turn_urls: Vec<String>,
    /// File holding the TURN server's shared secret (coturn's `static-auth-secret`), at
    /// least 32 bytes; or set `PEERCALL_TURN_SECRET`.
    #[arg(long, env = "PEERCALL_TURN_SECRET_FILE")]
    pub turn_secret_file: Option<PathBuf>,
    /// The TURN shared secret itself, from `PEERCALL_TURN_SECRET` (never a flag: `ps`
    /// would show it).
    #[arg(skip = std::env::var("PEERCALL_TURN_SECRET").ok())]
    pub turn_secret: Option<String>,
    /// How long minted TURN credentials last, in seconds; fresh ones go out before then.
    #[arg(long, env = "PEERCALL_TURN_TTL", default_value_t = 14_400)]
    pub turn_ttl: u64,

    /// Redis to join a cluster of nodes through (`redis://host:port`; a password in the
    /// URL is better given as `PEERCALL_REDIS_URL` than as a flag). Without it the node
    /// stands alone.
    #[arg(long, env = "PEERCALL_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Serve `/healthz` and `/metrics` on this address instead of on `--addr`.
    #[arg(long, env = "PEERCALL_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Something else to do than serve.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `peercall-server` can do besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Prints a login token (an HS256 JWT) signed with the token secret
    /// (`--auth-secret-file` or `PEERCALL_AUTH_SECRET`), as a site's backend mints them.
    MintToken {
        /// The room it admits to; leave it out for the default room.
        #[arg(long)]
        room: Option<String>,
        /// The display name it is for.
        #[arg(long)]
        name: String,
        /// How long it is good for, in seconds.
        #[arg(long, default_value_t = 3_600)]
        ttl: u64,
        /// Makes its holder a moderator of the room.
        #[arg(long)]
        admin: bool,
    },
}

impl Config {
    /// The defaults (and environment), serving files from `static_dir`.
    pub fn with_static_dir(static_dir: impl Into<PathBuf>) -> Self {
        let mut config = <Self as clap::Parser>::parse_from(["peercall-server"]);
        config.static_dir = static_dir.into();
        config
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// `--help` shows the value of an environment variable it reads, unless told not to:
    /// a Redis URL may hold a password.
    #[test]
    fn help_never_shows_the_redis_url() {
        let command = super::Config::command();
        let redis = command
            .get_arguments()
            .find(|argument| argument.get_id() == "redis_url")
            .expect("the --redis-url flag");
        assert!(redis.is_hide_env_values_set());
    }
}
