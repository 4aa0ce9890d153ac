//! Builds the browser client: the demo page with trunk, and the embeddable module.

use std::path::{Path, PathBuf};

use crate::{
    process::{Result, cargo, command, root, run, timed},
    shrink::{self, Bundle},
};

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
fn pkg(out: &Path) -> Result {
    run(cargo().args([
        "build",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "peercall",
    ]))?;
    let wasm = root().join("target/wasm32-unknown-unknown/release/peercall.wasm");
    run(command("wasm-bindgen")
        .args(["--target", "web", "--out-name", "peercall", "--out-dir"])
        .arg(out)
        .arg(&wasm))?;
    let bundle = Bundle::new(out, "peercall");
    shrink::bundle(
        &bundle,
        &[out.join("peercall.d.ts"), out.join("peercall_bg.wasm.d.ts")],
    )
}
