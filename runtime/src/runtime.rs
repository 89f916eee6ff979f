//! [`Runtime`]: the process-wide handle — engine, linkers, artifact cache and
//! epoch ticker — and the prepare path (validate → cached artifact or compile
//! → `InstancePre`), with its bounds: at most
//! [`RuntimeConfig::max_concurrent_compiles`] compilations at once (others
//! queue), each given up after [`RuntimeConfig::compile_budget`]. A given-up
//! compilation cannot be stopped; it runs on beside the slots, in as many
//! places again (beyond those it keeps its slot, so that compile bombs can
//! never take more than twice the slots' cores).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::cache::{self, Artifact, ArtifactCache, CacheStats};
use crate::component::{self, ComponentHost};
use crate::config::RuntimeConfig;
use crate::engine::{build_baseline_engine, build_engine, compatibility_key, warm_up, EpochTicker};
use crate::module::{self, ModuleHost};
use crate::prepared::{CodeTier, Entry, PreparedFunction, PreparedInner};
use crate::stats::{Histogram, InstantiationStats};
use crate::validate::{self, FunctionKind, ValidationError};
use crate::warm::SpareBudget;

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the WebAssembly engine could not be created: {detail}")]
    Engine { detail: String },
    #[error("the artifact cache directory {} could not be created: {source}", path.display())]
    CacheDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the epoch ticker thread could not be started: {0}")]
    Ticker(#[source] std::io::Error),
}

/// The linkers of one engine: WASI 0.2 + wasi:http for components, WASI
/// preview 1 for WAGI modules.
struct Linkers {
    component: wasmtime::component::Linker<ComponentHost>,
    module: wasmtime::Linker<ModuleHost>,
}

impl Linkers {
    fn new(engine: &Engine) -> Result<Self, RuntimeError> {
        Ok(Linkers {
            component: component::linker(engine).map_err(|e| RuntimeError::Engine {
                detail: format!("component linker: {e:#}"),
            })?,
            module: module::linker(engine).map_err(|e| RuntimeError::Engine {
                detail: format!("module linker: {e:#}"),
            })?,
        })
    }

    /// Links a compiled function against the host interfaces.
    fn link(&self, artifact: Artifact) -> Result<Entry, ValidationError> {
        match artifact {
            Artifact::Component(component) => {
                let pre = self.component.instantiate_pre(&component).map_err(|e| {
                    ValidationError::UnsupportedImport {
                        detail: format!("{e:#}"),
                    }
                })?;
                let proxy = ProxyPre::new(pre).map_err(|e| ValidationError::Invalid {
                    detail: format!(
                        "its wasi:http/incoming-handler export does not match WASI 0.2: {e:#}"
                    ),
                })?;
                Ok(Entry::Component(proxy))
            }
            Artifact::Module(module) => {
                let pre = self.module.instantiate_pre(&module).map_err(|e| {
                    ValidationError::UnsupportedImport {
                        detail: format!("{e:#}"),
                    }
                })?;
                Ok(Entry::Module(pre))
            }
        }
    }
}

/// The baseline compiler's engine and its linkers ([`build_baseline_engine`]).
struct Baseline {
    engine: Engine,
    linkers: Linkers,
}

/// Which compiler a compilation uses.
#[derive(Clone, Copy)]
enum Compiler {
    /// Cranelift, through the artifact cache.
    Optimizing,
    /// Cranelift for a function already live on baseline code: the same,
    /// at background priority ([`crate::background`]).
    OptimizingInBackground,
    /// Winch, in memory only.
    Baseline,
}

