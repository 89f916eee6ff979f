//! Triggers: what turns events into calls. Each kind is one module
//! implementing [`TriggerSource`] (check the fields, start delivering, and
//! stop when the returned task is aborted): `http_route` (gateway routes),
//! `cron` (schedules), `topic` (internal events; deliveries are queued at
//! publish time), and the external queues (NATS, Redis Streams, MQTT),
//! whose broker clients live at the edge in [`crate::brokers`] and share
//! `external` (delivery, retries, acknowledgement; their broker hosts
//! follow `broker_hosts`). This module stores triggers and supervises what
//! runs.

mod broker_hosts;
mod cron;
mod external;
mod follow;
mod http_route;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use model::{CronPreview, NewTrigger, Trigger, TriggerSpec};
use sqlx::any::AnyRow;
use sqlx::Row;
use tokio::task::JoinHandle;

use crate::cluster::Change;
use crate::invoke::new_invocation_id;
use crate::time::from_ms;
use crate::{Platform, PlatformError};

pub use broker_hosts::BrokerHosts;
pub(crate) use broker_hosts::{mqtt_address, nats_address, redis_address};
pub use cron::{next_fires, Schedule};
pub(crate) use external::{
    deliver_with_retries, parse_broker_url, reconnect_delay, report_unreachable, ExternalMessage,
    Verdict, CONNECT_TIMEOUT, STATUS_FAILED, STATUS_NOT_ALLOWED,
};
use http_route::{RouteEntry, RouteTable};
pub use http_route::{RouteLookup, RouteMatch};

/// Most attempts a trigger may ask for.
const MAX_ATTEMPTS_LIMIT: u32 = 100;
/// Fire times shown with a cron trigger.
const SHOWN_FIRES: usize = 5;

/// One kind of trigger.
pub(crate) trait TriggerSource: Send + Sync {
    /// Checks the kind's own fields before the trigger is stored.
    fn validate(&self, spec: &TriggerSpec) -> Result<(), PlatformError>;

    /// Starts turning the trigger's events into calls of its function. A
    /// returned task runs until aborted (the trigger is deleted or the
    /// server stops); kinds driven from elsewhere return `None`.
    fn start(&self, platform: &Platform, trigger: &Trigger) -> Option<JoinHandle<()>>;

    /// Releases what a deleted trigger held outside Wisp (a durable
    /// consumer, a consumer group Wisp named, a persistent session), on a
    /// task of its own (returned) and best effort (a broker that is down
    /// keeps it; the failure is logged). Most kinds hold nothing.
    fn retire(&self, _platform: &Platform, _trigger: &Trigger) -> Option<JoinHandle<()>> {
        None
    }

    /// `old` was updated to `new` (its task is stopped; the new one starts
    /// once the returned task is done): releases what only the old one
    /// used. By default everything when the kind changed; kinds whose
    /// source can move override it.
    fn replace(
        &self,
        platform: &Platform,
        old: &Trigger,
        new: &TriggerSpec,
    ) -> Option<JoinHandle<()>> {
        if old.spec.kind() != new.kind() {
            self.retire(platform, old)
        } else {
            None
        }
    }
}

/// How long an update waits for the old trigger's clean-up at its broker
/// before starting the new one anyway.
const REPLACE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The source of each kind.
fn source_for(spec: &TriggerSpec) -> &'static dyn TriggerSource {
    match spec {
        TriggerSpec::Http { .. } => &HttpSource,
        TriggerSpec::Cron { .. } => &CronSource,
        TriggerSpec::Topic { .. } => &TopicSource,
        TriggerSpec::Nats { .. } => &crate::brokers::nats::NatsSource,
        TriggerSpec::Redis { .. } => &crate::brokers::redis_stream::RedisSource,
        TriggerSpec::Mqtt { .. } => &crate::brokers::mqtt::MqttSource,
    }
}

/// Routes at the gateway root. Starting one rebuilds the route table.
struct HttpSource;

impl TriggerSource for HttpSource {
    fn validate(&self, spec: &TriggerSpec) -> Result<(), PlatformError> {
        if let TriggerSpec::Http { route, methods } = spec {
            http_route::normalize(route)?;
            http_route::normalize_methods(methods)?;
        }
        Ok(())
    }

