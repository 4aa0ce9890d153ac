//! The client's files go out with the content types browsers and tools expect.

mod common;

use std::path::PathBuf;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A fresh folder of its own under the system's temporary folder.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peercall-static-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// The status line and `content-type` of `GET path`.
async fn content_type(server: &TestServer, path: &str) -> (String, String) {
    let mut socket = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: peercall\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.expect("sends");
    let mut response = String::new();
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).await.expect("reads");
    response.push_str(&String::from_utf8_lossy(&bytes));
    let status = response.lines().next().unwrap_or_default().to_owned();
    let kind = response
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, kind)
}

#[tokio::test]
async fn the_module_its_types_and_pages_have_their_content_types() {
    let (pkg, site) = (folder("pkg"), folder("site"));
    for (file, body) in [
        ("peercall.d.ts", "export class PeerCall {}\n"),
        ("peercall.js", "export default 1;\n"),
        ("peercall_bg.wasm", "\0asm"),
    ] {
        std::fs::write(pkg.join(file), body).expect("writes");
    }
    std::fs::write(site.join("index.html"), "<!doctype html>").expect("writes");
    let server = TestServer::start_with(|config| {
        config.pkg_dir = Some(pkg.clone());
        config.static_dir = site.clone();
    })
    .await;
    for (path, wanted) in [
        (
            "/pkg/peercall.d.ts",
            "application/typescript; charset=utf-8",
        ),
        ("/pkg/peercall.js", "text/javascript"),
        ("/pkg/peercall_bg.wasm", "application/wasm"),
        ("/", "text/html"),
    ] {
        let (status, kind) = content_type(&server, path).await;
        assert!(status.contains(" 200 "), "{path}: {status}");
        assert_eq!(kind, wanted, "{path}");
    }
    // A missing file is still a plain 404, not a TypeScript one.
    let (status, kind) = content_type(&server, "/pkg/missing.d.ts").await;
    assert!(status.contains(" 404 "), "{status}");
    assert_ne!(kind, "application/typescript; charset=utf-8");
    server.stop().await;
    let _ = std::fs::remove_dir_all(pkg);
    let _ = std::fs::remove_dir_all(site);
}

#[tokio::test]
async fn every_response_has_security_headers_and_the_page_may_run_only_its_own_inline_script() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let site = folder("secure");
    let loader = "\nimport init from '/peercall.js';\nawait init();\n";
    let page = format!(
        "<!doctype html><script type=\"module\">{loader}</script><script src=\"/x.js\"></script>"
    );
    std::fs::write(site.join("index.html"), page).expect("writes");
    let server = TestServer::start_with(|config| config.static_dir = site.clone()).await;
    let fetch = |path: &'static str| async move {
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        common::web::get(tcp, path).await
    };
    let page = fetch("/").await;
    assert_eq!(page.status, 200);
    let policy = page
        .header("content-security-policy")
        .expect("a CSP on the page");
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(loader));
    let script_src = policy
        .split(';')
        .map(str::trim)
        .find(|directive| directive.starts_with("script-src"))
        .expect("script-src");
    assert_eq!(
        script_src,
        format!("script-src 'self' 'wasm-unsafe-eval' 'sha256-{hash}'"),
        "only this origin, wasm, and the page's own inline script"
    );
    assert!(policy.contains("object-src 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    for reply in [page, fetch("/missing").await, fetch("/ws").await] {
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        let permissions = reply
            .header("permissions-policy")
            .expect("a permissions policy");
        for feature in [
            "camera=(self)",
            "microphone=(self)",
            "display-capture=(self)",
        ] {
            assert!(permissions.contains(feature), "{permissions}");
        }
        assert_eq!(
            reply.header("strict-transport-security"),
            None,
            "not over plain HTTP"
        );
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(site);
}

#[tokio::test]
async fn pages_and_the_module_are_asked_after_and_files_named_by_their_hash_are_kept() {
    let (pkg, site) = (folder("cache-pkg"), folder("cache-site"));
    std::fs::write(pkg.join("peercall.js"), "export default 1;\n").expect("writes");
    std::fs::write(site.join("index.html"), "<!doctype html>").expect("writes");
    std::fs::write(site.join("peercall-0123456789abcdef_bg.wasm"), "\0asm").expect("writes");
    let server = TestServer::start_with(|config| {
        config.pkg_dir = Some(pkg.clone());
        config.static_dir = site.clone();
    })
    .await;
    for (path, wanted) in [
        // After an update, the page must not point at files that are gone, nor the glue
        // meet another module: both are asked after each time.
        ("/", "no-cache"),
        ("/pkg/peercall.js", "no-cache"),
        // A room's link is the page, even when its name looks like a hashed file's.
        ("/r/standup-0123456789abcdef_x", "no-cache"),
        (
            "/peercall-0123456789abcdef_bg.wasm",
            "public, max-age=31536000, immutable",
        ),
    ] {
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let reply = common::web::get(tcp, path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("cache-control"), Some(wanted), "{path}");
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(pkg);
    let _ = std::fs::remove_dir_all(site);
}

/// A connection to `server` from `ip`.
async fn connect_from(server: &TestServer, ip: [u8; 4]) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(std::net::SocketAddr::from((ip, 0)))
        .expect("binds");
    socket.connect(server.addr).await.expect("connects")
}

/// What `GET path` on `stream` brings before the connection ends.
async fn fetch_bytes(mut stream: tokio::net::TcpStream, path: &str) -> Vec<u8> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: peercall\r\nConnection: close\r\n\r\n");
    let mut bytes = Vec::new();
    if stream.write_all(request.as_bytes()).await.is_ok() {
        let _ = stream.read_to_end(&mut bytes).await;
    }
    bytes
}

