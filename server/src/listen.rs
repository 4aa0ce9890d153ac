//! Taking connections: TCP, the PROXY header of a trusted balancer, the TLS handshake when
//! serving HTTPS, then HTTP/1.1 (with WebSocket upgrades) into the router. A connection
//! that does not send its header, finish its handshake or send a request head within the
//! deadline is closed, so that idle sockets cannot pile up. On shutdown no new connection
//! is taken and open ones finish their request. Connections still speaking HTTP are
//! bounded per address and in all ([`Admission`]), and a write that makes no progress
//! for `--write-timeout-ms` ends its connection.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, extract::ConnectInfo, http::Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
};
use tokio_rustls::TlsAcceptor;
use tower_service::Service as _;

use crate::{
    addresses::Admission,
    connection::stopping,
    intake::Intake,
    proxy_protocol::{Balancers, Refused},
};

/// Idle time before TCP keepalive probes start, and the time between probes.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// How connections are taken on one listener.
#[derive(Clone)]
pub struct Listening {
    /// The routes.
    pub app: Router,
    /// The handshake, when serving HTTPS.
    pub tls: Option<TlsAcceptor>,
    /// The balancers whose connections begin with a PROXY header.
    pub balancers: Balancers,
    /// For the PROXY header, the TLS handshake, and each request head.
    pub deadline: Duration,
    /// Turns `true` when the server stops.
    pub stop: watch::Receiver<bool>,
    /// Held by every connection; the server waits for all to be dropped.
    pub alive: mpsc::Sender<()>,
    /// How long a write may make no progress before its connection ends.
    pub write_patience: Duration,
    /// Who may open one more connection.
    pub admission: Admission,
    /// How long a connection may speak HTTP (see `Config::http_lifetime_ms`).
    pub http_lifetime: Duration,
}

/// Takes connections on `listener` until `stop` turns true.
pub async fn accept(listener: TcpListener, listening: Listening) {
    let mut stop = listening.stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, remote)) => {
                    tokio::spawn(connection(socket, remote, listening.clone()));
                }
                Err(error) => {
                    // Out of file descriptors, most likely: give closing sockets a moment.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = stopping(&mut stop) => return,
        }
    }
}

async fn connection(mut socket: TcpStream, mut remote: SocketAddr, listening: Listening) {
    // Signaling frames are small and each is worth sending at once: without
    // TCP_NODELAY, Nagle's algorithm held a frame written right after another (an `accept`
    // after an `answer`, candidates after both) until the peer's delayed ACK, 40 ms later.
    if let Err(error) = socket.set_nodelay(true) {
        tracing::warn!("cannot set TCP_NODELAY: {error}");
    }
    // A client whose machine vanished is noticed by the kernel too, not only by pings.
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    if let Err(error) = socket2::SockRef::from(&socket).set_tcp_keepalive(&keepalive) {
        tracing::warn!("cannot turn TCP keepalive on: {error}");
    }
    if listening.balancers.sends(remote) {
        let balancer = remote;
        match tokio::time::timeout(listening.deadline, crate::proxy_protocol::read(&mut socket))
            .await
        {
            Ok(Ok(client)) => remote = client.unwrap_or(balancer),
            Ok(Err(Refused::Closed)) => {
                tracing::debug!(%balancer, "closed before its PROXY header");
                return;
            }
            Ok(Err(Refused::Bad(error))) => {
                tracing::info!(%balancer, %error, "PROXY header refused: closed");
                return;
            }
            Err(_) => {
                tracing::info!(%balancer, "no PROXY header in time: closed");
                return;
            }
        }
    }
    // Held until the connection is upgraded to a WebSocket (counted apart) or ends.
    let Some(_admitted) = listening.admission.admit(remote.ip()) else {
        tracing::debug!(%remote, "too many connections at once: closed");
        return;
    };
    let socket = Intake::new(socket, listening.write_patience);
    let Some(acceptor) = listening.tls.clone() else {
        return http(socket, remote, listening).await;
    };
    match tokio::time::timeout(listening.deadline, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => {
            if stream.get_ref().1.alpn_protocol() == Some(crate::tls::ACME_TLS_ALPN) {
                // An ACME server checking the TLS-ALPN-01 challenge: the handshake,
                // which showed it the challenge certificate, was all it came for.
                tracing::info!(%remote, "ACME challenge answered");
                return;
            }
            http(stream, remote, listening).await;
        }
        Ok(Err(error)) => tracing::debug!(%remote, %error, "TLS handshake failed"),
        Err(_) => tracing::debug!(%remote, "TLS handshake too slow: closed"),
    }
}

/// Serves HTTP/1.1 on `io` until the client or the server ends it.
async fn http<I>(io: I, remote: SocketAddr, listening: Listening)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Listening {
        app,
        deadline,
        mut stop,
        alive,
        http_lifetime,
        ..
    } = listening;
    let _alive = alive;
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        app.clone().call(request)
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(deadline)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%remote, %error, "HTTP connection ended");
            }
        }
        () = stopping(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
        () = tokio::time::sleep(http_lifetime) => {
            tracing::debug!(%remote, "HTTP for too long: closed");
        }
    }
}
