//! Call trees: every root call (a request, a cron tick, a queue message, an
//! async invoke) and all the calls it causes — function-to-function calls,
//! topic deliveries, their retries — share one depth limit and one budget of
//! invocations, so a function that calls itself or publishes to its own
//! topic cannot run without end.
//!
//! Synchronous descendants share the tree in memory ([`CallTree`], an
//! atomic counter). An async hop (a topic delivery published by a function)
//! carries its place in the tree with its job, as internal `x-wisp-call-*`
//! headers ([`Hop`]): the root's id, the delivery's depth, and the part of
//! the budget handed to it. The budget is never copied, only moved: the
//! tree's first publish hands half of what is left to its deliveries (split
//! evenly), each later one a smaller share (see [`CallTree::grant`]), and a
//! failed attempt leaves its job only what
//! the attempt did not spend. So the total stays within the root's budget on
//! any node and across restarts (an attempt cut off by a crash runs again
//! with its job's grant: the one approximation).
//!
//! Every call also gets a [`runtime::Cancellation`] made from its caller's:
//! when a call ends (finished, failed or timed out), the calls it started
//! that still run are stopped, and none start any more.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use runtime::{Cancellation, Outcome};

use crate::trace_context::TraceContext;
use crate::{Platform, PlatformError};

/// Header prefix of the call context a job carries; never taken from
/// outside callers (they are dropped where outside requests become jobs).
pub(crate) const HEADER_PREFIX: &str = "x-wisp-call-";
const ROOT_HEADER: &str = "x-wisp-call-root";
const DEPTH_HEADER: &str = "x-wisp-call-depth";
const BUDGET_HEADER: &str = "x-wisp-call-budget";
const TRACE_HEADER: &str = "x-wisp-call-trace";

/// Default deepest nesting: a root call is depth 0, its callees depth 1, ...
pub const DEFAULT_MAX_CALL_DEPTH: u32 = 8;
/// Default invocations one root call may cause, itself included.
pub const DEFAULT_MAX_CALLS_PER_ROOT: u32 = 1000;

/// The limits every call tree gets (`--max-call-depth`,
/// `--max-calls-per-root`).
#[derive(Clone, Copy, Debug)]
pub struct CallLimits {
    pub max_depth: u32,
    pub max_calls: u32,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_CALL_DEPTH,
            max_calls: DEFAULT_MAX_CALLS_PER_ROOT,
        }
    }
}

/// The budget of one root call on this node, shared by its synchronous
/// descendants.
#[derive(Debug)]
pub struct CallTree {
    /// The invocation the tree started with (for an async hop: the original
    /// root, on whichever node it ran).
    root_id: String,
    /// The trace every call of the tree belongs to.
    trace: TraceContext,
    /// Invocations the tree may still start.
    remaining: AtomicU32,
    /// Publishes that have moved budget out of this tree so far.
    grants: AtomicU32,
}

impl CallTree {
    /// A tree with `budget` invocations to spend, in `trace`.
    pub(crate) fn new(root_id: String, trace: TraceContext, budget: u32) -> Arc<Self> {
        Arc::new(Self {
            root_id,
            trace,
            remaining: AtomicU32::new(budget),
            grants: AtomicU32::new(0),
        })
    }

    /// The id of the root invocation.
    pub fn root_id(&self) -> &str {
        &self.root_id
    }

    /// The trace its calls belong to.
    pub fn trace(&self) -> &TraceContext {
        &self.trace
    }

    /// Invocations the tree may still start.
    pub fn remaining(&self) -> u32 {
        self.remaining.load(Ordering::SeqCst)
    }

