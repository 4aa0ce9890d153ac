//! A real server on port 0 and real WebSocket clients talking to it.

#![allow(dead_code, missing_docs)]

pub mod process;
pub mod redis;
pub mod web;

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use peercall_server::Config;
use serde_json::{Value, json};
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, protocol::CloseFrame},
};

/// How long a test waits for a frame that must come.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    /// The other nodes, when the suite runs against a cluster.
    others: Vec<TestServer>,
    /// The cluster's Redis.
    redis: Option<redis::Redis>,
}

/// How many nodes each test server is (`PEERCALL_TEST_NODES`, else 1): with more, every
/// test runs against a cluster of that many nodes sharing a Redis of its own, and its
/// clients connect to either node at random.
fn test_nodes() -> usize {
    std::env::var("PEERCALL_TEST_NODES")
        .ok()
        .and_then(|nodes| nodes.parse().ok())
        .unwrap_or(1)
}

impl TestServer {
    /// A server whose dropped users stay reserved for 300 ms.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server with the test defaults changed by `adjust`; a cluster of nodes with
    /// `PEERCALL_TEST_NODES`, unless the test makes one of its own.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = Self::config();
        adjust(&mut config);
        let nodes = test_nodes();
        if nodes < 2 || config.redis_url.is_some() {
            return Self::launch(listener, config);
        }
        let redis = redis::Redis::start(process::free_tcp_port());
        config.redis_url = Some(redis.url());
        if config.resume_secret.is_none() && config.resume_secret_file.is_none() {
            config.resume_secret = Some(format!("{:032x}", ::rand::random::<u128>()));
        }
        let mut server = Self::launch(listener, config.clone());
        // Operator routes on an address of their own are the first node's.
        config.metrics_addr = None;
        for _ in 1..nodes {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            server.others.push(Self::launch(listener, config.clone()));
        }
        // Logins before a node is in the cluster would be served by that node alone.
        let started = std::time::Instant::now();
        while redis.keys("peercall:node:*").await.len() < nodes {
            assert!(started.elapsed() < PATIENCE, "the nodes join the cluster");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.redis = Some(redis);
        server
    }

    /// A single server on `listener`, with the test defaults changed by `adjust`.
    pub fn start_on(listener: tokio::net::TcpListener, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Self::config();
        adjust(&mut config);
        Self::launch(listener, config)
    }

    /// The test defaults.
    fn config() -> Config {
        let mut config = Config::with_static_dir(std::env::temp_dir());
        config.resume_grace_ms = 300;
        config
    }

    fn launch(listener: tokio::net::TcpListener, config: Config) -> Self {
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        // Files are read and checked before the server takes its first connection.
        let prepared = peercall_server::Prepared::new(config).expect("the server starts");
        let task = tokio::spawn(peercall_server::serve_prepared(
            listener,
            prepared,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            stop: Some(stop),
            task,
            others: Vec::new(),
            redis: None,
        }
    }

    /// The address of a node chosen at random (the only one, without a cluster).
    pub fn any_addr(&self) -> SocketAddr {
        let pick = ::rand::random_range(0..=self.others.len());
        match pick {
            0 => self.addr,
            n => self.others[n - 1].addr,
        }
    }

    /// The value of the sample `name` (with its labels) on `/metrics`, summed over the
    /// nodes of a cluster.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let mut total = sample(&fetch(self.addr, "/metrics").await.body, name);
        for other in &self.others {
            if let Some(value) = sample(&fetch(other.addr, "/metrics").await.body, name) {
                total = Some(total.unwrap_or(0.0) + value);
            }
        }
        total
    }

    /// A client connected to a node chosen at random.
    pub async fn client(&self) -> Client {
        Client::connect(self.any_addr()).await
    }

