//! Debian's `redis-server` on a loopback port of its own, nothing kept on disk.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use super::process::Running;

/// A Redis the test started; stopped when dropped.
pub struct Redis {
    _process: Running,
    /// Where it listens.
    pub port: u16,
}

impl Redis {
    /// Starts Redis on `port` and waits until it takes connections.
    pub fn start(port: u16) -> Self {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server)");
        let stdout = child.stdout.take().expect("piped");
        let (ready, listening) = std::sync::mpsc::channel();
        // Its log is read to the end, so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to accept connections") {
                    let _ = ready.send(());
                }
            }
        });
        let redis = Self {
            _process: Running(child),
            port,
        };
        listening
            .recv_timeout(Duration::from_secs(10))
            .expect("Redis takes connections");
        redis
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The keys matching `pattern`, with how long each has left to live (ms).
    pub async fn keys(&self, pattern: &str) -> Vec<(String, i64)> {
        let mut connection = self.connection().await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut connection)
            .await
            .expect("KEYS");
        let mut found = Vec::new();
        for key in keys {
            let ttl: i64 = redis::cmd("PTTL")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .expect("PTTL");
            found.push((key, ttl));
        }
        found
    }

    /// A connection to it.
    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).expect("a Redis URL");
        client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers")
    }

    /// The fields of the hash `key`.
    pub async fn fields(&self, key: &str) -> usize {
        let mut connection = self.connection().await;
        redis::cmd("HLEN")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("HLEN")
    }

    /// The value of `field` in the hash `key`.
    pub async fn field(&self, key: &str, field: &str) -> Option<String> {
        let mut connection = self.connection().await;
        redis::cmd("HGET")
            .arg(key)
            .arg(field)
            .query_async(&mut connection)
            .await
            .expect("HGET")
    }

    /// Drops every subscriber's connection (as Redis does to one that falls too far
    /// behind); how many there were.
    pub async fn kill_subscribers(&self) -> usize {
        let mut connection = self.connection().await;
        redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("pubsub")
            .query_async(&mut connection)
            .await
            .expect("CLIENT KILL")
    }

    /// The channels matching `pattern` that someone listens on.
    pub async fn channels(&self, pattern: &str) -> usize {
        let mut connection = self.connection().await;
        let channels: Vec<String> = redis::cmd("PUBSUB")
            .arg("CHANNELS")
            .arg(pattern)
            .query_async(&mut connection)
            .await
            .expect("PUBSUB CHANNELS");
        channels.len()
    }

    /// Forgets everything it holds (`FLUSHALL`), as a restart without persistence would.
    pub async fn flush(&self) {
        let mut connection = self.connection().await;
        redis::cmd("FLUSHALL")
            .query_async::<()>(&mut connection)
            .await
            .expect("FLUSHALL");
    }

    /// Holds every client's commands for `ms` (`CLIENT PAUSE`), as a Redis too busy to
    /// answer would.
    pub async fn pause(&self, ms: u64) {
        let mut connection = self.connection().await;
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(ms)
            .arg("ALL")
            .query_async::<()>(&mut connection)
            .await
            .expect("CLIENT PAUSE");
    }
}
