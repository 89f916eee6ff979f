//! The on-disk cache of compiled artifacts: `<cache_dir>/<sha256>-<engine>.cwasm`,
//! keyed by the wasm's content hash and the engine's compatibility hash, so a
//! restart (or another node) never recompiles the same function. Files are
//! written atomically (temporary file + rename). Each artifact has a checksum
//! beside it (`<artifact>.sha256`, the SHA-256 of the artifact file) that is
//! verified before the native code is loaded: a damaged artifact (a flipped
//! bit, an overwritten code section) would otherwise load as a cache hit and
//! crash the process on its first call, again after every restart. An
//! artifact whose checksum is missing or wrong is logged, moved to
//! `<cache_dir>/quarantine/` for inspection, and compiled again. Blocking:
//! call from `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use crate::validate::{FunctionKind, ValidationError};

/// Length of a SHA-256 digest in hex.
const SHA256_HEX_LEN: usize = 64;
/// Extension of an artifact's checksum file (after `.cwasm`).
const CHECKSUM_EXTENSION: &str = "sha256";
/// Where damaged artifacts are moved, under the cache directory.
const QUARANTINE_DIR: &str = "quarantine";

/// Artifact counters since the runtime started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Artifacts loaded from disk.
    pub hits: u64,
    /// Functions compiled from wasm by the optimising compiler.
    pub compiles: u64,
    /// Functions compiled by the baseline compiler to go live sooner
    /// (never cached: their optimised code replaces them).
    pub baseline_compiles: u64,
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
    baseline_compiles: AtomicU64,
}

impl ArtifactCache {
    pub fn new(dir: PathBuf, engine_key: String) -> Self {
        ArtifactCache {
            dir,
            engine_key,
            hits: AtomicU64::new(0),
            compiles: AtomicU64::new(0),
            baseline_compiles: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            compiles: self.compiles.load(Ordering::Relaxed),
            baseline_compiles: self.baseline_compiles.load(Ordering::Relaxed),
        }
    }

    /// Counts a baseline compile.
    pub fn note_baseline_compile(&self) {
        self.baseline_compiles.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether an optimised artifact of this content hash is on disk.
    pub fn has(&self, sha256_hex: &str) -> bool {
        self.path_for(sha256_hex).exists()
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
        if path.exists() && self.verified(&path) {
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
        let artifact = compile(engine, kind, wasm)?;
        let serialized = artifact.serialize();
        self.compiles.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            %kind,
            sha256 = %sha256_hex,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled function"
        );
        match serialized {
            Ok(bytes) => {
                // The artifact first: a checksum without its artifact, or
                // an artifact whose checksum is not written yet, fails
                // verification and is compiled again.
                let checksum = hex::encode(Sha256::digest(&bytes));
                let written = write_atomically(&path, &bytes)
                    .and_then(|()| write_atomically(&checksum_path(&path), checksum.as_bytes()));
                if let Err(error) = written {
                    tracing::warn!(path = %path.display(), "could not cache artifact: {error}");
                }
            }
            Err(error) => tracing::warn!("could not serialize artifact: {error:#}"),
        }
        Ok((artifact, false))
    }
}

impl ArtifactCache {
    /// Whether the artifact at `path` matches its checksum. One that does
    /// not (or has none) is quarantined, so it is compiled again.
    fn verified(&self, path: &Path) -> bool {
        let problem = match (
            std::fs::read_to_string(checksum_path(path)),
            file_sha256(path),
        ) {
            (Ok(expected), Ok(actual)) if expected.trim() == actual => return true,
            (Ok(expected), Ok(actual)) => format!(
                "checksum mismatch (expected {}, found {actual})",
                expected.trim()
            ),
            (Err(e), _) if e.kind() == std::io::ErrorKind::NotFound => {
                "no checksum beside it".to_string()
            }
            (Err(e), _) => format!("checksum unreadable: {e}"),
            (_, Err(e)) => format!("artifact unreadable: {e}"),
        };
        match self.quarantine(path) {
            Ok(moved) => tracing::warn!(
                path = %path.display(),
                quarantined = %moved.display(),
                "cached artifact failed verification ({problem}); quarantined, recompiling"
            ),
            Err(error) => tracing::warn!(
                path = %path.display(),
                "cached artifact failed verification ({problem}); could not quarantine it \
                 ({error}), recompiling"
            ),
        }
        false
    }

