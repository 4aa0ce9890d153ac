//! `cargo xtask`: peercall's only orchestration.
//!
//! - `cargo xtask serve [--addr ADDR]`: set up, build the client, run the server.
//! - `cargo xtask test`: set up, then every test layer, fast to real.
//! - `cargo xtask bench [bundle]`: bundle size, server memory, call set-up and throughput
//!   figures (or the bundle size alone).
//! - `cargo xtask setup`: only install what is missing.

#![forbid(unsafe_code)]

mod bench;
mod build;
mod process;
mod server;
mod setup;
mod shrink;
mod test;

use std::process::ExitCode;

const USAGE: &str =
    "usage: cargo xtask <serve [--addr ADDR] | test | bench [bundle | setup] | setup>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("test") => test::all(),
        Some("setup") => setup::all(),
        Some("bench") => match &args[1..] {
            [] => bench::all(),
            [only] if only == "bundle" => bench::bundle_only(),
            [only] if only == "setup" => bench::setup_race(),
            _ => Err(USAGE.to_owned()),
        },
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &[String]) -> process::Result {
    let addr = match args {
        [] => "127.0.0.1:8080".to_owned(),
        [flag, addr] if flag == "--addr" => addr.clone(),
        _ => return Err(USAGE.to_owned()),
    };
    setup::all()?;
    let dist = build::client()?;
    process::timed("build the server", || {
        process::run(process::cargo().args(["build", "-p", "peercall-server"]))
    })?;
    println!("==> starting peercall-server: open http://{addr}/ in two tabs (Ctrl-C stops it)");
    process::run(
        process::command(process::root().join("target/debug/peercall-server"))
            .arg("--addr")
            .arg(&addr)
            .arg("--static-dir")
            .arg(dist),
    )
}
