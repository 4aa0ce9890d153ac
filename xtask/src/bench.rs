//! Benchmarks, run by `cargo xtask bench`; their figures go into BENCHMARKS.md by hand.

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::{
    build,
    process::{Result, cargo, command, root, run, spawn_ready, timed},
    server::{Redis, Server, on_core},
    setup,
};

/// Idle logged-in connections for the memory figure.
const IDLE_CONNECTIONS: usize = 10_000;

/// The cargo profile of the servers and load tools the benchmarks run, built for speed
/// (the client's wasm has its own, `web`).
const SERVER: &str = "release";

/// Runs every benchmark and prints its figures.
pub fn all() -> Result {
    setup::all()?;
    setup::bench_tools()?;
    let dist = build::client()?;
    timed("bundle size", || bundle(&dist).map(drop))?;
    timed("server memory with idle connections", || idle_memory(&dist))?;
    timed(
        "call setup time and file throughput (headless Chromium, loopback)",
        || browser_benches(&dist),
    )?;
    timed(
        "call setup against PeerJS (two Chromium pages, loopback)",
        || against_peerjs(&dist),
    )?;
    timed(room_title(), || room_call_load(&dist))?;
    timed("call setup through two NATs and a TURN relay", || {
        through_nat(&dist)
    })
}

fn room_title() -> &'static str {
    "room calls of 2, 3 and 4 (a Chromium each, loopback)"
}

/// What a room call costs each page (`room_call_load`).
pub fn room() -> Result {
    setup::all()?;
    let dist = build::client()?;
    timed(room_title(), || room_call_load(&dist))
}

/// Runs the ignored end-to-end `room_call_load` test against the server built for speed.
fn room_call_load(dist: &Path) -> Result {
    run(cargo().args(["build", "--profile", SERVER, "-p", "peercall-server"]))?;
    let server = Server::start(SERVER, dist)?;
    run(cargo()
        .args(["test", "--release", "-p", "peercall-e2e", "--test"])
        .args(["room_call_load", "--", "--include-ignored", "--nocapture"])
        .env("CHROMEDRIVER", setup::CHROMEDRIVER)
        .env("PEERCALL_E2E_URL", format!("http://{}/", server.addr)))
}

/// Call setup between two homes behind NAT routers, through coturn (`nat_call_setup_time`).
pub fn nat() -> Result {
    setup::all()?;
    let dist = build::client()?;
    timed("call setup through two NATs and a TURN relay", || {
        through_nat(&dist)
    })
}

/// Runs the ignored end-to-end `nat_call_setup_time` test with the release server.
fn through_nat(dist: &Path) -> Result {
    run(cargo().args(["build", "--profile", SERVER, "-p", "peercall-server"]))?;
    run(cargo()
        .args(["test", "--release", "-p", "peercall-e2e", "--test", "nat"])
        .args([
            "--",
            "--include-ignored",
            "--nocapture",
            "nat_call_setup_time",
        ])
        .env("CHROMEDRIVER", setup::CHROMEDRIVER)
        .env("PEERCALL_STATIC_DIR", dist)
        .env(
            "PEERCALL_SERVER_BIN",
            root().join("target").join(SERVER).join("peercall-server"),
        ))
}

/// Call setup with peercall and with PeerJS, side by side in one run (`setup_race`).
pub fn setup_race() -> Result {
    setup::all()?;
    setup::bench_tools()?;
    let dist = build::client()?;
    timed(
        "call setup against PeerJS (two Chromium pages, loopback)",
        || against_peerjs(&dist),
    )
}

