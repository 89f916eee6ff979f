//! Prometheus metrics of this node (`GET /metrics`): per-function call and
//! error counters, a duration histogram, in-flight gauges and refused
//! (429) calls, updated on the call path with relaxed atomics; and, read
//! when scraped, the job queue (cluster-wide: it is the database's),
//! invocation recording, sandbox instantiation and the artifact cache.
//! Written in the Prometheus text exposition format, version 0.0.4.
//!
//! Labels stay bounded: `function` is a deployed function's name (at most
//! [`MAX_FUNCTION_SERIES`] of them; later ones count under `_other`),
//! `trigger`, `status`, `outcome` and `state` are closed sets.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use model::{JobState, TriggerKind};
use sqlx::Row;

use crate::{Platform, PlatformError, Principal};

/// Upper bounds of the call duration histogram, in seconds.
const DURATION_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Functions with series of their own; calls of any further function
/// count under [`OTHER`] (a bounded scrape, whatever is deployed).
pub const MAX_FUNCTION_SERIES: usize = 2000;
const OTHER: &str = "_other";

/// The call-path counters of every function seen since start.
#[derive(Default)]
pub(crate) struct CallMetrics {
    functions: RwLock<HashMap<String, Arc<FunctionCalls>>>,
    /// Calls running on this node (all functions), for its heartbeat.
    pub in_flight_total: Arc<AtomicI64>,
    /// Calls finished on this node since start (all functions).
    calls_total: Arc<AtomicU64>,
}

struct FunctionCalls {
    in_flight: AtomicI64,
    /// By trigger (as [`TriggerKind::ALL`] orders them): successes, failures.
    calls: Vec<[AtomicU64; 2]>,
    /// Failures by outcome code.
    errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Calls refused with 429 (function or team at its concurrency limit).
    throttled: AtomicU64,
    /// Per bucket (not cumulative), the last one is +Inf.
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

impl Default for FunctionCalls {
    fn default() -> Self {
        Self {
            in_flight: AtomicI64::new(0),
            calls: TriggerKind::ALL
                .iter()
                .map(|_| Default::default())
                .collect(),
            errors: Mutex::default(),
            throttled: AtomicU64::new(0),
            buckets: Default::default(),
            sum_ns: AtomicU64::new(0),
        }
    }
}

/// A call counted as in flight until [`InFlight::finish`] (or drop).
pub(crate) struct InFlight(Arc<FunctionCalls>, Arc<AtomicI64>, Arc<AtomicU64>);

impl InFlight {
    /// Counts the finished call: its trigger, outcome and duration.
    pub fn finish(self, trigger: TriggerKind, outcome: &'static str, duration: Duration) {
        self.0.count(trigger, outcome);
        let seconds = duration.as_secs_f64();
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|upper| seconds <= *upper)
            .unwrap_or(DURATION_BUCKETS.len());
        self.0.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.0.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.1.fetch_sub(1, Ordering::Relaxed);
        self.2.fetch_add(1, Ordering::Relaxed);
    }
}

impl FunctionCalls {
    fn count(&self, trigger: TriggerKind, outcome: &'static str) {
        let index = TriggerKind::ALL
            .iter()
            .position(|t| *t == trigger)
            .unwrap_or(0);
        let failed = outcome != "success";
        self.calls[index][usize::from(failed)].fetch_add(1, Ordering::Relaxed);
        if failed {
            let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
            *errors.entry(outcome).or_default() += 1;
        }
    }
}

