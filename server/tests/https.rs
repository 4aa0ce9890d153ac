//! HTTPS: the certificate from files, replaced while the server runs; one made at start;
//! deadlines for slow handshakes and request heads; headers on every response.

mod common;

use std::{path::PathBuf, time::Duration};

use common::{
    PATIENCE, TestServer,
    web::{connect_recording, connect_trusting, get},
};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::CertificateDer;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::{client_async, tungstenite::Message};

/// A fresh folder of its own under the system's temporary folder.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peercall-https-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// A certificate for localhost: its DER, and its chain and key as PEM.
fn certificate() -> (CertificateDer<'static>, String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (
        made.cert.der().clone(),
        made.cert.pem(),
        made.signing_key.serialize_pem(),
    )
}

/// Writes a certificate and key into `dir`; returns the certificate.
fn install(dir: &std::path::Path) -> CertificateDer<'static> {
    let (der, cert, key) = certificate();
    // The key first: a watcher that sees the new key with the old certificate keeps the
    // old pair, and takes the new one when the certificate follows.
    std::fs::write(dir.join("key.pem"), key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    der
}

async fn https_server(dir: &std::path::Path) -> TestServer {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    TestServer::start_with(move |config| {
        config.tls_cert = Some(cert);
        config.tls_key = Some(key);
    })
    .await
}

/// Waits until new connections are shown `expected`.
async fn until_served(server: &TestServer, expected: &CertificateDer<'static>) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (_, shown) = connect_recording(server.addr).await;
        if &shown == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was not taken up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn pages_and_signaling_go_over_https_and_a_replaced_certificate_serves_new_connections() {
    let dir = folder("reload");
    let first = install(&dir);
    let server = https_server(&dir).await;

    let (stream, shown) = connect_recording(server.addr).await;
    assert_eq!(shown, first);
    let page = get(stream, "/healthz").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("strict-transport-security").is_some(),
        "HSTS with a certificate from files"
    );

    // A signaling socket over the same TLS.
    let (stream, _) = connect_recording(server.addr).await;
    let url = format!("wss://localhost:{}/ws", server.addr.port());
    let (mut socket, _) = client_async(url, stream).await.expect("wss upgrade");
    let login = json!({"type": "login", "name": "alice"}).to_string();
    socket.send(Message::text(login)).await.unwrap();
    let welcome = next_frame(&mut socket).await;
    assert_eq!(welcome["type"], "welcome");
    next_frame(&mut socket).await; // peers

    let second = install(&dir);
    assert_ne!(first, second);
    until_served(&server, &second).await;

    // The socket opened before keeps working on its old certificate.
    let ping = json!({"type": "ping"}).to_string();
    socket.send(Message::text(ping)).await.unwrap();
    assert_eq!(next_frame(&mut socket).await["type"], "pong");
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reads_the_certificate_again() {
    let dir = folder("sighup");
    let first = install(&dir);
    let server = https_server(&dir).await;
    let times = |name: &str| {
        std::fs::metadata(dir.join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    let (cert_time, key_time) = (times("cert.pem"), times("key.pem"));

    // New files that look unchanged to the watcher (moved in with the old times): only
    // SIGHUP makes them read.
    let staging = folder("sighup-next");
    let second = install(&staging);
    for (name, time) in [("cert.pem", cert_time), ("key.pem", key_time)] {
        let file = std::fs::File::options()
            .write(true)
            .open(staging.join(name))
            .unwrap();
        file.set_modified(time).unwrap();
        std::fs::rename(staging.join(name), dir.join(name)).unwrap();
    }
    let (_, shown) = connect_recording(server.addr).await;
    assert_eq!(shown, first);
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    until_served(&server, &second).await;
    server.stop().await;
}

#[tokio::test]
async fn a_self_signed_certificate_covers_localhost_and_the_names_given() {
    let server = TestServer::start_with(|config| {
        config.tls_self_signed = true;
        config.tls_names = vec!["peercall.test".into(), "192.0.2.7".into()];
    })
    .await;
    let (stream, cert) = connect_recording(server.addr).await;
    let page = get(stream, "/healthz").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("strict-transport-security"),
        None,
        "no HSTS for a self-signed certificate"
    );
    let roots = [cert];
    for name in ["localhost", "peercall.test", "192.0.2.7", "127.0.0.1"] {
        let trusted = connect_trusting(server.addr, name, &roots).await;
        assert!(
            trusted.is_ok(),
            "{name}: {trusted:?}",
            trusted = trusted.err()
        );
    }
    assert!(
        connect_trusting(server.addr, "other.test", &roots)
            .await
            .is_err(),
        "a name the certificate is not for is refused"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_deadline_over_http_and_https() {
    for tls in [false, true] {
        let server = TestServer::start_with(|config| {
            config.handshake_timeout_ms = 300;
            config.tls_self_signed = tls;
        })
        .await;
        let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let mut buffer = [0u8; 512];
        // Nothing sent: no handshake, no request head. The server closes (perhaps after a
        // `408` over plain HTTP); reads then end.
        let closed = async {
            loop {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        };
        tokio::time::timeout(PATIENCE, closed)
            .await
            .unwrap_or_else(|_| panic!("a silent connection stays open (tls: {tls})"));
        // And the server still serves others.
        let (socket, _) = if tls {
            let (stream, _) = connect_recording(server.addr).await;
            (get(stream, "/healthz").await, ())
        } else {
            let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
            (get(tcp, "/healthz").await, ())
        };
        assert_eq!(socket.status, 200);
        server.stop().await;
    }
}

async fn next_frame<S>(socket: &mut tokio_tungstenite::WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("the socket reads");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}
