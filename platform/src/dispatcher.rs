//! The dispatcher: the background loop that runs queued jobs. It claims due
//! jobs per function, no more than the function has free concurrency slots
//! (excess work waits in the queue), runs each as a call, and records the
//! result. It also returns jobs of dead workers to the queue and forgets old
//! delivered jobs. At shutdown it stops claiming, and the server waits (within
//! its grace period) for the jobs already running to finish. A job carrying a
//! place in a call tree (a delivery published by a function) runs there; a
//! job refused by its tree's depth or budget goes to the dead letters at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use crate::call_tree::{CallScope, CallTree, Hop};
use crate::invoke::CallContext;
use crate::queue::ClaimedJob;
use crate::trace_context::TraceContext;
use crate::Platform;

/// Jobs running at once across all functions on this node.
const WORKERS: usize = 64;
/// Longest sleep when nothing is due (new work wakes the loop at once).
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How often expired leases are looked for.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(5);
/// Delivered jobs are kept this long for inspection.
const KEEP_DONE: Duration = Duration::from_secs(24 * 3600);
/// Extra lease time beyond the function's timeout.
const LEASE_MARGIN_MS: i64 = 60_000;

/// Handle to wake the dispatcher loop.
#[derive(Clone)]
pub(crate) struct Dispatcher {
    notify: Arc<Notify>,
    workers: Arc<Semaphore>,
}

impl Dispatcher {
    pub fn new() -> Self {
        Self {
            notify: Arc::new(Notify::new()),
            workers: Arc::new(Semaphore::new(WORKERS)),
        }
    }

    /// New or finished work: look at the queue again.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Jobs running now on this node.
    pub fn running(&self) -> usize {
        WORKERS - self.workers.available_permits()
    }

    /// Resolves once no job runs: every worker slot is free.
    async fn drained(&self) {
        // Each running job holds one slot until it has been recorded.
        if let Ok(all) = self.workers.acquire_many(WORKERS as u32).await {
            drop(all);
        }
    }

    /// Runs the loop until the process ends.
    pub fn spawn(&self, platform: Platform) {
        let this = self.clone();
        tokio::spawn(async move { this.run(platform).await });
    }

    async fn run(self, platform: Platform) {
        let clock = platform.inner.clock.clone();
        let mut last_housekeeping = tokio::time::Instant::now() - HOUSEKEEPING_EVERY;
        let mut stop = platform.inner.shutdown.subscribe();
        loop {
            if *stop.borrow_and_update() {
                return;
            }
            if last_housekeeping.elapsed() >= HOUSEKEEPING_EVERY {
                last_housekeeping = tokio::time::Instant::now();
                let now = clock.now_ms();
                match platform.requeue_expired(now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(jobs = n, "requeued jobs whose worker lease expired"),
                    Err(e) => tracing::error!(error = %e, "requeueing expired jobs failed"),
                }
                if let Err(e) = platform
                    .prune_done_jobs(now - KEEP_DONE.as_millis() as i64)
                    .await
                {
                    tracing::error!(error = %e, "pruning delivered jobs failed");
                }
                if let Err(e) = platform.prune_captures(now).await {
                    tracing::error!(error = %e, "pruning old captures failed");
                }
            }
            let (started, blocked) = match self.dispatch_due(&platform).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "dispatching jobs failed");
                    (0, true)
                }
            };
            if started > 0 {
                continue;
            }
            // Due work without room waits for a running job to finish (which
            // wakes the loop) or for the next poll.
            let next_due = if blocked {
                Ok(None)
            } else {
                platform.next_due_ms().await
            };
            let wait = match next_due {
                Ok(Some(due)) => {
                    let ms = (due - clock.now_ms()).clamp(1, IDLE_POLL.as_millis() as i64);
                    Duration::from_millis(ms as u64)
                }
                _ => IDLE_POLL,
            };
            tokio::select! {
                _ = self.notify.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Claims and starts what is due and has room: how many jobs started,
    /// and whether due work had to wait for room.
    async fn dispatch_due(
        &self,
        platform: &Platform,
    ) -> Result<(usize, bool), crate::PlatformError> {
        let now = platform.inner.clock.now_ms();
        let mut started = 0;
        let mut blocked = false;
        for (function, due) in platform.due_functions(now).await? {
            let Some(live) = platform.inner.registry.get(&function) else {
                let n = platform.dead_letter_function(&function, now).await?;
                tracing::warn!(%function, jobs = n, "dead-lettered jobs of a function without a live version");
                continue;
            };
            let room = live
                .permits
                .available_permits()
                .min(self.workers.available_permits());
            let take = (due as usize).min(room);
            if take == 0 {
                blocked = true;
                continue;
            }
            // Worker slots are taken before the claim: a job is `running` in
            // the database only while it holds one, so a shutdown that drains
            // the slots cannot miss a job claimed a moment before.
            let mut workers: Vec<_> = (0..take)
                .map_while(|_| Arc::clone(&self.workers).try_acquire_owned().ok())
                .collect();
            if workers.is_empty() {
                blocked = true;
                continue;
            }
            let lease_until =
                now + live.warm.sandbox().timeout.as_millis() as i64 + LEASE_MARGIN_MS;
            let jobs = platform
                .claim_jobs(&function, workers.len() as u32, now, lease_until)
                .await?;
            for job in jobs {
                let Some(worker) = workers.pop() else {
                    // Cannot happen (one job per slot was claimed).
                    break;
                };
                started += 1;
                let platform = platform.clone();
                let this = self.clone();
                tokio::spawn(async move {
                    run_job(&platform, job).await;
                    drop(worker);
                    this.wake();
                });
            }
        }
        Ok((started, blocked))
    }
}