/// Runs the ignored end-to-end `setup_race` test against the server built for speed and PeerJS's.
fn against_peerjs(dist: &Path) -> Result {
    run(cargo().args(["build", "--profile", SERVER, "-p", "peercall-server"]))?;
    let server = Server::start(SERVER, dist)?;
    let (mut peerjs, url) = spawn_ready(
        command("node")
            .arg(root().join("bench/fixtures/peerjs-server.js"))
            .env("NODE_PATH", root().join("target/tools/node_modules")),
        "the PeerJS server (node)",
    )?;
    let raced = run(cargo()
        .args([
            "test",
            "--release",
            "-p",
            "peercall-e2e",
            "--test",
            "setup_race",
        ])
        .args(["--", "--include-ignored", "--nocapture"])
        .env("CHROMEDRIVER", setup::CHROMEDRIVER)
        .env("PEERCALL_E2E_URL", format!("http://{}/", server.addr))
        .env("PEERJS_URL", url));
    // Closing its input ends the PeerJS server.
    drop(peerjs.stdin.take());
    let _ = peerjs.wait();
    raced
}

/// Relay throughput and round trips, peercall-server beside the tutorials' Node relay.
pub fn relay() -> Result {
    setup::all()?;
    setup::bench_tools()?;
    timed(
        "relay throughput against a seed-style Node relay (loopback)",
        relay_throughput,
    )
}

/// Pairs of clients, payload and messages in flight per pair of the relay benchmark.
const RELAY_PAIRS: &str = "50";
const RELAY_IN_FLIGHT: &str = "8";
const RELAY_SECONDS: &str = "5";

/// The paced rates of the relay bench, as fractions of peercall's flat-out rate, each with
/// its run's seconds: where the round trips stay short, and half, where the goal is read.
/// The goal's p99 is read over 30 s: in 5 s, one stall of 50 ms anywhere (1% of the run)
/// decides it alone.
const PACED_FRACTIONS: [(f64, &str); 3] =
    [(0.1, RELAY_SECONDS), (0.25, RELAY_SECONDS), (0.5, "30")];

/// Messages per second of the cluster bench's light load.
const CLUSTER_LIGHT_RATE: f64 = 2_000.0;

/// What `relay-load` measured.
struct RelayFigures {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The share of the machine's CPU time its host gave to others during the run
    /// (`steal` in /proc/stat), in percent; `None` where the kernel does not say.
    steal_pct: Option<f64>,
    /// The CPU time the load generator and the relay took while the round trips were
    /// counted, in percent of one core; the relay's where its process was named.
    load_cpu_pct: f64,
    relay_cpu_pct: Option<f64>,
}

impl RelayFigures {
    /// The run's stolen CPU time, in words.
    fn steal(&self) -> String {
        self.steal_pct.map_or_else(
            || "steal unknown".to_owned(),
            |pct| format!("steal {pct:.1}%"),
        )
    }

    /// The CPU the relay and the load generator took, in words.
    fn cpu(&self) -> String {
        let relay = self
            .relay_cpu_pct
            .map_or_else(String::new, |pct| format!("relay {pct:.0}%, "));
        format!("{relay}load {:.0}% of a core", self.load_cpu_pct)
    }
}

/// The machine's CPU time so far, from /proc/stat's first line: (stolen, all), in ticks.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal (guest time is within user).
    Some((*ticks.get(7)?, ticks.iter().take(8).sum()))
}

/// How the relay bench places the relay and its load generator on the machine's cores.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cores {
    /// Wherever the scheduler puts them: the two take turns on the same cores.
    Shared,
    /// The relay pinned to one core (peercall with one worker thread), the load generator
    /// to another: as if the load came from another machine, as it does in a deployment.
    Apart {
        /// The relay's core.
        relay: usize,
        /// The load generator's core.
        load: usize,
    },
}

impl Cores {
    /// Both layouts where this process may run on two cores or more; only
    /// [`Cores::Shared`] otherwise.
    fn available() -> Vec<Self> {
        match allowed_cores()[..] {
            [relay, load, ..] => vec![Self::Apart { relay, load }, Self::Shared],
            _ => vec![Self::Shared],
        }
    }

    fn describe(self) -> String {
        match self {
            Self::Shared => "relay and load generator sharing the cores".to_owned(),
            Self::Apart { relay, load } => format!(
                "relay pinned to core {relay} (one worker thread), load generator to core {load}"
            ),
        }
    }

