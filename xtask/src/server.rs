//! A peercall-server child process for the test layers that need one.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, ChildStdin, Command, Stdio},
    thread,
};

use crate::process::{Result, command, root, spawn_ready};

/// A running server, killed on drop.
pub struct Server {
    child: Child,
    /// Where it listens, e.g. `127.0.0.1:41234`.
    pub addr: String,
}

impl Server {
    /// Starts `target/<profile>/peercall-server` serving `static_dir` on a port the system
    /// picks, and waits until it says where it listens.
    pub fn start(profile: &str, static_dir: &Path) -> Result<Self> {
        Self::start_with(profile, static_dir, &[])
    }

    /// As [`Server::start`], with `flags` added.
    pub fn start_with(profile: &str, static_dir: &Path, flags: &[&str]) -> Result<Self> {
        let binary = root().join("target").join(profile).join("peercall-server");
        Self::spawn(command(&binary), static_dir, flags)
    }

    /// As [`Server::start_with`], on CPU core `core` alone, with one worker thread.
    pub fn start_on_core(
        core: usize,
        profile: &str,
        static_dir: &Path,
        flags: &[&str],
    ) -> Result<Self> {
        let binary = root().join("target").join(profile).join("peercall-server");
        let mut pinned = on_core(core, &binary);
        pinned.env("TOKIO_WORKER_THREADS", "1");
        Self::spawn(pinned, static_dir, flags)
    }

    /// Starts `server` (the server binary, maybe behind a launcher).
    fn spawn(mut server: Command, static_dir: &Path, flags: &[&str]) -> Result<Self> {
        let binary = server.get_program().to_string_lossy().into_owned();
        let mut child = server
            .args(["--addr", "127.0.0.1:0", "--static-dir"])
            .arg(static_dir)
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {binary}: {error}"))?;
        let mut lines = child.stdout.take().map(|out| BufReader::new(out).lines());
        let addr = lines
            .as_mut()
            .and_then(|lines| lines.next())
            .and_then(std::io::Result::ok)
            .and_then(|line| {
                line.strip_prefix("peercall-server listening on ")
                    .map(str::to_owned)
            });
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("peercall-server did not say where it listens".to_owned());
        };
        // Its log lines go on to the terminal, as they did before.
        if let Some(lines) = lines {
            thread::spawn(move || {
                for line in lines.map_while(std::io::Result::ok) {
                    println!("{line}");
                }
            });
        }
        Ok(Self { child, addr })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the server's `/healthz` says `ok` (a node of a cluster: in it).
    pub fn until_healthy(&self) -> Result {
        use std::io::{Read, Write};
        let started = std::time::Instant::now();
        loop {
            let mut reply = String::new();
            if let Ok(mut socket) = std::net::TcpStream::connect(&self.addr) {
                let request = format!(
                    "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.addr
                );
                let _ = socket.write_all(request.as_bytes());
                let _ = socket.read_to_string(&mut reply);
            }
            if reply.ends_with("\r\n\r\nok\n") {
                return Ok(());
            }
            if started.elapsed() > std::time::Duration::from_secs(15) {
                return Err(format!("{} never said ok: {reply:?}", self.addr));
            }
            // A node looks at Redis once a second.
            thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// A server behind the fault-injecting proxy (`faults/`), killed on drop.
pub struct FaultyServer {
    child: Child,
    /// Closing it tells the proxy to stop its server and relay and exit.
    input: Option<ChildStdin>,
    /// The proxy's WebSocket URL.
    pub ws: String,
    /// The URL that takes fault orders.
    pub control: String,
    /// The TURN relay it runs (user `peer`, password `call`).
    pub turn: String,
}

impl FaultyServer {
    /// Starts `target/debug/fault-proxy` around `target/debug/peercall-server`.
    pub fn start(static_dir: &Path) -> Result<Self> {
        let debug = root().join("target/debug");
        let (mut child, line) = spawn_ready(
            command(debug.join("fault-proxy"))
                .arg(debug.join("peercall-server"))
                .arg(static_dir),
            "fault-proxy",
        )?;
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(ws), Some(control), Some(turn)) => Ok(Self {
                input: child.stdin.take(),
                ws: ws.to_owned(),
                control: control.to_owned(),
                turn: turn.to_owned(),
                child,
            }),
            _ => {
                let _ = child.kill();
                Err(format!("fault-proxy did not get ready: {line:?}"))
            }
        }
    }
}

impl Drop for FaultyServer {
    fn drop(&mut self) {
        // Killing the proxy outright would leave its server and relay running.
        drop(self.input.take());
        for _ in 0..50 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Redis on a loopback port of its own, nothing kept on disk; killed on drop.
pub struct Redis {
    child: Child,
    /// Its URL.
    pub url: String,
}

impl Redis {
    /// Starts Debian's `redis-server` and waits until it takes connections.
    pub fn start() -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("no free port: {error}"))?
            .port();
        let mut child = command("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start redis-server: {error}"))?;
        let mut lines = child.stdout.take().map(|out| BufReader::new(out).lines());
        let ready = lines.as_mut().is_some_and(|lines| {
            lines
                .map_while(std::io::Result::ok)
                .any(|line| line.contains("Ready to accept connections"))
        });
        let redis = Self {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        if !ready {
            return Err("redis-server did not get ready".to_owned());
        }
        // The rest of its log is read, so that it never waits on a full pipe.
        if let Some(lines) = lines {
            thread::spawn(move || lines.map_while(std::io::Result::ok).for_each(drop));
        }
        Ok(redis)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `program`, run by `taskset` on CPU core `core` alone (util-linux, in every Debian).
pub fn on_core(core: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut pinned = command("taskset");
    pinned.args(["-c", &core.to_string()]).arg(program);
    pinned
}
