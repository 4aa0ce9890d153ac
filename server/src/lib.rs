//! The peercall signaling server.
//!
//! Browsers log in over `/ws`, see who else is online and relay call signals to one
//! another by id; the server stamps every relayed message with its sender and never looks
//! inside SDP. Everything else on the HTTP side is the built client, served as files.

#![forbid(unsafe_code)]

mod addresses;
pub mod auth;
mod calls;
pub mod cluster;
mod config;
mod connection;
mod headers;
mod ice;
mod identity;
mod inbox;
mod intake;
mod listen;
mod metrics;
mod origin;
mod outbox;
mod proxy_protocol;
mod rates;
mod refusal;
mod registry;
mod rooms;
mod routing;
mod startup;
mod tls;
mod tokens;
mod tunnel;

pub use config::{Command, Config};
pub use ice::turn_password;
pub use startup::{Prepared, StartError, auth_secret};

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use addresses::Addresses;
use auth::Auth;
use axum::{
    Router,
    extract::{ConnectInfo, State, WebSocketUpgrade},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::any,
};
use futures_util::FutureExt;
use ice::IceServers;
use listen::Listening;
use metrics::Metrics;
use origin::Origins;
use protocol::ErrorCode;
use proxy_protocol::Balancers;
use refusal::Refusal;
use registry::{Capacity, Limits, Registry};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, mpsc, watch},
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    services::{ServeDir, ServeFile},
};

/// How long shutdown waits for sockets to say goodbye before it gives up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every connection shares.
#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    /// STUN and TURN for every client.
    ice: Arc<IceServers>,
    metrics: Arc<Metrics>,
    /// Token mode: the key logins' tokens are checked with.
    auth: Option<Arc<Auth>>,
    /// The pages that may open a socket.
    origins: Arc<Origins>,
    /// How often a connected user gets a fresh resume token.
    resume_refresh: Duration,
    /// How often each socket is pinged.
    ping_interval: Duration,
    /// One permit per open socket: the connection limit.
    slots: Arc<Semaphore>,
    /// One permit per socket upgraded only to be refused (and closed): never one of
    /// `slots`, which a flood of refused sockets would otherwise take from everyone.
    refusal_slots: Arc<Semaphore>,
    /// The sockets of each client address, within their own limit.
    addresses: Arc<Addresses>,
    /// How long a socket may take to log in.
    login_timeout: Duration,
    /// How long one frame may take to go out.
    write_timeout: Duration,
    /// What every rate limit is multiplied by.
    rate_factor: f64,
    /// Turns `true` once the server is shutting down.
    shutdown: watch::Receiver<bool>,
    /// Held by every connection task; shutdown waits until all are dropped.
    alive: mpsc::Sender<()>,
    /// Where rooms live: here, or on their home nodes of a cluster (`--redis-url`).
    routing: routing::Routing,
}

/// Checks `config`, then serves as [`serve_prepared`] does.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_prepared(listener, Prepared::new(config)?, shutdown).await
}