    /// `program`, placed as the relay is.
    fn relay(self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        match self {
            Self::Shared => command(program),
            Self::Apart { relay, .. } => on_core(relay, program),
        }
    }

    /// `program`, placed as the load generator is.
    fn load(self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        match self {
            Self::Shared => command(program),
            Self::Apart { load, .. } => on_core(load, program),
        }
    }
}

/// The cores this process may run on (`Cpus_allowed_list` in `/proc/self/status`, such
/// as `0-3,8`); none if that cannot be read.
fn allowed_cores() -> Vec<usize> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let Some(list) = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
    else {
        return Vec::new();
    };
    let mut cores = Vec::new();
    for range in list.trim().split(',') {
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        match (first.parse::<usize>(), last.parse::<usize>()) {
            (Ok(first), Ok(last)) => cores.extend(first..=last),
            _ => return Vec::new(),
        }
    }
    cores
}

/// Runs `relay-load` against `url`; at `rate` messages per second, or flat out.
fn relay_load(url: &str, flavor: &str, rate: Option<f64>) -> Result<RelayFigures> {
    relay_load_on(Cores::Shared, url, None, flavor, rate, RELAY_SECONDS)
}

/// [`relay_load`], placed by `cores`, for `seconds`; with the CPU time of the relay's
/// process `relay` where it is given.
fn relay_load_on(
    cores: Cores,
    url: &str,
    relay: Option<u32>,
    flavor: &str,
    rate: Option<f64>,
    seconds: &str,
) -> Result<RelayFigures> {
    let mut load = cores.load(root().join("target").join(SERVER).join("relay-load"));
    load.args([url, flavor, RELAY_PAIRS, RELAY_IN_FLIGHT, seconds]);
    if let Some(rate) = rate {
        load.arg(format!("{rate:.0}"));
    }
    if let Some(pid) = relay {
        load.env("RELAY_PID", pid.to_string());
    }
    let before = cpu_ticks();
    let ran = load
        .output()
        .map_err(|error| format!("cannot run relay-load: {error}"))?;
    let steal_pct = before.zip(cpu_ticks()).and_then(|((s0, t0), (s1, t1))| {
        let stolen = s1.checked_sub(s0).filter(|_| t1 > t0)?;
        Some(stolen as f64 * 100.0 / (t1 - t0) as f64)
    });
    if !ran.status.success() {
        return Err(format!(
            "relay-load against {url} failed: {}",
            String::from_utf8_lossy(&ran.stderr).trim()
        ));
    }
    let line = String::from_utf8_lossy(&ran.stdout).trim().to_owned();
    let figure = |key: &str| -> Result<f64> {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("relay-load printed no {key}: {line}"))
    };
    Ok(RelayFigures {
        per_second: figure("messages_per_second")?,
        p50_ms: figure("p50_ms")?,
        p99_ms: figure("p99_ms")?,
        steal_pct,
        load_cpu_pct: figure("load_cpu_pct")?,
        relay_cpu_pct: relay.map(|_| figure("relay_cpu_pct")).transpose()?,
    })
}

/// The server and the load tools of `bench/`, built for speed.
fn build_server_and_load() -> Result {
    run(cargo().args([
        "build",
        "--profile",
        SERVER,
        "-p",
        "peercall-server",
        "-p",
        "peercall-bench",
    ]))
}

fn relay_throughput() -> Result {
    build_server_and_load()?;
    for cores in Cores::available() {
        println!("-- {}", cores.describe());
        relay_throughput_on(cores)?;
    }
    Ok(())
}

