//! `fault-proxy SERVER_BINARY STATIC_DIR`: runs a real peercall-server and a TCP proxy in
//! front of it, and takes orders over HTTP to break things the way networks and servers
//! break. Prints `ready <proxy ws url> <control url>` once both listen.
//!
//! Control (GET, answered once done, with CORS so a test page can wait for it):
//! - `/drop?tag=T`: cut the proxied connections opened with `?tag=T` (all without a tag
//!   given), with no close frame, as a network drop does;
//! - `/freeze?tag=T`: stop passing bytes on the open connections opened with `?tag=T`
//!   (every open one without a tag given; new ones flow): a connection or a server gone
//!   silent;
//! - `/kill`: kill the server process (SIGKILL) and cut every connection;
//! - `/start`: start it again with the same arguments and wait until it listens;
//! - `/turn-kill`, `/turn-start`: the same for a TURN relay (coturn) that calls can be
//!   told to send all their media through, so that their network path can be broken.
//!
//! The ready line ends with that relay's URL: `turn:127.0.0.1:PORT` (user `peer`,
//! password `call`).
//!
//! It stops the server and the relay and exits when its standard input closes, so
//! whoever started it cannot leave them behind, even by being killed.

#![forbid(unsafe_code)]

use std::{
    net::SocketAddr,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    process::{Child, Command},
    sync::watch,
};

/// What a proxied connection is told to do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Pass,
    Freeze,
    Cut,
}

struct Connection {
    tag: String,
    flow: watch::Sender<Flow>,
}

struct Lab {
    connections: Mutex<Vec<Connection>>,
    server: tokio::sync::Mutex<Option<Child>>,
    turn: tokio::sync::Mutex<Option<Child>>,
    turn_port: u16,
    binary: String,
    static_dir: String,
    /// Where the server listens: a port the system picks at each start, read from the line
    /// the server prints; none while it is down.
    server_addr: Mutex<Option<SocketAddr>>,
    /// The same resume key for every start, as a restarted production server would have.
    secret: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(binary), Some(static_dir)) = (args.next(), args.next()) else {
        return Err("usage: fault-proxy SERVER_BINARY STATIC_DIR".into());
    };
    let turn_port = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await?
        .local_addr()?
        .port();
    let lab = Arc::new(Lab {
        connections: Mutex::new(Vec::new()),
        server: tokio::sync::Mutex::new(None),
        turn: tokio::sync::Mutex::new(None),
        turn_port,
        binary,
        static_dir,
        server_addr: Mutex::new(None),
        secret: format!(
            "peercall-fault-proxy-resume-key-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ),
    });
    lab.start().await?;
    lab.start_turn().await?;

    let proxy = TcpListener::bind("127.0.0.1:0").await?;
    let control = TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "ready ws://{}/ws http://{} turn:127.0.0.1:{}",
        proxy.local_addr()?,
        control.local_addr()?,
        lab.turn_port
    );

    let app = Router::new()
        .route("/drop", get(drop_connections))
        .route("/freeze", get(freeze))
        .route("/kill", get(kill))
        .route("/start", get(start))
        .route("/turn-kill", get(turn_kill))
        .route("/turn-start", get(turn_start))
        .with_state(lab.clone());
    tokio::spawn(async move { axum::serve(control, app).await });

    let serve = async {
        loop {
            let (client, _) = proxy.accept().await?;
            tokio::spawn(proxy_one(lab.clone(), client));
        }
    };
    tokio::select! {
        failed = serve => failed,
        () = input_closed() => {
            lab.stop().await;
            Ok(())
        }
    }
}

/// Returns once standard input is closed (or unreadable).
async fn input_closed() {
    let mut input = tokio::io::stdin();
    let mut buffer = [0; 64];
    while matches!(input.read(&mut buffer).await, Ok(read) if read > 0) {}
}

/// Where the server's lines go: our standard error.
fn server_log() -> Result<Stdio, String> {
    use std::os::fd::AsFd;
    let stderr = std::io::stderr().as_fd().try_clone_to_owned();
    stderr
        .map(Stdio::from)
        .map_err(|error| format!("cannot share standard error: {error}"))
}

impl Lab {
    /// Kills the server and the relay, and waits until they are gone.
    async fn stop(&self) {
        kill_child(&self.server).await;
        kill_child(&self.turn).await;
    }

