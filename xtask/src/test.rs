//! Every test layer, fast to real.

use std::process::Command;

use crate::{
    build,
    process::{Result, cargo, run, timed},
    server::{FaultyServer, Server},
    setup,
};

/// Sets up, then runs every layer; stops at the first that fails.
pub fn all() -> Result {
    setup::all()?;
    timed("format and lints", lints)?;
    timed("protocol and server tests", || {
        run(cargo().args([
            "test",
            "-p",
            "protocol",
            "-p",
            "peercall-server",
            "-p",
            "peercall-faults",
        ]))
    })?;
    let dist = build::client()?;
    // The test layers' servers: the real one, and the one behind the fault proxy.
    run(cargo().args(["build", "-p", "peercall-server", "-p", "peercall-faults"]))?;
    let server = Server::start("debug", &dist)?;
    let faulty = FaultyServer::start(&dist)?;
    timed(
        "browser tests (wasm-bindgen-test, headless Chromium)",
        || {
            run(browser_tests("debug", &server)
                .env("PEERCALL_FAULTS_WS", &faulty.ws)
                .env("PEERCALL_FAULTS_CONTROL", &faulty.control)
                .env("PEERCALL_FAULTS_TURN", &faulty.turn))
        },
    )?;
    timed("end-to-end tests (two browsers, WebDriver)", || {
        run(cargo()
            .args(["test", "-p", "peercall-e2e", "--tests"])
            .env("CHROMEDRIVER", setup::CHROMEDRIVER)
            .env("PEERCALL_E2E_URL", format!("http://{}/", server.addr)))
    })
}

/// `cargo test` of the browser suites in `profile`, against `server`.
pub fn browser_tests(profile: &str, server: &Server) -> Command {
    let mut command = cargo();
    command
        .args([
            "test",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "peercall",
        ])
        .env("CHROMEDRIVER", setup::CHROMEDRIVER)
        .env("PEERCALL_TEST_WS", format!("ws://{}/ws", server.addr))
        .env("WASM_BINDGEN_TEST_TIMEOUT", "900");
    if profile == "release" {
        command.arg("--release");
    }
    command
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