fn relay_throughput_on(cores: Cores) -> Result {
    // Every protection stays on; only the per-address limits (sockets and logins) and the
    // rates are raised by their flags, since all the load comes from one machine.
    let www = root().join("www");
    let flags = [
        "--max-connections-per-address",
        "1000",
        "--logins-per-address",
        "100000",
        "--rate-limit-factor",
        "1000",
    ];
    let server = match cores {
        Cores::Shared => Server::start_with(SERVER, &www, &flags)?,
        Cores::Apart { relay, .. } => Server::start_on_core(relay, SERVER, &www, &flags)?,
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| format!("no free port: {error}"))?
        .port();
    let (mut seed, _) = spawn_ready(
        cores
            .relay("node")
            .arg(root().join("bench/fixtures/seed-relay.js"))
            .arg(port.to_string())
            .env("NODE_PATH", root().join("target/tools/node_modules")),
        "the seed-style relay (node)",
    )?;
    let peercall_url = format!("ws://{}/ws", server.addr);
    let seed_url = format!("ws://127.0.0.1:{port}");
    let (peercall_pid, seed_pid) = (server.pid(), seed.id());
    let load = |url: &str, relay: u32, flavor: &str, rate: Option<f64>, seconds: &str| {
        relay_load_on(cores, url, Some(relay), flavor, rate, seconds)
    };
    let measured = (|| {
        let peercall = load(&peercall_url, peercall_pid, "peercall", None, RELAY_SECONDS)?;
        let seed = load(&seed_url, seed_pid, "seed", None, RELAY_SECONDS)?;
        // Round trips at fractions of peercall's flat-out rate, each server in turn.
        let mut paced = Vec::new();
        for (fraction, seconds) in PACED_FRACTIONS {
            let rate = Some(peercall.per_second * fraction);
            paced.push((
                fraction,
                seconds,
                load(&peercall_url, peercall_pid, "peercall", rate, seconds)?,
                load(&seed_url, seed_pid, "seed", rate, seconds)?,
            ));
        }
        Ok::<_, String>((peercall, seed, paced))
    })();
    let _ = seed.kill();
    let _ = seed.wait();
    let (peercall, seed, paced) = measured?;
    println!(
        "flat out ({RELAY_PAIRS} pairs, {RELAY_IN_FLIGHT} in flight each): peercall {:.0} messages/s (p50 {:.2} ms, p99 {:.2} ms, {}, {}), seed relay {:.0} messages/s (p50 {:.2} ms, p99 {:.2} ms, {}, {}): {:.2}x",
        peercall.per_second,
        peercall.p50_ms,
        peercall.p99_ms,
        peercall.cpu(),
        peercall.steal(),
        seed.per_second,
        seed.p50_ms,
        seed.p99_ms,
        seed.cpu(),
        seed.steal(),
        peercall.per_second / seed.per_second
    );
    for (fraction, seconds, ours, theirs) in paced {
        println!(
            "at {:.0} messages/s ({fraction} of peercall's flat out, {seconds} s): peercall p50 {:.2} ms, p99 {:.2} ms ({:.0}/s, {}, {}); seed relay p50 {:.2} ms, p99 {:.2} ms ({:.0}/s, {}, {})",
            peercall.per_second * fraction,
            ours.p50_ms,
            ours.p99_ms,
            ours.per_second,
            ours.cpu(),
            ours.steal(),
            theirs.p50_ms,
            theirs.p99_ms,
            theirs.per_second,
            theirs.cpu(),
            theirs.steal(),
        );
    }
    Ok(())
}

/// Relay throughput and round trips on one node alone, within one node of a cluster, and
/// across two nodes sharing a Redis.
pub fn cluster() -> Result {
    setup::all()?;
    setup::bench_tools()?;
    timed(
        "relay alone, within one node and across two nodes sharing a Redis (loopback)",
        cluster_relay,
    )
}

