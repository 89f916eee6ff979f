//! Alerts: a team's rules (error rate, p95 duration, dead letters, queue
//! age, the month's projected cost against a budget) on a function, an
//! application or the whole team; the evaluation loop every node runs; and
//! the signed webhook notifications of each change of state.
//!
//! A change of state (ok → firing, firing → ok) is a compare-and-set on
//! the rule's row, so with several nodes evaluating one wins and exactly
//! one event is recorded and sent (docs/DECISIONS.md #57).

use std::time::Duration;

use model::{
    AlertEvent, AlertMetric, AlertNotification, AlertRule, AlertState, CreatedAlertRule,
    NewAlertRule,
};
use rand::RngCore as _;
use sqlx::Row;

use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// Rules a team may have.
pub const MAX_RULES_PER_TEAM: i64 = 200;
/// How long a webhook delivery may take, per attempt.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(10);
/// Delivery attempts and the pause before each retry.
const RETRY_PAUSES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(5)];
const DEFAULT_WINDOW_MINUTES: u32 = 5;
/// Calls per function an error rate or p95 reads at most: the most recent
/// of the window (an index range read newest first), so a rule's cost is
/// bounded however busy the function is.
const CALL_SAMPLE: i64 = 10_000;
/// A notification still pending this long after its event was being sent
/// by a node that stopped (a delivery takes at most 3 × 10 s + 6 s).
const ORPHANED_AFTER: Duration = Duration::from_secs(60);

