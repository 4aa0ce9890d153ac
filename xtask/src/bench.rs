//! Benchmarks, run by `cargo xtask bench`; their figures go into BENCHMARKS.md by hand.

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::{
    build,
    process::{Result, cargo, command, root, run, spawn_ready, timed},
    server::Server,
    setup,
};

/// Idle logged-in connections for the memory figure.
const IDLE_CONNECTIONS: usize = 1_000;

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
    timed("call setup through two NATs and a TURN relay", || {
        through_nat(&dist)
    })
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
    run(cargo().args(["build", "--release", "-p", "peercall-server"]))?;
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
            root().join("target/release/peercall-server"),
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

/// Runs the ignored end-to-end `setup_race` test against the release server and PeerJS's.
fn against_peerjs(dist: &Path) -> Result {
    run(cargo().args(["build", "--release", "-p", "peercall-server"]))?;
    let server = Server::start("release", dist)?;
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

/// Builds the client and prints its bundle size only.
pub fn bundle_only() -> Result {
    setup::all()?;
    let dist = build::client()?;
    timed("bundle size", || bundle(&dist).map(drop))
}

/// Runs the ignored `setup_time` and `throughput` browser tests, which print their figures.
fn browser_benches(dist: &Path) -> Result {
    let server = Server::start("release", dist)?;
    let chromium = crate::test::Browser::Chromium;
    run(
        crate::test::browser_tests("release", &server, chromium).args([
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
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "peercall-server",
        "-p",
        "peercall-bench",
    ]))?;
    // Every connection comes from this one machine: the per-address limit is raised by its
    // flag (see "Server memory with idle connections" in BENCHMARKS.md).
    let server = Server::start_with(
        "release",
        dist,
        &[
            "--max-connections-per-address",
            &(IDLE_CONNECTIONS + 100).to_string(),
        ],
    )?;
    let before = rss_kib(server.pid())?;
    let load = root().join("target/release/idle-load");
    let (mut child, _) = spawn_ready(
        command(&load)
            .arg(format!("ws://{}/ws", server.addr))
            .arg(IDLE_CONNECTIONS.to_string()),
        "idle-load",
    )?;
    let after = rss_kib(server.pid())?;
    // Closing its input lets the load tool go.
    drop(child.stdin.take());
    let _ = child.wait();
    println!(
        "server RSS: {before} KiB at start, {after} KiB with {IDLE_CONNECTIONS} idle logged-in connections: {:.1} KiB per connection",
        (after.saturating_sub(before)) as f64 / IDLE_CONNECTIONS as f64
    );
    Ok(())
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
