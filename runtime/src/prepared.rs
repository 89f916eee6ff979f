//! [`PreparedFunction`]: a compiled, linked function (one `InstancePre`)
//! ready to be invoked any number of times, each call in a fresh store, and
//! which compiler's code it runs ([`CodeTier`]). A function that went live on
//! baseline code switches to its optimised code in place when that is ready:
//! calls already running finish on the code they started with, the next call
//! starts on the new code, and no call waits or fails for the switch.

use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;

use wasmtime::InstancePre;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::component::{self, ComponentHost};
use crate::config::SandboxConfig;
use crate::module::{self, ModuleHost};
use crate::report::Invocation;
use crate::runtime::RuntimeInner;
use crate::validate::FunctionKind;
use crate::RequestBody;

pub(crate) enum Entry {
    Component(ProxyPre<ComponentHost>),
    Module(InstancePre<ModuleHost>),
}

/// Which compiler made the code a function runs now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeTier {
    /// The optimising compiler's (Cranelift) code: every function ends here.
    Optimized,
    /// The baseline compiler's (Winch) code, made in a fraction of the time
    /// so an upload goes live sooner; `optimizing` while its optimised code
    /// is being compiled in the background, false when that failed (the
    /// function keeps running on baseline code; the reason was logged).
    Baseline { optimizing: bool },
}

impl std::fmt::Display for CodeTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CodeTier::Optimized => "optimized",
            CodeTier::Baseline { optimizing: true } => "baseline (optimizing)",
            CodeTier::Baseline { optimizing: false } => "baseline",
        })
    }
}

pub(crate) struct PreparedInner {
    /// Replaced once, by the optimised code, when the function went live on
    /// baseline code.
    entry: ArcSwap<Entry>,
    tier: tokio::sync::watch::Sender<CodeTier>,
    from_cache: bool,
    /// Keeps the engine's epoch ticker running while the function exists.
    runtime: Arc<RuntimeInner>,
}

/// A function ready to run. Cheap to clone.
#[derive(Clone)]
pub struct PreparedFunction {
    inner: Arc<PreparedInner>,
}

impl PreparedFunction {
    pub(crate) fn new(
        entry: Entry,
        tier: CodeTier,
        from_cache: bool,
        runtime: Arc<RuntimeInner>,
    ) -> Self {
        PreparedFunction {
            inner: Arc::new(PreparedInner {
                entry: ArcSwap::from_pointee(entry),
                tier: tokio::sync::watch::Sender::new(tier),
                from_cache,
                runtime,
            }),
        }
    }

    /// The code calls start on now.
    pub(crate) fn entry(&self) -> Arc<Entry> {
        self.inner.entry.load_full()
    }

    /// Which compiler's code calls start on now.
    pub fn tier(&self) -> CodeTier {
        self.inner.tier.borrow().clone()
    }

    /// Waits until the function runs its final code: optimised, or baseline
    /// for good when optimising failed. Returns that tier.
    pub async fn settled(&self) -> CodeTier {
        let mut tiers = self.inner.tier.subscribe();
        let settled = tiers
            .wait_for(|tier| *tier != CodeTier::Baseline { optimizing: true })
            .await
            .map(|tier| (*tier).clone());
        // The sender lives as long as `self`: the wait cannot fail.
        settled.unwrap_or_else(|_| self.tier())
    }

    /// Calls from now on run `entry`, the optimised code.
    pub(crate) fn switch_to_optimized(&self, entry: Entry) {
        self.inner.entry.store(Arc::new(entry));
        self.inner.tier.send_replace(CodeTier::Optimized);
    }

    /// The optimised compile failed: the baseline code stays.
    pub(crate) fn keep_baseline(&self) {
        self.inner
            .tier
            .send_replace(CodeTier::Baseline { optimizing: false });
    }

    pub(crate) fn runtime(&self) -> &Arc<RuntimeInner> {
        &self.inner.runtime
    }

    /// The memory limit a call under `sandbox` gets (clamped to the pool slot).
    pub(crate) fn memory_limit(&self, sandbox: &SandboxConfig) -> u64 {
        sandbox
            .memory_limit_bytes
            .min(self.inner.runtime.max_memory_bytes)
    }

    pub(crate) fn downgrade(&self) -> Weak<PreparedInner> {
        Arc::downgrade(&self.inner)
    }

    pub(crate) fn upgrade(weak: &Weak<PreparedInner>) -> Option<Self> {
        weak.upgrade().map(|inner| PreparedFunction { inner })
    }

    pub fn kind(&self) -> FunctionKind {
        match **self.inner.entry.load() {
            Entry::Component(_) => FunctionKind::Component,
            Entry::Module(_) => FunctionKind::Module,
        }
    }

    /// True when `prepare` loaded the compiled artifact from disk.
    pub fn from_cache(&self) -> bool {
        self.inner.from_cache
    }

    /// Runs `request` in a fresh sandbox configured by `sandbox`.
    ///
    /// Returns once the response head is known (for modules: once the module
    /// finished). The guest keeps running on its own task while the caller
    /// streams the response body; [`Invocation::report`] resolves when both
    /// are done.
    pub async fn invoke(
        &self,
        request: http::Request<RequestBody>,
        sandbox: SandboxConfig,
    ) -> Invocation {
        let memory_limit = self.memory_limit(&sandbox);
        let stats = self.inner.runtime.instantiation.clone();
        match &*self.entry() {
            Entry::Component(pre) => {
                component::invoke(pre, request, sandbox, memory_limit, stats, None).await
            }
            Entry::Module(pre) => module::invoke(pre, request, sandbox, memory_limit, stats).await,
        }
    }
}