impl Platform {
    /// Evaluates every rule every `alert_every` until shutdown.
    pub(crate) fn spawn_alerts(&self) {
        let platform = self.clone();
        let every = self.inner.config.alert_every;
        let mut stop = self.inner.shutdown.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|stopping| *stopping) => return,
                }
                if let Err(e) = platform.evaluate_alerts().await {
                    tracing::error!(error = %e, "evaluating alert rules failed");
                }
            }
        });
    }

    /// Evaluates every team's rules once: records and notifies each change
    /// of state; answers how many rules changed. Public for tests and
    /// tools; the server runs it every `alert_every`.
    pub async fn evaluate_alerts(&self) -> Result<usize, PlatformError> {
        let rows = sqlx::query("SELECT * FROM alert_rules")
            .fetch_all(&self.inner.db)
            .await?;
        let mut changed = 0;
        let now_ms = self.inner.clock.now_ms();
        // A rule evaluated by any node within most of a period is left
        // alone: the nodes of a cluster share the work instead of repeating it.
        let fresh_after = now_ms - (self.inner.config.alert_every.as_millis() as i64) * 4 / 5;
        for row in &rows {
            let team_id: i64 = row.try_get("team_id")?;
            let rule = rule_from_row(row)?;
            let claimed = sqlx::query(
                "UPDATE alert_rules SET evaluated_at = $1 WHERE id = $2 \
                 AND (evaluated_at IS NULL OR evaluated_at <= $3)",
            )
            .bind(now_ms)
            .bind(&rule.id)
            .bind(fresh_after)
            .execute(&self.inner.db)
            .await?
            .rows_affected();
            if claimed == 0 {
                continue;
            }
            let value = match self.alert_value(team_id, &rule).await {
                Ok(value) => value,
                Err(e) => {
                    tracing::warn!(rule = %rule.id, error = %e, "an alert rule could not be evaluated");
                    continue;
                }
            };
            if self.apply_alert_value(team_id, &rule, value).await? {
                changed += 1;
            }
        }
        self.resume_deliveries(now_ms).await?;
        Ok(changed)
    }

    /// Notifications still `pending` long after their event (the node that
    /// was sending them stopped or died): one node claims each and sends
    /// it again, with the same event id, so a receiver can drop a repeat.
    async fn resume_deliveries(&self, now_ms: i64) -> Result<(), PlatformError> {
        let stale = sqlx::query(
            "SELECT e.id AS event_id, e.state AS event_state, e.value AS event_value, \
             e.at AS event_at, r.* FROM alert_events e \
             JOIN alert_rules r ON r.id = e.rule_id \
             WHERE e.delivery = 'pending' AND e.at < $1 LIMIT 50",
        )
        .bind(now_ms - ORPHANED_AFTER.as_millis() as i64)
        .fetch_all(&self.inner.db)
        .await?;
        for row in &stale {
            let event_id: String = row.try_get("event_id")?;
            let claimed = sqlx::query(
                "UPDATE alert_events SET delivery = 'resending' WHERE id = $1 \
                 AND delivery = 'pending'",
            )
            .bind(&event_id)
            .execute(&self.inner.db)
            .await?
            .rows_affected();
            if claimed == 0 {
                continue;
            }
            let rule = rule_from_row(row)?;
            let Some(url) = rule.webhook_url.clone() else {
                continue;
            };
            let event = AlertEvent {
                id: event_id,
                rule_id: rule.id.clone(),
                rule_name: rule.name.clone(),
                state: row.try_get("event_state")?,
                value: row.try_get("event_value")?,
                threshold: rule.threshold,
                at: from_ms(row.try_get("event_at")?),
                delivery: "resending".to_string(),
            };
            tracing::info!(rule = %rule.name, event = %event.id, "resending an alert notification left pending");
            let platform = self.clone();
            tokio::spawn(async move { platform.deliver(&rule, &url, event).await });
        }
        Ok(())
    }

    /// Stores `value` on the rule; on a change of state (won by this node)
    /// records the event and sends the notification. True when it changed.
    async fn apply_alert_value(
        &self,
        team_id: i64,
        rule: &AlertRule,
        value: f64,
    ) -> Result<bool, PlatformError> {
        let now_ms = self.inner.clock.now_ms();
        let firing = value > rule.threshold;
        let (from, to) = match (rule.state, firing) {
            (AlertState::Ok, true) => ("ok", "firing"),
            (AlertState::Firing, false) => ("firing", "ok"),
            _ => {
                sqlx::query(
                    "UPDATE alert_rules SET last_value = $1, evaluated_at = $2 WHERE id = $3",
                )
                .bind(value)
                .bind(now_ms)
                .bind(&rule.id)
                .execute(&self.inner.db)
                .await?;
                return Ok(false);
            }
        };
        let won = sqlx::query(
            "UPDATE alert_rules SET state = $1, since = $2, last_value = $3, evaluated_at = $4 \
             WHERE id = $5 AND state = $6",
        )
        .bind(to)
        .bind(firing.then_some(now_ms))
        .bind(value)
        .bind(now_ms)
        .bind(&rule.id)
        .bind(from)
        .execute(&self.inner.db)
        .await?
        .rows_affected()
            == 1;
        if !won {
            return Ok(false);
        }
        let event = AlertEvent {
            id: crate::new_invocation_id(),
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            state: if firing { "firing" } else { "resolved" }.to_string(),
            value,
            threshold: rule.threshold,
            at: from_ms(now_ms),
            delivery: if rule.webhook_url.is_some() {
                "pending"
            } else {
                "none"
            }
            .to_string(),
        };
        sqlx::query(
            "INSERT INTO alert_events (id, rule_id, team_id, rule_name, state, value, threshold, \
             at, delivery) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&event.id)
        .bind(&event.rule_id)
        .bind(team_id)
        .bind(&event.rule_name)
        .bind(&event.state)
        .bind(event.value)
        .bind(event.threshold)
        .bind(now_ms)
        .bind(&event.delivery)
        .execute(&self.inner.db)
        .await?;
        tracing::warn!(
            rule = %rule.name, state = %event.state, value, threshold = rule.threshold,
            "alert {}", event.state
        );
        if let Some(url) = rule.webhook_url.clone() {
            let platform = self.clone();
            let rule = rule.clone();
            tokio::spawn(async move { platform.deliver(&rule, &url, event).await });
        }
        Ok(true)
    }

    /// Sends `event`'s notification, retrying, and records the outcome.
    async fn deliver(&self, rule: &AlertRule, url: &str, event: AlertEvent) {
        let outcome = match self.notification(rule, &event).await {
            Ok((body, secret)) => {
                let mut outcome = String::new();
                for attempt in 0..=RETRY_PAUSES.len() {
                    if attempt > 0 {
                        tokio::time::sleep(RETRY_PAUSES[attempt - 1]).await;
                        let exists = sqlx::query("SELECT 1 FROM alert_rules WHERE id = $1")
                            .bind(&rule.id)
                            .fetch_optional(&self.inner.db)
                            .await;
                        if matches!(exists, Ok(None)) {
                            outcome = "failed: the rule was deleted".to_string();
                            break;
                        }
                    }
                    let headers = signed_headers(&secret, &body, &event.state);
                    outcome = match runtime::post_json(
                        url,
                        body.clone().into(),
                        &headers,
                        self.inner.config.allow_private_destinations,
                        DELIVERY_DEADLINE,
                    )
                    .await
                    {
                        Ok(status) if (200..300).contains(&status) => {
                            format!("delivered ({status})")
                        }
                        Ok(status) => format!("failed: the webhook answered {status}"),
                        Err(reason) => format!("failed: {reason}"),
                    };
                    if outcome.starts_with("delivered") {
                        break;
                    }
                }
                outcome
            }
            Err(e) => format!("failed: {e}"),
        };
        if outcome.starts_with("failed") {
            tracing::warn!(rule = %rule.name, %outcome, "alert webhook");
        }
        let stored = sqlx::query("UPDATE alert_events SET delivery = $1 WHERE id = $2")
            .bind(&outcome)
            .bind(&event.id)
            .execute(&self.inner.db)
            .await;
        if let Err(e) = stored {
            tracing::error!(error = %e, "recording an alert delivery");
        }
    }

    /// The notification's JSON body and the rule's signing secret.
    async fn notification(
        &self,
        rule: &AlertRule,
        event: &AlertEvent,
    ) -> Result<(Vec<u8>, String), PlatformError> {
        let row = sqlx::query(
            "SELECT r.key_id, r.sealed_secret, t.name AS team FROM alert_rules r \
             JOIN teams t ON t.id = r.team_id WHERE r.id = $1",
        )
        .bind(&rule.id)
        .fetch_optional(&self.inner.db)
        .await?
        .ok_or_else(|| PlatformError::missing("the rule was deleted"))?;
        let key_id: String = row.try_get("key_id")?;
        let sealed: String = row.try_get("sealed_secret")?;
        let secret = self
            .inner
            .secrets
            .open(&secret_scope(&rule.id), "webhook", &key_id, &sealed)
            .map_err(|e| PlatformError::invalid(format!("the webhook secret: {e}")))?;
        let body = AlertNotification {
            id: event.id.clone(),
            state: event.state.clone(),
            rule_id: rule.id.clone(),
            rule: rule.name.clone(),
            metric: rule.metric,
            scope: rule.scope(),
            team: row.try_get("team")?,
            value: event.value,
            threshold: event.threshold,
            at: event.at,
        };
        Ok((serde_json::to_vec(&body).expect("serialisable"), secret))
    }

    /// The rule's current value.
    async fn alert_value(&self, team_id: i64, rule: &AlertRule) -> Result<f64, PlatformError> {
        let functions = self.alert_functions(team_id, rule).await?;
        let now_ms = self.inner.clock.now_ms();
        let since_ms = now_ms - i64::from(rule.window_minutes) * 60_000;
        let db = &self.inner.db;
        Ok(match rule.metric {
            AlertMetric::ErrorRate => {
                let (mut calls, mut errors) = (0i64, 0i64);
                for f in &functions {
                    let row = sqlx::query(
                        "SELECT COUNT(*) AS n, COUNT(CASE WHEN status = 'error' THEN 1 END) AS e \
                         FROM (SELECT status FROM invocations WHERE function_name = $1 \
                         AND started_at >= $2 ORDER BY started_at DESC LIMIT $3) AS recent",
                    )
                    .bind(f)
                    .bind(since_ms)
                    .bind(CALL_SAMPLE)
                    .fetch_one(db)
                    .await?;
                    calls += row.try_get::<i64, _>("n")?;
                    errors += row.try_get::<i64, _>("e")?;
                }
                if calls == 0 || calls < i64::from(rule.min_calls) {
                    0.0
                } else {
                    errors as f64 * 100.0 / calls as f64
                }
            }
            AlertMetric::P95Ms => {
                let mut durations = Vec::new();
                for f in &functions {
                    let rows: Vec<i64> = sqlx::query_scalar(
                        "SELECT duration_us FROM invocations WHERE function_name = $1 \
                         AND started_at >= $2 ORDER BY started_at DESC LIMIT $3",
                    )
                    .bind(f)
                    .bind(since_ms)
                    .bind(CALL_SAMPLE)
                    .fetch_all(db)
                    .await?;
                    durations.extend(rows);
                }
                if durations.is_empty() || durations.len() < rule.min_calls as usize {
                    0.0
                } else {
                    durations.sort_unstable();
                    let at = ((durations.len() as f64 * 0.95).ceil() as usize).max(1) - 1;
                    durations[at.min(durations.len() - 1)] as f64 / 1000.0
                }
            }
            AlertMetric::DeadLetters => {
                let mut dead = 0i64;
                for f in &functions {
                    dead += sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM jobs WHERE state = 'dead' AND function_name = $1",
                    )
                    .bind(f)
                    .fetch_one(db)
                    .await?;
                }
                dead as f64
            }
            AlertMetric::QueueAgeSecs => {
                let mut oldest: Option<i64> = None;
                for f in &functions {
                    let due: Option<i64> = sqlx::query_scalar(
                        "SELECT MIN(run_at) FROM jobs WHERE state = 'queued' \
                         AND function_name = $1 AND run_at <= $2",
                    )
                    .bind(f)
                    .bind(now_ms)
                    .fetch_one(db)
                    .await?;
                    oldest = match (oldest, due) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                oldest.map_or(0.0, |at| (now_ms - at).max(0) as f64 / 1000.0)
            }
            AlertMetric::MonthlyCost => {
                let report = self.cost_report(team_id, None).await?;
                let amount = |s: &str| s.parse::<f64>().unwrap_or(0.0);
                let elapsed = report
                    .projection
                    .as_ref()
                    .map_or(1.0, |p| amount(&p.elapsed_fraction))
                    .max(1e-6);
                let cost: f64 = if rule.function.is_none() && rule.application.is_none() {
                    amount(&report.totals.cost)
                } else {
                    report
                        .functions
                        .iter()
                        .filter(|f| functions.contains(&f.name))
                        .map(|f| amount(&f.usage.cost))
                        .sum()
                };
                cost / elapsed
            }
        })
    }

    /// The functions a rule watches (the team's, in its scope).
    async fn alert_functions(
        &self,
        team_id: i64,
        rule: &AlertRule,
    ) -> Result<Vec<String>, PlatformError> {
        let names = match (&rule.function, &rule.application) {
            (Some(name), _) => {
                sqlx::query_scalar(
                    "SELECT name FROM function_owners WHERE name = $1 AND team_id = $2",
                )
                .bind(name)
                .bind(team_id)
                .fetch_all(&self.inner.db)
                .await?
            }
            (None, Some(app)) => {
                sqlx::query_scalar(
                    "SELECT name FROM functions WHERE application = $1 AND name IN \
                     (SELECT name FROM function_owners WHERE team_id = $2)",
                )
                .bind(app)
                .bind(team_id)
                .fetch_all(&self.inner.db)
                .await?
            }
            (None, None) => {
                sqlx::query_scalar("SELECT name FROM function_owners WHERE team_id = $1")
                    .bind(team_id)
                    .fetch_all(&self.inner.db)
                    .await?
            }
        };
        Ok(names)
    }

    /// Creates a rule for team `team_id` (the caller checked the role).
    pub(crate) async fn create_alert_rule(
        &self,
        team_id: i64,
        new: NewAlertRule,
    ) -> Result<CreatedAlertRule, PlatformError> {
        validate_rule(&new)?;
        if let Some(url) = &new.webhook_url {
            let uri: http::Uri = url
                .parse()
                .map_err(|_| PlatformError::invalid(format!("{url:?} is not a URL")))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                return Err(PlatformError::invalid(
                    "webhook_url: give an http:// or https:// URL",
                ));
            }
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alert_rules WHERE team_id = $1")
            .bind(team_id)
            .fetch_one(&self.inner.db)
            .await?;
        if count >= MAX_RULES_PER_TEAM {
            return Err(PlatformError::invalid(format!(
                "a team has at most {MAX_RULES_PER_TEAM} alert rules"
            )));
        }
        let id = crate::new_invocation_id();
        let mut raw = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut raw);
        let secret = format!("whsec_{}", hex::encode(raw));
        let sealed = self
            .inner
            .secrets
            .seal(&secret_scope(&id), "webhook", &secret)
            .map_err(|e| PlatformError::invalid(format!("sealing the webhook secret: {e}")))?;
        let now_ms = self.inner.clock.now_ms();
        let inserted = sqlx::query(
            "INSERT INTO alert_rules (id, team_id, name, metric, threshold, function_name, \
             application, window_minutes, min_calls, webhook_url, key_id, sealed_secret, state, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'ok', $13)",
        )
        .bind(&id)
        .bind(team_id)
        .bind(new.name.trim())
        .bind(new.metric.as_str())
        .bind(new.threshold)
        .bind(new.function.clone())
        .bind(new.application.clone())
        .bind(i64::from(
            new.window_minutes.unwrap_or(DEFAULT_WINDOW_MINUTES),
        ))
        .bind(i64::from(new.min_calls.unwrap_or(1)))
        .bind(new.webhook_url.clone())
        .bind(self.inner.secrets.key_id())
        .bind(sealed)
        .bind(now_ms)
        .execute(&self.inner.db)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(PlatformError::Conflict {
                    message: format!("an alert rule named {} exists", new.name.trim()),
                })
            }
            Err(e) => return Err(e.into()),
        }
        Ok(CreatedAlertRule {
            rule: self.alert_rule(team_id, &id).await?,
            webhook_secret: secret,
        })
    }

    /// One of the team's rules.
    pub(crate) async fn alert_rule(
        &self,
        team_id: i64,
        id: &str,
    ) -> Result<AlertRule, PlatformError> {
        let row = sqlx::query("SELECT * FROM alert_rules WHERE id = $1 AND team_id = $2")
            .bind(id)
            .bind(team_id)
            .fetch_optional(&self.inner.db)
            .await?
            .ok_or_else(|| PlatformError::missing(format!("no alert rule {id}")))?;
        rule_from_row(&row)
    }

    /// The team's rules, firing ones first, then by name.
    pub(crate) async fn alert_rules(&self, team_id: i64) -> Result<Vec<AlertRule>, PlatformError> {
        let rows = sqlx::query(
            "SELECT * FROM alert_rules WHERE team_id = $1 \
             ORDER BY CASE WHEN state = 'firing' THEN 0 ELSE 1 END, name",
        )
        .bind(team_id)
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter().map(rule_from_row).collect()
    }

    /// Deletes one of the team's rules (its history stays).
    pub(crate) async fn delete_alert_rule(
        &self,
        team_id: i64,
        id: &str,
    ) -> Result<(), PlatformError> {
        let gone = sqlx::query("DELETE FROM alert_rules WHERE id = $1 AND team_id = $2")
            .bind(id)
            .bind(team_id)
            .execute(&self.inner.db)
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(PlatformError::missing(format!("no alert rule {id}")));
        }
        Ok(())
    }

    /// The team's alert events, newest first.
    pub(crate) async fn alert_history(
        &self,
        team_id: i64,
        limit: u32,
    ) -> Result<Vec<AlertEvent>, PlatformError> {
        let rows = sqlx::query(
            "SELECT * FROM alert_events WHERE team_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(team_id)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AlertEvent {
                    id: row.try_get("id")?,
                    rule_id: row.try_get("rule_id")?,
                    rule_name: row.try_get("rule_name")?,
                    state: row.try_get("state")?,
                    value: row.try_get("value")?,
                    threshold: row.try_get("threshold")?,
                    at: from_ms(row.try_get("at")?),
                    delivery: row.try_get("delivery")?,
                })
            })
            .collect()
    }
}

