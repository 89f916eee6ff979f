//! Structural validation of uploaded wasm: is it WebAssembly, is it a
//! component or a module, and does it have the entry point Wisp calls
//! (`wasi:http/incoming-handler@0.2.x` for components, `_start` for WASI
//! command modules). Parsing only — no type checking, no compilation — so it
//! is cheap enough to run on every upload before anything else.

use std::fmt;
use std::str::FromStr;

use wasmparser::{ComponentExternalKind, Encoding, ExternalKind, Parser, Payload};

/// The `\0asm` magic number every WebAssembly binary starts with.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// Magic number plus the 4-byte version/layer field.
const WASM_HEADER_LEN: usize = 8;

/// Export name prefix a wasi:http 0.2 proxy component must have (any patch version).
const HTTP_HANDLER_EXPORT_PREFIX: &str = "wasi:http/incoming-handler@0.2.";

/// The WASI command entry point.
const START_EXPORT: &str = "_start";

/// What kind of function a wasm binary is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    /// A WASI 0.2 component exporting `wasi:http/incoming-handler`.
    Component,
    /// A WASI preview 1 command module speaking CGI (WAGI).
    Module,
}

impl FunctionKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            FunctionKind::Component => "component",
            FunctionKind::Module => "module",
        }
    }
}

impl fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`FunctionKind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown function kind `{0}` (expected \"component\" or \"module\")")]
pub struct UnknownFunctionKind(pub String);

impl FromStr for FunctionKind {
    type Err = UnknownFunctionKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "component" => Ok(FunctionKind::Component),
            "module" => Ok(FunctionKind::Module),
            other => Err(UnknownFunctionKind(other.to_string())),
        }
    }
}

/// Why a wasm binary cannot become a function. `Display` is a sentence meant
/// for the person who uploaded the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("the file is empty")]
    Empty,
    #[error("not a WebAssembly file (bad magic number)")]
    NotWasm,
    #[error("the file is truncated: {detail}")]
    Truncated { detail: String },
    #[error(
        "the component does not export wasi:http/incoming-handler (it exports: {})",
        list_or_nothing(.found)
    )]
    MissingHttpExport { found: Vec<String> },
    #[error("the module has no _start export: build it as a WASI command")]
    MissingStart,
    #[error("the file is not valid WebAssembly: {detail}")]
    Invalid { detail: String },
    #[error("the function could not be compiled: {detail}")]
    Compile { detail: String },
    /// Compiling took longer than the server allows (a compile bomb, or a
    /// function too large for this server).
    #[error(
        "compiling the function took longer than this server's compile budget of {seconds} s; \
         it was given up"
    )]
    CompileBudget { seconds: u64 },
    #[error("the function imports something Wisp does not provide: {detail}")]
    UnsupportedImport { detail: String },
}

fn list_or_nothing(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".to_string()
    } else {
        names.join(", ")
    }
}

/// Checks `wasm` structurally and says what kind of function it is.
pub fn validate(wasm: &[u8]) -> Result<FunctionKind, ValidationError> {
    if wasm.is_empty() {
        return Err(ValidationError::Empty);
    }
    let magic_len = wasm.len().min(WASM_MAGIC.len());
    if wasm[..magic_len] != WASM_MAGIC[..magic_len] {
        return Err(ValidationError::NotWasm);
    }
    if wasm.len() < WASM_HEADER_LEN {
        return Err(ValidationError::Truncated {
            detail: format!(
                "only {} bytes, shorter than the {WASM_HEADER_LEN}-byte header",
                wasm.len()
            ),
        });
    }

    let mut kind = None;
    // Nesting depth: 1 = the top-level module/component. Nested modules and
    // components (inside a component) have their own exports we must ignore.
    let mut depth = 0usize;
    let mut component_exports = Vec::new();
    let mut has_start = false;

    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| parse_error(e, wasm.len()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                depth += 1;
                if depth == 1 {
                    kind = Some(match encoding {
                        Encoding::Component => FunctionKind::Component,
                        Encoding::Module => FunctionKind::Module,
                    });
                }
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| parse_error(e, wasm.len()))?;
                    if export.kind == ComponentExternalKind::Instance {
                        component_exports.push(export.name.name.to_string());
                    } else {
                        component_exports.push(format!("{} ({:?})", export.name.name, export.kind));
                    }
                }
            }
            Payload::ExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| parse_error(e, wasm.len()))?;
                    if export.name == START_EXPORT && export.kind == ExternalKind::Func {
                        has_start = true;
                    }
                }
            }
            _ => {}
        }
    }

    match kind {
        Some(FunctionKind::Component) => {
            let exports_handler = component_exports
                .iter()
                .any(|name| name.starts_with(HTTP_HANDLER_EXPORT_PREFIX));
            if exports_handler {
                Ok(FunctionKind::Component)
            } else {
                Err(ValidationError::MissingHttpExport {
                    found: component_exports,
                })
            }
        }
        Some(FunctionKind::Module) if has_start => Ok(FunctionKind::Module),
        Some(FunctionKind::Module) => Err(ValidationError::MissingStart),
        None => Err(ValidationError::Invalid {
            detail: "no WebAssembly header found".to_string(),
        }),
    }
}

/// Classifies a parse error: running out of bytes means the upload was cut off.
fn parse_error(error: wasmparser::BinaryReaderError, len: usize) -> ValidationError {
    let detail = error.to_string();
    if error.message().starts_with("unexpected end-of-file") || error.offset() >= len {
        ValidationError::Truncated { detail }
    } else {
        ValidationError::Invalid { detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wat(text: &str) -> Vec<u8> {
        wat::parse_str(text).expect("test WAT must parse")
    }

    #[test]
    fn empty_file() {
        assert_eq!(validate(&[]), Err(ValidationError::Empty));
        assert_eq!(ValidationError::Empty.to_string(), "the file is empty");
    }

    #[test]
    fn garbage_is_not_wasm() {
        let err = validate(b"#!/bin/sh\necho hello\n").unwrap_err();
        assert_eq!(err, ValidationError::NotWasm);
        assert_eq!(err.to_string(), "not a WebAssembly file (bad magic number)");
        // A PNG header is not wasm either.
        assert_eq!(
            validate(b"\x89PNG\r\n\x1a\n"),
            Err(ValidationError::NotWasm)
        );
    }

    #[test]
    fn truncated_files() {
        let module = wat(r#"(module (func (export "_start")) (func (export "other")))"#);
        // Header only half there.
        assert!(matches!(
            validate(&module[..6]),
            Err(ValidationError::Truncated { .. })
        ));
        // Cut inside a section.
        let err = validate(&module[..module.len() - 3]).unwrap_err();
        assert!(
            matches!(err, ValidationError::Truncated { .. }),
            "got {err:?}"
        );
        assert!(err.to_string().starts_with("the file is truncated: "));
        // And the whole file is fine.
        assert_eq!(validate(&module), Ok(FunctionKind::Module));
    }

    #[test]
    fn module_without_start() {
        let module = wat(r#"(module (func (export "main")))"#);
        let err = validate(&module).unwrap_err();
        assert_eq!(err, ValidationError::MissingStart);
        assert_eq!(
            err.to_string(),
            "the module has no _start export: build it as a WASI command"
        );
        // `_start` must be a function, not, say, a global.
        let module = wat(r#"(module (global (export "_start") i32 (i32.const 0)))"#);
        assert_eq!(validate(&module), Err(ValidationError::MissingStart));
    }

    #[test]
    fn empty_component_has_no_handler() {
        let err = validate(&wat("(component)")).unwrap_err();
        assert_eq!(err, ValidationError::MissingHttpExport { found: vec![] });
        assert_eq!(
            err.to_string(),
            "the component does not export wasi:http/incoming-handler (it exports: nothing)"
        );
    }

    #[test]
    fn component_lists_what_it_exports() {
        let component = wat(r#"(component
                (core module $m)
                (instance $i)
                (export "wasi:cli/run@0.2.0" (instance $i))
            )"#);
        let err = validate(&component).unwrap_err();
        assert_eq!(
            err,
            ValidationError::MissingHttpExport {
                found: vec!["wasi:cli/run@0.2.0".to_string()]
            }
        );
        assert!(err
            .to_string()
            .ends_with("(it exports: wasi:cli/run@0.2.0)"));
    }

    #[test]
    fn component_with_handler_export() {
        let component = wat(r#"(component
                (instance $i)
                (export "wasi:http/incoming-handler@0.2.3" (instance $i))
            )"#);
        assert_eq!(validate(&component), Ok(FunctionKind::Component));
    }

    #[test]
    fn nested_exports_do_not_count() {
        // The handler is exported by an inner component only.
        let component = wat(r#"(component
                (component $inner
                    (instance $i)
                    (export "wasi:http/incoming-handler@0.2.0" (instance $i))
                )
            )"#);
        assert!(matches!(
            validate(&component),
            Err(ValidationError::MissingHttpExport { .. })
        ));
    }

    #[test]
    fn kind_round_trips() {
        for kind in [FunctionKind::Component, FunctionKind::Module] {
            assert_eq!(kind.as_str().parse::<FunctionKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert!("script".parse::<FunctionKind>().is_err());
    }
}