/// Serves signaling on `/ws` and the static files of the static folder on `listener`
/// (HTTPS when configured) until `shutdown` completes; then closes every socket with code
/// 1001 (going away).
pub async fn serve_prepared(
    listener: TcpListener,
    prepared: Prepared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Prepared {
        config,
        mut tls,
        ice,
        metrics_listener,
        auth,
        resume_key,
    } = prepared;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (alive_tx, mut alive_rx) = mpsc::channel(1);
    let mut metrics = Metrics::new();
    let grace = Duration::from_millis(config.resume_grace_ms);
    let resume_refresh = Duration::from_millis(config.resume_refresh_ms.max(1));
    let origins = Arc::new(Origins::new(&config.allowed_origins));
    let registry = Arc::new(Registry::new(
        Limits {
            outbox_bytes: config.outbox_bytes,
            backlog_bytes: config.backlog_bytes,
        },
        // A token lasts through the grace period after the socket that last got one
        // drops, however late in a refresh interval, and however late that is noticed.
        tokens::Tokens::new(resume_key, grace + 2 * resume_refresh),
        grace,
        Capacity {
            named: config.room_capacity,
            default: config.default_room_capacity,
            default_room: !config.no_default_room,
            call: usize::from(config.call_capacity),
        },
    ));
    let (cluster, visits) = match &config.redis_url {
        Some(url) => {
            let crossings = metrics.crossings();
            let (cluster, visits) =
                cluster::Cluster::join(url, Arc::clone(&registry), crossings, stop_rx.clone())
                    .map_err(|error| std::io::Error::other(format!("--redis-url: {error}")))?;
            metrics.watch_redis(Arc::clone(&cluster.health));
            (Some(cluster), Some(visits))
        }
        None => (None, None),
    };
    let metrics = Arc::new(metrics);
    let state = AppState {
        registry,
        ice: Arc::new(ice),
        auth: auth.map(Arc::new),
        origins: Arc::clone(&origins),
        resume_refresh,
        metrics: Arc::clone(&metrics),
        ping_interval: Duration::from_millis(config.ping_interval_ms.max(1)),
        slots: Arc::new(Semaphore::new(config.max_connections)),
        refusal_slots: Arc::new(Semaphore::new(REFUSAL_SLOTS)),
        addresses: Arc::new(Addresses::new(
            config.max_connections_per_address,
            f64::from(config.logins_per_address),
            config.trusted_proxies.clone(),
        )),
        login_timeout: Duration::from_millis(config.login_timeout_ms.max(1)),
        write_timeout: Duration::from_millis(config.write_timeout_ms.max(1)),
        rate_factor: config.rate_limit_factor.max(0.0),
        shutdown: stop_rx.clone(),
        alive: alive_tx.clone(),
        routing: cluster
            .clone()
            .map_or(routing::Routing::InProcess, routing::Routing::Redis),
    };
    if let Some(visits) = visits {
        tokio::spawn(host_visitors(visits, state.clone()));
    }
    let mut app = Router::new()
        .route("/ws", any(upgrade))
        // A room's link opens the demo page, which reads the room from its own address.
        .route_service(
            "/r/{room}",
            ServeFile::new(config.static_dir.join("index.html")),
        );
    // The embeddable module may be imported by the pages allowed to open sockets.
    let cors = CorsLayer::new()
        .allow_methods([Method::GET, Method::HEAD])
        .allow_origin(AllowOrigin::predicate(move |origin, request| {
            origins.allows(origin, request.headers.get(axum::http::header::HOST))
        }));
    let pkg_dir = config
        .pkg_dir
        .clone()
        .unwrap_or_else(|| config.static_dir.join("pkg"));
    app = app.nest(
        "/pkg",
        Router::new()
            .fallback_service(ServeDir::new(pkg_dir))
            .layer(cors),
    );
    let mut app = app
        .fallback_service(ServeDir::new(&config.static_dir).append_index_html_on_directories(true))
        .with_state(state);
    let deadline = Duration::from_millis(config.handshake_timeout_ms.max(1));
    let write_patience = Duration::from_millis(config.write_timeout_ms.max(1));
    let http_lifetime = Duration::from_millis(config.http_lifetime_ms.max(1));
    // Page loads open a few connections each: behind one NAT, several people may load
    // the page at once.
    let admission = addresses::Admission::new(
        config
            .max_connections_per_address
            .saturating_mul(HTTP_PER_SOCKET),
        config.max_connections,
        config.trusted_proxies.clone(),
    );
    let operator = metrics::routes(metrics);
    match metrics_listener {
        Some(metrics_listener) => {
            let metrics_listener = TcpListener::from_std(metrics_listener)?;
            tracing::info!(addr = %metrics_listener.local_addr()?, "/healthz and /metrics");
            tokio::spawn(listen::accept(
                metrics_listener,
                Listening {
                    app: operator,
                    tls: None,
                    balancers: Balancers::default(),
                    deadline,
                    stop: stop_rx.clone(),
                    alive: alive_tx.clone(),
                    write_patience,
                    http_lifetime,
                    // Its own: a flood of the public port leaves the health check alone.
                    admission: addresses::Admission::new(
                        config.max_connections_per_address,
                        OPERATOR_CONNECTIONS,
                        Vec::new(),
                    ),
                },
            ));
        }
        None => app = app.merge(operator),
    }
    let hsts = tls.as_ref().is_some_and(tls::Tls::is_trusted);
    let app = app.layer(axum::middleware::map_response(
        move |uri: Uri, response: Response| headers::secure(uri, response, hsts),
    ));
    if let Some(tls) = &mut tls {
        tls.maintain(stop_rx.clone());
    }
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: closing every socket");
        let _ = stop_tx.send(true);
    });
    listen::accept(
        listener,
        Listening {
            app,
            tls: tls.as_ref().map(|tls| tls.acceptor().clone()),
            balancers: Balancers::new(&config.proxy_protocol_from),
            deadline,
            stop: stop_rx,
            alive: alive_tx,
            write_patience,
            admission,
            http_lifetime,
        },
    )
    .await;
    // Every connection task holds a clone of `alive`; the listeners' clones are gone.
    if tokio::time::timeout(SHUTDOWN_GRACE, alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within {SHUTDOWN_GRACE:?}");
    }
    if let Some(cluster) = cluster {
        cluster.left().await;
    }
    Ok(())
}