fn cluster_relay() -> Result {
    build_server_and_load()?;
    let flags = [
        "--max-connections-per-address",
        "1000",
        "--logins-per-address",
        "100000",
        "--rate-limit-factor",
        "1000",
    ];
    let www = root().join("www");
    let alone = Server::start_with(SERVER, &www, &flags)?;
    let redis = Redis::start()?;
    let mut node_flags = flags.to_vec();
    node_flags.extend(["--redis-url", redis.url.as_str()]);
    let first = Server::start_with(SERVER, &www, &node_flags)?;
    let second = Server::start_with(SERVER, &www, &node_flags)?;
    first.until_healthy()?;
    second.until_healthy()?;
    let ws = |server: &Server| format!("ws://{}/ws", server.addr);
    let cases = [
        ("one node alone", ws(&alone)),
        (
            "both sides on one node of two",
            format!("{},{}", ws(&first), ws(&first)),
        ),
        (
            "the sides on different nodes",
            format!("{},{}", ws(&first), ws(&second)),
        ),
    ];
    let mut flat = Vec::new();
    for (_, url) in &cases {
        flat.push(relay_load(url, "peercall", None)?);
    }
    // Round trips at one rate every case keeps up with: half of the slowest flat out.
    let rate = flat.iter().map(|f| f.per_second).fold(f64::MAX, f64::min) / 2.0;
    let mut paced = Vec::new();
    for (_, url) in &cases {
        paced.push(relay_load(url, "peercall", Some(rate))?);
    }
    for (((what, _), flat), paced) in cases.iter().zip(&flat).zip(&paced) {
        println!(
            "{what}: flat out {:.0} messages/s (p50 {:.2} ms, p99 {:.2} ms); at {rate:.0}/s p50 {:.2} ms, p99 {:.2} ms",
            flat.per_second, flat.p50_ms, flat.p99_ms, paced.p50_ms, paced.p99_ms
        );
    }
    // A round trip is two relays, each through Redis once when the sides are apart; at
    // a light load too, where no queue stands in front of Redis.
    let light = CLUSTER_LIGHT_RATE;
    let within = relay_load(&cases[1].1, "peercall", Some(light))?;
    let across = relay_load(&cases[2].1, "peercall", Some(light))?;
    for (load, rate, within, across) in [
        ("light", light, &within, &across),
        ("heavy", rate, &paced[1], &paced[2]),
    ] {
        println!(
            "Redis adds {:.2} ms (p50) and {:.2} ms (p99) per cross-node relay at {rate:.0}/s ({load}: round trips across minus within, halved; within p50 {:.2} ms, p99 {:.2} ms)",
            (across.p50_ms - within.p50_ms) / 2.0,
            (across.p99_ms - within.p99_ms) / 2.0,
            within.p50_ms,
            within.p99_ms,
        );
    }
    Ok(())
}

/// The fuzz targets (`fuzz/`), each for [`FUZZ_SECONDS`] (or `PEERCALL_FUZZ_SECONDS`):
/// random and mutated frames through the decoders of both sides and the file channel's.
pub fn fuzz() -> Result {
    setup::fuzz_tools()?;
    let seconds = std::env::var("PEERCALL_FUZZ_SECONDS").unwrap_or_else(|_| FUZZ_SECONDS.into());
    for target in ["client_frame", "server_frame", "file_control"] {
        timed(&format!("fuzz {target} for {seconds} s"), || {
            run(command("cargo")
                .args([&format!("+{}", setup::NIGHTLY), "fuzz", "run", target, "--"])
                .arg(format!("-max_total_time={seconds}"))
                .current_dir(root().join("fuzz")))
        })?;
    }
    Ok(())
}

/// Seconds each fuzz target runs for.
const FUZZ_SECONDS: &str = "120";

/// Server memory with idle connections only.
pub fn memory() -> Result {
    setup::all()?;
    let dist = build::client()?;
    timed("server memory with idle connections", || idle_memory(&dist))
}

/// Builds the client and prints its bundle size only.
pub fn bundle_only() -> Result {
    setup::all()?;
    let dist = build::client()?;
    timed("bundle size", || bundle(&dist).map(drop))
}