pub(crate) struct RuntimeInner {
    pub engine: Engine,
    linkers: Linkers,
    /// `None` when the baseline compiler is off or cannot run here.
    baseline: Option<Baseline>,
    cache: ArtifactCache,
    pub max_memory_bytes: u64,
    pooling: bool,
    /// Time to instantiate each call's sandbox (fresh store + instance).
    pub instantiation: Arc<Histogram>,
    /// Pre-instantiated sandboxes held by all [`crate::WarmPool`]s.
    pub spares: Arc<SpareBudget>,
    /// Functions prepared from the same wasm share one loaded artifact and
    /// `InstancePre` (immutable; every call still gets its own store and
    /// instance): 10,000 functions deployed from one binary otherwise held
    /// 10,000 copies of its code metadata (~0.7 MB each, measured).
    /// Keyed by content hash; weak, so undeployed code is freed.
    loaded: Mutex<HashMap<String, Weak<PreparedInner>>>,
    /// One permit per compilation allowed to run at once.
    compiles: Arc<tokio::sync::Semaphore>,
    /// One permit per given-up compilation that may run on beside the
    /// slots (as many as there are slots).
    given_up: Arc<tokio::sync::Semaphore>,
    /// One permit per optimised compile running in the background for a
    /// function that went live on baseline code (as many as there are
    /// slots; the rest wait their turn, oldest first).
    optimizing: Arc<tokio::sync::Semaphore>,
    /// Functions live on baseline code whose optimised compile has not
    /// ended (queued or running). Each holds a copy of its wasm; past
    /// [`MAX_PENDING_OPTIMIZATIONS`] new functions are compiled optimised
    /// before they go live instead, as without the baseline compiler.
    pending_optimizations: Arc<AtomicUsize>,
    /// How long one compilation may take.
    compile_budget: Duration,
    _ticker: EpochTicker,
}

/// Optimisations that may wait or run in the background at once (see
/// `RuntimeInner::pending_optimizations`): a restart with a wiped artifact
/// cache and thousands of distinct functions must not hold thousands of
/// wasm copies in memory; beyond this many, functions go live after their
/// optimised compile.
pub const MAX_PENDING_OPTIMIZATIONS: usize = 16;

/// Counts one pending optimisation until dropped.
struct PendingOptimization(Arc<AtomicUsize>);