    fn start(&self, platform: &Platform, _trigger: &Trigger) -> Option<JoinHandle<()>> {
        platform.inner.triggers.rebuild_routes();
        None
    }
}

/// Schedules: one task per trigger watching the clock.
struct CronSource;

impl TriggerSource for CronSource {
    fn validate(&self, spec: &TriggerSpec) -> Result<(), PlatformError> {
        if let TriggerSpec::Cron { schedule, timezone } = spec {
            Schedule::parse(schedule, timezone)?;
        }
        Ok(())
    }

    fn start(&self, platform: &Platform, trigger: &Trigger) -> Option<JoinHandle<()>> {
        let TriggerSpec::Cron { schedule, timezone } = &trigger.spec else {
            return None;
        };
        let parsed = Schedule::parse(schedule, timezone).ok()?;
        let job = cron::CronJob {
            trigger_id: trigger.id.clone(),
            function: trigger.function.clone(),
            schedule_text: schedule.clone(),
            schedule: parsed,
            max_attempts: trigger.max_attempts,
        };
        Some(tokio::spawn(cron::run(platform.clone(), job)))
    }
}

/// Topic subscriptions: deliveries are queued when an event is published.
struct TopicSource;

impl TriggerSource for TopicSource {
    fn validate(&self, spec: &TriggerSpec) -> Result<(), PlatformError> {
        if let TriggerSpec::Topic { topic } = spec {
            crate::topics::validate_topic(topic)?;
        }
        Ok(())
    }

    fn start(&self, _platform: &Platform, _trigger: &Trigger) -> Option<JoinHandle<()>> {
        None
    }
}

/// What is running for the stored triggers of this node.
#[derive(Default)]
pub(crate) struct Supervisor {
    triggers: Mutex<HashMap<String, Trigger>>,
    tasks: Mutex<HashMap<String, JoinHandle<()>>>,
    statuses: Mutex<HashMap<String, String>>,
    routes: RwLock<Arc<RouteTable>>,
}

/// The route-table entry of an HTTP trigger.
fn route_entry(t: &Trigger) -> Option<RouteEntry> {
    match &t.spec {
        TriggerSpec::Http { route, methods } => Some(RouteEntry {
            trigger_id: t.id.clone(),
            function: t.function.clone(),
            route: route.clone(),
            methods: http_route::normalize_methods(methods).unwrap_or_default(),
        }),
        _ => None,
    }
}

/// Whether the stored HTTP routes without triggers `removed`, plus `added`
/// (function, spec), make a valid route table (no two routes overlap).
pub(crate) async fn check_routes(
    platform: &Platform,
    team_id: i64,
    removed: &std::collections::HashSet<String>,
    added: &[(String, TriggerSpec)],
) -> Result<(), PlatformError> {
    let mut conn = platform.inner.db.acquire().await?;
    for (_, spec) in added {
        if let TriggerSpec::Http { route, methods } = spec {
            check_route_owner(&mut conn, team_id, route, methods, removed).await?;
        }
    }
    let mut entries: Vec<RouteEntry> = stored_routes(&mut conn, None)
        .await?
        .into_iter()
        .filter(|e| !removed.contains(&e.trigger_id))
        .collect();
    for (i, (function, spec)) in added.iter().enumerate() {
        if let TriggerSpec::Http { route, methods } = spec {
            entries.push(RouteEntry {
                trigger_id: format!("#{i} of the manifest"),
                function: function.clone(),
                route: route.clone(),
                methods: methods.clone(),
            });
        }
    }
    RouteTable::build(&entries).map(|_| ())
}

