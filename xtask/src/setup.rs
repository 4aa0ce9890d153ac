//! Installs what the other tasks need, and nothing that is already there.

use std::path::Path;

use crate::process::{Result, cargo, command, output, root, run, timed};

/// The trunk release whose build runs on this toolchain (0.22 wants a newer rustc).
const TRUNK_VERSION: &str = "0.21.14";

/// binaryen's wasm-opt, from the npm registry: Debian's (108) cannot read what current
/// rustc and wasm-bindgen emit. Trunk.toml names the same version.
const BINARYEN_VERSION: &str = "132";

/// esbuild, from the npm registry: minifies the JS glue of release builds (see `shrink`).
const ESBUILD_VERSION: &str = "0.28.2";

/// terser, from the npm registry: compresses the glue esbuild minified a little further
/// (see `shrink`).
const TERSER_VERSION: &str = "5.51.4";

/// geckodriver, from crates.io (Debian has no package for it); one session at a time.
const GECKODRIVER_VERSION: &str = "0.37.1";

/// Where Debian's Chromium packages put the browser and its driver.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// See [`CHROMIUM`].
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Where Debian's `firefox-esr` package puts the browser.
pub const FIREFOX: &str = "/usr/bin/firefox-esr";

/// Where `cargo install` puts geckodriver.
pub fn geckodriver() -> std::path::PathBuf {
    crate::process::cargo_bin().join("geckodriver")
}

/// Makes sure every tool is installed.
pub fn all() -> Result {
    timed("set-up", || {
        wasm_target()?;
        nightly()?;
        trunk()?;
        wasm_bindgen()?;
        geckodriver_install()?;
        debian_packages()?;
        npm_tools()
    })
}

fn wasm_target() -> Result {
    let installed = output(command("rustup").args(["target", "list", "--installed"]));
    if installed.is_some_and(|targets| targets.lines().any(|t| t == "wasm32-unknown-unknown")) {
        println!("ok: wasm32-unknown-unknown target");
        return Ok(());
    }
    println!("installing: the wasm32-unknown-unknown target");
    run(command("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

fn trunk() -> Result {
    let wanted = format!("trunk {TRUNK_VERSION}");
    if output(command("trunk").arg("--version")).as_deref() == Some(wanted.as_str()) {
        println!("ok: {wanted}");
        return Ok(());
    }
    println!("installing: {wanted} (a release build; several minutes)");
    run(cargo().args(["install", "trunk", "--version", TRUNK_VERSION, "--locked"]))
}

fn wasm_bindgen() -> Result {
    let version = locked_version("wasm-bindgen")?;
    let wanted = format!("wasm-bindgen {version}");
    let has_runner = output(command("wasm-bindgen-test-runner").arg("--version"))
        .is_some_and(|v| v.ends_with(&version));
    if output(command("wasm-bindgen").arg("--version")).as_deref() == Some(wanted.as_str())
        && has_runner
    {
        println!("ok: {wanted} CLI and test runner");
        return Ok(());
    }
    println!("installing: the {wanted} CLI, matching Cargo.lock (a few minutes)");
    // Not --locked: the CLI's own lockfile can name versions the registry index lacks.
    run(cargo().args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={version}"),
        "--force",
    ]))
}

fn geckodriver_install() -> Result {
    let wanted = format!("geckodriver {GECKODRIVER_VERSION}");
    let found = output(command(geckodriver()).arg("--version"));
    if found.is_some_and(|v| v.starts_with(&wanted)) {
        println!("ok: {wanted}");
        return Ok(());
    }
    println!("installing: {wanted} (drives Firefox for the tests; a few minutes)");
    run(cargo().args([
        "install",
        "geckodriver",
        "--version",
        GECKODRIVER_VERSION,
        "--locked",
    ]))
}

/// The version of `package` that Cargo.lock pins, as `cargo metadata` resolves it.
pub fn locked_version(package: &str) -> Result<String> {
    let metadata = output(cargo().args(["metadata", "--format-version", "1", "--locked"]))
        .ok_or("`cargo metadata` failed")?;
    let metadata: serde_json::Value =
        serde_json::from_str(&metadata).map_err(|error| format!("cargo metadata: {error}"))?;
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == package)
        .and_then(|p| p["version"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("{package} is not in Cargo.lock"))
}

fn npm_tools() -> Result {
    let binaryen = format!("wasm-opt version {BINARYEN_VERSION} ");
    let has_binaryen =
        output(command("wasm-opt").arg("--version")).is_some_and(|v| v.starts_with(&binaryen));
    let has_esbuild =
        output(command("esbuild").arg("--version")).as_deref() == Some(ESBUILD_VERSION);
    let has_terser = output(command("terser").arg("--version")).as_deref()
        == Some(format!("terser {TERSER_VERSION}").as_str());
    if has_binaryen && has_esbuild && has_terser {
        println!(
            "ok: binaryen {BINARYEN_VERSION} (wasm-opt), esbuild {ESBUILD_VERSION}, \
             terser {TERSER_VERSION}"
        );
        return Ok(());
    }
    println!(
        "installing: binaryen {BINARYEN_VERSION} (wasm-opt), esbuild {ESBUILD_VERSION} and \
         terser {TERSER_VERSION} from npm into target/tools"
    );
    npm_install(&[
        format!("binaryen@{BINARYEN_VERSION}.0.0"),
        format!("esbuild@{ESBUILD_VERSION}"),
        format!("terser@{TERSER_VERSION}"),
    ])
}

/// Installs npm `packages` (`name@version`) into target/tools.
fn npm_install(packages: &[String]) -> Result {
    let options = ["install", "--silent", "--no-audit", "--no-fund"];
    run(command("npm")
        .args(options)
        .args(["--prefix", "target/tools"])
        .args(packages))
}

/// PeerJS, the client (`peerjs`) and its signaling server (`peer`), from the npm
/// registry: the reference the call-setup benchmark runs beside peercall.
const PEERJS_VERSION: &str = "1.5.5";
const PEER_SERVER_VERSION: &str = "1.0.2";

/// The version of npm package `name` installed in target/tools, if any.
fn npm_package_version(name: &str) -> Option<String> {
    let manifest = root().join(format!("target/tools/node_modules/{name}/package.json"));
    let text = std::fs::read_to_string(manifest).ok()?;
    let (_, rest) = text.split_once("\"version\"")?;
    let version = rest.split('"').nth(1)?;
    Some(version.to_owned())
}

/// The toolchain that builds `/pkg` (see `build::pkg`) and the fuzz targets: a dated
/// nightly, so that the unstable flags `/pkg` is built with, and its size, stay put.
pub const NIGHTLY: &str = "nightly-2026-05-20";

/// Nightly Rust with the standard library's source: `/pkg` is built with its own
/// standard library, optimized for size and without panic messages (`build::pkg`).
fn nightly() -> Result {
    let components = output(command("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        NIGHTLY,
    ]));
    match components {
        Some(list) if list.lines().any(|line| line.starts_with("rust-src")) => {
            println!("ok: {NIGHTLY} Rust with rust-src");
            Ok(())
        }
        Some(_) => {
            println!("installing: rust-src for {NIGHTLY} Rust, which builds /pkg");
            run(command("rustup").args(["component", "add", "rust-src", "--toolchain", NIGHTLY]))
        }
        None => {
            println!("installing: {NIGHTLY} Rust (minimal) and its rust-src, which build /pkg");
            run(command("rustup").args([
                "toolchain",
                "install",
                NIGHTLY,
                "--profile",
                "minimal",
                "--component",
                "rust-src",
            ]))
        }
    }
}

