//! The on-disk cache of compiled artifacts: `<cache_dir>/<sha256>-<engine>.cwasm`,
//! keyed by the wasm's content hash and the engine's compatibility hash, so a
//! restart (or another node) never recompiles the same function. Files are
//! written atomically (temporary file + rename). Blocking: call from
//! `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use crate::validate::{FunctionKind, ValidationError};

/// Length of a SHA-256 digest in hex.
const SHA256_HEX_LEN: usize = 64;

/// Artifact counters since the runtime started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Artifacts loaded from disk.
    pub hits: u64,
    /// Functions compiled from wasm.
    pub compiles: u64,
}

/// A compiled function.
pub(crate) enum Artifact {
    Component(Component),
    Module(Module),
}

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
    hits: AtomicU64,
    compiles: AtomicU64,
}

impl ArtifactCache {
    pub fn new(dir: PathBuf, engine_key: String) -> Self {
        ArtifactCache {
            dir,
            engine_key,
            hits: AtomicU64::new(0),
            compiles: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            compiles: self.compiles.load(Ordering::Relaxed),
        }
    }

    /// Counts a use of an artifact that was already loaded in memory.
    pub fn note_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Where the artifact of a wasm with this content hash lives.
    pub fn path_for(&self, sha256_hex: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256_hex}-{}.cwasm", self.engine_key))
    }

    /// Loads the artifact for `wasm` from disk, or compiles and stores it.
    /// Returns the artifact and whether it came from disk.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        kind: FunctionKind,
        wasm: &[u8],
        sha256_hex: &str,
    ) -> Result<(Artifact, bool), ValidationError> {
        let sha256_hex = content_key(wasm, sha256_hex);
        let path = self.path_for(&sha256_hex);
        if path.exists() {
            match load(engine, kind, &path) {
                Ok(artifact) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok((artifact, true));
                }
                Err(error) => tracing::warn!(
                    path = %path.display(),
                    "cached artifact unusable, recompiling: {error:#}"
                ),
            }
        }

        let started = std::time::Instant::now();
        let (artifact, serialized) = compile(engine, kind, wasm)?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            %kind,
            sha256 = %sha256_hex,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled function"
        );
        match serialized {
            Ok(bytes) => {
                if let Err(error) = write_atomically(&path, &bytes) {
                    tracing::warn!(path = %path.display(), "could not cache artifact: {error}");
                }
            }
            Err(error) => tracing::warn!("could not serialize artifact: {error:#}"),
        }
        Ok((artifact, false))
    }
}

/// The caller's content hash when it is well-formed (it names a file, so it
/// must not contain path characters), else one computed here.
fn content_key(wasm: &[u8], sha256_hex: &str) -> String {
    let well_formed = sha256_hex.len() == SHA256_HEX_LEN
        && sha256_hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if well_formed {
        sha256_hex.to_string()
    } else {
        hex::encode(Sha256::digest(wasm))
    }
}

/// Loads a previously compiled artifact.
// The one unsafe operation of the crate: deserializing native code.
#[allow(unsafe_code)]
fn load(engine: &Engine, kind: FunctionKind, path: &Path) -> wasmtime::Result<Artifact> {
    // SAFETY: `deserialize_file` trusts the file to be an artifact produced
    // by a compatible wasmtime. Files in the cache directory are written only
    // by `write_atomically` below (temp file + rename, so never partial),
    // from `Component/Module::serialize` of this engine, and are named by
    // the wasm's content hash and this engine's compatibility hash, so a
    // file of another engine configuration is never opened. wasmtime
    // additionally checks the artifact header and the engine compatibility.
    let artifact = unsafe {
        match kind {
            FunctionKind::Component => {
                Artifact::Component(Component::deserialize_file(engine, path)?)
            }
            FunctionKind::Module => Artifact::Module(Module::deserialize_file(engine, path)?),
        }
    };
    Ok(artifact)
}

/// Compiles `wasm`; the second value is the serialized artifact to cache.
fn compile(
    engine: &Engine,
    kind: FunctionKind,
    wasm: &[u8],
) -> Result<(Artifact, wasmtime::Result<Vec<u8>>), ValidationError> {
    match kind {
        FunctionKind::Component => {
            let component = Component::from_binary(engine, wasm).map_err(compile_error)?;
            let bytes = component.serialize();
            Ok((Artifact::Component(component), bytes))
        }
        FunctionKind::Module => {
            let module = Module::from_binary(engine, wasm).map_err(compile_error)?;
            let bytes = module.serialize();
            Ok((Artifact::Module(module), bytes))
        }
    }
}

/// Compilation errors caused by invalid wasm are [`ValidationError::Invalid`];
/// the rest (limits, unsupported features) are [`ValidationError::Compile`].
fn compile_error(error: wasmtime::Error) -> ValidationError {
    let detail = format!("{error:#}");
    let invalid = error.chain().any(|cause| {
        cause
            .downcast_ref::<wasmparser::BinaryReaderError>()
            .is_some()
    }) || detail.contains("WebAssembly translation error")
        || detail.contains("Invalid input WebAssembly");
    if invalid {
        ValidationError::Invalid { detail }
    } else {
        ValidationError::Compile { detail }
    }
}

/// Writes `bytes` to `path` via a temporary file in the same directory and a
/// rename, so readers never observe a partial artifact.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;

    static NEXT: AtomicU64 = AtomicU64::new(0);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_key_rejects_path_like_hashes() {
        let wasm = b"\0asm\x01\0\0\0";
        let computed = content_key(wasm, "../../etc/passwd");
        assert_eq!(computed.len(), SHA256_HEX_LEN);
        assert_eq!(computed, hex::encode(Sha256::digest(wasm)));
        let given = "a".repeat(SHA256_HEX_LEN);
        assert_eq!(content_key(wasm, &given), given);
    }

    #[test]
    fn atomic_write_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.cwasm");
        write_atomically(&path, b"one").expect("write");
        write_atomically(&path, b"two").expect("overwrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let entries = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(entries, 1);
    }
}
