//! [`PreparedFunction`]: a compiled, linked function (one `InstancePre`)
//! ready to be invoked any number of times, each call in a fresh store.

use std::sync::{Arc, Weak};

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

pub(crate) struct PreparedInner {
    entry: Entry,
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
    pub(crate) fn new(entry: Entry, from_cache: bool, runtime: Arc<RuntimeInner>) -> Self {
        PreparedFunction {
            inner: Arc::new(PreparedInner {
                entry,
                from_cache,
                runtime,
            }),
        }
    }

    pub(crate) fn entry(&self) -> &Entry {
        &self.inner.entry
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
        match self.inner.entry {
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
        match &self.inner.entry {
            Entry::Component(pre) => {
                component::invoke(pre, request, sandbox, memory_limit, stats, None).await
            }
            Entry::Module(pre) => module::invoke(pre, request, sandbox, memory_limit, stats).await,
        }
    }
}
