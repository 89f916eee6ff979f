//! Per-call instantiation timing: a lock-free log-linear histogram that every
//! invocation updates with one relaxed atomic increment, so the metric costs
//! nothing measurable on the hot path and readers (the status endpoint) get
//! percentiles without locking the callers out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two: 8 gives percentiles within 12.5 %.
const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for any `u64` nanosecond count.
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

/// Histogram of durations in nanoseconds.
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_ns: AtomicU64,
}

/// Instantiation time percentiles since the runtime started.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct InstantiationStats {
    /// Instantiations measured (one per call that reached the guest, plus
    /// warm spares made ahead of calls).
    pub count: u64,
    /// Median time from `InstancePre` to a ready instance, in microseconds.
    pub p50_us: f64,
    /// 99th percentile, in microseconds.
    pub p99_us: f64,
    /// Mean, in microseconds.
    pub mean_us: f64,
    /// Calls that found their sandbox already instantiated (a warm spare,
    /// see [`crate::WarmPool`]); the others instantiated on their own path.
    pub prewarmed: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
        }
    }
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    (((shift + 1) as u64) << SUB_BITS | ((v >> shift) & (SUB - 1))) as usize
}

/// The midpoint of bucket `i`'s value range.
fn value(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = (i >> SUB_BITS) - 1;
    let low = (SUB | (i & (SUB - 1))) << shift;
    low + ((1u64 << shift) >> 1)
}

impl Histogram {
    pub fn record(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[index(ns)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> InstantiationStats {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return InstantiationStats::default();
        }
        let quantile = |q: f64| {
            let rank = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return value(i) as f64 / 1000.0;
                }
            }
            0.0
        };
        InstantiationStats {
            count: total,
            p50_us: quantile(0.50),
            p99_us: quantile(0.99),
            mean_us: self.sum_ns.load(Ordering::Relaxed) as f64
                / self.count.load(Ordering::Relaxed).max(1) as f64
                / 1000.0,
            prewarmed: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_close() {
        let mut last = 0;
        for v in [
            0u64,
            1,
            7,
            8,
            9,
            15,
            16,
            100,
            1_000,
            123_456,
            10_000_000_000,
        ] {
            let i = index(v);
            assert!(i >= last);
            last = i;
            let mid = value(i);
            assert!(mid.abs_diff(v) <= v / 8 + 1, "{v} -> {mid}");
        }
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn percentiles() {
        let h = Histogram::default();
        for us in 1..=100u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 100);
        assert!((s.p50_us - 50.0).abs() <= 7.0, "{s:?}");
        assert!((s.p99_us - 99.0).abs() <= 13.0, "{s:?}");
        assert!((s.mean_us - 50.5).abs() < 0.5, "{s:?}");
    }
}