    /// A client logged in as `name` in `room`, with the welcome and peer list read.
    pub async fn join(&self, name: &str, room: &str) -> (Client, String, Vec<Value>) {
        let mut client = self.client().await;
        let (welcome, peers) = client
            .join_with(json!({"type": "login", "name": name, "room": room}))
            .await;
        (client, welcome["id"].as_str().unwrap().to_owned(), peers)
    }

    /// A client logged in as `name`, with the welcome and peer list read.
    pub async fn login(&self, name: &str) -> (Client, String, Vec<Value>) {
        let mut client = self.client().await;
        let (id, peers) = client.login(name).await;
        (client, id, peers)
    }

    /// Shuts the server (every node at once) down and waits for it to finish.
    pub async fn stop(mut self) {
        let mut nodes = std::mem::take(&mut self.others);
        for node in nodes.iter_mut().chain([&mut self]) {
            if let Some(stop) = node.stop.take() {
                let _ = stop.send(());
            }
        }
        for node in nodes.iter_mut().chain([&mut self]) {
            (&mut node.task).await.unwrap().unwrap();
        }
    }
}

/// `GET path` from the server at `addr`.
pub async fn fetch(addr: SocketAddr, path: &str) -> web::Reply {
    let tcp = TcpStream::connect(addr).await.unwrap();
    web::get(tcp, path).await
}

