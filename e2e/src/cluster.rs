//! Several peercall-server nodes as an operator runs them: one Redis (Debian's
//! `redis-server`), nodes sharing their resume key, and haproxy in front as a plain TCP
//! balancer. Everything listens on loopback ports of its own and is killed when dropped.

use std::{path::Path, process::Stdio, time::Instant};

use tokio::process::{Child, Command};

use crate::{
    PATIENCE,
    services::{PeerCallServer, free_port, server_binary, until_said},
};

/// The resume key every node of a test cluster shares (from the environment, as the
/// README says to give secrets).
const RESUME_SECRET: &str = "every node of this cluster shares this resume key";

/// A Redis of the test's own, nothing kept on disk.
pub struct Redis {
    child: Child,
    /// Its URL.
    pub url: String,
}

impl Redis {
    /// Starts Redis on a free port and waits until it takes connections.
    pub async fn start() -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server runs");
        let child = until_said(child, "Ready to accept connections", "Redis starts").await;
        Self {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        }
    }

    /// Kills Redis.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A node of the cluster on `redis`, in the cluster once its `/healthz` says so.
pub async fn node(redis: &Redis) -> PeerCallServer {
    let mut command = Command::new(server_binary());
    command
        .args(["--addr", "127.0.0.1:0"])
        .env("PEERCALL_REDIS_URL", &redis.url)
        .env("PEERCALL_RESUME_SECRET", RESUME_SECRET);
    let node = PeerCallServer::start(command).await;
    let started = Instant::now();
    while !node.get("/healthz").await.ends_with("\r\n\r\nok\n") {
        assert!(started.elapsed() < PATIENCE, "the node joins the cluster");
        // A node looks at Redis once a second.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    node
}

/// haproxy in TCP mode: each front door leads to one node, and to the others when that
/// one is down (as `/healthz` checks tell).
pub struct Balancer {
    _child: Child,
    /// The front doors' addresses, one per node given, in that order.
    pub doors: Vec<String>,
}

impl Balancer {
    /// A front door for each of `nodes` (each node's own first, the others as backups),
    /// its configuration in `dir`.
    pub async fn start(dir: &Path, nodes: &[&PeerCallServer]) -> Self {
        let mut conf = String::from(
            "global\n  maxconn 512\n\
             defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 1h\n  \
             timeout server 1h\n  retries 2\n  option redispatch\n",
        );
        let mut doors = Vec::new();
        for (first, node) in nodes.iter().enumerate() {
            let door = format!("127.0.0.1:{}", free_port());
            conf += &format!(
                "frontend door{first}\n  bind {door}\n  default_backend nodes{first}\n\
                 backend nodes{first}\n  option httpchk GET /healthz\n  \
                 server first {} check inter 250ms fall 1 rise 1\n",
                node.addr
            );
            for (other, backup) in nodes.iter().enumerate().filter(|(i, _)| *i != first) {
                conf += &format!(
                    "  server backup{other} {} check inter 250ms fall 1 rise 1 backup\n",
                    backup.addr
                );
            }
            doors.push(door);
        }
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, conf).expect("the haproxy configuration");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("haproxy runs");
        let started = Instant::now();
        for door in &doors {
            while tokio::net::TcpStream::connect(door).await.is_err() {
                assert!(started.elapsed() < PATIENCE, "haproxy listens on {door}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        Self {
            _child: child,
            doors,
        }
    }
}
