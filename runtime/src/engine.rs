//! The one place that decides wasmtime's policy: every `Config` setting of
//! the engines (the optimising one every function ends up on, and the
//! baseline one that makes a new upload's first code quickly), the
//! pooling-allocator sizing, and the epoch ticker thread that drives
//! timeouts. Nothing else in the crate touches `wasmtime::Config`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
    RegallocAlgorithm, Strategy,
};

use crate::config::RuntimeConfig;

/// Epoch tick: the granularity of timeouts and of cooperative yielding of
/// busy guests. Every running guest yields to the async executor once per
/// tick, so a CPU-bound guest delays other calls sharing its worker thread by
/// at most about one tick per scheduling round. Measured on a single-threaded
/// executor next to a spinning guest, a hello call took ~600 ms with a 10 ms
/// tick and ~70 ms with 1 ms. The cost is one atomic increment per tick on
/// the ticker thread and one cheap callback per tick per running guest.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Core module instances one component may contain. A componentize-py
/// Python component has ~10 (libc, libpython, adapters, shims); wasm-tools
/// component links produce one per linked library.
const CORE_INSTANCES_PER_COMPONENT: u32 = 64;

/// Linear memories one component may contain. Real components share one
/// memory across their modules; a few more allow composed components.
const MEMORIES_PER_COMPONENT: u32 = 4;

/// Tables one component may contain: typically the main module's function
/// table plus the `shim`/`fixup` indirection tables wit-component adds, and
/// one per dynamically linked library.
const TABLES_PER_COMPONENT: u32 = 32;

/// Tables per sandbox budgeted in the pool: most components define 2–3.
/// Tables are cheap (address space only until used).
const TABLES_PER_SANDBOX: u32 = 4;

/// Elements of the largest table. CPython in a componentize-py component has
/// a function table of a few tens of thousands of entries; each element is
/// one pointer of reserved address space (100k × 8 B = 800 KB per table slot).
const TABLE_ELEMENTS: usize = 100_000;

/// Runtime metadata (`VMContext`) size of one core instance. Large modules
/// (CPython: ~20k functions) need several MiB; this is a cap checked at
/// instantiation, not a reservation.
const CORE_INSTANCE_SIZE: usize = 16 << 20;

/// Runtime metadata of a whole component (its own context plus all of its
/// core instances'). A cap, not a reservation.
const COMPONENT_INSTANCE_SIZE: usize = 64 << 20;

/// Address space reserved per linear memory: 4 GiB covers the whole 32-bit
/// wasm address space, so compiled code elides bounds checks.
const MIN_MEMORY_RESERVATION: u64 = 4 << 30;

/// Linear memory a freed pool slot may keep resident, reset in place
/// instead of being handed back to the kernel with `madvise`. With
/// `PAGEMAP_SCAN` (below) only the pages the guest actually dirtied are
/// reset (copied back from the memory image or zeroed), so the next call in
/// that slot runs on warm pages: no page faults, no `madvise`, no TLB
/// shootdown across cores. (All of them: the release stopped after 32
/// dirty regions and decommitted the rest, which for CPython was most of
/// its heap; vendor/wasmtime carries the fix, DECISIONS.md #26.) Profiled
/// on hello, page faults and `madvise` were the largest per-call kernel
/// cost; an 18 MB Python component dirties a few MiB of its heap per
/// request, which this covers too. Without
/// `PAGEMAP_SCAN` (kernels before 6.7) wasmtime `memset`s the lowest this
/// many bytes instead, so the value stays moderate.
/// `WISP_TUNE_MEMORY_KEEP_RESIDENT` (bytes) overrides it for experiments.
const MEMORY_KEEP_RESIDENT: usize = 16 << 20;

/// Tables kept resident when a slot is freed (see above): 1 MiB = 128k
/// entries, the largest CPython function table included.
/// `WISP_TUNE_TABLE_KEEP_RESIDENT` (bytes) overrides it.
const TABLE_KEEP_RESIDENT: usize = 1 << 20;