/// What a rule's secret is sealed under.
fn secret_scope(rule_id: &str) -> String {
    format!("alert:{rule_id}")
}

/// `X-Wisp-Event` and `X-Wisp-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>">`.
fn signed_headers(secret: &str, body: &[u8], state: &str) -> Vec<(String, String)> {
    let t = chrono::Utc::now().timestamp();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = ring::hmac::sign(&key, &signed);
    vec![
        ("x-wisp-event".to_string(), format!("alert.{state}")),
        (
            "x-wisp-signature".to_string(),
            format!("t={t},v1={}", hex::encode(tag.as_ref())),
        ),
    ]
}

/// 1-100 letters, digits, '-', '_' or '.' (rule and application names).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks a new rule's fields (before any lookup: bad input is a 400).
pub(crate) fn validate_rule(new: &NewAlertRule) -> Result<(), PlatformError> {
    if !is_plain_name(new.name.trim()) {
        return Err(PlatformError::invalid(
            "an alert rule's name is 1-100 letters, digits, '-', '_' or '.'",
        ));
    }
    if !new.threshold.is_finite() || new.threshold < 0.0 {
        return Err(PlatformError::invalid("threshold: a number, 0 or more"));
    }
    if new.metric == AlertMetric::ErrorRate && new.threshold >= 100.0 {
        return Err(PlatformError::invalid(
            "threshold: an error rate is a percentage; above 100 it never fires",
        ));
    }
    if let Some(app) = &new.application {
        if !is_plain_name(app) {
            return Err(PlatformError::invalid(
                "application: 1-100 letters, digits, '-', '_' or '.'",
            ));
        }
    }
    if new.function.is_some() && new.application.is_some() {
        return Err(PlatformError::invalid(
            "give a function or an application, not both",
        ));
    }
    if let Some(w) = new.window_minutes {
        if !(1..=1440).contains(&w) {
            return Err(PlatformError::invalid("window_minutes: 1 to 1440"));
        }
    }
    if let Some(url) = &new.webhook_url {
        if url.len() > 2000 {
            return Err(PlatformError::invalid(
                "webhook_url: at most 2000 characters",
            ));
        }
    }
    Ok(())
}

fn rule_from_row(row: &sqlx::any::AnyRow) -> Result<AlertRule, PlatformError> {
    let metric: String = row.try_get("metric")?;
    let state: String = row.try_get("state")?;
    Ok(AlertRule {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        metric: AlertMetric::parse(&metric)
            .ok_or_else(|| PlatformError::invalid(format!("unknown metric {metric}")))?,
        threshold: row.try_get("threshold")?,
        function: row.try_get("function_name")?,
        application: row.try_get("application")?,
        window_minutes: row.try_get::<i64, _>("window_minutes")? as u32,
        min_calls: row.try_get::<i64, _>("min_calls")? as u32,
        webhook_url: row.try_get("webhook_url")?,
        state: if state == "firing" {
            AlertState::Firing
        } else {
            AlertState::Ok
        },
        since: row.try_get::<Option<i64>, _>("since")?.map(from_ms),
        last_value: row.try_get("last_value")?,
        evaluated_at: row.try_get::<Option<i64>, _>("evaluated_at")?.map(from_ms),
        created_at: from_ms(row.try_get("created_at")?),
    })
}
