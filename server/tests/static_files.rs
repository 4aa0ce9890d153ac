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
