//! The last step of every release build of the client: short names across the wasm/JS
//! boundary, then a minified JS glue.
//!
//! wasm-bindgen names each import after the web API it wraps plus a hash
//! (`__wbg_new_with_buffer_source_sequence_and_options_ea80baf2bc7ac33a`), and every name is
//! spelled twice, in the module and in the glue. binaryen's
//! `--minify-imports-and-exports-and-modules` renames them all and prints the mapping;
//! the glue (and its type definitions) is rewritten to match, then esbuild minifies it and
//! terser compresses it further.

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
};

use base64::Engine;
use sha2::{Digest, Sha384};

use crate::process::{Result, command, run};

/// The new import and export names binaryen chose.
#[derive(serde::Deserialize)]
struct Renaming {
    /// `[module, name, new name]`.
    imports: Vec<(String, String, String)>,
    /// `[name, new name]`.
    exports: Vec<(String, String)>,
}

/// One wasm-bindgen output: `<stem>.js`, `<stem>_bg.wasm`, maybe `<stem>.d.ts`.
pub struct Bundle {
    /// The JS glue.
    pub js: PathBuf,
    /// The module.
    pub wasm: PathBuf,
}

impl Bundle {
    /// The bundle named `<stem>.js` / `<stem>_bg.wasm` in `dir`.
    pub fn new(dir: &Path, stem: &str) -> Self {
        Self {
            js: dir.join(format!("{stem}.js")),
            wasm: dir.join(format!("{stem}_bg.wasm")),
        }
    }

    /// The only bundle trunk wrote into `dist` (its names carry a content hash).
    pub fn in_dist(dist: &Path) -> Result<Self> {
        let entries = fs::read_dir(dist).map_err(|e| format!("cannot read {dist:?}: {e}"))?;
        let mut stems = entries
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix("_bg.wasm").map(str::to_owned));
        match (stems.next(), stems.next()) {
            (Some(stem), None) => Ok(Self::new(dist, &stem)),
            _ => Err(format!("expected exactly one *_bg.wasm in {dist:?}")),
        }
    }
}

/// Renames across the boundary and minifies the glue of `bundle`; `types` are `.d.ts` files
/// that name the module's exports.
pub fn bundle(bundle: &Bundle, types: &[PathBuf]) -> Result {
    let map = command("wasm-opt")
        .arg(&bundle.wasm)
        .args(["--strip-debug", "--strip-producers"])
        .arg("--minify-imports-and-exports-and-modules")
        // Measured on this module: flattening and re-looping the control flow, then -Oz,
        // twice over, is 0.7 KB smaller gzipped than one -Oz (once over: 0.4 KB). Merging
        // functions that differ only in constants first, and folding constant offsets into
        // loads and stores (Rust puts nothing in the lowest 1 KiB: the stack sits below
        // 1 MiB and grows down towards it), take 0.8 KB more; the target-features section
        // is for tools only.
        .args(["--low-memory-unused", "--merge-similar-functions"])
        // Rust checks every index and divisor itself and never counts on a load or a
        // division to trap: the optimizer may drop one whose result goes unused (50 to
        // 70 B).
        .arg("--ignore-implicit-traps")
        .args([
            "--flatten",
            "--rereloop",
            "-Oz",
            "--flatten",
            "--rereloop",
            "-Oz",
        ])
        .arg("--strip-target-features")
        .arg("-o")
        .arg(&bundle.wasm)
        .output()
        .map_err(|e| format!("cannot run wasm-opt: {e}"))?;
    if !map.status.success() {
        return Err(format!(
            "wasm-opt could not minify the names of {:?}: {}",
            bundle.wasm,
            String::from_utf8_lossy(&map.stderr)
        ));
    }
    let renaming: Renaming = serde_json::from_slice(&map.stdout)
        .map_err(|e| format!("wasm-opt printed no readable name mapping: {e}"))?;
    let module = read(&bundle.wasm).and_then(|bytes| import_module(&bytes))?;

    let glue = fs::read_to_string(&bundle.js).map_err(|e| format!("{:?}: {e}", bundle.js))?;
    let glue = rename_glue(&glue, &renaming, &module)?;
    write(&bundle.js, glue.as_bytes())?;
    for path in types {
        let text = fs::read_to_string(path).map_err(|e| format!("{path:?}: {e}"))?;
        write(path, rename_types(&text, &renaming).as_bytes())?;
    }
    run(command("esbuild")
        .arg(&bundle.js)
        .args(["--minify", "--format=esm", "--log-level=warning"])
        .arg(format!("--outfile={}", bundle.js.display()))
        .arg("--allow-overwrite"))?;
    // terser's second look at esbuild's output takes 90 B more off the embeddable
    // module's glue, gzipped.
    run(command("terser")
        .arg(&bundle.js)
        .args(["--module", "--compress", "passes=2", "--mangle", "--output"])
        .arg(&bundle.js))
}

