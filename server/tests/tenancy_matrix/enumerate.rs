//! What the tenancy matrix checks, generated: every operation of the
//! server's OpenAPI document and every server function the app registers
//! (cross-checked against the `#[server]` functions of app/src), each with
//! its row of the sample table; and the matrix of results.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use app::error::AppError;

use crate::samples::{Sample, ROUTES, SERVER_FNS};
use crate::world::{Auth, Payload, World};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Rest,
    Rpc,
}

/// One operation to check: a REST route or a server function.
pub struct Endpoint {
    pub surface: Surface,
    pub method: String,
    /// The path template (REST) or the registered path (server function).
    pub path: String,
    pub sample: Sample,
}

impl Endpoint {
    pub fn label(&self) -> String {
        match self.surface {
            Surface::Rest => format!("{} {}", self.method, self.path),
            Surface::Rpc => format!("fn {} ({} {})", self.sample.key, self.method, self.path),
        }
    }
}

/// The columns of the matrix.
pub const M: usize = 0;
pub const A: usize = 1;
pub const B: usize = 2;
pub const C: usize = 3;
pub const D: usize = 4;
pub const COLUMNS: [&str; 5] = ["m", "a", "b", "c", "d"];

#[derive(Default)]
pub struct Matrix {
    pub violations: Vec<String>,
    pub cells: BTreeMap<String, [&'static str; 5]>,
}

impl Matrix {
    pub fn record(
        &mut self,
        e: &Endpoint,
        column: usize,
        ok: bool,
        problem: impl FnOnce() -> String,
    ) {
        let cell = &mut self.cells.entry(e.label()).or_insert(["-"; 5])[column];
        if ok {
            if *cell == "-" {
                *cell = "ok";
            }
        } else {
            *cell = "FAIL";
            self.violations.push(format!(
                "({}) {}: {}",
                COLUMNS[column],
                e.label(),
                problem()
            ));
        }
    }

    pub fn fail(&mut self, line: String) {
        self.violations.push(line);
    }
}

/// Every operation of the OpenAPI document, with its sample.
pub async fn rest_endpoints(world: &World<'_>, matrix: &mut Matrix) -> Vec<Endpoint> {
    let doc = world
        .call(
            "GET",
            "/api/v1/openapi.json",
            Auth::Token(&world.admin.token),
            Payload::None,
        )
        .await;
    assert_eq!(doc.status, 200, "the OpenAPI document: {}", doc.brief());
    let paths = doc.json["paths"]
        .as_object()
        .expect("`paths` in the OpenAPI document");
    let mut endpoints = Vec::new();
    let mut seen = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().into_iter().flat_map(|item| item.keys()) {
            let method = method.to_ascii_uppercase();
            if ![
                "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE",
            ]
            .contains(&method.as_str())
            {
                continue;
            }
            let key = format!("{method} {path}");
            seen.insert(key.clone());
            match ROUTES.iter().find(|s| s.key == key) {
                Some(sample) => endpoints.push(Endpoint {
                    surface: Surface::Rest,
                    method,
                    path: path.clone(),
                    sample: *sample,
                }),
                None => matrix.fail(format!(
                    "route {key} is not in the tenancy matrix: add a sample to \
                     server/tests/tenancy_matrix/samples.rs and make it go through the service layer"
                )),
            }
        }
    }
    for sample in ROUTES.iter().filter(|s| !seen.contains(s.key)) {
        matrix.fail(format!(
            "the sample for {} names no operation of the OpenAPI document (renamed? remove it)",
            sample.key
        ));
    }
    assert!(!endpoints.is_empty(), "no routes in the OpenAPI document");
    endpoints
}

/// Every server function the app registers, with its sample. The registry
/// is cross-checked against the `#[server]` functions of app/src.
pub fn server_fn_endpoints(matrix: &mut Matrix) -> Vec<Endpoint> {
    // Referencing the app's error type keeps the app crate (and with it its
    // server functions' registrations) linked into this test.
    let _ = std::mem::size_of::<AppError>();
    let registered: Vec<(String, String)> = leptos::server_fn::axum::server_fn_paths()
        .filter(|(path, _)| path.starts_with("/rpc/"))
        .map(|(path, method)| (path.to_string(), method.as_str().to_string()))
        .collect();
    let in_source = server_fns_in_source();
    let mut names = BTreeSet::new();
    let mut endpoints = Vec::new();
    for (path, method) in registered {
        let name = fn_name(&path, &in_source);
        names.insert(name.clone());
        match SERVER_FNS.iter().find(|s| s.key == name) {
            Some(sample) => endpoints.push(Endpoint {
                surface: Surface::Rpc,
                method,
                path,
                sample: *sample,
            }),
            None => matrix.fail(format!(
                "server function {name} ({method} {path}) is not in the tenancy matrix: add a sample \
                 to server/tests/tenancy_matrix/samples.rs and make it go through the service layer"
            )),
        }
    }
    if names != in_source {
        matrix.fail(format!(
            "the server-function registry has {} functions but app/src declares {} `#[server]` \
             functions: only registered {:?}; only in the source {:?}",
            names.len(),
            in_source.len(),
            names.difference(&in_source).collect::<Vec<_>>(),
            in_source.difference(&names).collect::<Vec<_>>(),
        ));
    }
    for sample in SERVER_FNS.iter().filter(|s| !names.contains(s.key)) {
        matrix.fail(format!(
            "the sample for server function {} names no registered server function (renamed? remove it)",
            sample.key
        ));
    }
    endpoints
}

/// `/rpc/create_token12345` → `create_token` (the macro appends a hash).
fn fn_name(path: &str, in_source: &BTreeSet<String>) -> String {
    let rest = path.trim_start_matches("/rpc/");
    let stripped = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    if in_source.contains(stripped) {
        return stripped.to_string();
    }
    in_source
        .iter()
        .filter(|name| rest.starts_with(name.as_str()))
        .max_by_key(|name| name.len())
        .cloned()
        .unwrap_or_else(|| stripped.to_string())
}

/// Names of the functions carrying a `#[server...]` attribute in app/src
/// (not the `#[server(default)]` of an argument).
fn server_fns_in_source() -> BTreeSet<String> {
    let mut files = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            i += 1;
            if !line.starts_with("#[server") {
                continue;
            }
            // Find where the attribute closes (it may span lines).
            let mut depth = 0i32;
            let mut after = None;
            let mut current = line;
            loop {
                for (at, c) in current.char_indices() {
                    match c {
                        '[' => depth += 1,
                        ']' => {
                            depth -= 1;
                            if depth == 0 {
                                after = Some(current[at + 1..].trim().to_string());
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                if after.is_some() || i >= lines.len() {
                    break;
                }
                current = lines[i];
                i += 1;
            }
            if after.as_deref() != Some("") {
                continue; // an argument's attribute: `#[server(default)] id: String,`
            }
            let item = lines[i..]
                .iter()
                .find(|l| !(l.is_empty() || l.starts_with("#[") || l.starts_with("//")));
            if let Some(name) = item.and_then(|l| l.split("fn ").nth(1)) {
                let name = name.split(['(', '<']).next().unwrap().trim();
                names.insert(name.to_string());
            }
        }
    }
    names
}