/// Waits until the server's `/healthz` says `body` (always with 200).
pub async fn until_health(server: &TestServer, body: &str) {
    let started = std::time::Instant::now();
    loop {
        let reply = fetch(server.addr, "/healthz").await;
        assert_eq!(reply.status, 200, "healthz stays 200");
        if reply.body == body {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "healthz says {:?}, not {body:?}",
            reply.body
        );
        // A node checks Redis once a second: look again after a part of that.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the sample `name` (with its labels) in a metrics text.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let (socket, _) = connect_async(format!("ws://{addr}/ws")).await.unwrap();
        Self { socket }
    }

    /// A socket opened by a page on `origin`.
    pub async fn connect_from(addr: SocketAddr, origin: &str) -> Self {
        Self::connect_with(addr, "origin", origin).await
    }

    /// A socket whose connection begins with `preface` (a balancer's PROXY header), then
    /// its upgrade; the error if the server does not upgrade it.
    pub async fn after(
        addr: SocketAddr,
        preface: &[u8],
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        use tokio::io::AsyncWriteExt;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(preface).await.unwrap();
        let (socket, _) = tokio_tungstenite::client_async(
            format!("ws://{addr}/ws"),
            MaybeTlsStream::Plain(stream),
        )
        .await?;
        Ok(Self { socket })
    }

    /// A socket to `addr` from the loopback address `from`, as a client elsewhere.
    pub async fn connect_from_ip(addr: SocketAddr, from: std::net::IpAddr) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        let (socket, _) = tokio_tungstenite::client_async(
            format!("ws://{addr}/ws"),
            MaybeTlsStream::Plain(stream),
        )
        .await
        .unwrap();
        Self { socket }
    }

    /// A socket whose upgrade request carries the header `name: value`.
    pub async fn connect_with(addr: SocketAddr, name: &'static str, value: &str) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
        let (socket, _) = connect_async(request).await.unwrap();
        Self { socket }
    }

    /// Sends a `login` into a named room and returns the `welcome`, the `room` state and
    /// the peer list.
    pub async fn join_with(&mut self, login: Value) -> (Value, Vec<Value>) {
        self.send(login).await;
        let mut welcome = self.expect("welcome").await;
        let room = self.expect("room").await;
        welcome["room"] = room;
        let peers = self.expect("peers").await;
        (welcome, peers["peers"].as_array().unwrap().clone())
    }

    /// A final refusal: the `error` with `code`, then a close frame with `close_code`
    /// and the code as its reason.
    pub async fn expect_refusal(&mut self, code: &str, close_code: u16) {
        self.expect_error(code).await;
        let frame = self.expect_close().await;
        assert_eq!(u16::from(frame.code), close_code, "{code}");
        assert_eq!(frame.reason.as_str(), code);
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.socket.send(Message::binary(bytes)).await.unwrap();
    }

    /// The next frame from the server, which must be a JSON text frame.
    pub async fn recv(&mut self) -> Value {
        loop {
            match self.next().await {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame, which must be of `type` `kind`.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let frame = self.recv().await;
        assert_eq!(frame["type"], kind, "unexpected frame {frame}");
        frame
    }

    /// The next frame, which must be an `error` with `code`.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let frame = self.expect("error").await;
        assert_eq!(frame["code"], code, "unexpected error {frame}");
        assert!(
            frame["message"].as_str().is_some_and(|m| !m.is_empty()),
            "an error carries a message: {frame}"
        );
        frame
    }

    /// The close frame the server ends this socket with.
    pub async fn expect_close(&mut self) -> CloseFrame {
        loop {
            match self.next().await {
                Message::Close(Some(frame)) => {
                    // Reading on sends our answer and completes the closing handshake.
                    while let Some(Ok(_)) = self.socket.next().await {}
                    return frame;
                }
                Message::Close(None) => panic!("closed without a code"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// The close frame if the next frame is one; `None` for any other frame.
    pub async fn next_close(&mut self) -> Option<CloseFrame> {
        match self.next().await {
            Message::Close(frame) => frame,
            _ => None,
        }
    }

    /// Waits until the server has closed this socket (with or without a close frame).
    pub async fn expect_closed(&mut self) {
        let closed = async {
            loop {
                match self.socket.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => continue,
                }
            }
        };
        tokio::time::timeout(PATIENCE, closed)
            .await
            .expect("the server closes the socket in time");
    }

    /// The next frame; `None` once the socket has ended.
    pub async fn next_message(&mut self) -> Option<Message> {
        tokio::time::timeout(PATIENCE, self.socket.next())
            .await
            .expect("the server answers in time")
            .and_then(Result::ok)
    }

    async fn next(&mut self) -> Message {
        tokio::time::timeout(PATIENCE, self.socket.next())
            .await
            .expect("the server answers in time")
            .expect("the socket is still open")
            .expect("the socket reads")
    }

    pub async fn login(&mut self, name: &str) -> (String, Vec<Value>) {
        let (welcome, peers) = self
            .login_with(json!({"type": "login", "name": name}))
            .await;
        (welcome["id"].as_str().unwrap().to_owned(), peers)
    }

    /// Sends `login` and returns the `welcome` and the peer list.
    pub async fn login_with(&mut self, login: Value) -> (Value, Vec<Value>) {
        self.send(login).await;
        let welcome = self.expect("welcome").await;
        let peers = self.expect("peers").await;
        (welcome, peers["peers"].as_array().unwrap().clone())
    }

    /// Rings `callee` (id `callee_id`) from this client (id `my_id`), which accepts: the
    /// two are in a call, whose id is returned.
    pub async fn call(&mut self, my_id: &str, callee: &mut Client, callee_id: &str) -> String {
        self.send(json!({"type": "ring", "to": callee_id})).await;
        let ring = callee.expect("ring").await;
        let call = ring["call"]
            .as_str()
            .expect("the server gives the call an id");
        callee
            .send(json!({"type": "accept", "to": my_id, "call": call}))
            .await;
        assert_eq!(self.expect("accept").await["call"], call);
        call.to_owned()
    }

    /// Closes with close code `code` and waits for the server's answer.
    pub async fn close_with(mut self, code: u16) {
        let frame = CloseFrame {
            code: code.into(),
            reason: "".into(),
        };
        self.socket.close(Some(frame)).await.unwrap();
        while let Some(Ok(_)) = self.socket.next().await {}
    }

    pub async fn close(mut self) {
        self.socket.close(None).await.unwrap();
        // Read until the server's answer so the close is complete on both sides.
        while let Some(Ok(_)) = self.socket.next().await {}
    }
}
