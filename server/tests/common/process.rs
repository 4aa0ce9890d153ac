//! Other programs a test runs beside the server, and the loopback ports they take.

use std::process::Child;

/// A child process killed when dropped, also when the test fails.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port on loopback that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free TCP port")
        .port()
}

/// A UDP port on loopback that was free a moment ago.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .expect("a free UDP port")
        .port()
}

/// Debian's haproxy in TCP mode in front of `server`, sending the PROXY protocol
/// (version 2) from the loopback address `source`; returns it and where it listens.
pub async fn haproxy(
    dir: &std::path::Path,
    server: std::net::SocketAddr,
    source: std::net::IpAddr,
) -> (Running, std::net::SocketAddr) {
    let door: std::net::SocketAddr = format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 1m\n  timeout server 1m\n\
         frontend door\n  bind {door}\n  default_backend node\n\
         backend node\n  server only {server} send-proxy-v2 source {source}\n"
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, conf).expect("the haproxy configuration");
    let child = std::process::Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("haproxy runs (cargo xtask setup installs it)");
    let running = Running(child);
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(door).await.is_err() {
        assert!(
            started.elapsed() < super::PATIENCE,
            "haproxy listens on {door}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (running, door)
}
