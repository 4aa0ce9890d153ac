//! Every test layer, fast to real.

use std::process::Command;

use crate::{
    build,
    process::{Result, cargo, run, run_group, scratch, timed},
    server::{FaultyServer, Server},
    setup,
};

/// A browser engine the browser tests run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Browser {
    /// Debian's Chromium, through chromedriver.
    Chromium,
    /// Debian's Firefox ESR, through geckodriver.
    Firefox,
}

impl Browser {
    /// Every engine, in the order the tests run them.
    pub const ALL: [Self; 2] = [Self::Chromium, Self::Firefox];

    /// The engine's name, as the tests' SKIP lines spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Chromium => "Chromium",
            Self::Firefox => "Firefox",
        }
    }

    /// Points wasm-bindgen-test-runner at this engine's driver (it takes the first driver
    /// variable it finds, geckodriver's first).
    fn select_driver(self, command: &mut Command) {
        match self {
            Self::Chromium => command
                .env("CHROMEDRIVER", setup::CHROMEDRIVER)
                .env_remove("GECKODRIVER"),
            Self::Firefox => command
                .env("GECKODRIVER", setup::geckodriver())
                .env_remove("CHROMEDRIVER"),
        };
    }
}

/// The tests a browser run skipped, from their `SKIP` lines.
#[derive(Default)]
struct Skips(Vec<String>);

impl Skips {
    /// Echoes `line`, and keeps it if it reports a skip.
    fn read(&mut self, line: &str) {
        println!("{line}");
        if let Some(at) = line.find("SKIP ") {
            self.0.push(line[at..].to_owned());
        }
    }

    fn report(&self) {
        println!("==> skipped tests: {}", self.0.len());
        for skip in &self.0 {
            println!("    {skip}");
        }
    }
}

/// `cargo test` of the protocol, the server and the fault proxy, the packages built
/// together for the server's test layers.
const SERVER_PACKAGES: [&str; 7] = [
    "test",
    "-p",
    "protocol",
    "-p",
    "peercall-server",
    "-p",
    "peercall-faults",
];

/// The server test suites that talk to the server over its sockets, and so run again
/// against a cluster; the others test what one node does alone (certificates, files,
/// start-up refusals, coturn) or make a cluster of their own.
const CLUSTER_SUITES: [&str; 13] = [
    "access",
    "bad_input",
    "calls",
    "delivery",
    "https",
    "ice_servers",
    "limits",
    "operations",
    "presence",
    "relay",
    "resume",
    "room_calls",
    "rooms",
];

/// Sets up, then runs every layer; stops at the first that fails. What the layers leave
/// in their temporary folder is removed at the end, whatever the outcome.
pub fn all() -> Result {
    let _ = std::fs::remove_dir_all(scratch());
    let outcome = layers();
    let _ = std::fs::remove_dir_all(scratch());
    outcome
}

fn layers() -> Result {
    setup::all()?;
    timed("format and lints", lints)?;
    timed("protocol, server and native client tests", || {
        run(cargo().args(SERVER_PACKAGES))?;
        // The client's own unit tests touch no browser API: they run natively.
        run(cargo().args(["test", "-p", "peercall", "--lib"]))
    })?;
    timed(
        "server tests against two nodes sharing a Redis (clients on either node at random)",
        || {
            let mut command = cargo();
            // The packages of the layer before, so that nothing builds again.
            command.args(SERVER_PACKAGES);
            for suite in CLUSTER_SUITES {
                command.args(["--test", suite]);
            }
            run(command.env("PEERCALL_TEST_NODES", "2"))
        },
    )?;
    let dist = build::client()?;
    timed("bundle gate", || bundle_gate(&dist))?;
    // The test layers' servers: the real one, and the one behind the fault proxy.
    run(cargo().args(["build", "-p", "peercall-server", "-p", "peercall-faults"]))?;
    let server = Server::start("debug", &dist)?;
    let faulty = FaultyServer::start(&dist)?;
    let mut skips = Skips::default();
    let outcome = (|| {
        for browser in Browser::ALL {
            timed(
                &format!(
                    "browser tests (wasm-bindgen-test, headless {})",
                    browser.name()
                ),
                || {
                    run_group(
                        browser_tests("debug", &server, browser)
                            .args(["--", "--nocapture"])
                            .env("PEERCALL_FAULTS_WS", &faulty.ws)
                            .env("PEERCALL_FAULTS_CONTROL", &faulty.control)
                            .env("PEERCALL_FAULTS_TURN", &faulty.turn),
                        |line| skips.read(line),
                    )
                },
            )?;
        }
        timed(
            "end-to-end tests (Chromium and Firefox sessions, WebDriver)",
            || {
                run_group(
                    cargo()
                        .args([
                            "test",
                            "-p",
                            "peercall-e2e",
                            "--tests",
                            "--",
                            "--skip",
                            "nat_",
                        ])
                        .env("CHROMEDRIVER", setup::CHROMEDRIVER)
                        .env("GECKODRIVER", setup::geckodriver())
                        .env("FIREFOX", setup::FIREFOX)
                        .env("PEERCALL_E2E_URL", format!("http://{}/", server.addr)),
                    |line| skips.read(line),
                )
            },
        )?;
        // Its own network, server and TURN relay: one test at a time.
        timed(
            "network test (two homes behind NAT routers, coturn, HTTPS; Chromium)",
            || {
                run_group(
                    cargo()
                        .args(["test", "-p", "peercall-e2e", "--test", "nat", "--"])
                        .args(["--test-threads=1", "--nocapture"])
                        .env("CHROMEDRIVER", setup::CHROMEDRIVER)
                        .env("PEERCALL_STATIC_DIR", &dist)
                        .env(
                            "PEERCALL_SERVER_BIN",
                            crate::process::root().join("target/debug/peercall-server"),
                        ),
                    |line| skips.read(line),
                )
            },
        )
    })();
    skips.report();
    outcome
}

/// `cargo test` of the browser suites in cargo profile `profile` (`debug`, or
/// [`crate::build::CLIENT_PROFILE`] as the client ships) and `browser`, against `server`.
pub fn browser_tests(profile: &str, server: &Server, browser: Browser) -> Command {
    let mut command = cargo();
    command
        .args([
            "test",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "peercall",
        ])
        .env("PEERCALL_TEST_WS", format!("ws://{}/ws", server.addr))
        .env("WASM_BINDGEN_TEST_TIMEOUT", "900");
    browser.select_driver(&mut command);
    if profile != "debug" {
        command.args(["--profile", profile]);
    }
    command
}

/// The most the embeddable module (`/pkg`, wasm and JS glue) may weigh, gzip -9 (see
/// BENCHMARKS.md for what each feature cost, and why the budget moved).
const PKG_BUDGET: u64 = 72_500;

/// Fails when `/pkg` grew past its budget: every caller downloads it.
fn bundle_gate(dist: &std::path::Path) -> Result {
    let pkg = crate::bench::bundle(dist)?;
    if pkg > PKG_BUDGET {
        return Err(format!(
            "/pkg is {pkg} B gzip -9, over its budget of {PKG_BUDGET} B: \
             find what grew with `cargo xtask bench bundle` and twiggy"
        ));
    }
    println!("/pkg: {pkg} B of its {PKG_BUDGET} B budget");
    Ok(())
}

fn lints() -> Result {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args([
        "clippy",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "peercall",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))
}
