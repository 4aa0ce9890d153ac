//! The servers a test starts for itself: peercall-server with the flags it needs, and
//! coturn with a configuration of its own. Both are killed when dropped.

use std::{path::PathBuf, process::Stdio};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::PATIENCE;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built client (`PEERCALL_STATIC_DIR`, else `dist/`).
pub fn static_dir() -> PathBuf {
    std::env::var_os("PEERCALL_STATIC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("dist"))
}

/// The embeddable module, served at `/pkg` (`PEERCALL_PKG_DIR`, else `target/pkg/`).
pub fn pkg_dir() -> PathBuf {
    std::env::var_os("PEERCALL_PKG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/pkg"))
}

/// The server binary (`PEERCALL_SERVER_BIN`, else the debug build).
pub fn server_binary() -> PathBuf {
    std::env::var_os("PEERCALL_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/debug/peercall-server"))
}

/// The README's coturn configuration, `deploy/turnserver.conf`.
pub fn readme_turnserver_conf() -> String {
    std::fs::read_to_string(workspace().join("deploy/turnserver.conf"))
        .expect("deploy/turnserver.conf")
}

/// A running peercall-server.
pub struct PeerCallServer {
    child: Child,
    /// Where it listens.
    pub addr: String,
    /// Chromium's pin for its self-signed certificate, if it made one.
    pub spki: Option<String>,
}

impl PeerCallServer {
    /// Runs `command` (the server binary, perhaps behind `ip netns exec`, with its flags)
    /// and waits until it says where it listens.
    pub async fn start(mut command: Command) -> Self {
        let mut child = command
            .arg("--static-dir")
            .arg(static_dir())
            .arg("--pkg-dir")
            .arg(pkg_dir())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("peercall-server runs");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut spki = None;
        let listening = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some((_, pin)) = line.split_once("--ignore-certificate-errors-spki-list=") {
                    spki = pin.split_whitespace().next().map(str::to_owned);
                }
                if let Some(addr) = line.strip_prefix("peercall-server listening on ") {
                    return Some(addr.to_owned());
                }
            }
            None
        };
        let addr = tokio::time::timeout(PATIENCE, listening)
            .await
            .ok()
            .flatten()
            .expect("the server says where it listens");
        // Its log is read to the end, so that it never waits on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, addr, spki }
    }

    /// The body of `GET path` from the server.
    pub async fn get(&self, path: &str) -> String {
        get(&self.addr, path).await
    }

    /// How many requests the server refused with `code`, from its `/metrics`.
    pub async fn refusals(&self, code: &str) -> u64 {
        let text = self.get("/metrics").await;
        let sample = format!("peercall_refusals_total{{code=\"{code}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&sample))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Kills the server and waits until it is gone, its port free.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The response (head and body) to `GET path` from `addr`, over plain HTTP/1.1.
pub async fn get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.expect("asks");
    let mut text = String::new();
    socket.read_to_string(&mut text).await.expect("reads");
    text
}

/// A running coturn, killed when dropped.
pub struct Coturn {
    _child: Child,
}

impl Coturn {
    /// Runs `command` (`turnserver`, perhaps behind `ip netns exec`) with the
    /// configuration `conf`, written to `dir`, and waits until it listens.
    pub async fn start(mut command: Command, dir: &std::path::Path, conf: &str) -> Self {
        let path = dir.join("turnserver.conf");
        // Verbose: only then does coturn say when it listens.
        let conf = format!(
            "{conf}\nverbose\nlog-file=stdout\npidfile={dir}/turnserver.pid\nuserdb={dir}/turndb\n",
            dir = dir.display()
        );
        std::fs::write(&path, conf).expect("the coturn configuration");
        let child = command
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("coturn's turnserver runs");
        let child = until_said(child, "UDP listener opened", "coturn listens").await;
        Self { _child: child }
    }

    /// `turnserver` with its log line-buffered (held back in a pipe otherwise).
    pub fn command(prefix: Option<Command>) -> Command {
        let mut command = prefix.unwrap_or_else(|| Command::new("stdbuf"));
        command.args(["-oL", "-eL", "turnserver"]);
        command
    }
}

/// Reads `child`'s output until a line contains `ready` (panics with `what` if it never
/// does), then reads the rest in the background, so that it never waits on a full pipe.
pub async fn until_said(mut child: Child, ready: &str, what: &str) -> Child {
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let said = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains(ready) {
                return true;
            }
        }
        false
    };
    assert!(
        tokio::time::timeout(PATIENCE, said).await.unwrap_or(false),
        "{what}"
    );
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// 122 random bits from the kernel, as 32 hex digits.
pub fn random_hex() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .expect("the kernel's random UUIDs")
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect()
}

/// A fresh folder of the test's own.
pub fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peercall-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// A second web site on loopback: a folder served over plain HTTP on a port of its own, so
/// that its pages have an origin other than the peercall server's. No CORS headers, no
/// security headers: a site that knows nothing about peercall.
pub struct StaticSite {
    task: tokio::task::JoinHandle<()>,
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
}

impl StaticSite {
    /// Serves the files of `root`.
    pub async fn serve(root: PathBuf) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the site");
        let origin = format!("http://{}", listener.local_addr().expect("an address"));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, root.clone()));
            }
        });
        Self { task, origin }
    }
}

impl Drop for StaticSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers one `GET` with a file of `root` (or 404), then closes.
async fn answer(stream: tokio::net::TcpStream, root: PathBuf) {
    use tokio::io::AsyncWriteExt;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await.is_err() {
        return;
    }
    // The rest of the head says nothing this site needs.
    let mut line = String::new();
    while reader.read_line(&mut line).await.is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split(['?', '#'])
        .next()
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    let file = (!path.split('/').any(|part| part == ".." || part.is_empty()))
        .then(|| root.join(&path))
        .and_then(|file| std::fs::read(file).ok());
    let kind = match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    let (status, kind, body) = match file {
        Some(body) => ("200 OK", kind, body),
        None => ("404 Not Found", "text/plain", b"not found".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = reader.into_inner();
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}