/// cargo-fuzz's version; it builds with [`NIGHTLY`] (sanitizer flags).
const CARGO_FUZZ_VERSION: &str = "0.13.1";

/// What `cargo xtask bench fuzz` needs: nightly Rust and cargo-fuzz.
pub fn fuzz_tools() -> Result {
    nightly()?;
    let wanted = format!("cargo-fuzz {CARGO_FUZZ_VERSION}");
    if output(command("cargo-fuzz").arg("--version")).as_deref() == Some(wanted.as_str()) {
        println!("ok: {wanted}");
        return Ok(());
    }
    println!("installing: {wanted}");
    run(cargo().args([
        "install",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
        "--locked",
    ]))
}

/// What only `cargo xtask bench` needs: PeerJS and its server, for the side-by-side
/// call-setup figure.
pub fn bench_tools() -> Result {
    let wanted = [("peerjs", PEERJS_VERSION), ("peer", PEER_SERVER_VERSION)];
    if wanted
        .iter()
        .all(|(name, version)| npm_package_version(name).as_deref() == Some(*version))
    {
        println!("ok: peerjs {PEERJS_VERSION}, peer {PEER_SERVER_VERSION}");
        return Ok(());
    }
    println!(
        "installing: peerjs {PEERJS_VERSION} and peer {PEER_SERVER_VERSION} from npm into target/tools"
    );
    npm_install(&[
        format!("peerjs@{PEERJS_VERSION}"),
        format!("peer@{PEER_SERVER_VERSION}"),
    ])
}

/// Debian packages: (what it is for, file it provides, package).
const PACKAGES: [(&str, &str, &str); 11] = [
    (
        "Redis (the cluster of nodes in the server and end-to-end tests)",
        "/usr/bin/redis-server",
        "redis-server",
    ),
    (
        "haproxy (a TCP balancer in front of several nodes, end to end)",
        "/usr/sbin/haproxy",
        "haproxy",
    ),
    (
        "coturn (a TURN relay for the network-fault and NAT tests)",
        "/usr/bin/turnserver",
        "coturn",
    ),
    (
        "pebble (the ACME test server, for the certificate test)",
        "/usr/bin/pebble",
        "pebble",
    ),
    (
        "nftables (the NAT routers of the network test)",
        "/usr/sbin/nft",
        "nftables",
    ),
    (
        "iproute2 (network namespaces for the network test)",
        "/usr/sbin/ip",
        "iproute2",
    ),
    (
        "Node.js (runs binaryen, esbuild and terser)",
        "/usr/bin/node",
        "nodejs",
    ),
    (
        "npm (installs binaryen, esbuild and terser)",
        "/usr/bin/npm",
        "npm",
    ),
    ("Chromium", CHROMIUM, "chromium"),
    ("ChromeDriver", CHROMEDRIVER, "chromium-driver"),
    ("Firefox ESR", FIREFOX, "firefox-esr"),
];

fn debian_packages() -> Result {
    let missing: Vec<_> = PACKAGES
        .iter()
        .filter(|(what, file, _)| {
            let there = Path::new(file).exists();
            if there {
                println!("ok: {what} ({file})");
            }
            !there
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|(_, _, package)| *package).collect();
    let is_root = output(command("id").arg("-u")).as_deref() == Some("0");
    if !is_root || output(command("apt-get").arg("--version")).is_none() {
        return Err(format!(
            "missing: {}. Install the Debian packages `{}` (as root: apt-get install {}), then run this again.",
            missing
                .iter()
                .map(|(what, _, _)| *what)
                .collect::<Vec<_>>()
                .join(", "),
            names.join(" "),
            names.join(" "),
        ));
    }
    println!("installing with apt-get: {}", names.join(" "));
    run(command("apt-get").args(["update", "-qq"]))?;
    run(command("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&names)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}
