//! Where background optimisation compiles: a thread pool of its own at a
//! lower scheduling priority ([`BACKGROUND_NICE`]).
//!
//! wasmtime compiles a module's functions in parallel on the rayon pool it
//! is called from. Uploads going live (baseline compiles) and background
//! optimisation (Cranelift, many times the work) used to share rayon's
//! global pool and the cores as equals: during a burst of uploads each new
//! upload's functions queued behind the optimiser's, so the sixth of six
//! 17.5 MiB Python uploads went live after 25 s instead of a few seconds
//! (docs/BENCHMARKS.md). Optimisation now runs in [`install`]'s pool, whose
//! threads the kernel weighs about a tenth of a normal thread: an upload's
//! baseline compile and the calls being served come first, and the
//! optimiser still makes progress under full load (nice, not idle-only
//! scheduling, which could starve it and leave a busy function on baseline
//! code for good).

use std::sync::OnceLock;

/// The nice value of the background compile threads (0 is the default,
/// 19 the lowest): CFS gives a nice-10 thread about a tenth of a nice-0
/// thread's share of a busy core.
pub const BACKGROUND_NICE: i32 = 10;

fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let built = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("wisp-optimize-{i}"))
            .start_handler(|_| lower_priority())
            .build();
        match built {
            Ok(pool) => Some(pool),
            Err(error) => {
                tracing::warn!(
                    "no background compile pool ({error}); optimisation shares the global one"
                );
                None
            }
        }
    })
    .as_ref()
}

/// Runs `work` (a compilation) with its parallel parts on the background
/// pool; on the calling thread's pool if that pool could not be made.
pub(crate) fn install<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    match pool() {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// Lowers the calling thread's priority to [`BACKGROUND_NICE`]. Lowering
/// needs no privilege; should it fail anyway, the thread keeps its priority.
pub(crate) fn lower_priority() {
    if let Err(error) = set_thread_nice(BACKGROUND_NICE) {
        tracing::debug!(%error, "a background compile thread keeps normal priority");
    }
}

/// Sets the calling thread's nice value (on Linux a nice value is per
/// thread); the recorder's writer thread uses it too.
#[allow(unsafe_code)]
pub fn set_thread_nice(nice: i32) -> std::io::Result<()> {
    // SAFETY: one system call on the calling thread's own nice value.
    let set = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
    };
    match set {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[allow(unsafe_code)]
    fn own_nice() -> i32 {
        // SAFETY: reads the calling thread's own nice value.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[test]
    fn parallel_work_runs_on_the_lower_priority_pool() {
        let nices: Vec<(i32, String)> = install(|| {
            (0..64)
                .into_par_iter()
                .map(|_| {
                    let name = std::thread::current().name().unwrap_or("").to_string();
                    (own_nice(), name)
                })
                .collect()
        });
        assert_eq!(nices.len(), 64);
        for (nice, name) in nices {
            assert_eq!(nice, BACKGROUND_NICE, "on thread {name}");
            assert!(name.starts_with("wisp-optimize-"), "on thread {name}");
        }
        // The caller's own pool (rayon's global one) is untouched.
        let global: Vec<i32> = (0..8).into_par_iter().map(|_| own_nice()).collect();
        assert!(global.iter().all(|&n| n < BACKGROUND_NICE), "{global:?}");
    }
}