impl Drop for PendingOptimization {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The WebAssembly runtime. Cheap to clone; the epoch ticker stops when the
/// last clone (and the last [`PreparedFunction`]) is dropped.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// Builds the engine and linkers, creates the cache directory and starts
    /// the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let spares = SpareBudget::from_env();
        let (engine, pooling) =
            build_engine(&config, spares.max()).map_err(|e| RuntimeError::Engine {
                detail: format!("{e:#}"),
            })?;
        std::fs::create_dir_all(&config.cache_dir).map_err(|source| RuntimeError::CacheDir {
            path: config.cache_dir.clone(),
            source,
        })?;
        let linkers = Linkers::new(&engine)?;
        let baseline = match config.baseline_compiler {
            true => build_baseline_engine(&config)
                .map(|engine| {
                    let linkers = Linkers::new(&engine)?;
                    Ok::<_, RuntimeError>(Baseline { engine, linkers })
                })
                .transpose()?,
            false => None,
        };
        let cache = ArtifactCache::new(config.cache_dir.clone(), compatibility_key(&engine));
        let mut ticked = vec![engine.clone()];
        ticked.extend(baseline.as_ref().map(|b| b.engine.clone()));
        let ticker = EpochTicker::start(ticked.clone()).map_err(RuntimeError::Ticker)?;
        if config.warm_up_compilers {
            warm_up(ticked);
        }
        let slots = config.max_concurrent_compiles.max(1);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linkers,
                baseline,
                cache,
                max_memory_bytes: config.max_memory_bytes,
                pooling,
                instantiation: Arc::default(),
                spares: Arc::new(spares),
                loaded: Mutex::default(),
                compiles: Arc::new(tokio::sync::Semaphore::new(slots)),
                given_up: Arc::new(tokio::sync::Semaphore::new(slots)),
                optimizing: Arc::new(tokio::sync::Semaphore::new(slots)),
                pending_optimizations: Arc::default(),
                compile_budget: config.compile_budget,
                _ticker: ticker,
            }),
        })
    }

    /// Fast structural check, no compilation.
    pub fn validate(wasm: &[u8]) -> Result<FunctionKind, ValidationError> {
        validate::validate(wasm)
    }

    /// Validates `wasm` and makes it ready to run: its optimised artifact
    /// from the cache directory when there is one; otherwise, with the
    /// baseline compiler on, baseline code made in a fraction of the time
    /// while the optimised code is compiled in the background (cached, then
    /// switched to in place: [`PreparedFunction::tier`]); otherwise (or when
    /// the baseline compiler refuses the wasm) an optimised compile, cached.
    /// `sha256_hex` must be the SHA-256 of `wasm` in lowercase hex.
    ///
    /// Compiling waits for one of the compile slots; a compilation still
    /// running after the compile budget is given up
    /// ([`ValidationError::CompileBudget`]). The compiler cannot be stopped
    /// mid-function, so its thread runs on and keeps its slot until it ends
    /// (abandoned compilations never occupy more than the slots), then
    /// caches its artifact like any other; the process does not wait for it
    /// when it exits.
    pub async fn prepare(
        &self,
        wasm: &[u8],
        sha256_hex: &str,
    ) -> Result<PreparedFunction, ValidationError> {
        let kind = Self::validate(wasm)?;
        if let Some(shared) = self.already_loaded(sha256_hex) {
            return Ok(shared);
        }
        let pending = match self.inner.baseline.is_some() && !self.inner.cache.has(sha256_hex) {
            true => self.reserve_optimization(),
            false => None,
        };
        let baseline = match pending {
            Some(pending) => Some(
                self.compile(
                    Compiler::Baseline,
                    &self.inner.compiles,
                    kind,
                    wasm,
                    sha256_hex,
                )
                .await
                .map(|compiled| (compiled, pending)),
            ),
            None => None,
        };
        let prepared = match baseline {
            Some(Ok(((entry, _), pending))) => {
                self.inner.cache.note_baseline_compile();
                let prepared = PreparedFunction::new(
                    entry,
                    CodeTier::Baseline { optimizing: true },
                    false,
                    self.inner.clone(),
                );
                self.optimize_in_background(&prepared, kind, wasm.to_vec(), sha256_hex, pending);
                prepared
            }
            // Past the budget even for the baseline compiler: the
            // optimising one would take longer still.
            Some(Err(error @ ValidationError::CompileBudget { .. })) => return Err(error),
            other => {
                if let Some(Err(error)) = other {
                    tracing::info!(
                        sha256 = %sha256_hex,
                        "the baseline compiler refused this function ({error}); compiling optimised code first"
                    );
                }
                let (entry, from_cache) = self
                    .compile(
                        Compiler::Optimizing,
                        &self.inner.compiles,
                        kind,
                        wasm,
                        sha256_hex,
                    )
                    .await?;
                PreparedFunction::new(entry, CodeTier::Optimized, from_cache, self.inner.clone())
            }
        };
        let mut loaded = self.inner.loaded.lock().unwrap_or_else(|e| e.into_inner());
        // Forget code nobody uses any more before the map would grow.
        if loaded.len() == loaded.capacity() {
            loaded.retain(|_, weak| weak.strong_count() > 0);
        }
        loaded.insert(sha256_hex.to_string(), prepared.downgrade());
        Ok(prepared)
    }

    /// Compiles (or, optimising, loads from the cache) and links `wasm`,
    /// within one of `slots` and the compile budget.
    async fn compile(
        &self,
        compiler: Compiler,
        slots: &Arc<tokio::sync::Semaphore>,
        kind: FunctionKind,
        wasm: &[u8],
        sha256_hex: &str,
    ) -> Result<(Entry, bool), ValidationError> {
        let inner = self.inner.clone();
        let wasm = wasm.to_vec();
        let key = sha256_hex.to_string();
        let sha256_hex = key.clone();
        // Loading a cached artifact is quick and needs no compile slot.
        let cached = matches!(
            compiler,
            Compiler::Optimizing | Compiler::OptimizingInBackground
        ) && self.inner.cache.has(&key);
        let slot = match cached {
            true => None,
            false => Some(self.compile_slot(slots, &key).await),
        };
        let compiling = slot.is_some();
        // The compile slot, or once given up the permit of a given-up
        // compilation: held by the compiling thread until it really ends.
        let held = Arc::new(Mutex::new(slot));
        let (done, task) = tokio::sync::oneshot::channel();
        let work = {
            let held = held.clone();
            move || {
                let _held = held;
                let prepared = match compiler {
                    Compiler::Optimizing => inner.optimized(kind, &wasm, &sha256_hex),
                    Compiler::OptimizingInBackground => {
                        // This thread (the compile's serial parts; a thread
                        // of its own when compiling, never a pooled one) and
                        // the pool its functions compile on both yield to
                        // uploads and calls.
                        if compiling {
                            crate::background::lower_priority();
                        }
                        crate::background::install(|| inner.optimized(kind, &wasm, &sha256_hex))
                    }
                    Compiler::Baseline => inner.baseline(kind, &wasm, &sha256_hex),
                };
                // Nobody listens any more if the compilation was given up.
                let _ = done.send(prepared);
            }
        };
        if compiling {
            // A thread of its own, not the runtime's blocking pool: the
            // process does not wait for a given-up compilation when it
            // exits (a tokio runtime waits for its blocking tasks).
            std::thread::Builder::new()
                .name("wisp-compile".into())
                .spawn(work)
                .map_err(|e| ValidationError::Compile {
                    detail: format!("the compilation thread could not start: {e}"),
                })?;
        } else {
            tokio::task::spawn_blocking(work);
        }
        let budget = self.inner.compile_budget;
        tokio::time::timeout(budget, task)
            .await
            .map_err(|_elapsed| {
                // Free the slot for the next upload if a given-up
                // compilation may still run beside the slots.
                if let Ok(permit) = Arc::clone(&self.inner.given_up).try_acquire_owned() {
                    *held.lock().unwrap_or_else(|e| e.into_inner()) = Some(permit);
                }
                tracing::warn!(
                    sha256 = %key,
                    budget_s = budget.as_secs_f64(),
                    "compilation exceeded its budget; given up (it finishes in the background)"
                );
                ValidationError::CompileBudget {
                    seconds: budget.as_secs().max(1),
                }
            })?
            .map_err(|_gone| ValidationError::Compile {
                detail: "the compilation task ended without a result (it panicked)".into(),
            })?
    }

    /// Compiles `prepared`'s optimised code in the background, in one of the
    /// optimising slots (not the upload's compile slots: the next upload's
    /// baseline compile does not wait for it) and within the compile budget,
    /// caches it, and switches the function to it. Past the budget the
    /// function keeps its baseline code. Nothing is compiled for a function
    /// dropped before its turn.
    fn optimize_in_background(
        &self,
        prepared: &PreparedFunction,
        kind: FunctionKind,
        wasm: Vec<u8>,
        sha256_hex: &str,
        pending: PendingOptimization,
    ) {
        let function = prepared.downgrade();
        let runtime = self.clone();
        let key = sha256_hex.to_string();
        tokio::spawn(async move {
            let _pending = pending;
            let started = Instant::now();
            let slots = Arc::clone(&runtime.inner.optimizing);
            // Waiting for a slot: a function replaced or deleted meanwhile
            // is not compiled at all.
            let slot = slots.clone().acquire_owned().await;
            if function.strong_count() == 0 {
                return;
            }
            drop(slot);
            let optimized = runtime
                .compile(Compiler::OptimizingInBackground, &slots, kind, &wasm, &key)
                .await;
            let Some(prepared) = PreparedFunction::upgrade(&function) else {
                return;
            };
            match optimized {
                Ok((entry, _)) => {
                    prepared.switch_to_optimized(entry);
                    tracing::info!(
                        sha256 = %key,
                        after_ms = started.elapsed().as_millis() as u64,
                        "optimised code ready; calls switch to it"
                    );
                }
                Err(error) => {
                    prepared.keep_baseline();
                    tracing::warn!(
                        sha256 = %key,
                        "no optimised code for a function live on baseline code; it keeps \
                         running baseline code: {error}"
                    );
                }
            }
        });
    }

    /// Room for one more background optimisation, if there is any.
    fn reserve_optimization(&self) -> Option<PendingOptimization> {
        let pending = &self.inner.pending_optimizations;
        pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_PENDING_OPTIMIZATIONS).then_some(n + 1)
            })
            .ok()
            .map(|_| PendingOptimization(Arc::clone(pending)))
    }

    /// A compile slot, waiting for one when all are taken (logged when the
    /// wait starts and when it ends, so a queued upload shows its progress).
    async fn compile_slot(
        &self,
        slots: &Arc<tokio::sync::Semaphore>,
        sha256_hex: &str,
    ) -> tokio::sync::OwnedSemaphorePermit {
        let compiles = Arc::clone(slots);
        if let Ok(slot) = Arc::clone(&compiles).try_acquire_owned() {
            return slot;
        }
        let queued = Instant::now();
        tracing::info!(
            sha256 = %sha256_hex,
            "every compile slot is busy; the compilation waits its turn"
        );
        let slot = compiles
            .acquire_owned()
            .await
            .expect("the compile semaphore is never closed");
        tracing::info!(
            sha256 = %sha256_hex,
            waited_ms = queued.elapsed().as_millis() as u64,
            "compile slot free; compiling"
        );
        slot
    }

    /// The prepared function of a wasm with this content hash, if one is
    /// still deployed; counted as an artifact cache hit.
    fn already_loaded(&self, sha256_hex: &str) -> Option<PreparedFunction> {
        let loaded = self.inner.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let shared = PreparedFunction::upgrade(loaded.get(sha256_hex)?)?;
        self.inner.cache.note_hit();
        Some(shared)
    }

    /// Artifact cache counters since start.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// Instantiation time per call (p50/p99) since start.
    pub fn instantiation_stats(&self) -> InstantiationStats {
        let mut stats = self.inner.instantiation.snapshot();
        stats.prewarmed = self.inner.spares.hits.load(Ordering::Relaxed);
        stats
    }

    /// Whether sandboxes come from the pooling allocator (false only when
    /// the pool's address space could not be reserved).
    pub fn is_pooling(&self) -> bool {
        self.inner.pooling
    }

    /// The underlying engine, for embedders that need it (e.g. benchmarks).
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}