/// Serves the sockets of other nodes whose rooms live here, as this node's own, until
/// the server stops.
async fn host_visitors(mut visits: mpsc::Receiver<tunnel::Visit>, state: AppState) {
    let mut stop = state.shutdown.clone();
    loop {
        tokio::select! {
            visit = visits.recv() => match visit {
                Some(visit) => {
                    tokio::spawn(connection::visit(visit, state.clone()));
                }
                None => return,
            },
            () = connection::stopping(&mut stop) => return,
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Sockets upgraded only to be told why they are refused, open at once (each for at
/// most the time its close takes): past this, refusals are plain HTTP 503.
const REFUSAL_SLOTS: usize = 256;

/// Connections still speaking HTTP that one address may have, per socket it may have.
const HTTP_PER_SOCKET: usize = 4;

/// Connections the operator's listener (`--metrics-addr`) takes at once.
const OPERATOR_CONNECTIONS: usize = 64;

/// `GET /ws`: upgrade to a signaling socket, within the connection limit. A socket from
/// a page on a site the server does not serve is upgraded only to be told so and closed:
/// a page never sees why an upgrade failed, but it sees a close code.
async fn upgrade(
    ws: WebSocketUpgrade,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    let client = state.addresses.client(remote, &headers);
    let address_slot = state.addresses.take(client);
    let refused = if !state.origins.allow(&headers) {
        let origin = headers
            .get(axum::http::header::ORIGIN)
            .and_then(|origin| origin.to_str().ok())
            .unwrap_or_default();
        Some(Refusal::new(
            ErrorCode::OriginRefused,
            format!("pages on {origin} may not use this server"),
        ))
    } else if address_slot.is_none() {
        Some(Refusal::new(
            ErrorCode::TooManyConnections,
            format!("too many connections from {client}: close some and try again"),
        ))
    } else {
        None
    };
    let slots = match refused {
        Some(_) => &state.refusal_slots,
        None => &state.slots,
    };
    let Ok(slot) = Arc::clone(slots).try_acquire_owned() else {
        tracing::warn!(%remote, refused = refused.is_some(), "refused: connection limit reached");
        state.metrics.refused(match refused {
            Some(_) => "refusals-full",
            None => "server-full",
        });
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    };
    ws.read_buffer_size(connection::READ_BUFFER_BYTES)
        .write_buffer_size(connection::WRITE_BUFFER_BYTES)
        .max_message_size(connection::HARD_FRAME_BYTES)
        .max_frame_size(connection::HARD_FRAME_BYTES)
        // A combinator rather than an `async` block, which would keep the connection's
        // arguments a second time beside its future.
        .on_upgrade(move |socket| {
            let logins = address_slot.as_ref().map(addresses::Slot::logins);
            connection::run(socket, remote, state, refused, logins)
                .map(move |()| drop((slot, address_slot)))
        })
}