    /// Spends one invocation; false when none is left.
    fn charge(&self) -> bool {
        self.remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| r.checked_sub(1))
            .is_ok()
    }

    /// Moves budget out for `deliveries` async deliveries of one publish,
    /// split evenly: the tree's k-th publish (from 0) moves 1/(k+2) of what
    /// is left — half for the first, so a chain of async hops keeps half at
    /// each level, and less for each later one, so a call that publishes
    /// many events leaves budget for the later ones — and at least one per
    /// delivery while that much is left. The grant of each (0 when too
    /// little is left: such a delivery is refused when it runs, and
    /// recorded).
    fn grant(&self, deliveries: u32) -> u32 {
        if deliveries == 0 {
            return 0;
        }
        let divisor = self.grants.fetch_add(1, Ordering::SeqCst).saturating_add(2);
        let mut each = 0;
        let _ = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
                each = if r >= deliveries {
                    (r / divisor / deliveries).max(1)
                } else {
                    0
                };
                Some(r - each * deliveries)
            });
        each
    }
}

/// Where a call sits: its tree, its depth, and the cancellation its own
/// callees derive theirs from.
#[derive(Clone, Debug)]
pub struct CallScope {
    pub tree: Arc<CallTree>,
    pub depth: u32,
    pub cancel: Cancellation,
}

/// A call's place in its tree as carried by an async job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hop {
    pub root_id: String,
    pub depth: u32,
    pub budget: u32,
    /// The trace id; a job queued before traces were kept has none (its
    /// trace is then its root's).
    pub trace_id: Option<String>,
}

impl Hop {
    /// The headers that carry this hop with a job.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![
            (ROOT_HEADER.to_string(), self.root_id.clone()),
            (DEPTH_HEADER.to_string(), self.depth.to_string()),
            (BUDGET_HEADER.to_string(), self.budget.to_string()),
        ];
        if let Some(trace_id) = &self.trace_id {
            headers.push((TRACE_HEADER.to_string(), trace_id.clone()));
        }
        headers
    }

    /// The trace of the hop's calls.
    pub fn trace(&self) -> TraceContext {
        match &self.trace_id {
            Some(trace_id) => TraceContext {
                trace_id: trace_id.clone(),
                parent_span_id: None,
            },
            None => TraceContext::starting_at(&self.root_id),
        }
    }

    /// Splits a job's headers into the hop they carry (if complete and
    /// valid) and the headers the function sees (every `x-wisp-call-*`
    /// header removed).
    pub fn take_from(headers: &[(String, String)]) -> (Option<Hop>, Vec<(String, String)>) {
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let hop = match (find(ROOT_HEADER), find(DEPTH_HEADER), find(BUDGET_HEADER)) {
            (Some(root), Some(depth), Some(budget)) => match (depth.parse(), budget.parse()) {
                (Ok(depth), Ok(budget)) => Some(Hop {
                    root_id: root.to_string(),
                    depth,
                    budget,
                    trace_id: find(TRACE_HEADER)
                        .filter(|t| crate::trace_context::is_trace_id(t))
                        .map(str::to_string),
                }),
                _ => None,
            },
            _ => None,
        };
        (hop, without_call_headers(headers))
    }
}

/// `headers` without any `x-wisp-call-*` header (what an outside caller
/// sent must not pose as a place in a call tree).
pub(crate) fn without_call_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(k, _)| {
            !k.get(..HEADER_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(HEADER_PREFIX))
        })
        .cloned()
        .collect()
}

/// Why a call may not start in its scope, if it may not.
pub(crate) fn admit(limits: &CallLimits, scope: &CallScope) -> Result<(), Outcome> {
    if scope.cancel.is_cancelled() {
        return Err(Outcome::Cancelled);
    }
    if scope.depth > limits.max_depth {
        return Err(Outcome::Refused {
            code: model::InvocationOutcome::CallDepthExceeded.as_str(),
            message: format!(
                "calls nest deeper than {} (root call {})",
                limits.max_depth,
                scope.tree.root_id()
            ),
        });
    }
    if !scope.tree.charge() {
        return Err(Outcome::Refused {
            code: model::InvocationOutcome::CallBudgetExceeded.as_str(),
            message: format!(
                "root call {} has used its budget of {} invocations",
                scope.tree.root_id(),
                limits.max_calls
            ),
        });
    }
    Ok(())
}

