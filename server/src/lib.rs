//! The peercall signaling server.
//!
//! Browsers log in over `/ws`, see who else is online and relay call signals to one
//! another by id; the server stamps every relayed message with its sender and never looks
//! inside SDP. Everything else on the HTTP side is the built client, served as files.

#![forbid(unsafe_code)]

mod config;
mod connection;
mod refusal;
mod registry;
mod tokens;

pub use config::Config;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{ConnectInfo, State, WebSocketUpgrade},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::any,
    serve::ListenerExt,
};
use registry::Registry;
use tokio::{
    net::TcpListener,
    sync::{Semaphore, mpsc, watch},
};
use tower_http::services::ServeDir;

/// How long shutdown waits for sockets to say goodbye before it gives up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every connection shares.
#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    /// How often each socket is pinged.
    ping_interval: Duration,
    /// One permit per open socket: the connection limit.
    slots: Arc<Semaphore>,
    /// Turns `true` once the server is shutting down.
    shutdown: watch::Receiver<bool>,
    /// Held by every connection task; shutdown waits until all are dropped.
    alive: mpsc::Sender<()>,
}

/// TypeScript declarations (`/pkg/peercall.d.ts`) as TypeScript: the file-extension table
/// of the static file service takes `.ts` for an MPEG transport stream.
async fn typescript_content_type(uri: axum::http::Uri, mut response: Response) -> Response {
    if uri.path().ends_with(".ts") && response.status().is_success() {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/typescript; charset=utf-8"),
        );
    }
    response
}

/// Serves signaling on `/ws` and the static files of `config.static_dir` on `listener`
/// until `shutdown` completes; then closes every socket with code 1001 (going away).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (alive_tx, mut alive_rx) = mpsc::channel(1);
    let state = AppState {
        registry: Arc::new(Registry::new(
            config.outbox,
            tokens::Tokens::new(config.resume_secret.as_deref()),
            Duration::from_millis(config.resume_grace_ms),
        )),
        ping_interval: Duration::from_millis(config.ping_interval_ms.max(1)),
        slots: Arc::new(Semaphore::new(config.max_connections)),
        shutdown: stop_rx,
        alive: alive_tx,
    };
    let mut app = Router::new().route("/ws", any(upgrade));
    if let Some(pkg_dir) = &config.pkg_dir {
        app = app.nest_service("/pkg", ServeDir::new(pkg_dir));
    }
    let app = app
        .fallback_service(ServeDir::new(&config.static_dir).append_index_html_on_directories(true))
        .layer(axum::middleware::map_response(typescript_content_type))
        .with_state(state);

    // Signaling frames are small and each is worth sending at once: without
    // TCP_NODELAY, Nagle's algorithm held a frame written right after another (an `accept`
    // after an `answer`, candidates after both) until the peer's delayed ACK, 40 ms later.
    let listener = listener.tap_io(|socket| {
        if let Err(error) = socket.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY: {error}");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: closing every socket");
        // Upgraded sockets are not tracked by the HTTP server: tell them ourselves.
        let _ = stop_tx.send(true);
    })
    .await?;
    // Every connection task holds a clone of `alive`; the router's clone went with it.
    if tokio::time::timeout(SHUTDOWN_GRACE, alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("some sockets did not close within {SHUTDOWN_GRACE:?}");
    }
    Ok(())
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

/// `GET /ws`: upgrade to a signaling socket, within the connection limit.
async fn upgrade(
    ws: WebSocketUpgrade,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
) -> Response {
    let Ok(slot) = state.slots.clone().try_acquire_owned() else {
        tracing::warn!(%remote, "refused: connection limit reached");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    };
    ws.read_buffer_size(connection::READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(connection::HARD_FRAME_BYTES)
        .max_frame_size(connection::HARD_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            connection::run(socket, remote, state).await;
            drop(slot);
        })
}