    async fn start(&self) -> Result<(), String> {
        let mut server = self.server.lock().await;
        if server.is_some() {
            return Ok(());
        }
        let mut child = Command::new(&self.binary)
            .args(["--addr", "127.0.0.1:0"])
            .arg("--static-dir")
            .arg(&self.static_dir)
            .env("RUST_LOG", "warn")
            .env("PEERCALL_RESUME_SECRET", &self.secret)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Our standard output carries the one `ready` line for whoever started us.
            .stderr(server_log()?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", self.binary))?;
        let out = child.stdout.take().ok_or("the server has no output")?;
        let mut lines = BufReader::new(out).lines();
        let said = tokio::time::timeout(Duration::from_secs(5), lines.next_line()).await;
        let line = said.ok().and_then(Result::ok).flatten().unwrap_or_default();
        let addr = line
            .strip_prefix("peercall-server listening on ")
            .and_then(|addr| addr.trim().parse().ok())
            .ok_or_else(|| format!("the server did not say where it listens: {line:?}"))?;
        // Whatever else it prints goes to our standard error.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("{line}");
            }
        });
        *self.server_addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(addr);
        *server = Some(child);
        Ok(())
    }

    async fn start_turn(&self) -> Result<(), String> {
        let mut turn = self.turn.lock().await;
        if turn.is_some() {
            return Ok(());
        }
        // Relay ports near the listening port, so that parallel runs keep apart.
        let low = self.turn_port.saturating_add(1);
        let child = Command::new("turnserver")
            .args(["-n", "--no-cli", "--no-tls", "--no-dtls", "--fingerprint"])
            .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
            .arg(format!("--listening-port={}", self.turn_port))
            .arg(format!("--min-port={low}"))
            .arg(format!("--max-port={}", low.saturating_add(40)))
            .args(["--lt-cred-mech", "--user=peer:call", "--realm=peercall"])
            .args([
                "--allow-loopback-peers",
                "--log-file=stdout",
                "--no-stdout-log",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("cannot start turnserver (Debian package coturn): {error}"))?;
        // It answers on UDP only: give it a moment to bind, checked by binding ourselves.
        for _ in 0..200 {
            if tokio::net::UdpSocket::bind(("127.0.0.1", self.turn_port))
                .await
                .is_err()
            {
                *turn = Some(child);
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err("turnserver did not start listening".to_owned())
    }

    fn set(&self, tag: Option<&str>, flow: Flow) {
        let connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        for connection in connections.iter() {
            if tag.is_none_or(|tag| tag == connection.tag) {
                let _ = connection.flow.send(flow);
            }
        }
    }
}

fn done() -> Response {
    let mut response = "done".into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

#[derive(serde::Deserialize)]
struct Tag {
    tag: Option<String>,
}

async fn drop_connections(State(lab): State<Arc<Lab>>, Query(query): Query<Tag>) -> Response {
    lab.set(query.tag.as_deref(), Flow::Cut);
    done()
}

async fn freeze(State(lab): State<Arc<Lab>>, Query(query): Query<Tag>) -> Response {
    lab.set(query.tag.as_deref(), Flow::Freeze);
    done()
}

/// Kills the process in `slot`, if any, and waits until it is gone.
async fn kill_child(slot: &tokio::sync::Mutex<Option<Child>>) {
    if let Some(mut child) = slot.lock().await.take() {
        let _ = child.kill().await;
    }
}

async fn kill(State(lab): State<Arc<Lab>>) -> Response {
    kill_child(&lab.server).await;
    *lab.server_addr.lock().unwrap_or_else(|e| e.into_inner()) = None;
    lab.set(None, Flow::Cut);
    done()
}

async fn start(State(lab): State<Arc<Lab>>) -> Response {
    match lab.start().await {
        Ok(()) => done(),
        Err(error) => error.into_response(),
    }
}

async fn turn_kill(State(lab): State<Arc<Lab>>) -> Response {
    kill_child(&lab.turn).await;
    done()
}

async fn turn_start(State(lab): State<Arc<Lab>>) -> Response {
    match lab.start_turn().await {
        Ok(()) => done(),
        Err(error) => error.into_response(),
    }
}

/// Passes bytes between `client` and the server until told otherwise.
async fn proxy_one(lab: Arc<Lab>, mut client: TcpStream) {
    let addr = *lab.server_addr.lock().unwrap_or_else(|e| e.into_inner());
    // The server is down: the client sees the connection close.
    let Some(addr) = addr else {
        return;
    };
    let Ok(mut server) = TcpStream::connect(addr).await else {
        return;
    };
    let mut first = vec![0; 4096];
    let Ok(n) = client.read(&mut first).await else {
        return;
    };
    first.truncate(n);
    let tag = tag_of(&first);
    if server.write_all(&first).await.is_err() {
        return;
    }
    let (flow_tx, mut flow) = watch::channel(Flow::Pass);
    lab.connections
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Connection { tag, flow: flow_tx });

    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let (mut up, mut down) = (vec![0; 16 * 1024], vec![0; 16 * 1024]);
    loop {
        let passing = *flow.borrow() == Flow::Pass;
        tokio::select! {
            read = client_read.read(&mut up), if passing => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => if server_write.write_all(&up[..n]).await.is_err() { return },
            },
            read = server_read.read(&mut down), if passing => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => if client_write.write_all(&down[..n]).await.is_err() { return },
            },
            changed = flow.changed() => {
                if changed.is_err() || *flow.borrow() == Flow::Cut {
                    return;
                }
            }
        }
    }
}

/// The `tag` query parameter of the HTTP request line in `request`, or "".
fn tag_of(request: &[u8]) -> String {
    let line = String::from_utf8_lossy(request);
    let target = line.split_whitespace().nth(1).unwrap_or("");
    target
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("tag="))
        .unwrap_or("")
        .to_owned()
}
