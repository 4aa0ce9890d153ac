//! A certificate from an ACME server: Debian's pebble, the ACME test server, issues it
//! after really validating the TLS-ALPN-01 challenge the server answers on its HTTPS port;
//! the server then serves it, and serves it again from its cache after a restart.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use common::{
    PATIENCE, TestServer,
    process::{Running, free_tcp_port, free_udp_port},
    web::{connect_trusting, get},
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, pem::PemObject};

const DOMAIN: &str = "peercall.test";

fn spawn(program: &str, args: &[&str], log: &Path) -> Running {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(program)
        .args(args)
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|error| panic!("{program} runs (apt-get install pebble): {error}"));
    Running(child)
}

/// A CA, and a certificate it signed for pebble's own HTTPS (the Debian package ships
/// none): the CA's PEM, the certificate's PEM and its key's PEM.
fn pebble_certificates() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "peercall test ACME CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

/// Waits until `addr` takes TCP connections.
async fn until_listening(addr: SocketAddr) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{addr} never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `server` completes a handshake for the domain trusting only `root`, and
/// answers over it; `patience` bounds the wait.
async fn until_certified(server: &TestServer, root: &CertificateDer<'static>, patience: Duration) {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if let Ok(stream) = connect_trusting(server.addr, DOMAIN, std::slice::from_ref(root)).await
        {
            let reply = get(stream, "/healthz").await;
            assert_eq!(reply.status, 200);
            assert!(reply.header("strict-transport-security").is_some(), "HSTS");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no certificate from the ACME server in {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn acme_server(
    listener: tokio::net::TcpListener,
    directory: &str,
    ca: &Path,
    cache: &Path,
) -> TestServer {
    let (directory, ca, cache) = (directory.to_owned(), ca.to_owned(), cache.to_owned());
    TestServer::start_on(listener, move |config| {
        config.acme_domains = vec![DOMAIN.into()];
        config.acme_email = Some("ops@peercall.test".into());
        config.acme_directory = directory;
        config.acme_ca = Some(ca);
        config.acme_cache = cache;
    })
}

#[tokio::test]
async fn pebble_issues_a_certificate_that_is_served_and_cached() {
    let dir: PathBuf = std::env::temp_dir().join(format!("peercall-acme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = pebble_certificates();
    for (name, text) in [("ca.pem", &ca), ("cert.pem", &cert), ("key.pem", &key)] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let ca_der = CertificateDer::from_pem_slice(ca.as_bytes()).unwrap();

    // The server's port is the one pebble validates the challenge on.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_port = listener.local_addr().unwrap().port();
    let (acme_port, management_port, http_port) =
        (free_tcp_port(), free_tcp_port(), free_tcp_port());
    let (dns_port, dns_management) = (free_udp_port(), free_tcp_port());
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{acme_port}"),
        "managementListenAddress": format!("127.0.0.1:{management_port}"),
        "certificate": dir.join("cert.pem"),
        "privateKey": dir.join("key.pem"),
        "httpPort": http_port,
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
    }});
    std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();

    // Every name resolves to loopback, IPv4 only (the server listens on 127.0.0.1).
    let dns = format!("127.0.0.1:{dns_port}");
    let _names = spawn(
        "pebble-challtestsrv",
        &[
            "-dns01",
            &dns,
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            &format!("127.0.0.1:{dns_management}"),
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ],
        &dir.join("challtestsrv.log"),
    );
    let pebble = spawn(
        "pebble",
        &[
            "-config",
            &dir.join("pebble.json").display().to_string(),
            "-dnsserver",
            &dns,
            "-strict=false",
        ],
        &dir.join("pebble.log"),
    );
    until_listening(([127, 0, 0, 1], dns_management).into()).await;
    until_listening(([127, 0, 0, 1], acme_port).into()).await;
    until_listening(([127, 0, 0, 1], management_port).into()).await;

    // The root pebble signs with, fetched over pebble's own HTTPS.
    let management: SocketAddr = ([127, 0, 0, 1], management_port).into();
    let stream = connect_trusting(management, "localhost", std::slice::from_ref(&ca_der))
        .await
        .expect("pebble's management HTTPS");
    let root_pem = get(stream, "/roots/0").await.body;
    let root = CertificateDer::from_pem_slice(root_pem.as_bytes()).expect("pebble's root");

    let cache = dir.join("cache");
    let directory = format!("https://127.0.0.1:{acme_port}/dir");
    let server = acme_server(listener, &directory, &dir.join("ca.pem"), &cache);
    until_certified(&server, &root, Duration::from_secs(60)).await;
    server.stop().await;
    assert!(
        std::fs::read_dir(&cache).unwrap().count() >= 2,
        "the account and the certificate are cached"
    );
    // The keys in it are the server's user's alone.
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache), 0o700);

    // Restarted with pebble gone: the cached certificate is served. A cache folder others
    // could enter is made private again.
    drop(pebble);
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = acme_server(listener, &directory, &dir.join("ca.pem"), &cache);
    until_certified(&server, &root, PATIENCE).await;
    server.stop().await;
    assert_eq!(mode(&cache), 0o700);
    let _ = std::fs::remove_dir_all(dir);
}