impl CallMetrics {
    fn function(&self, name: &str) -> Arc<FunctionCalls> {
        if let Some(calls) = self
            .functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return calls.clone();
        }
        let mut functions = self.functions.write().unwrap_or_else(|e| e.into_inner());
        let key = if functions.len() < MAX_FUNCTION_SERIES {
            name
        } else {
            OTHER
        };
        functions.entry(key.to_string()).or_default().clone()
    }

    /// Calls finished on this node since start.
    pub fn calls_total(&self) -> u64 {
        self.calls_total.load(Ordering::Relaxed)
    }

    /// A call of `function` starts running.
    pub fn started(&self, function: &str) -> InFlight {
        let calls = self.function(function);
        calls.in_flight.fetch_add(1, Ordering::Relaxed);
        self.in_flight_total.fetch_add(1, Ordering::Relaxed);
        InFlight(
            calls,
            self.in_flight_total.clone(),
            self.calls_total.clone(),
        )
    }

    /// A call of `function` was refused before it ran (call depth, budget):
    /// counted as a failure, without a duration.
    pub fn refused(&self, function: &str, trigger: TriggerKind, outcome: &'static str) {
        self.function(function).count(trigger, outcome);
    }

    /// A call of `function` got 429 (its own or its team's limit).
    pub fn throttled(&self, function: &str) {
        self.function(function)
            .throttled
            .fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Vec<(String, Arc<FunctionCalls>)> {
        let functions = self.functions.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = functions
            .iter()
            .map(|(name, calls)| (name.clone(), calls.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

/// Jobs of one function in one state, from the queue.
struct JobCount {
    function: String,
    state: JobState,
    count: i64,
    /// Earliest `run_at` (ms) among them.
    earliest_ms: i64,
}

impl Platform {
    /// This node's metrics in the Prometheus text format; for server
    /// administrators only (they span every team). A read: an
    /// administrator's token of any role will do, so that a scraper can
    /// hold a viewer-scoped one.
    pub async fn metrics_text(&self, who: &Principal) -> Result<String, PlatformError> {
        if !who.is_admin {
            return Err(PlatformError::forbidden(
                "the metrics span every team: they need a server administrator's token",
            ));
        }
        let jobs = self.job_counts().await?;
        let mut out = Exposition::default();
        out.family("wisp_build_info", "gauge", "Version of this node.");
        out.sample(
            "wisp_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );
        self.call_families(&mut out);

        out.family(
            "wisp_jobs",
            "gauge",
            "Async jobs, topic deliveries, cron ticks and queue messages by state (all nodes).",
        );
        for job in &jobs {
            let labels = [
                ("function", job.function.as_str()),
                ("state", job.state.as_str()),
            ];
            out.sample("wisp_jobs", &labels, job.count as f64);
        }
        out.family(
            "wisp_queue_oldest_due_seconds",
            "gauge",
            "How long the oldest queued job that is due has waited to run.",
        );
        let now_ms = self.now().timestamp_millis();
        for job in jobs.iter().filter(|j| j.state == JobState::Queued) {
            let waited = (now_ms - job.earliest_ms).max(0) as f64 / 1000.0;
            out.sample(
                "wisp_queue_oldest_due_seconds",
                &[("function", &job.function)],
                waited,
            );
        }
        out.family(
            "wisp_dead_letters",
            "gauge",
            "Jobs that used up their attempts (all nodes), waiting for a redrive.",
        );
        let dead: i64 = jobs
            .iter()
            .filter(|j| j.state == JobState::Dead)
            .map(|j| j.count)
            .sum();
        out.sample("wisp_dead_letters", &[], dead as f64);

        self.node_families(&mut out);
        Ok(out.text)
    }

    fn call_families(&self, out: &mut Exposition) {
        let functions = self.inner.metrics.snapshot();
        out.family(
            "wisp_invocations_total",
            "counter",
            "Calls that ran or were refused, by function, trigger and status.",
        );
        for (name, calls) in &functions {
            for (trigger, counts) in TriggerKind::ALL.iter().zip(&calls.calls) {
                for (status, count) in ["success", "error"].iter().zip(counts) {
                    let n = count.load(Ordering::Relaxed);
                    if n > 0 {
                        let labels = [
                            ("function", name.as_str()),
                            ("trigger", trigger.as_str()),
                            ("status", status),
                        ];
                        out.sample("wisp_invocations_total", &labels, n as f64);
                    }
                }
            }
        }
        out.family(
            "wisp_invocation_errors_total",
            "counter",
            "Failed calls by function and outcome (trap, timeout, out_of_memory, ...).",
        );
        for (name, calls) in &functions {
            let errors = calls.errors.lock().unwrap_or_else(|e| e.into_inner());
            for (outcome, n) in errors.iter() {
                let labels = [("function", name.as_str()), ("outcome", outcome)];
                out.sample("wisp_invocation_errors_total", &labels, *n as f64);
            }
        }
        out.family(
            "wisp_throttled_total",
            "counter",
            "Calls answered 429 because the function or its team was at its concurrency limit.",
        );
        for (name, calls) in &functions {
            let n = calls.throttled.load(Ordering::Relaxed);
            out.sample("wisp_throttled_total", &[("function", name)], n as f64);
        }
        out.family(
            "wisp_invocations_in_flight",
            "gauge",
            "Calls running now on this node.",
        );
        for (name, calls) in &functions {
            let n = calls.in_flight.load(Ordering::Relaxed);
            out.sample(
                "wisp_invocations_in_flight",
                &[("function", name)],
                n as f64,
            );
        }
        out.family(
            "wisp_invocation_duration_seconds",
            "histogram",
            "Wall time of the calls that ran.",
        );
        for (name, calls) in &functions {
            let mut cumulative = 0u64;
            for (i, bucket) in calls.buckets.iter().enumerate() {
                cumulative += bucket.load(Ordering::Relaxed);
                let le = DURATION_BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
                let labels = [("function", name.as_str()), ("le", le.as_str())];
                out.sample(
                    "wisp_invocation_duration_seconds_bucket",
                    &labels,
                    cumulative as f64,
                );
            }
            let sum = calls.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
            out.sample(
                "wisp_invocation_duration_seconds_sum",
                &[("function", name)],
                sum,
            );
            out.sample(
                "wisp_invocation_duration_seconds_count",
                &[("function", name)],
                cumulative as f64,
            );
        }
    }

    /// Figures of this node as a whole: recording, instantiation, cache.
    fn node_families(&self, out: &mut Exposition) {
        let recorder = self.recorder_health();
        let gauges = [
            (
                "wisp_recorder_lag_seconds",
                "Age of the oldest invocation record not yet written.",
                recorder.lag_secs,
            ),
            (
                "wisp_recorder_queued_records",
                "Invocation records waiting to be written.",
                recorder.queued as f64,
            ),
            (
                "wisp_recorder_degraded",
                "1 while recording is degraded (late, failing or dropping records).",
                f64::from(u8::from(recorder.degraded)),
            ),
            (
                "wisp_live_functions",
                "Functions with a live version loaded on this node.",
                self.live_function_count() as f64,
            ),
        ];
        for (name, help, value) in gauges {
            out.family(name, "gauge", help);
            out.sample(name, &[], value);
        }
        let cache = self.cache_stats();
        let inst = self.instantiation_stats();
        let counters = [
            (
                "wisp_recorder_failed_writes_total",
                "Batches of invocation records whose write failed.",
                recorder.failures,
            ),
            (
                "wisp_recorder_dropped_records_total",
                "Invocation records lost (beyond the spill bound, or at exit).",
                recorder.dropped,
            ),
            (
                "wisp_artifact_cache_hits_total",
                "Compiled artifacts loaded from the disk cache.",
                cache.hits,
            ),
            (
                "wisp_compiles_total",
                "Functions compiled to optimised code on this node.",
                cache.compiles,
            ),
            (
                "wisp_baseline_compiles_total",
                "Functions compiled to baseline code on this node, to go live before their optimised code is ready.",
                cache.baseline_compiles,
            ),
            (
                "wisp_prewarmed_calls_total",
                "Calls that found their sandbox instantiated ahead of time.",
                inst.prewarmed,
            ),
        ];
        for (name, help, value) in counters {
            out.family(name, "counter", help);
            out.sample(name, &[], value as f64);
        }
        let name = "wisp_instantiation_seconds";
        out.family(
            name,
            "summary",
            "Time to instantiate a call's sandbox (since start).",
        );
        for (quantile, us) in [("0.5", inst.p50_us), ("0.99", inst.p99_us)] {
            out.sample(name, &[("quantile", quantile)], us / 1e6);
        }
        let sum = inst.mean_us * inst.count as f64 / 1e6;
        out.sample("wisp_instantiation_seconds_sum", &[], sum);
        out.sample("wisp_instantiation_seconds_count", &[], inst.count as f64);
    }

    /// Jobs not done, by function and state, with the earliest due time
    /// (read off the `jobs_due` index).
    async fn job_counts(&self) -> Result<Vec<JobCount>, PlatformError> {
        let rows = sqlx::query(
            "SELECT function_name, state, COUNT(*) AS n, MIN(run_at) AS earliest FROM jobs \
             WHERE state IN ('queued', 'running', 'dead') GROUP BY function_name, state \
             ORDER BY function_name, state",
        )
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(JobCount {
                    function: row.try_get("function_name")?,
                    state: crate::db::column::<JobState>(row, "state")?,
                    count: row.try_get("n")?,
                    earliest_ms: row
                        .try_get::<Option<i64>, _>("earliest")?
                        .unwrap_or_default(),
                })
            })
            .collect()
    }
}

/// Text exposition being written: `# HELP`/`# TYPE` once per family, then
/// its samples.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{key}=\"{}\"", escape(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }
}

/// A label value as the format quotes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_land_in_their_series_and_buckets() {
        let metrics = CallMetrics::default();
        let call = metrics.started("shop");
        assert_eq!(
            metrics.function("shop").in_flight.load(Ordering::Relaxed),
            1
        );
        call.finish(TriggerKind::Http, "success", Duration::from_millis(3));
        metrics
            .started("shop")
            .finish(TriggerKind::Topic, "trap", Duration::from_secs(100));
        metrics.refused("shop", TriggerKind::Topic, "call_depth_exceeded");
        let shop = metrics.function("shop");
        assert_eq!(shop.in_flight.load(Ordering::Relaxed), 0);
        let topic = TriggerKind::ALL
            .iter()
            .position(|t| *t == TriggerKind::Topic)
            .unwrap();
        assert_eq!(shop.calls[topic][1].load(Ordering::Relaxed), 2);
        // 3 ms is in the 5 ms bucket; 100 s only in +Inf.
        assert_eq!(shop.buckets[2].load(Ordering::Relaxed), 1);
        assert_eq!(
            shop.buckets[DURATION_BUCKETS.len()].load(Ordering::Relaxed),
            1
        );
        let errors = shop.errors.lock().unwrap().clone();
        assert_eq!(errors.get("trap"), Some(&1));
        assert_eq!(errors.get("call_depth_exceeded"), Some(&1));
    }

    #[test]
    fn series_are_bounded_and_label_values_escaped() {
        let metrics = CallMetrics::default();
        for i in 0..MAX_FUNCTION_SERIES + 5 {
            metrics.throttled(&format!("f{i}"));
        }
        let all = metrics.snapshot();
        assert_eq!(all.len(), MAX_FUNCTION_SERIES + 1);
        let other = all.iter().find(|(n, _)| n == OTHER).unwrap();
        assert_eq!(other.1.throttled.load(Ordering::Relaxed), 5);
        let mut out = Exposition::default();
        out.sample("m", &[("a", "x\"y\\z\nw")], 1.5);
        assert_eq!(out.text, "m{a=\"x\\\"y\\\\z\\nw\"} 1.5\n");
    }
}