/// A tuning knob: `WISP_TUNE_<name>` from the environment, else `default`.
/// Only for benchmark experiments (A/B without a rebuild); the defaults are
/// what is measured in docs/BENCHMARKS.md.
pub(crate) fn tune(name: &str, default: usize) -> usize {
    std::env::var(format!("WISP_TUNE_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Builds the engine for `config`; the flag says whether it pools. Falls
/// back from the pooling allocator to on-demand allocation when the pool's
/// address-space reservation fails (e.g. under a `ulimit -v`), logging why.
/// `spares` is how many pre-instantiated sandboxes ([`crate::WarmPool`])
/// may wait at once: the pool gets room for them on top of
/// `config.max_instances`, so that waiting spares never take a slot a call
/// needs.
pub(crate) fn build_engine(
    config: &RuntimeConfig,
    spares: usize,
) -> wasmtime::Result<(Engine, bool)> {
    let pooled = engine_config(config, spares, true);
    match Engine::new(&pooled) {
        Ok(engine) => Ok((engine, true)),
        Err(error) => {
            tracing::warn!(
                "pooling allocator unavailable ({error:#}); falling back to on-demand allocation"
            );
            Ok((Engine::new(&engine_config(config, spares, false))?, false))
        }
    }
}

/// The baseline engine: wasmtime's Winch compiler, which translates each
/// wasm instruction to machine code in one pass (an 18 MB Python component
/// in well under a second where Cranelift takes seconds), for the code a
/// new upload serves with until its optimised code is ready
/// (docs/DECISIONS.md #59). Its sandboxes are allocated on demand, not
/// pooled: they serve for seconds, and a second pool would double the
/// reserved address space. `None` when Winch cannot run here (it needs
/// x86-64 with AVX, or aarch64); functions are then compiled by Cranelift
/// before they go live, as before.
pub(crate) fn build_baseline_engine(config: &RuntimeConfig) -> Option<Engine> {
    let mut c = common_config(config);
    c.strategy(Strategy::Winch);
    // Winch compiles the functions; Cranelift still compiles what Winch
    // hands it: the trampolines between host and guest (once one per
    // escaping function, tens of thousands in CPython; a handful since
    // DECISIONS #72) and each module's startup function (CPython's fill
    // their tables element by element). Unoptimised, with the single-pass
    // register allocator, they compile in linear time: the backtracking
    // allocator made python-hello's whole baseline compile 10.9 % more
    // instructions (docs/BENCHMARKS.md, run 16).
    c.cranelift_opt_level(OptLevel::None);
    c.cranelift_regalloc_algorithm(RegallocAlgorithm::SinglePass);
    match Engine::new(&c) {
        Ok(engine) => Some(engine),
        Err(error) => {
            tracing::info!(
                "baseline compiler unavailable ({error:#}); uploads go live after the \
                 optimising compile"
            );
            None
        }
    }
}

/// Settings both engines share: what a guest may do and how it is stopped
/// must not depend on which compiler made its code.
fn common_config(config: &RuntimeConfig) -> Config {
    let mut c = Config::new();
    // Components are the first-class function format.
    c.wasm_component_model(true);
    // Functions are wasi:http 0.2 / WASI 0.2 components, whose imports are
    // synchronous: none needs the component model's concurrent machinery.
    // With it on (wasmtime's default), every call ran wasmtime's concurrent
    // event loop and every host call made and deleted a host task in the
    // store's table (docs/DECISIONS.md #65); off, a call runs straight on
    // its fiber. Components that use the async ABI are refused at upload.
    // (`WISP_TUNE_CONCURRENCY_SUPPORT=1` turns it back on for an A/B.)
    c.concurrency_support(tune("CONCURRENCY_SUPPORT", 0) == 1);
    // Timeouts: guests check an epoch counter the ticker thread bumps.
    c.epoch_interruption(true);
    // Use every core for compiling large (e.g. 18 MB Python) components.
    c.parallel_compilation(true);
    // Map the data segments of a module copy-on-write instead of copying
    // them per instantiation: instantiation cost stays flat with module size.
    c.memory_init_cow(true);
    // Names in trap backtraces come from the name section; file:line from
    // DWARF only when asked for (a trap then parses the module's debug
    // info once per frame, see RuntimeConfig::backtrace_details).
    c.wasm_backtrace_details(if config.backtrace_details {
        wasmtime::WasmBacktraceDetails::Enable
    } else {
        wasmtime::WasmBacktraceDetails::Disable
    });
    // Our artifact cache replaces wasmtime's own compilation cache.
    c.cache(None);

    let max_memory = config.max_memory_bytes.max(1);
    c.memory_reservation(max_memory.max(MIN_MEMORY_RESERVATION));
    c
}

fn engine_config(config: &RuntimeConfig, spares: usize, pooling: bool) -> Config {
    let mut c = common_config(config);
    // Fast code: the optimised compile runs once per upload, off the
    // upload's path when the baseline compiler serves meanwhile.
    c.cranelift_opt_level(OptLevel::Speed);
    let max_memory = config.max_memory_bytes.max(1);

    if pooling {
        let spares = u32::try_from(spares).unwrap_or(u32::MAX);
        let instances = config.max_instances.max(1).saturating_add(spares);
        let mut pool = PoolingAllocationConfig::new();
        // Concurrent sandboxes.
        pool.total_component_instances(instances);
        // Every sandbox runs on its own async fiber stack.
        pool.total_stacks(instances);
        // One memory per sandbox (components share one memory between their
        // modules; command modules have one).
        pool.total_memories(instances);
        pool.total_tables(instances.saturating_mul(TABLES_PER_SANDBOX));
        // Core instances are counters, not reservations: be generous.
        pool.total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT));
        pool.max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT);
        pool.max_memories_per_component(MEMORIES_PER_COMPONENT);
        pool.max_tables_per_component(TABLES_PER_COMPONENT);
        pool.max_memory_size(usize::try_from(max_memory).unwrap_or(usize::MAX));
        pool.table_elements(TABLE_ELEMENTS);
        pool.max_core_instance_size(CORE_INSTANCE_SIZE);
        pool.max_component_instance_size(COMPONENT_INSTANCE_SIZE);
        pool.linear_memory_keep_resident(tune("MEMORY_KEEP_RESIDENT", MEMORY_KEEP_RESIDENT));
        pool.table_keep_resident(tune("TABLE_KEEP_RESIDENT", TABLE_KEEP_RESIDENT));
        // Reset only the pages a guest dirtied (Linux ≥ 6.7's PAGEMAP_SCAN
        // ioctl; `Auto` falls back to memset + madvise on older kernels).
        pool.pagemap_scan(if tune("PAGEMAP_SCAN", 1) == 1 {
            wasmtime::Enabled::Auto
        } else {
            wasmtime::Enabled::No
        });
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    c
}

/// A component with one core function and one lifted export: small, but it
/// runs every part of a compile (Winch or Cranelift for the core function,
/// Cranelift for the component's trampolines).
const WARM_UP_COMPONENT: &str = r#"(component
  (core module $m
    (func (export "add") (param i32 i32) (result i32)
      local.get 0 local.get 1 i32.add))
  (core instance $i (instantiate $m))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32)
    (canon lift (core func $i "add"))))"#;

