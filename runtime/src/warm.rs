//! Warm sandboxes: a component function's next sandboxes, instantiated in
//! the background before their calls arrive.
//!
//! Every call still gets a fresh store and a fresh instance that no other
//! call has touched — a spare is made for exactly one call and dropped after
//! it — but the instantiation (for a componentize-py component most of a
//! call: its start-up code fills CPython's function tables on every
//! instantiation) runs off the request's path, on an otherwise idle core,
//! the way AWS Lambda keeps provisioned environments initialised. Under
//! saturation there is no idle core and calls simply instantiate inline;
//! nothing is done twice either way (one instantiation per call, plus at
//! most [`SPARES_PER_FUNCTION`] waiting).
//!
//! Spares are made only while a core is free for them: when no more calls
//! are in flight in the process than it has cores. Under saturation a spare
//! would only move the instantiation to another moment of the same busy
//! cores, and it costs more there than inline: it runs on whichever worker
//! is free, its memory goes cold in the cache before its call, and it keeps
//! a task and a pool slot busy meanwhile. Measured on hello at c=64 (2
//! cores) with spares made regardless: ≈ 7 % fewer calls per second than
//! without spares (docs/BENCHMARKS.md, round 4).
//!
//! Bounds: spares are made only after a function is called, at most
//! [`SPARES_PER_FUNCTION`] per function and [`MAX_SPARES`] in the process
//! (each holds a slot of the instance pool, which has that many slots on top
//! of its call capacity), and a function's spares are
//! dropped once it has not been called for [`SPARE_IDLE`]. A spare whose
//! start-up fails turns spares off for that function version: its calls then
//! instantiate inline and report the failure as they always did.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::component::{self, Sandbox, HOST_TIMER_GRACE};
use crate::config::SandboxConfig;
use crate::engine::tune;
use crate::prepared::{Entry, PreparedFunction};
use crate::report::Invocation;
use crate::RequestBody;

/// Sandboxes kept ready per function: two, so that at one call at a time
/// the next spare is already there while the one after is being made.
pub const SPARES_PER_FUNCTION: usize = 2;
/// Spares in the whole process. Each holds a pooling-allocator slot; the pool
/// is made this much larger than its call capacity
/// ([`crate::RuntimeConfig::max_instances`]), so spares never take a slot
/// from a call.
pub const MAX_SPARES: usize = 64;
/// A function's spares are dropped after this long without a call.
pub const SPARE_IDLE: Duration = Duration::from_secs(60);

/// Process-wide count of spares, bounded by [`MAX_SPARES`].
pub(crate) struct SpareBudget {
    held: AtomicUsize,
    /// Calls that found a ready sandbox.
    pub hits: AtomicU64,
    /// Spares per function ([`SPARES_PER_FUNCTION`]; 0 turns them off).
    per_function: usize,
    /// Spares in the process ([`MAX_SPARES`]).
    max: usize,
    /// Component calls running in the process (until their report is ready).
    in_flight: AtomicUsize,
    /// Spares are made only while at most this many calls are in flight
    /// (the one asking included): the number of cores
    /// (`WISP_TUNE_SPARES_MAX_IN_FLIGHT` overrides it).
    max_in_flight: usize,
}

/// One unit of the budget, returned when the spare is used or dropped.
struct BudgetToken(Arc<SpareBudget>);

impl SpareBudget {
    /// The budget for the process; `WISP_TUNE_SPARES_PER_FUNCTION` and
    /// `WISP_TUNE_MAX_SPARES` override the defaults (0 turns spares off, for
    /// comparisons).
    pub(crate) fn from_env() -> Self {
        SpareBudget {
            held: AtomicUsize::new(0),
            hits: AtomicU64::new(0),
            per_function: tune("SPARES_PER_FUNCTION", SPARES_PER_FUNCTION),
            max: tune("MAX_SPARES", MAX_SPARES),
            in_flight: AtomicUsize::new(0),
            max_in_flight: tune(
                "SPARES_MAX_IN_FLIGHT",
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            ),
        }
    }