    /// Moves a damaged artifact to the quarantine directory (with a
    /// timestamp, so repeated damage keeps every copy) and drops its checksum.
    fn quarantine(&self, path: &Path) -> std::io::Result<PathBuf> {
        let dir = self.dir.join(QUARANTINE_DIR);
        std::fs::create_dir_all(&dir)?;
        // Milliseconds and a process-wide sequence number: two damaged
        // copies moved within the same millisecond must not overwrite one
        // another (seen in CI: the test's two quarantines 1 ms apart).
        static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target = dir.join(format!("{name}.{stamp}.{sequence}"));
        let moved = std::fs::rename(path, &target);
        let _ = std::fs::remove_file(checksum_path(path));
        moved.map(|()| target)
    }
}

/// Where the checksum of the artifact at `path` is kept.
fn checksum_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(CHECKSUM_EXTENSION);
    PathBuf::from(name)
}

/// The SHA-256 of a file, in hex, read in chunks.
fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
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
    // file of another engine configuration is never opened. The caller has
    // just verified the file against the SHA-256 written with it, so damage
    // after writing is caught rather than executed. wasmtime additionally
    // checks the artifact header and the engine compatibility.
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

/// Compiles `wasm` with `engine` (nothing is written to disk).
pub(crate) fn compile(
    engine: &Engine,
    kind: FunctionKind,
    wasm: &[u8],
) -> Result<Artifact, ValidationError> {
    Ok(match kind {
        FunctionKind::Component => {
            Artifact::Component(Component::from_binary(engine, wasm).map_err(compile_error)?)
        }
        FunctionKind::Module => {
            Artifact::Module(Module::from_binary(engine, wasm).map_err(compile_error)?)
        }
    })
}

impl Artifact {
    /// The bytes to cache on disk.
    fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        match self {
            Artifact::Component(component) => component.serialize(),
            Artifact::Module(module) => module.serialize(),
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

    /// The smallest valid module: damage to its cached artifact must be
    /// caught by the checksum, not loaded.
    const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

    fn load_empty(cache: &ArtifactCache, engine: &Engine) -> bool {
        let key = hex::encode(Sha256::digest(EMPTY_MODULE));
        let (_, from_disk) = cache
            .load_or_compile(engine, FunctionKind::Module, EMPTY_MODULE, &key)
            .expect("the empty module compiles");
        from_disk
    }

    fn quarantined(dir: &Path) -> usize {
        std::fs::read_dir(dir.join(QUARANTINE_DIR)).map_or(0, |d| d.count())
    }

    #[test]
    fn damaged_artifacts_are_quarantined_and_recompiled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::default();
        let cache = ArtifactCache::new(dir.path().to_path_buf(), "test".into());
        assert!(!load_empty(&cache, &engine), "first load compiles");
        assert!(load_empty(&cache, &engine), "second load is a verified hit");
        let path = cache.path_for(&hex::encode(Sha256::digest(EMPTY_MODULE)));
        assert!(checksum_path(&path).exists());

        let mut bytes = std::fs::read(&path).expect("artifact");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, &bytes).expect("damage");
        assert!(
            !load_empty(&cache, &engine),
            "a damaged artifact is compiled again"
        );
        assert_eq!(quarantined(dir.path()), 1);
        assert!(
            load_empty(&cache, &engine),
            "the rewritten artifact verifies"
        );

        std::fs::remove_file(checksum_path(&path)).expect("drop checksum");
        assert!(!load_empty(&cache, &engine), "no checksum: compiled again");
        assert_eq!(quarantined(dir.path()), 2);
        assert_eq!(cache.stats().compiles, 3);
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
