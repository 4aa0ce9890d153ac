//! `cargo xtask`: peercall's only orchestration.
//!
//! - `cargo xtask serve [--addr ADDR | --lan]`: set up, build the client, run the server;
//!   `--lan` serves HTTPS on port 8443 of every address, with a certificate made at start
//!   for this machine's names and addresses.
//! - `cargo xtask test`: set up, then every test layer, fast to real.
//! - `cargo xtask bench [bundle | setup | nat | relay | cluster | memory | fuzz | room]`: bundle size,
//!   server memory, call set-up and throughput figures (or only the bundle size, the race
//!   against PeerJS, call set-up through two NATs and a TURN relay, relay throughput
//!   beside a Node relay, memory with idle connections, the fuzz targets, or what a room
//!   call of 2, 3 and 4 costs each page).
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

const USAGE: &str = "usage: cargo xtask <serve [--addr ADDR | --lan] | test | bench [bundle | setup | nat | relay | cluster | memory | fuzz | room] | setup>";

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
            [only] if only == "nat" => bench::nat(),
            [only] if only == "relay" => bench::relay(),
            [only] if only == "cluster" => bench::cluster(),
            [only] if only == "memory" => bench::memory(),
            [only] if only == "fuzz" => bench::fuzz(),
            [only] if only == "room" => bench::room(),
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
    let (addr, lan) = match args {
        [] => ("127.0.0.1:8080".to_owned(), false),
        [flag, addr] if flag == "--addr" => (addr.clone(), false),
        [flag] if flag == "--lan" => ("0.0.0.0:8443".to_owned(), true),
        _ => return Err(USAGE.to_owned()),
    };
    setup::all()?;
    let dist = build::client()?;
    process::timed("build the server", || {
        process::run(process::cargo().args(["build", "-p", "peercall-server"]))
    })?;
    let mut server = process::command(process::root().join("target/debug/peercall-server"));
    server
        .arg("--addr")
        .arg(&addr)
        .arg("--static-dir")
        .arg(dist);
    if lan {
        // Browsers give camera and microphone to HTTPS pages only (and to localhost).
        let names = machine_names();
        server.arg("--tls-self-signed");
        for name in &names {
            server.args(["--tls-name", name]);
        }
        println!("==> starting peercall-server on HTTPS (Ctrl-C stops it); open one of:");
        for name in &names {
            println!("      https://{name}:8443/");
        }
        println!("    browsers warn once about the certificate made at start: compare its");
        println!("    SHA-256 fingerprint with the one logged below, then accept it");
    } else {
        println!("==> starting peercall-server: open http://{addr}/ in two tabs (Ctrl-C stops it)");
    }
    process::run(&mut server)
}

/// This machine's host name and its global IPv4 and IPv6 addresses.
fn machine_names() -> Vec<String> {
    let mut names = Vec::new();
    if let Some(host) = process::output(&mut process::command("hostname")) {
        names.push(host.trim().to_owned());
    }
    if let Some(addresses) =
        process::output(process::command("ip").args(["-o", "addr", "show", "scope", "global"]))
    {
        for line in addresses.lines() {
            // `2: eth0    inet 192.168.1.20/24 brd ...`
            let mut words = line
                .split_whitespace()
                .skip_while(|w| *w != "inet" && *w != "inet6");
            if let Some(address) = words.nth(1).and_then(|a| a.split('/').next()) {
                names.push(address.to_owned());
            }
        }
    }
    names.retain(|name| !name.is_empty());
    names.dedup();
    names
}