impl Platform {
    /// The limits of every call tree on this server.
    pub fn call_limits(&self) -> CallLimits {
        self.inner.config.call_limits
    }

    /// The place of `deliveries` async deliveries published by a call in
    /// `scope`: one level deeper, each with its share of the budget.
    pub(crate) fn hop_from(&self, scope: &CallScope, deliveries: u32) -> Hop {
        Hop {
            root_id: scope.tree.root_id().to_string(),
            depth: scope.depth + 1,
            budget: scope.tree.grant(deliveries),
            trace_id: Some(scope.tree.trace().trace_id.clone()),
        }
    }

    /// Leaves a failed job only the budget its attempt did not spend, so a
    /// retry cannot spend it twice.
    pub(crate) async fn keep_job_budget(
        &self,
        job_id: &str,
        headers: &[(String, String)],
        hop: &Hop,
        left: u32,
    ) -> Result<(), PlatformError> {
        let mut kept = without_call_headers(headers);
        kept.extend(
            Hop {
                budget: left,
                ..hop.clone()
            }
            .headers(),
        );
        let json = serde_json::to_string(&kept).map_err(anyhow::Error::from)?;
        sqlx::query("UPDATE jobs SET headers_json = $1 WHERE id = $2")
            .bind(json)
            .bind(job_id)
            .execute(&self.inner.db)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_move_budget_and_never_copy_it() {
        let tree = CallTree::new("root".into(), TraceContext::starting_at("root"), 101);
        assert!(tree.charge());
        // 100 left: half of it over 3 deliveries.
        assert_eq!(tree.grant(3), 16);
        assert_eq!(tree.remaining(), 52);
        // A call publishing many events: the later ones still get budget.
        let wide = CallTree::new("root".into(), TraceContext::starting_at("root"), 1000);
        let grants: Vec<u32> = (0..100).map(|_| wide.grant(1)).collect();
        assert_eq!(grants[0], 500);
        let funded = grants.iter().filter(|g| **g > 0).count();
        assert!(
            funded >= 60,
            "only {funded} of 100 publishes got budget: {grants:?}"
        );
        assert_eq!(grants.iter().sum::<u32>() + wide.remaining(), 1000);
        let tiny = CallTree::new("root".into(), TraceContext::starting_at("root"), 1);
        assert_eq!(tiny.grant(2), 0);
        assert!(tiny.charge());
        assert!(!tiny.charge());
    }

    #[test]
    fn hops_round_trip_and_outside_copies_are_dropped() {
        let hop = Hop {
            root_id: "r".into(),
            depth: 3,
            budget: 40,
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        };
        let mut headers = vec![("content-type".to_string(), "text/plain".to_string())];
        headers.extend(hop.headers());
        let (found, rest) = Hop::take_from(&headers);
        assert_eq!(found, Some(hop));
        assert_eq!(rest, vec![("content-type".into(), "text/plain".into())]);
        let forged = vec![("X-Wisp-Call-Budget".to_string(), "999999".to_string())];
        assert!(without_call_headers(&forged).is_empty());
        assert_eq!(Hop::take_from(&forged).0, None);
    }

    #[test]
    fn depth_and_budget_are_enforced() {
        let limits = CallLimits {
            max_depth: 2,
            max_calls: 1,
        };
        let scope = |depth, budget| CallScope {
            tree: CallTree::new("r".into(), TraceContext::starting_at("r"), budget),
            depth,
            cancel: Cancellation::new(),
        };
        assert!(admit(&limits, &scope(2, 1)).is_ok());
        assert_eq!(
            admit(&limits, &scope(3, 1)).unwrap_err().code(),
            "call_depth_exceeded"
        );
        assert_eq!(
            admit(&limits, &scope(0, 0)).unwrap_err().code(),
            "call_budget_exceeded"
        );
        let cancelled = scope(0, 1);
        cancelled.cancel.cancel();
        assert_eq!(admit(&limits, &cancelled).unwrap_err(), Outcome::Cancelled);
    }
}