#[tokio::test]
async fn a_client_that_stops_reading_a_file_gives_its_place_back_and_others_are_not_kept_out() {
    let site = folder("stalled");
    let big = vec![b'x'; 16 * 1024 * 1024];
    std::fs::write(site.join("big.bin"), &big).expect("writes");
    std::fs::write(site.join("index.html"), "<!doctype html>").expect("writes");
    let server = TestServer::start_with(|config| {
        config.static_dir = site.clone();
        // Four connections in HTTP at once for each socket an address may have.
        config.max_connections_per_address = 1;
        config.write_timeout_ms = 500;
    })
    .await;
    // Four connections ask for a large file and read none of it.
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut connection = connect_from(&server, [127, 0, 0, 1]).await;
        let request = "GET /big.bin HTTP/1.1\r\nHost: peercall\r\n\r\n";
        connection
            .write_all(request.as_bytes())
            .await
            .expect("sends");
        stalled.push(connection);
    }
    // Their address has no place for another meanwhile: closed at once, unanswered...
    let refused = fetch_bytes(connect_from(&server, [127, 0, 0, 1]).await, "/").await;
    assert!(refused.is_empty(), "{}", String::from_utf8_lossy(&refused));
    // ... while someone else is served.
    let other = fetch_bytes(connect_from(&server, [127, 0, 0, 2]).await, "/").await;
    assert!(other.starts_with(b"HTTP/1.1 200"));
    // Once their writes have waited long enough, the stalled connections end and their
    // address is served again.
    let served = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let reply = fetch_bytes(connect_from(&server, [127, 0, 0, 1]).await, "/").await;
            if reply.starts_with(b"HTTP/1.1 200") {
                break;
            }
            assert!(reply.is_empty(), "{}", String::from_utf8_lossy(&reply));
        }
    });
    served.await.expect("the address is served again");
    drop(stalled);
    server.stop().await;
    let _ = std::fs::remove_dir_all(site);
}

#[tokio::test]
async fn a_download_taken_a_byte_at_a_time_ends_after_its_time_in_http() {
    let site = folder("trickle");
    std::fs::write(site.join("big.bin"), vec![b'x'; 16 * 1024 * 1024]).expect("writes");
    // A second in HTTP here (two minutes by default); the write deadline stays 10 s.
    let server = TestServer::start_with(|config| {
        config.static_dir = site.clone();
        config.http_lifetime_ms = 1_000;
    })
    .await;
    let mut trickle = connect_from(&server, [127, 0, 0, 1]).await;
    let request = "GET /big.bin HTTP/1.1\r\nHost: peercall\r\n\r\n";
    trickle.write_all(request.as_bytes()).await.expect("sends");
    // A little every 100 ms for two seconds: no write waits long enough for its deadline,
    // yet the connection's time in HTTP ends meanwhile.
    let (mut chunk, mut taken) = ([0; 512], 0);
    for _ in 0..20 {
        match trickle.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => taken += n,
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Read at full speed now: what was on its way arrives, and no more.
    let mut rest = Vec::new();
    let _ = trickle.read_to_end(&mut rest).await;
    let taken = taken + rest.len();
    assert!(taken < 16 * 1024 * 1024, "{taken} bytes taken");
    server.stop().await;
    let _ = std::fs::remove_dir_all(site);
}