/// Brings the `integrity` attributes of trunk's page up to date with the shrunk files.
pub fn refresh_integrity(page: &Path, files: &[&Path]) -> Result {
    let mut html = fs::read_to_string(page).map_err(|e| format!("{page:?}: {e}"))?;
    for file in files {
        let name = file
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| format!("{file:?} has no name"))?;
        let digest = base64::engine::general_purpose::STANDARD.encode(Sha384::digest(read(file)?));
        let anchor = format!("href=\"/{name}\"");
        let Some(at) = html.find(&anchor) else {
            continue;
        };
        let tag_end = html[at..].find('>').map_or(html.len(), |end| at + end);
        let Some(start) = html[at..tag_end].find("integrity=\"sha384-") else {
            continue;
        };
        let value = at + start + "integrity=\"sha384-".len();
        let value_end = html[value..]
            .find('"')
            .map(|end| value + end)
            .ok_or_else(|| format!("{page:?}: an integrity attribute is not closed"))?;
        html.replace_range(value..value_end, &digest);
    }
    write(page, html.as_bytes())
}

/// The glue with binaryen's names: import keys, the import module, `wasm.<export>` uses.
fn rename_glue(glue: &str, renaming: &Renaming, module: &str) -> Result<String> {
    let imports: HashMap<&str, &str> = renaming
        .imports
        .iter()
        .map(|(_, name, new)| (name.as_str(), new.as_str()))
        .collect();
    let exports: HashMap<&str, &str> = renaming
        .exports
        .iter()
        .map(|(name, new)| (name.as_str(), new.as_str()))
        .collect();
    let mut out = String::with_capacity(glue.len());
    let mut unmapped = Vec::new();
    let mut rest = glue;
    while let Some(start) = rest.find(is_ident) {
        let (before, from) = rest.split_at(start);
        let len = from.find(|c| !is_ident(c)).unwrap_or(from.len());
        let (word, after) = from.split_at(len);
        out.push_str(before);
        let key = after.trim_start().starts_with(':');
        let member_of_wasm =
            out.ends_with("wasm.") && !ends_in_ident(&out[..out.len() - "wasm.".len()]);
        match (imports.get(word), exports.get(word)) {
            (Some(new), _) if key => out.push_str(new),
            (_, Some(new)) if member_of_wasm => out.push_str(new),
            _ if member_of_wasm => {
                unmapped.push(word.to_owned());
                out.push_str(word);
            }
            _ => out.push_str(word),
        }
        rest = after;
    }
    out.push_str(rest);
    if !unmapped.is_empty() {
        return Err(format!(
            "the glue uses exports the module does not have: {unmapped:?}"
        ));
    }
    for (original, _, _) in &renaming.imports {
        out = out.replace(&format!("\"{original}\":"), &format!("\"{module}\":"));
    }
    if !out.contains(&format!("\"{module}\":")) {
        return Err(format!(
            "the glue has no import object for module {module:?}"
        ));
    }
    Ok(out)
}

/// `readonly <export>:` (InitOutput) and `export const <export>:` lines with the new names.
fn rename_types(text: &str, renaming: &Renaming) -> String {
    let mut text = text.to_owned();
    for (name, new) in &renaming.exports {
        for prefix in ["readonly ", "export const ", "export function "] {
            text = text.replace(&format!("{prefix}{name}:"), &format!("{prefix}{new}:"));
            text = text.replace(&format!("{prefix}{name}("), &format!("{prefix}{new}("));
        }
    }
    text
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

fn ends_in_ident(text: &str) -> bool {
    text.chars().next_back().is_some_and(is_ident)
}

/// The one module every import of `wasm` comes from.
fn import_module(wasm: &[u8]) -> Result<String> {
    use wasmparser::{Imports, Parser, Payload};
    let bad = |e: wasmparser::BinaryReaderError| format!("the minified module: {e}");
    let mut modules: Vec<&str> = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let Payload::ImportSection(section) = payload.map_err(bad)? else {
            continue;
        };
        for group in section {
            let module = match group.map_err(bad)? {
                Imports::Single(_, import) => import.module,
                Imports::Compact1 { module, .. } | Imports::Compact2 { module, .. } => module,
            };
            if !modules.contains(&module) {
                modules.push(module);
            }
        }
    }
    match modules.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err("the module imports nothing".to_owned()),
        _ => Err(format!(
            "imports come from {modules:?}, expected one module"
        )),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| format!("cannot read {path:?}: {e}"))
}

fn write(path: &Path, bytes: &[u8]) -> Result {
    fs::write(path, bytes).map_err(|e| format!("cannot write {path:?}: {e}"))
}
