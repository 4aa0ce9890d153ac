//! Builds the browser client: the demo page with trunk, and the embeddable module.

use std::path::{Path, PathBuf};

use crate::{
    process::{Result, command, root, run, timed},
    shrink::{self, Bundle},
};

/// The cargo profile of the client's wasm as it ships, built for size (Cargo.toml;
/// www/index.html names it for trunk's release build).
pub const CLIENT_PROFILE: &str = "web";

/// Builds the demo page into `dist/` and the embeddable module into `target/pkg/`
/// (served at `/pkg`); returns `dist/`.
pub fn client() -> Result<PathBuf> {
    let dist = root().join("dist");
    timed("build the demo page (trunk build --release)", || {
        run(command("trunk").args(["build", "--release"]))?;
        let bundle = Bundle::in_dist(&dist)?;
        shrink::bundle(&bundle, &[])?;
        shrink::refresh_integrity(&dist.join("index.html"), &[&bundle.js, &bundle.wasm])
    })?;
    timed(
        "build the embeddable module (target/pkg, served at /pkg)",
        || pkg(&crate::process::pkg_dir()),
    )?;
    Ok(dist)
}

/// `/pkg/peercall.js`, `/pkg/peercall_bg.wasm`, `/pkg/peercall.d.ts`: the `--target web`
/// build without the demo page, optimized for size.
///
/// Every page that embeds peercall downloads this module, so it is built with nightly
/// Rust's own standard library, compiled for size like the crate itself, and with
/// `immediate-abort` panics: a panic traps at once, as the stable build's `abort` does
/// after it printed, so every panic message, location and the formatting behind them
/// stay out (5 KB gzip of 83). The demo page and the tests' builds keep stable Rust and
/// their panic messages; the embedding tests load this module.
fn pkg(out: &Path) -> Result {
    let target_dir = root().join("target/pkg-build");
    run(command("rustup")
        .args(["run", crate::setup::NIGHTLY, "cargo", "build", "--profile"])
        .arg(CLIENT_PROFILE)
        .args(["--target", "wasm32-unknown-unknown", "-p", "peercall"])
        .args([
            "-Zbuild-std=std,panic_abort",
            "-Zbuild-std-features=optimize_for_size",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", PKG_RUSTFLAGS.join("\x1f"))
        // Nothing of an outer cargo's may choose another compiler or other flags.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTC")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN"))?;
    let wasm = target_dir
        .join("wasm32-unknown-unknown")
        .join(CLIENT_PROFILE)
        .join("peercall.wasm");
    run(command("wasm-bindgen")
        .args(["--target", "web", "--out-name", "peercall", "--out-dir"])
        .arg(out)
        .arg(&wasm))?;
    let bundle = Bundle::new(out, "peercall");
    shrink::bundle(
        &bundle,
        &[out.join("peercall.d.ts"), out.join("peercall_bg.wasm.d.ts")],
    )?;
    npm_package(out)
}

/// The compiler flags of the `/pkg` build: `immediate-abort` panics, and no source
/// locations (`-Zlocation-detail=none`): a panic that aborts at once never shows where it
/// happened, yet every `RefCell` borrow, index and `unwrap` kept its file name and line
/// in the module. Without them the module says nothing of where it was built either, and
/// is 0.3 KB smaller.
///
/// Reference types and multi-value returns are off: without reference types wasm-bindgen
/// keeps JS values in its glue's own slab instead of an `externref` table, so the
/// module's `externref` shims and table operations leave it (1.5 KB less wasm for
/// 0.3 KB more glue, gzipped: 1.1 KB less in all), and without multi-value a few more
/// shims go (60 B). Every browser runs either kind of module; the demo and test builds
/// keep the defaults.
///
/// Every function of every crate may be inlined across crates
/// (`-Zcross-crate-inline-threshold=always`): each crate's functions are compiled where
/// they are used, so the wrappers of js-sys, web-sys and wasm-bindgen, and the standard
/// library's small functions, are optimized with the code that calls them before the
/// crates are linked. 12 KB less code, 5.4 KB less gzipped; nothing else changes.
const PKG_RUSTFLAGS: [&str; 5] = [
    "-Ctarget-feature=-reference-types,-multivalue",
    "-Zunstable-options",
    "-Cpanic=immediate-abort",
    "-Zlocation-detail=none",
    "-Zcross-crate-inline-threshold=always",
];

/// The files of the npm package, as `package.json` lists them.
const PACKAGE_FILES: [&str; 4] = [
    "peercall.js",
    "peercall_bg.wasm",
    "peercall.d.ts",
    "peercall_bg.wasm.d.ts",
];

/// Writes `package.json` beside the module, so that `target/pkg` is an npm package an
/// embedding site can bundle (`npm pack target/pkg`) instead of loading `/pkg` from the
/// server.
fn npm_package(out: &Path) -> Result {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml"))
        .map_err(|error| format!("cannot read Cargo.toml: {error}"))?;
    let field = |key: &str| {
        let package = manifest.split("[package]").nth(1)?;
        let line = package
            .lines()
            .find(|line| line.split('=').next().map(str::trim) == Some(key))?;
        let (_, value) = line.split_once('=')?;
        Some(value.trim().trim_matches('"').to_owned())
    };
    let version = field("version").ok_or("Cargo.toml's [package] has no version")?;
    let description = field("description").unwrap_or_default();
    for file in PACKAGE_FILES {
        if !out.join(file).is_file() {
            return Err(format!("the npm package lacks {file}"));
        }
    }
    let package = serde_json::json!({
        "name": "peercall",
        "version": version,
        "description": description,
        "license": "MIT OR Apache-2.0",
        "type": "module",
        "module": "peercall.js",
        "main": "peercall.js",
        "types": "peercall.d.ts",
        "files": PACKAGE_FILES,
        "sideEffects": false,
    });
    let text = serde_json::to_string_pretty(&package)
        .map_err(|error| format!("cannot write package.json: {error}"))?;
    std::fs::write(out.join("package.json"), text + "\n")
        .map_err(|error| format!("cannot write package.json: {error}"))
}