/// Refuses a route of team `team_id` that some request path could match
/// together with a route of another team (a more specific route takes the
/// requests of a wildcard or parameter route, whoever owns it). Triggers
/// `except` (being replaced or removed) do not count.
async fn check_route_owner(
    conn: &mut sqlx::AnyConnection,
    team_id: i64,
    route: &str,
    methods: &[String],
    except: &std::collections::HashSet<String>,
) -> Result<(), PlatformError> {
    let pattern = http_route::normalize(route)?;
    let methods = http_route::normalize_methods(methods)?;
    let rows = sqlx::query(
        "SELECT t.id AS id, t.spec_json AS spec_json FROM triggers t \
         JOIN function_owners o ON o.name = t.function_name \
         WHERE t.kind = 'http' AND o.team_id <> $1",
    )
    .bind(team_id)
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        let id: String = row.try_get("id")?;
        if except.contains(&id) {
            continue;
        }
        let spec: TriggerSpec = serde_json::from_str(&row.try_get::<String, _>("spec_json")?)
            .map_err(anyhow::Error::from)?;
        let TriggerSpec::Http {
            route: other,
            methods: other_methods,
        } = spec
        else {
            continue;
        };
        let Ok(other_pattern) = http_route::normalize(&other) else {
            continue;
        };
        if http_route::routes_overlap(&pattern, &other_pattern)
            && http_route::methods_overlap(&methods, &other_methods)
        {
            return Err(PlatformError::Conflict {
                message: format!(
                    "route {route} overlaps route {other} of another team: some paths would \
                     match both; choose a path of your own"
                ),
            });
        }
    }
    Ok(())
}