    /// Counts a call in flight until the guard is dropped.
    fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Whether a core is free for a background instantiation.
    fn core_free(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) <= self.max_in_flight
    }

    /// Most spares that may wait at once (the pool has room for them on
    /// top of its call capacity).
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    fn take(self: &Arc<Self>) -> Option<BudgetToken> {
        let held = self.held.fetch_add(1, Ordering::AcqRel);
        if held >= self.max {
            self.held.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(BudgetToken(self.clone()))
    }
}

impl Drop for BudgetToken {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A call in flight (see [`SpareBudget::enter`]).
struct InFlight(Arc<SpareBudget>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Spare {
    sandbox: Sandbox,
    _budget: BudgetToken,
}

/// A deployed function's calls, served from pre-instantiated sandboxes when
/// one is ready. Made once per deployed version with its sandbox settings.
/// Cheap to clone.
#[derive(Clone)]
pub struct WarmPool {
    inner: Arc<WarmInner>,
}

struct WarmInner {
    prepared: PreparedFunction,
    /// The settings spares are made with (their environment, memory limit
    /// and log size); a call with other settings does not use them.
    template: SandboxConfig,
    spares: Mutex<Vec<Spare>>,
    /// Background instantiations under way.
    pending: AtomicUsize,
    /// A spare's start-up failed: calls instantiate inline from now on.
    failed: AtomicBool,
    /// When the last call came, in milliseconds since [`clock_base`].
    last_call_ms: AtomicU64,
    /// Whether an idle sweeper watches this pool.
    sweeping: AtomicBool,
}

fn clock_base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    clock_base().elapsed().as_millis() as u64
}

impl WarmPool {
    /// A pool for `prepared`'s calls under `template` (no spares yet: they
    /// are made after the first call).
    pub fn new(prepared: PreparedFunction, template: SandboxConfig) -> Self {
        WarmPool {
            inner: Arc::new(WarmInner {
                prepared,
                template,
                spares: Mutex::default(),
                pending: AtomicUsize::new(0),
                failed: AtomicBool::new(false),
                last_call_ms: AtomicU64::new(now_ms()),
                sweeping: AtomicBool::new(false),
            }),
        }
    }

    /// The function its calls run.
    pub fn prepared(&self) -> &PreparedFunction {
        &self.inner.prepared
    }

    /// The settings its spares are made with (the function's own).
    pub fn sandbox(&self) -> &SandboxConfig {
        &self.inner.template
    }

    /// Sandboxes ready right now (for tests and diagnostics).
    pub fn ready(&self) -> usize {
        self.inner.lock_spares().len()
    }

    /// Runs `request` like [`PreparedFunction::invoke`], in a sandbox made
    /// for this call ahead of time when one is ready, and starts making the
    /// next one.
    pub async fn invoke(
        &self,
        request: http::Request<RequestBody>,
        sandbox: SandboxConfig,
    ) -> Invocation {
        let inner = &self.inner;
        let entry = inner.prepared.entry();
        let Entry::Component(pre) = &*entry else {
            // Command modules run their whole program per call: nothing to
            // prepare ahead.
            return inner.prepared.invoke(request, sandbox).await;
        };
        if !inner.fits(&sandbox) {
            return inner.prepared.invoke(request, sandbox).await;
        }
        inner.last_call_ms.store(now_ms(), Ordering::Relaxed);
        let ready = inner.lock_spares().pop().map(|spare| spare.sandbox);
        let runtime = inner.prepared.runtime();
        if ready.is_some() {
            runtime.spares.hits.fetch_add(1, Ordering::Relaxed);
        }
        let in_flight = runtime.spares.enter();
        self.refill();
        let memory_limit = inner.prepared.memory_limit(&sandbox);
        let stats = runtime.instantiation.clone();
        let mut invocation =
            component::invoke(pre, request, sandbox, memory_limit, stats, ready).await;
        let report = invocation.report;
        invocation.report = Box::pin(async move {
            let report = report.await;
            drop(in_flight);
            report
        });
        invocation
    }