/// Compiles [`WARM_UP_COMPONENT`] on each engine once, on a thread of its
/// own: the first compile of a process pays for one-time set-up (the
/// compilers' thread pool, code memory, lazily built tables), and without
/// this the first upload after a start would pay it.
pub(crate) fn warm_up(engines: Vec<Engine>) {
    let spawned = std::thread::Builder::new()
        .name("wisp-warm-up".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            for engine in &engines {
                if let Err(error) = wasmtime::component::Component::new(engine, WARM_UP_COMPONENT) {
                    tracing::warn!(%error, "warming up a compiler failed");
                }
            }
            tracing::debug!(
                ms = started.elapsed().as_millis() as u64,
                "compilers warmed up"
            );
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "the compiler warm-up thread could not start");
    }
}

/// The first 16 hex digits of a SHA-256 over the engine's compatibility
/// hash: artifacts compiled by an engine with a different hash are never
/// loaded.
pub(crate) fn compatibility_key(engine: &Engine) -> String {
    use std::hash::Hash;

    /// Feeds `Hash` into SHA-256, so the key is stable across Rust versions.
    struct Sha256Hasher(Sha256);
    impl std::hash::Hasher for Sha256Hasher {
        fn finish(&self) -> u64 {
            // Unused: we read the digest instead.
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }

    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let digest = hasher.0.finalize();
    // 8 bytes = 16 hex digits: collisions between engine configs are moot.
    hex::encode(&digest[..8])
}

/// Increments the engines' epochs every [`EPOCH_TICK`] on its own thread;
/// stops and joins the thread when dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engines: Vec<Engine>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("wisp-epoch".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        for engine in &engines {
                            engine.increment_epoch();
                        }
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the epoch ticker thread panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module whose two functions escape only into its table, and
    /// an export that calls one of them through the table.
    const TABLE_ONLY_FUNCTIONS: &str = r#"(component
  (core module $m
    (table 2 funcref)
    (elem (i32.const 0) func $double $triple)
    (func $double (param i32) (result i32) local.get 0 i32.const 2 i32.mul)
    (func $triple (param i32) (result i32) local.get 0 i32.const 3 i32.mul)
    (func (export "apply") (param i32 i32) (result i32)
      local.get 1 local.get 0 call_indirect (param i32) (result i32)))
  (core instance $i (instantiate $m))
  (func (export "apply") (param "which" u32) (param "x" u32) (result u32)
    (canon lift (core func $i "apply"))))"#;

    /// `$lib` exports five functions; the host calls four of them: `square`
    /// (lifted through `$main`, which re-exports its import of it), `len`
    /// (lifted), `realloc` and `done` (its canonical options). `helper` and
    /// `$main`'s `square-plus-one` are exported to wasm only.
    const HOST_CALLED_EXPORTS: &str = r#"(component
  (core module $lib
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $at i32)
      global.get $bump local.set $at
      global.get $bump local.get 3 i32.add global.set $bump
      local.get $at)
    (func (export "square") (param i32) (result i32) local.get 0 local.get 0 i32.mul)
    (func (export "helper") (param i32) (result i32) local.get 0 i32.const 1 i32.add)
    (func (export "len") (param i32 i32) (result i32) local.get 1)
    (func (export "done") (param i32)))
  (core instance $lib (instantiate $lib))
  (core module $main
    (import "lib" "square" (func $square (param i32) (result i32)))
    (import "lib" "helper" (func $helper (param i32) (result i32)))
    (export "square" (func $square))
    (func (export "square-plus-one") (param i32) (result i32)
      local.get 0 call $square call $helper))
  (core instance $main (instantiate $main (with "lib" (instance $lib))))
  (func (export "square") (param "x" u32) (result u32)
    (canon lift (core func $main "square")))
  (func (export "len") (param "s" string) (result u32)
    (canon lift (core func $lib "len") (memory (core memory $lib "memory"))
      (realloc (core func $lib "realloc")) (post-return (core func $lib "done")))))"#;

    /// A component compiled from `wat` on each engine and instantiated:
    /// the engine's name, the host entry points (array-to-wasm
    /// trampolines, which the artifact's symbols name) in its artifact, and
    /// a store with the instance.
    struct Compiled {
        tier: &'static str,
        host_entries: usize,
        store: wasmtime::Store<()>,
        instance: wasmtime::component::Instance,
    }

    fn compile_on_each_engine(wat: &str) -> Vec<Compiled> {
        let config = RuntimeConfig::default();
        let mut engines = vec![("optimising", build_engine(&config, 0).unwrap().0)];
        engines.extend(build_baseline_engine(&config).map(|e| ("baseline", e)));
        engines
            .into_iter()
            .map(|(tier, engine)| {
                let component = wasmtime::component::Component::new(&engine, wat)
                    .unwrap_or_else(|e| panic!("{tier}: {e:#}"));
                let image = component.serialize().unwrap();
                let needle = b"array_to_wasm_trampoline[";
                let host_entries = image.windows(needle.len()).filter(|w| w == needle).count();
                let mut store = wasmtime::Store::new(&engine, ());
                store.set_epoch_deadline(1_000_000);
                let linker = wasmtime::component::Linker::<()>::new(&engine);
                let instance = linker.instantiate(&mut store, &component).unwrap();
                Compiled {
                    tier,
                    host_entries,
                    store,
                    instance,
                }
            })
            .collect()
    }

    /// vendor/wasmtime (PATCHES.md): a component's core function that only
    /// wasm can call (it escapes into a table, not through an export) gets
    /// no host entry point, on either engine, and wasm still calls it.
    #[test]
    fn functions_only_wasm_calls_get_no_host_entry_and_still_answer() {
        for mut c in compile_on_each_engine(TABLE_ONLY_FUNCTIONS) {
            let tier = c.tier;
            // One host entry: the lifted `apply`'s.
            assert_eq!(
                c.host_entries, 1,
                "{tier}: host entry points in the artifact"
            );
            let apply = c
                .instance
                .get_typed_func::<(u32, u32), (u32,)>(&mut c.store, "apply")
                .unwrap();
            for (which, expected) in [(0, 14), (1, 21)] {
                let (answer,) = apply.call(&mut c.store, (which, 7)).unwrap();
                assert_eq!(answer, expected, "{tier}: apply({which}, 7)");
            }
        }
    }

    /// vendor/wasmtime (PATCHES.md): of a component's exported core
    /// functions, only those the host calls get a host entry point, found
    /// through a re-export of an import too; the others are reached from
    /// wasm alone, and every call the host makes still answers.
    #[test]
    fn only_functions_the_host_calls_get_a_host_entry() {
        for mut c in compile_on_each_engine(HOST_CALLED_EXPORTS) {
            let tier = c.tier;
            // square, len, realloc, done: not helper, not square-plus-one.
            assert_eq!(
                c.host_entries, 4,
                "{tier}: host entry points in the artifact"
            );
            let square = c
                .instance
                .get_typed_func::<(u32,), (u32,)>(&mut c.store, "square")
                .unwrap();
            let (answer,) = square.call(&mut c.store, (9,)).unwrap();
            assert_eq!(answer, 81, "{tier}: square(9)");
            let len = c
                .instance
                .get_typed_func::<(&str,), (u32,)>(&mut c.store, "len")
                .unwrap();
            for text in ["wisp", "a longer string than that"] {
                let (answer,) = len.call(&mut c.store, (text,)).unwrap();
                assert_eq!(answer as usize, text.len(), "{tier}: len({text:?})");
            }
        }
    }
}
