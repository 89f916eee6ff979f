//! The topology graph: nodes and edges of the application as configured
//! (triggers → functions, topic subscriptions) merged with what ran in a
//! time window (function → function calls, publishes, key-value and
//! external-host accesses, from the recorded invocations and outbound
//! calls), each with calls, errors, p50/p95 latency and cost. Laying it
//! out and drawing it (SVG, Graphviz DOT) is the `render` crate's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use model::{
    FlowStats, InvocationStatus, Topology, TopologyEdge, TopologyNode, TopologyNodeKind as Kind,
    TriggerSpec,
};
use rust_decimal::Decimal;
use sqlx::Row;

use crate::metering::{cost_of, Prices, Usage};
use crate::{Platform, PlatformError};

/// Most rows read per query; a window beyond this is summarised from a sample.
const MAX_ROWS: i64 = 500_000;
/// Longest window a topology may cover.
const MAX_WINDOW_MS: i64 = 31 * 24 * 3600 * 1000;

// Parameters of the window reads: $1..$2 the window, $3 the row cap, $4 the
// team. Naming the team's functions lets `invocations_by_function` serve the
// window (there is no index on time alone, migration 0008).
/// Every call of the team's functions in the window.
pub(crate) const CALLS_IN_WINDOW: &str = concat!(
    "SELECT function_name, trigger_id, status, \
     status_code, duration_us, billed_ms, memory_limit_mb, bytes_out FROM invocations \
     WHERE started_at >= $1 AND started_at < $2 \
     AND function_name IN ",
    team_functions!("$4"),
    " LIMIT $3"
);
/// Calls one of the team's functions made to another in the window, with
/// the caller's name. A team's functions reach only its own (tenancy), so
/// the callee's team picks the rows and the caller's confirms them.
pub(crate) const CHILD_CALLS_IN_WINDOW: &str = concat!(
    "SELECT p.function_name AS caller, \
     c.function_name AS callee, c.billed_ms, c.memory_limit_mb, c.bytes_out \
     FROM invocations c JOIN invocations p ON p.id = c.parent_id \
     WHERE c.trigger_kind = 'function' AND c.started_at >= $1 AND c.started_at < $2 \
     AND c.function_name IN ",
    team_functions!("$4"),
    " \
     AND p.function_name IN ",
    team_functions!("$4"),
    " LIMIT $3"
);
/// Outbound calls the team's functions made in the window (functions,
/// topics, kv, hosts), with the caller's memory size.
const OUTBOUND_CALLS_IN_WINDOW: &str = concat!(
    "SELECT o.function_name, o.target_kind, o.target, \
     o.ok, o.duration_us, i.memory_limit_mb \
     FROM outbound_calls o LEFT JOIN invocations i ON i.id = o.invocation_id \
     WHERE o.at >= $1 AND o.at < $2 \
     AND o.function_name IN ",
    team_functions!("$4"),
    " LIMIT $3"
);

/// Calls, errors, latencies and usage gathered for one node or edge.
#[derive(Default)]
struct Acc {
    calls: i64,
    errors: i64,
    durations_ms: Vec<f64>,
    usage: Usage,
    /// Cost not derived from usage (waiting on a sink), in MB-ms.
    wait_mb_ms: i64,
}

impl Acc {
    fn add(&mut self, error: bool, duration_ms: f64) {
        self.calls += 1;
        self.errors += i64::from(error);
        self.durations_ms.push(duration_ms);
    }

    fn stats(mut self, prices: &Prices) -> FlowStats {
        self.durations_ms.sort_by(f64::total_cmp);
        let pct = |p: f64| -> f64 {
            if self.durations_ms.is_empty() {
                return 0.0;
            }
            // Nearest rank.
            let rank = ((p * self.durations_ms.len() as f64).ceil() as usize).max(1);
            let v = self.durations_ms[rank.min(self.durations_ms.len()) - 1];
            (v * 1000.0).round() / 1000.0
        };
        let mut usage = self.usage;
        usage.mb_ms += self.wait_mb_ms;
        let cost: Decimal = cost_of(&usage, prices);
        FlowStats {
            calls: self.calls,
            errors: self.errors,
            p50_ms: pct(0.50),
            p95_ms: pct(0.95),
            cost: cost.normalize().to_string(),
        }
    }
}

