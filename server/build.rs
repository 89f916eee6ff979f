//! Embeds the dashboard's built site (scripts/build-site.sh's output:
//! `$WISP_SITE_DIR`, default `<workspace>/target/site`) into the `wisp`
//! binary, so a copy of the binary alone serves the whole dashboard.
//!
//! Writes `$OUT_DIR/site_assets.rs`: one entry per file with its URL path,
//! a content-hashed URL path (`/pkg/wisp.<hash>.js`), its bytes and the
//! precompressed `.gz`/`.br` variants build-site.sh wrote beside it. A
//! missing site embeds nothing (the server then needs `--site-dir`).
//!
//! Also writes `$OUT_DIR/templates.rs`: the project templates of `wisp new`
//! (`templates/<name>/…`), embedded the same way.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=WISP_SITE_DIR");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let site = std::env::var_os("WISP_SITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/site"));
    // A directory: cargo reruns this when anything under it changes.
    println!("cargo:rerun-if-changed={}", site.display());

    let mut files = Vec::new();
    if site.is_dir() {
        collect(&site, &mut files);
    }
    files.sort();
    // The hydration bundle's two files share one hash (of both), as Leptos
    // names them from one output name: `wisp.<H>.js`, `wisp.<H>_bg.wasm`.
    let js = site.join("pkg/wisp.js");
    let wasm = site.join("pkg/wisp_bg.wasm");
    let bundle = match (std::fs::read(&js), std::fs::read(&wasm)) {
        (Ok(mut both), Ok(wasm_bytes)) => {
            both.extend_from_slice(&wasm_bytes);
            Some(format!("wisp.{:016x}", fnv1a(&both)))
        }
        _ => None,
    };
    let mut out = format!("pub const BUNDLE_OUTPUT_NAME: Option<&str> = {bundle:?};\n");
    out.push_str("pub static ASSETS: &[Asset] = &[\n");
    for file in &files {
        let name = file.to_string_lossy();
        if name.ends_with(".gz") || name.ends_with(".br") {
            continue;
        }
        let relative = file
            .strip_prefix(&site)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(file).unwrap();
        let path = format!("/{relative}");
        let hashed = match (&bundle, path.as_str()) {
            (Some(name), "/pkg/wisp.js") => format!("/pkg/{name}.js"),
            (Some(name), "/pkg/wisp_bg.wasm") => format!("/pkg/{name}_bg.wasm"),
            _ => hashed_path(&path, fnv1a(&bytes)),
        };
        let variant = |ext: &str| {
            let compressed = PathBuf::from(format!("{name}.{ext}"));
            if compressed.is_file() {
                format!(
                    "Some(include_bytes!({:?}))",
                    compressed.display().to_string()
                )
            } else {
                "None".to_string()
            }
        };
        writeln!(
            out,
            "    Asset {{ path: {path:?}, hashed_path: {hashed:?}, body: include_bytes!({:?}), \
             gzip: {}, brotli: {} }},",
            file.display().to_string(),
            variant("gz"),
            variant("br"),
        )
        .unwrap();
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("site_assets.rs");
    std::fs::write(target, out).unwrap();
    embed_templates(&manifest.join("../templates"));
}

/// Build outputs and caches a template folder may hold after a build in
/// place; never part of a template.
const NOT_TEMPLATE: &[&str] = &["node_modules", "target", ".venv", "__pycache__"];

/// Writes `$OUT_DIR/templates.rs`: `(template, relative path, bytes)` of
/// every file of the project templates `wisp new` writes.
fn embed_templates(root: &Path) {
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::from("pub static TEMPLATE_FILES: &[(&str, &str, &[u8])] = &[\n");
    let mut templates: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    templates.sort();
    for template in templates {
        let name = template.file_name().unwrap().to_string_lossy().to_string();
        let mut files = Vec::new();
        collect_template(&template, &mut files);
        files.sort();
        for file in files {
            let relative = file
                .strip_prefix(&template)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            writeln!(
                out,
                "    ({name:?}, {relative:?}, include_bytes!({:?})),",
                file.display().to_string()
            )
            .unwrap();
        }
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("templates.rs");
    std::fs::write(target, out).unwrap();
}

/// The files of one template (no build output).
fn collect_template(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            if !NOT_TEMPLATE.contains(&name.as_str()) {
                collect_template(&path, files);
            }
        } else if !name.ends_with(".wasm") {
            files.push(path);
        }
    }
}

/// Every file under `dir`.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// `/pkg/wisp.js` → `/pkg/wisp.<hash>.js` (hash before the last extension).
fn hashed_path(path: &str, hash: u64) -> String {
    let hash = format!("{hash:016x}");
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    match path[name_start..].rfind('.') {
        Some(dot) => {
            let dot = name_start + dot;
            format!("{}.{hash}{}", &path[..dot], &path[dot..])
        }
        None => format!("{path}.{hash}"),
    }
}

/// FNV-1a, 64 bits: a name that changes when the content does (cache
/// busting, not security).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