    /// Starts background instantiations up to [`SPARES_PER_FUNCTION`] while
    /// a core is free for them.
    fn refill(&self) {
        let inner = &self.inner;
        let budget = &inner.prepared.runtime().spares;
        if inner.failed.load(Ordering::Relaxed) || !budget.core_free() {
            return;
        }
        loop {
            let have = inner.lock_spares().len() + inner.pending.load(Ordering::Acquire);
            if have >= budget.per_function {
                return;
            }
            let Some(budget) = budget.take() else {
                return;
            };
            inner.pending.fetch_add(1, Ordering::AcqRel);
            // Boxed: a few pointers move through tokio's spawn, not the
            // whole future (see `component::invoke`).
            tokio::spawn(Box::pin(make_spare(Arc::downgrade(&self.inner), budget)));
        }
    }
}

impl WarmInner {
    fn lock_spares(&self) -> std::sync::MutexGuard<'_, Vec<Spare>> {
        self.spares.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a call under `sandbox` gets the same store as the spares:
    /// same environment, memory limit and log size (the outbound policy is
    /// the call's own either way).
    fn fits(&self, sandbox: &SandboxConfig) -> bool {
        let t = &self.template;
        sandbox.memory_limit_bytes == t.memory_limit_bytes
            && sandbox.max_log_bytes == t.max_log_bytes
            && sandbox.env == t.env
    }
}

/// Instantiates one spare for the pool behind `pool` (if it still exists).
async fn make_spare(pool: Weak<WarmInner>, budget: BudgetToken) {
    let Some(inner) = pool.upgrade() else { return };
    let entry = inner.prepared.entry();
    let Entry::Component(pre) = &*entry else {
        return;
    };
    let template = &inner.template;
    let runtime = inner.prepared.runtime().clone();
    let mut sandbox = Sandbox::new(
        pre.engine(),
        template,
        inner.prepared.memory_limit(template),
    );
    // Start-up code is bounded like a call: epoch deadline + host timer.
    sandbox.set_timeout(template.timeout);
    let made = tokio::time::timeout(
        template.timeout + HOST_TIMER_GRACE,
        sandbox.instantiate(pre, &runtime.instantiation),
    )
    .await;
    match made {
        Ok(Ok(())) => {
            inner.lock_spares().push(Spare {
                sandbox,
                _budget: budget,
            });
            if !inner.sweeping.swap(true, Ordering::AcqRel) {
                tokio::spawn(sweep_when_idle(pool));
            }
        }
        // The pool is full of running calls: no spare this time, nothing
        // wrong with the function.
        Ok(Err(error)) if error.is::<wasmtime::PoolConcurrencyLimitError>() => {}
        Ok(Err(error)) => {
            tracing::debug!("a warm sandbox failed to start; calls instantiate inline: {error:?}");
            inner.failed.store(true, Ordering::Relaxed);
        }
        Err(_elapsed) => {
            tracing::debug!("a warm sandbox's start-up timed out; calls instantiate inline");
            inner.failed.store(true, Ordering::Relaxed);
        }
    }
    // After the push: a refill meanwhile counts the spare as pending, never
    // as missing.
    inner.pending.fetch_sub(1, Ordering::AcqRel);
}

/// Drops a pool's spares once its function has gone [`SPARE_IDLE`] without
/// a call (or stops when the pool is gone).
async fn sweep_when_idle(pool: Weak<WarmInner>) {
    loop {
        tokio::time::sleep(SPARE_IDLE / 4).await;
        let Some(inner) = pool.upgrade() else { return };
        let idle = now_ms().saturating_sub(inner.last_call_ms.load(Ordering::Relaxed));
        if idle >= SPARE_IDLE.as_millis() as u64 {
            // Clear the flag first: a spare pushed from now on starts a new
            // sweeper.
            inner.sweeping.store(false, Ordering::Release);
            let dropped = std::mem::take(&mut *inner.lock_spares());
            drop(dropped);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_wait_while_more_calls_than_cores_are_in_flight() {
        let budget = Arc::new(SpareBudget {
            held: AtomicUsize::new(0),
            hits: AtomicU64::new(0),
            per_function: SPARES_PER_FUNCTION,
            max: MAX_SPARES,
            in_flight: AtomicUsize::new(0),
            max_in_flight: 2,
        });
        assert!(budget.core_free());
        let first = budget.enter();
        let second = budget.enter();
        assert!(budget.core_free(), "two calls on two cores");
        let third = budget.enter();
        assert!(!budget.core_free(), "three calls on two cores");
        drop(third);
        assert!(budget.core_free(), "a finished call leaves the count");
        drop((first, second));
        assert_eq!(budget.in_flight.load(Ordering::Relaxed), 0);
    }
}
