//! Per-call resource policy inside a store: the memory limiter (limit across
//! all of a guest's memories, peak tracking, remembering denials), the epoch
//! deadline (yield to the executor every tick, interrupt at the deadline) and
//! the classification of a guest's failure into an [`Outcome`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use wasmtime::{ResourceLimiter, Store, Trap, UpdateDeadline, WasmBacktrace};
use wasmtime_wasi::I32Exit;

use crate::capture::OutputLimitExceeded;
use crate::report::Outcome;

/// How many wasm frames of a trap's backtrace go into its message: all that
/// wasmtime captures (its default cap is 20). A Rust panic spends its first
/// 8–10 frames in the panic machinery; the guest's own code comes after.
const BACKTRACE_FRAMES: usize = 20;

/// Memory figures shared between a store's limiter and the report.
#[derive(Default)]
pub(crate) struct MemoryMeter {
    peak: AtomicU64,
    denied: AtomicBool,
}

impl MemoryMeter {
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Whether a memory grow was refused because of the limit.
    pub fn denied(&self) -> bool {
        self.denied.load(Ordering::Relaxed)
    }
}

/// Limits the sum of all linear memories of one store.
pub(crate) struct MemoryLimiter {
    limit: u64,
    total: u64,
    meter: Arc<MemoryMeter>,
}

impl MemoryLimiter {
    pub fn new(limit: u64, meter: Arc<MemoryMeter>) -> Self {
        MemoryLimiter {
            limit,
            total: 0,
            meter,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Beyond the memory's own maximum (or the pool slot) the grow fails
        // anyway; count it as running out of memory without accounting it.
        if maximum.is_some_and(|max| desired > max) {
            self.meter.denied.store(true, Ordering::Relaxed);
            return Ok(false);
        }
        let delta = desired.saturating_sub(current) as u64;
        let total = self.total.saturating_add(delta);
        if total > self.limit {
            tracing::debug!(
                limit = self.limit,
                requested = total,
                "guest memory grow denied"
            );
            self.meter.denied.store(true, Ordering::Relaxed);
            return Ok(false);
        }
        self.total = total;
        self.meter.peak.fetch_max(total, Ordering::Relaxed);
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // Rare (the OS refused, or a memory type forbids the size); the peak
        // may then overstate by that one grow.
        tracing::debug!("guest memory grow failed: {error:#}");
        self.meter.denied.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables are bounded by the pool's `table_elements`.
        Ok(true)
    }
}

/// Interrupts the guest at `deadline`, yielding to the async executor on
/// every epoch tick before that so a busy guest never starves other calls.
/// The yield is tokio's own: the guest runs again only after its runtime
/// has looked for I/O, so a new request on a runtime busy with guests that
/// compute is read within a tick or two, not after the runtime's whole
/// interval of polls (docs/DECISIONS.md #74).
pub(crate) fn set_deadline<T: 'static>(store: &mut Store<T>, deadline: Instant) {
    // One tick from now, then once per tick.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_store| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        }
    });
}

/// Classifies a guest failure. `memory` tells whether a grow was denied:
/// a trap after a denied grow is the guest dying of out-of-memory (Rust's
/// allocator aborts with `unreachable`, C's malloc returns NULL and crashes).
pub(crate) fn classify(error: &wasmtime::Error, memory: &MemoryMeter) -> Outcome {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return match exit.0 {
            0 => Outcome::Success,
            _ if memory.denied() => Outcome::OutOfMemory,
            code => Outcome::Trap {
                message: format!("exited with code {code}"),
            },
        };
    }
    if error.downcast_ref::<OutputLimitExceeded>().is_some() {
        return Outcome::ResponseTooLarge;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => return Outcome::StackOverflow,
        Some(Trap::Interrupt) => return Outcome::Timeout,
        _ => {}
    }
    if memory.denied() {
        return Outcome::OutOfMemory;
    }
    Outcome::Trap {
        message: trap_message(error),
    }
}

/// The trap's reason plus the innermost frames of its wasm backtrace.
fn trap_message(error: &wasmtime::Error) -> String {
    let mut message = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}"),
    };
    if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
        let frames = backtrace.frames();
        for (i, frame) in frames.iter().take(BACKTRACE_FRAMES).enumerate() {
            let module = frame.module().name().unwrap_or("<module>");
            let name = frame
                .func_name()
                .map_or_else(|| "<unnamed>".to_string(), demangle);
            message.push_str(&format!("\n  {i}: {module}!{name}"));
            // With debug info (RuntimeConfig::backtrace_details): where in
            // the source, innermost inlined function first.
            for symbol in frame.symbols() {
                let Some(file) = symbol.file() else { continue };
                message.push_str(&format!("\n       at {file}"));
                if let Some(line) = symbol.line() {
                    message.push_str(&format!(":{line}"));
                    if let Some(column) = symbol.column() {
                        message.push_str(&format!(":{column}"));
                    }
                }
                if let Some(inlined) = symbol.name().map(demangle).filter(|n| *n != name) {
                    message.push_str(&format!(" ({inlined})"));
                }
            }
        }
        if frames.len() > BACKTRACE_FRAMES {
            message.push_str(&format!(
                "\n  ... {} more frames",
                frames.len() - BACKTRACE_FRAMES
            ));
        }
    }
    message
}

/// A Rust symbol as written in source (`a::b::f`, no hash); other names
/// as they are.
fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 64 * 1024;

    #[test]
    fn limiter_sums_memories_and_tracks_peak() {
        let meter = Arc::new(MemoryMeter::default());
        let mut limiter = MemoryLimiter::new((4 * PAGE) as u64, meter.clone());
        // Two memories created with 1 and 2 pages.
        assert!(limiter.memory_growing(0, PAGE, None).unwrap());
        assert!(limiter.memory_growing(0, 2 * PAGE, None).unwrap());
        assert_eq!(meter.peak(), (3 * PAGE) as u64);
        // The first grows by one page: exactly at the limit.
        assert!(limiter.memory_growing(PAGE, 2 * PAGE, None).unwrap());
        assert!(!meter.denied());
        // One more page is too much.
        assert!(!limiter.memory_growing(2 * PAGE, 3 * PAGE, None).unwrap());
        assert!(meter.denied());
        assert_eq!(meter.peak(), (4 * PAGE) as u64);
    }

    #[test]
    fn classification() {
        let memory = MemoryMeter::default();
        let overflow = wasmtime::Error::new(Trap::StackOverflow);
        assert_eq!(classify(&overflow, &memory), Outcome::StackOverflow);
        let interrupt = wasmtime::Error::new(Trap::Interrupt);
        assert_eq!(classify(&interrupt, &memory), Outcome::Timeout);
        let exit = wasmtime::Error::new(I32Exit(3));
        assert_eq!(
            classify(&exit, &memory),
            Outcome::Trap {
                message: "exited with code 3".into()
            }
        );
        assert_eq!(
            classify(&wasmtime::Error::new(I32Exit(0)), &memory),
            Outcome::Success
        );
        let unreachable = wasmtime::Error::new(Trap::UnreachableCodeReached);
        assert!(matches!(
            classify(&unreachable, &memory),
            Outcome::Trap { .. }
        ));
        memory.denied.store(true, Ordering::Relaxed);
        assert_eq!(classify(&unreachable, &memory), Outcome::OutOfMemory);
    }
}