/// Runs the ignored `setup_time` and `throughput` browser tests, which print their figures.
fn browser_benches(dist: &Path) -> Result {
    run(cargo().args(["build", "--profile", SERVER, "-p", "peercall-server"]))?;
    let server = Server::start(SERVER, dist)?;
    let chromium = crate::test::Browser::Chromium;
    run(
        crate::test::browser_tests(build::CLIENT_PROFILE, &server, chromium).args([
            "--test",
            "setup_time",
            "--test",
            "throughput",
            "--",
            "--include-ignored",
            "--nocapture",
        ]),
    )
}

/// Prints the download size of the demo page and of the embeddable module; returns the
/// embeddable module's (gzip -9 bytes).
pub fn bundle(dist: &Path) -> Result<u64> {
    let files = |dir: &Path| -> Vec<PathBuf> {
        fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|path| {
                        path.extension()
                            .is_some_and(|ext| ext == "wasm" || ext == "js")
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut embeddable = 0;
    for (what, dir) in [
        ("demo page (dist/)", dist.to_path_buf()),
        ("embeddable (/pkg)", crate::process::pkg_dir()),
    ] {
        let mut raw_total = 0;
        let mut gzip_total = 0;
        for file in files(&dir) {
            let raw = fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            let gzipped = gzip_size(&file)?;
            println!(
                "  {:<40} {:>8} B raw {:>8} B gzip -9",
                file.file_name().unwrap_or_default().to_string_lossy(),
                raw,
                gzipped
            );
            raw_total += raw;
            gzip_total += gzipped;
        }
        println!(
            "bundle {what}: {raw_total} B raw, {gzip_total} B ({:.1} KB) gzip -9",
            gzip_total as f64 / 1000.0
        );
        embeddable = gzip_total;
    }
    Ok(embeddable)
}

fn gzip_size(file: &Path) -> Result<u64> {
    let out = command("gzip")
        .args(["-9", "-c"])
        .arg(file)
        .output()
        .map_err(|error| format!("cannot run gzip: {error}"))?;
    Ok(out.stdout.len() as u64)
}

fn idle_memory(dist: &Path) -> Result {
    build_server_and_load()?;
    for (rooms, room_size) in [("rooms of 10", Some(10)), ("one room", None)] {
        let per_connection = idle_rss(dist, room_size)?;
        println!(
            "server RSS per idle logged-in connection, {IDLE_CONNECTIONS} connections in {rooms}: {per_connection:.1} KiB"
        );
    }
    Ok(())
}

/// KiB of server RSS per connection with [`IDLE_CONNECTIONS`] idle logged-in connections,
/// in rooms of `room_size` (or all in the default room).
fn idle_rss(dist: &Path, room_size: Option<usize>) -> Result<f64> {
    // Every connection comes from this one machine: the per-address limits (sockets and
    // logins) are raised by their flags (see "Server memory with idle connections" in BENCHMARKS.md), and so is the
    // room capacity, to the room size measured.
    let connections = (IDLE_CONNECTIONS + 100).to_string();
    let capacity = room_size.unwrap_or(8).to_string();
    let server = Server::start_with(
        SERVER,
        dist,
        &[
            "--max-connections-per-address",
            &connections,
            "--logins-per-address",
            &connections,
            "--max-connections",
            &connections,
            "--room-capacity",
            &capacity,
        ],
    )?;
    let before = rss_kib(server.pid())?;
    let load = root().join("target").join(SERVER).join("idle-load");
    let mut command = command(&load);
    command
        .arg(format!("ws://{}/ws", server.addr))
        .arg(IDLE_CONNECTIONS.to_string());
    if let Some(size) = room_size {
        command.arg(size.to_string());
    }
    let (mut child, _) = spawn_ready(&mut command, "idle-load")?;
    let after = rss_kib(server.pid())?;
    // Closing its input lets the load tool go.
    drop(child.stdin.take());
    let _ = child.wait();
    println!(
        "server RSS: {before} KiB at start, {after} KiB with {IDLE_CONNECTIONS} idle logged-in connections"
    );
    Ok((after.saturating_sub(before)) as f64 / IDLE_CONNECTIONS as f64)
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|error| format!("cannot read the server's memory: {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in /proc status".to_owned())
}