impl Platform {
    /// Async jobs running now on this node.
    pub fn running_jobs(&self) -> usize {
        self.inner.dispatcher.running()
    }

    /// Waits until the async jobs running on this node have finished and
    /// been recorded. Call after [`Platform::shutdown`] (no new job starts
    /// then), bounded by the server's grace period: a job cut off after it
    /// runs again after the next start.
    pub async fn drain_jobs(&self) {
        let running = self.running_jobs();
        if running > 0 {
            tracing::info!(jobs = running, "waiting for running jobs to finish");
        }
        self.inner.dispatcher.drained().await;
    }
}

/// Runs one claimed job and records how it went.
async fn run_job(platform: &Platform, job: ClaimedJob) {
    let invocation_id = job.invocation_id();
    // The call-tree headers are the platform's, not the function's.
    let (hop, headers) = Hop::take_from(&job.headers);
    let request =
        match crate::invoke::delivery_request(&job.method, &job.path, &headers, job.body.clone()) {
            Ok(r) => r,
            Err(e) => {
                let now = platform.inner.clock.now_ms();
                let _ = platform.fail_job(&job, None, &e, now).await;
                return;
            }
        };
    // Without a hop the job is a root of its own (an async invoke, a cron
    // tick, a publish from outside).
    let scope = hop.as_ref().map(|hop| CallScope {
        tree: CallTree::new(hop.root_id.clone(), hop.trace(), hop.budget),
        depth: hop.depth,
        cancel: runtime::Cancellation::new(),
    });
    // A root job keeps one trace over its attempts: its sender's
    // `traceparent`, else the one its first invocation id names.
    let trace = hop.is_none().then(|| {
        TraceContext::from_headers(headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
            .unwrap_or_else(|| TraceContext::starting_at(&job.first_invocation_id))
    });
    let context = CallContext {
        trigger: job.source,
        trigger_id: job.trigger_id.clone(),
        parent_id: job.parent_id.clone(),
        depth: hop.as_ref().map_or(0, |h| h.depth),
        wait_for_slot: true,
        scope: scope.clone(),
        trace,
        attempt: Some(job.attempts),
    };
    let result = platform
        .invoke_to_completion(invocation_id.clone(), &job.function, request, context)
        .await;
    let now = platform.inner.clock.now_ms();
    if let (Some(hop), Some(scope), Ok(call)) = (&hop, &scope, &result) {
        if !call.succeeded() {
            // A retry gets only what this attempt left.
            let left = scope.tree.remaining();
            if let Err(e) = platform
                .keep_job_budget(&job.id, &job.headers, hop, left)
                .await
            {
                tracing::error!(job = %job.id, error = %e, "storing a job's remaining call budget failed");
            }
        }
    }
    let outcome = match result {
        Ok(call) if call.status == 508 && call.error.is_some() => {
            // Refused by its call tree: a retry cannot get past the limit.
            let error = call.error.clone().unwrap_or_default();
            let last = ClaimedJob {
                attempts: job.max_attempts,
                ..job.clone()
            };
            platform
                .fail_job(&last, Some(&call.invocation_id), &error, now)
                .await
                .map(|dead| log_failure(&last, &error, dead))
        }
        Ok(call) if call.succeeded() => {
            platform
                .complete_job(&job.id, &call.invocation_id, now)
                .await
        }
        Ok(call) => {
            let error = call
                .error
                .clone()
                .unwrap_or_else(|| format!("the function answered {}", call.status));
            platform
                .fail_job(&job, Some(&call.invocation_id), &error, now)
                .await
                .map(|dead| log_failure(&job, &error, dead))
        }
        Err(e) => {
            let error = e.to_string();
            platform
                .fail_job(&job, None, &error, now)
                .await
                .map(|dead| log_failure(&job, &error, dead))
        }
    };
    if let Err(e) = outcome {
        // The lease returns the job to the queue; it runs again later.
        tracing::error!(job = %job.id, error = %e, "recording a job's result failed");
    }
}

fn log_failure(job: &ClaimedJob, error: &str, dead: bool) {
    if dead {
        tracing::warn!(job = %job.id, function = %job.function, attempts = job.attempts, %error, "job moved to the dead letters");
    } else {
        tracing::info!(job = %job.id, function = %job.function, attempt = job.attempts, %error, "job failed; will retry");
    }
}