/// The stored HTTP routes (all nodes'), but trigger `except`'s: what a new
/// or changed route is checked against, under the cluster's route lock.
async fn stored_routes(
    tx: &mut sqlx::AnyConnection,
    except: Option<&str>,
) -> Result<Vec<RouteEntry>, PlatformError> {
    let rows = sqlx::query("SELECT * FROM triggers WHERE kind = 'http'")
        .fetch_all(&mut *tx)
        .await?;
    let mut entries = Vec::new();
    for row in &rows {
        let trigger = trigger_from_row(row)?;
        if Some(trigger.id.as_str()) != except {
            entries.extend(route_entry(&trigger));
        }
    }
    Ok(entries)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Supervisor {
    fn route_entries(&self) -> Vec<RouteEntry> {
        let triggers = lock(&self.triggers);
        triggers.values().filter_map(route_entry).collect()
    }

    fn rebuild_routes(&self) {
        match RouteTable::build(&self.route_entries()) {
            Ok(table) => *self.routes.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(table),
            // Stored routes were checked when created; keep the old table.
            Err(e) => tracing::error!(error = %e, "rebuilding the HTTP route table failed"),
        }
    }

    /// Stops a trigger's task; returns the trigger it ran.
    fn stop(&self, id: &str) -> Option<Trigger> {
        let trigger = lock(&self.triggers).remove(id);
        lock(&self.statuses).remove(id);
        if let Some(task) = lock(&self.tasks).remove(id) {
            task.abort();
        }
        trigger
    }

    /// Stops a deleted trigger and releases what it held at its source.
    fn retire(&self, platform: &Platform, id: &str) {
        if let Some(trigger) = self.stop(id) {
            // In the background: a deletion does not wait for the broker.
            let _ = source_for(&trigger.spec).retire(platform, &trigger);
        }
    }

    /// Stops everything (server shutdown).
    pub fn stop_all(&self) {
        for (_, task) in lock(&self.tasks).drain() {
            task.abort();
        }
    }
}

fn trigger_from_row(row: &AnyRow) -> Result<Trigger, PlatformError> {
    let spec_json: String = row.try_get("spec_json")?;
    Ok(Trigger {
        id: row.try_get("id")?,
        function: row.try_get("function_name")?,
        spec: serde_json::from_str(&spec_json).map_err(anyhow::Error::from)?,
        max_attempts: row.try_get::<i64, _>("max_attempts")? as u32,
        created_at: from_ms(row.try_get("created_at")?),
        next_fires: Vec::new(),
        last_fired: {
            let created: i64 = row.try_get("created_at")?;
            row.try_get::<Option<i64>, _>("last_tick_ms")?
                .filter(|ms| *ms > created)
                .map(from_ms)
        },
        status: None,
    })
}

impl Platform {
    /// Loads and starts every stored trigger (at start).
    pub(crate) async fn start_triggers(&self) -> Result<(), PlatformError> {
        let rows = sqlx::query("SELECT * FROM triggers ORDER BY created_at")
            .fetch_all(&self.inner.db)
            .await?;
        for row in &rows {
            let trigger = trigger_from_row(row)?;
            self.run_trigger(trigger);
        }
        tracing::info!(triggers = rows.len(), "triggers started");
        Ok(())
    }

    fn run_trigger(&self, trigger: Trigger) {
        let sup = &self.inner.triggers;
        let id = trigger.id.clone();
        lock(&sup.triggers).insert(id.clone(), trigger.clone());
        if let Some(task) = source_for(&trigger.spec).start(self, &trigger) {
            if let Some(old) = lock(&sup.tasks).insert(id, task) {
                old.abort();
            }
        }
    }

    /// [`check_route_owner`] for an HTTP trigger about to be stored
    /// (`replacing`: the trigger it replaces).
    async fn check_route_team(
        &self,
        tx: &mut sqlx::AnyConnection,
        trigger: &Trigger,
        replacing: Option<&str>,
    ) -> Result<(), PlatformError> {
        let TriggerSpec::Http { route, methods } = &trigger.spec else {
            return Ok(());
        };
        let team = self.function_owner(&trigger.function).await?.unwrap_or(0);
        let except = replacing.map(str::to_string).into_iter().collect();
        check_route_owner(tx, team, route, methods, &except).await
    }

    /// Creates a trigger (checked, stored, started).
    pub(crate) async fn create_trigger(&self, new: NewTrigger) -> Result<Trigger, PlatformError> {
        let default_attempts = self.inner.config.max_attempts;
        let (spec, max_attempts) = self.checked_trigger(&new, default_attempts).await?;
        let now = self.inner.clock.now_ms();
        let trigger = Trigger {
            id: new_invocation_id(),
            function: new.function.clone(),
            spec,
            max_attempts,
            created_at: from_ms(now),
            next_fires: Vec::new(),
            last_fired: None,
            status: None,
        };
        let _guard = self.inner.trigger_lock.lock().await;
        let mut tx = crate::db::begin_write(&self.inner.db, self.inner.backend).await?;
        self.cluster_lock(&mut tx, "routes").await?;
        if let Some(entry) = route_entry(&trigger) {
            let mut entries = stored_routes(&mut tx, None).await?;
            entries.push(entry);
            RouteTable::build(&entries)?;
            self.check_route_team(&mut tx, &trigger, None).await?;
        }
        let topic = match &trigger.spec {
            TriggerSpec::Topic { topic } => Some(topic.clone()),
            _ => None,
        };
        sqlx::query(
            "INSERT INTO triggers (id, kind, function_name, spec_json, topic, max_attempts, \
             last_tick_ms, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(trigger.id.clone())
        .bind(trigger.spec.kind())
        .bind(trigger.function.clone())
        .bind(serde_json::to_string(&trigger.spec).map_err(anyhow::Error::from)?)
        .bind(topic)
        .bind(i64::from(max_attempts))
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.run_trigger(trigger.clone());
        self.announce(Change::Trigger(trigger.id.clone())).await;
        tracing::info!(trigger = %trigger.id, kind = trigger.spec.kind(), function = %trigger.function, "trigger created");
        Ok(self.decorate(trigger))
    }

    /// The one validation of a new or replacing trigger: its function
    /// exists, its methods are normalised, its kind's own rules hold, its
    /// broker is an allowed host, and its attempts (default
    /// `default_attempts`) are in range. Answers the spec to store.
    async fn checked_trigger(
        &self,
        new: &NewTrigger,
        default_attempts: u32,
    ) -> Result<(TriggerSpec, u32), PlatformError> {
        let exists = sqlx::query("SELECT 1 FROM functions WHERE name = $1")
            .bind(&new.function)
            .fetch_optional(&self.inner.db)
            .await?
            .is_some();
        if !exists {
            return Err(PlatformError::not_found(format!(
                "function {}",
                new.function
            )));
        }
        self.normalized_trigger(new, default_attempts).await
    }

    /// [`Platform::checked_trigger`] but for its function's existence: a
    /// trigger of a function an apply is about to create.
    pub(crate) async fn normalized_trigger(
        &self,
        new: &NewTrigger,
        default_attempts: u32,
    ) -> Result<(TriggerSpec, u32), PlatformError> {
        let mut spec = new.spec.clone();
        if let TriggerSpec::Http { methods, .. } = &mut spec {
            *methods = http_route::normalize_methods(methods)?;
        }
        source_for(&spec).validate(&spec)?;
        self.check_broker(&spec).await?;
        let max_attempts = new.max_attempts.unwrap_or(default_attempts);
        if max_attempts == 0 || max_attempts > MAX_ATTEMPTS_LIMIT {
            return Err(PlatformError::invalid(format!(
                "max_attempts must be between 1 and {MAX_ATTEMPTS_LIMIT}"
            )));
        }
        Ok((spec, max_attempts))
    }

    /// Replaces a trigger's function and fields (same id; checked like a new
    /// one, an HTTP route against every route but its own old one).
    pub(crate) async fn update_trigger(
        &self,
        id: &str,
        new: NewTrigger,
    ) -> Result<Trigger, PlatformError> {
        let _guard = self.inner.trigger_lock.lock().await;
        let old = self.trigger(id).await?;
        let (spec, max_attempts) = self.checked_trigger(&new, old.max_attempts).await?;
        let trigger = Trigger {
            id: old.id.clone(),
            function: new.function.clone(),
            spec,
            max_attempts,
            created_at: old.created_at,
            next_fires: Vec::new(),
            last_fired: None,
            status: None,
        };
        let mut tx = crate::db::begin_write(&self.inner.db, self.inner.backend).await?;
        self.cluster_lock(&mut tx, "routes").await?;
        if let Some(entry) = route_entry(&trigger) {
            let mut entries = stored_routes(&mut tx, Some(id)).await?;
            entries.push(entry);
            RouteTable::build(&entries)?;
            self.check_route_team(&mut tx, &trigger, Some(id)).await?;
        }
        let topic = match &trigger.spec {
            TriggerSpec::Topic { topic } => Some(topic.clone()),
            _ => None,
        };
        let now = self.inner.clock.now_ms();
        sqlx::query(
            "UPDATE triggers SET kind = $1, function_name = $2, spec_json = $3, topic = $4, \
             max_attempts = $5, last_tick_ms = CASE WHEN $6 = 1 THEN $7 ELSE last_tick_ms END, \
             updated_at = $7 WHERE id = $8",
        )
        .bind(trigger.spec.kind())
        .bind(trigger.function.clone())
        .bind(serde_json::to_string(&trigger.spec).map_err(anyhow::Error::from)?)
        .bind(topic)
        .bind(i64::from(max_attempts))
        .bind(i64::from(old.spec != trigger.spec))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(previous) = self.inner.triggers.stop(id) {
            if previous.spec != trigger.spec {
                // Before the new one connects: it may reuse the old one's
                // name at the same broker (an MQTT client id, a consumer).
                if let Some(cleanup) =
                    source_for(&previous.spec).replace(self, &previous, &trigger.spec)
                {
                    let _ = tokio::time::timeout(REPLACE_WAIT, cleanup).await;
                }
            }
        }
        self.run_trigger(trigger.clone());
        self.inner.triggers.rebuild_routes();
        self.announce(Change::Trigger(id.to_string())).await;
        tracing::info!(trigger = %id, kind = trigger.spec.kind(), function = %trigger.function, "trigger updated");
        Ok(self.decorate(trigger))
    }

    /// Every trigger of a team, oldest first.
    pub(crate) async fn list_triggers(&self, team_id: i64) -> Result<Vec<Trigger>, PlatformError> {
        let rows = sqlx::query(concat!(
            "SELECT * FROM triggers WHERE function_name IN \
             ",
            team_functions!("$1"),
            " ORDER BY created_at, id"
        ))
        .bind(team_id)
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter()
            .map(|r| trigger_from_row(r).map(|t| self.decorate(t)))
            .collect()
    }

    /// The triggers of one function.
    pub(crate) async fn triggers_of(&self, function: &str) -> Result<Vec<Trigger>, PlatformError> {
        let rows =
            sqlx::query("SELECT * FROM triggers WHERE function_name = $1 ORDER BY created_at, id")
                .bind(function)
                .fetch_all(&self.inner.db)
                .await?;
        rows.iter()
            .map(|r| trigger_from_row(r).map(|t| self.decorate(t)))
            .collect()
    }

    /// One trigger, with its next fire times (cron) or status (queues).
    pub(crate) async fn trigger(&self, id: &str) -> Result<Trigger, PlatformError> {
        let row = sqlx::query("SELECT * FROM triggers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.inner.db)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("trigger {id}")))?;
        Ok(self.decorate(trigger_from_row(&row)?))
    }

    /// Stops and deletes a trigger.
    pub(crate) async fn delete_trigger(&self, id: &str) -> Result<(), PlatformError> {
        let _guard = self.inner.trigger_lock.lock().await;
        let deleted = sqlx::query("DELETE FROM triggers WHERE id = $1")
            .bind(id)
            .execute(&self.inner.db)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(PlatformError::not_found(format!("trigger {id}")));
        }
        self.inner.triggers.retire(self, id);
        self.inner.triggers.rebuild_routes();
        self.announce(Change::Trigger(id.to_string())).await;
        tracing::info!(trigger = %id, "trigger deleted");
        Ok(())
    }

    /// Stops the triggers of a deleted function (their rows cascade away)
    /// and releases what they held at their brokers.
    pub(crate) fn stop_triggers_of(&self, function: &str) {
        self.stop_function_triggers(function, true);
    }

    /// Stops the triggers of a function `retire`: releasing what they held
    /// at their brokers (the deleting node), or only this node's own
    /// sessions (a node following another's deletion).
    fn stop_function_triggers(&self, function: &str, retire: bool) {
        let sup = &self.inner.triggers;
        let ids: Vec<String> = lock(&sup.triggers)
            .values()
            .filter(|t| t.function == function)
            .map(|t| t.id.clone())
            .collect();
        for id in &ids {
            if retire {
                sup.retire(self, id);
            } else if let Some(old) = sup.stop(id) {
                let _ = self.end_node_session(&old);
            }
        }
        sup.rebuild_routes();
    }

    /// Routes a gateway request that is not under `/fn/`.
    pub fn match_route(&self, method: &str, path: &str) -> RouteLookup {
        let table = self
            .inner
            .triggers
            .routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        table.lookup(method, path)
    }

    /// The next fire times of a schedule, for previews while typing.
    pub fn cron_preview(
        &self,
        schedule: &str,
        timezone: &str,
        count: usize,
    ) -> Result<CronPreview, PlatformError> {
        let next = next_fires(
            schedule,
            timezone,
            self.inner.clock.now(),
            count.clamp(1, 50),
        )?;
        Ok(CronPreview {
            schedule: schedule.to_string(),
            timezone: timezone.to_string(),
            next,
        })
    }

    /// Refuses a broker trigger whose host the server's `--broker-hosts`
    /// does not allow (a 400 at creation, not a failure in the background).
    async fn check_broker(&self, spec: &TriggerSpec) -> Result<(), PlatformError> {
        self.inner
            .config
            .broker_hosts
            .check_spec(spec)
            .await
            .map_err(PlatformError::invalid)
    }

    /// Checks, before connecting, that the broker of `spec` is allowed.
    pub(crate) async fn broker_allowed(&self, spec: &TriggerSpec) -> Result<(), String> {
        self.inner.config.broker_hosts.check_spec(spec).await
    }

    /// Checks, before connecting, that `host:port` is an allowed broker.
    pub(crate) async fn broker_host_allowed(&self, host: &str, port: u16) -> Result<(), String> {
        self.inner.config.broker_hosts.check(host, port).await
    }

    /// Reports an external consumer's connection state (shown with the trigger).
    pub(crate) fn set_trigger_status(&self, id: &str, status: impl Into<String>) {
        lock(&self.inner.triggers.statuses).insert(id.to_string(), status.into());
    }

    /// An external consumer's last reported connection state.
    pub(crate) fn trigger_status(&self, id: &str) -> Option<String> {
        lock(&self.inner.triggers.statuses).get(id).cloned()
    }

    fn decorate(&self, mut trigger: Trigger) -> Trigger {
        if let TriggerSpec::Cron { schedule, timezone } = &trigger.spec {
            trigger.next_fires =
                next_fires(schedule, timezone, self.inner.clock.now(), SHOWN_FIRES)
                    .unwrap_or_default();
        }
        trigger.status = lock(&self.inner.triggers.statuses)
            .get(&trigger.id)
            .cloned();
        trigger
    }
}