impl RuntimeInner {
    /// Optimised code: from the artifact cache, or compiled and cached.
    fn optimized(
        &self,
        kind: FunctionKind,
        wasm: &[u8],
        sha256_hex: &str,
    ) -> Result<(Entry, bool), ValidationError> {
        let (artifact, from_cache) =
            self.cache
                .load_or_compile(&self.engine, kind, wasm, sha256_hex)?;
        Ok((self.linkers.link(artifact)?, from_cache))
    }

    /// Baseline code, compiled in memory.
    fn baseline(
        &self,
        kind: FunctionKind,
        wasm: &[u8],
        sha256_hex: &str,
    ) -> Result<(Entry, bool), ValidationError> {
        let baseline = self
            .baseline
            .as_ref()
            .ok_or_else(|| ValidationError::Compile {
                detail: "the baseline compiler is off".into(),
            })?;
        let started = Instant::now();
        let artifact = cache::compile(&baseline.engine, kind, wasm)?;
        tracing::info!(
            %kind,
            sha256 = %sha256_hex,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled baseline code"
        );
        Ok((baseline.linkers.link(artifact)?, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    #[tokio::test]
    async fn background_optimisations_are_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: dir.path().to_path_buf(),
            max_instances: 4,
            ..RuntimeConfig::default()
        })
        .expect("runtime");
        let held: Vec<_> = (0..MAX_PENDING_OPTIMIZATIONS)
            .map(|_| runtime.reserve_optimization().expect("room"))
            .collect();
        assert!(runtime.reserve_optimization().is_none(), "one too many");
        // With no room, a new function goes live on optimised code.
        let wasm = wat::parse_str("(module (func (export \"_start\")))").expect("WAT");
        let sha = hex::encode(sha2::Sha256::digest(&wasm));
        let prepared = runtime.prepare(&wasm, &sha).await.expect("prepare");
        assert_eq!(prepared.tier(), CodeTier::Optimized);
        drop(held);
        assert!(runtime.reserve_optimization().is_some(), "freed on drop");
    }
}