fn node(id: String, kind: Kind, label: String) -> TopologyNode {
    TopologyNode {
        id,
        kind,
        label,
        stats: None,
    }
}

impl Platform {
    /// Runs one of the window reads above with its four parameters.
    async fn window_rows(
        &self,
        sql: &str,
        team_id: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
        sqlx::query(sql)
            .bind(from_ms)
            .bind(to_ms)
            .bind(MAX_ROWS)
            .bind(team_id)
            .fetch_all(&self.inner.db)
            .await
    }

    /// A team's graph between `since` and `until`.
    pub(crate) async fn topology(
        &self,
        team_id: i64,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Topology, PlatformError> {
        let (from_ms, to_ms) = (since.timestamp_millis(), until.timestamp_millis());
        if to_ms <= from_ms {
            return Err(PlatformError::invalid("until must be after since"));
        }
        if to_ms - from_ms > MAX_WINDOW_MS {
            return Err(PlatformError::invalid("the window can be at most 31 days"));
        }
        let (prices, currency) = self.prices_at(to_ms).await?;
        let mut nodes: BTreeMap<String, TopologyNode> = BTreeMap::new();
        // (from, to) → (declared, accumulated traffic)
        let mut edges: BTreeMap<(String, String), (bool, Acc)> = BTreeMap::new();
        let mut trigger_edge: BTreeMap<String, (String, String)> = BTreeMap::new();

        for f in self.list_functions(team_id).await? {
            nodes.insert(
                format!("fn:{}", f.name),
                node(format!("fn:{}", f.name), Kind::Function, f.name),
            );
        }
        for t in self.list_triggers(team_id).await? {
            let fn_id = format!("fn:{}", t.function);
            let (id, kind, label) = match &t.spec {
                TriggerSpec::Http { .. } => {
                    (format!("route:{}", t.id), Kind::Route, t.spec.describe())
                }
                TriggerSpec::Cron { schedule, timezone } => (
                    format!("cron:{}", t.id),
                    Kind::Cron,
                    format!("cron {schedule} ({timezone})"),
                ),
                TriggerSpec::Topic { topic } => {
                    (format!("topic:{topic}"), Kind::Topic, topic.clone())
                }
                other => (
                    format!("queue:{}", t.id),
                    Kind::Queue,
                    format!("{} {}", other.kind(), other.describe()),
                ),
            };
            nodes
                .entry(id.clone())
                .or_insert_with(|| node(id.clone(), kind, label));
            edges.entry((id.clone(), fn_id.clone())).or_default().0 = true;
            trigger_edge.insert(t.id.clone(), (id, fn_id));
        }

        // Every invocation: its function's own stats, and its trigger's edge.
        let rows = self
            .window_rows(CALLS_IN_WINDOW, team_id, from_ms, to_ms)
            .await?;
        let mut per_function: BTreeMap<String, Acc> = BTreeMap::new();
        for row in &rows {
            let function: String = row.try_get("function_name")?;
            let trigger_id: Option<String> = row.try_get("trigger_id")?;
            let status: InvocationStatus = crate::db::column(row, "status")?;
            let code: Option<i64> = row.try_get("status_code")?;
            let error = status == InvocationStatus::Error || code.is_some_and(|c| c >= 500);
            let duration = row.try_get::<i64, _>("duration_us")? as f64 / 1000.0;
            let billed: i64 = row.try_get("billed_ms")?;
            let usage = Usage {
                requests: 1,
                errors: i64::from(error),
                billed_ms: billed,
                mb_ms: billed * row.try_get::<i64, _>("memory_limit_mb")?,
                bytes_in: 0,
                bytes_out: row.try_get("bytes_out")?,
            };
            let acc = per_function.entry(function.clone()).or_default();
            acc.add(error, duration);
            acc.usage.add(&usage);
            if let Some(key) = trigger_id.and_then(|t| trigger_edge.get(&t).cloned()) {
                let edge = &mut edges.entry(key).or_default().1;
                edge.add(error, duration);
                edge.usage.add(&usage);
            }
        }

        // Function → function: the callee's usage, attributed to the caller.
        let rows = self
            .window_rows(CHILD_CALLS_IN_WINDOW, team_id, from_ms, to_ms)
            .await?;
        for row in &rows {
            let key = (
                format!("fn:{}", row.try_get::<String, _>("caller")?),
                format!("fn:{}", row.try_get::<String, _>("callee")?),
            );
            let billed: i64 = row.try_get("billed_ms")?;
            edges.entry(key).or_default().1.usage.add(&Usage {
                requests: 1,
                errors: 0,
                billed_ms: billed,
                mb_ms: billed * row.try_get::<i64, _>("memory_limit_mb")?,
                bytes_in: 0,
                bytes_out: row.try_get("bytes_out")?,
            });
        }

        // Outbound calls seen by the runtime: functions, topics, kv, hosts.
        let rows = self
            .window_rows(OUTBOUND_CALLS_IN_WINDOW, team_id, from_ms, to_ms)
            .await?;
        for row in &rows {
            let function: String = row.try_get("function_name")?;
            let kind: String = row.try_get("target_kind")?;
            let target: String = row.try_get("target")?;
            let (id, node_kind, label) = match kind.as_str() {
                "function" => (format!("fn:{target}"), Kind::Function, target.clone()),
                "topic" => (format!("topic:{target}"), Kind::Topic, target.clone()),
                "kv" => (
                    format!("kv:{target}"),
                    Kind::Kv,
                    format!("kv store ({target})"),
                ),
                _ => (format!("host:{target}"), Kind::Host, target.clone()),
            };
            nodes
                .entry(id.clone())
                .or_insert_with(|| node(id.clone(), node_kind, label));
            let from = format!("fn:{function}");
            nodes
                .entry(from.clone())
                .or_insert_with(|| node(from.clone(), Kind::Function, function.clone()));
            let duration_us: i64 = row.try_get("duration_us")?;
            let edge = &mut edges.entry((from, id)).or_default().1;
            edge.add(
                row.try_get::<i64, _>("ok")? == 0,
                duration_us as f64 / 1000.0,
            );
            if kind != "function" {
                // The caller's memory held while it waited on the sink.
                let mb: Option<i64> = row.try_get("memory_limit_mb")?;
                edge.wait_mb_ms += (duration_us / 1000) * mb.unwrap_or(0);
            }
        }

        for (name, acc) in per_function {
            let id = format!("fn:{name}");
            let n = nodes
                .entry(id.clone())
                .or_insert_with(|| node(id.clone(), Kind::Function, name.clone()));
            n.stats = Some(acc.stats(&prices));
        }
        for n in nodes.values_mut() {
            if n.kind == Kind::Function && n.stats.is_none() {
                n.stats = Some(Acc::default().stats(&prices));
            }
        }
        let edges: Vec<TopologyEdge> = edges
            .into_iter()
            .map(|((from, to), (declared, acc))| {
                let observed = acc.calls > 0;
                TopologyEdge {
                    from,
                    to,
                    declared,
                    observed,
                    stats: acc.stats(&prices),
                }
            })
            .collect();
        // Keep only nodes that exist; order: sources, functions, sinks.
        let used: BTreeSet<&String> = edges.iter().flat_map(|e| [&e.from, &e.to]).collect();
        let rank = |k: Kind| match k {
            Kind::Route | Kind::Cron | Kind::Queue => 0,
            Kind::Topic => 1,
            Kind::Function => 2,
            Kind::Host | Kind::Kv => 3,
        };
        let mut nodes: Vec<TopologyNode> = nodes
            .into_values()
            .filter(|n| n.kind == Kind::Function || used.contains(&n.id))
            .collect();
        nodes.sort_by(|a, b| rank(a.kind).cmp(&rank(b.kind)).then(a.id.cmp(&b.id)));
        Ok(Topology {
            since,
            until,
            currency,
            nodes,
            edges,
            layout: None,
        })
    }
}
