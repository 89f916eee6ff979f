//! Cron triggers: 5-field expressions (6 with seconds) and `@hourly`-style
//! shorthands, evaluated in a time zone. A tick is fired by moving the
//! trigger's `last_tick_ms` and queueing its delivery in one transaction
//! (compare-and-set on the previous tick), so a tick fires once even across
//! restarts or several nodes; after downtime only the latest missed tick
//! fires. Time comes from the platform's [`crate::Clock`]. Ticks and
//! previews are whole seconds: `croner` carries the sub-second part of the
//! instant it is asked about into its answer, so "now" is cut to its second
//! first (otherwise every poll within a matching second was a new tick).

use std::str::FromStr as _;
use std::time::Duration;

use chrono::{DateTime, Timelike as _, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use sqlx::Row;

use crate::queue::{insert, NewJob};
use crate::topics::cloud_event_headers;
use crate::{Platform, PlatformError, TriggerKind};

/// How often a cron trigger looks at the clock.
const POLL: Duration = Duration::from_millis(200);

/// A parsed schedule in its time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    tz: chrono_tz::Tz,
}

impl Schedule {
    /// Parses `schedule` (5 or 6 fields, or a shorthand) in `timezone` (IANA name).
    pub fn parse(schedule: &str, timezone: &str) -> Result<Self, PlatformError> {
        let tz = chrono_tz::Tz::from_str(timezone.trim()).map_err(|_| {
            PlatformError::invalid_field(
                "timezone",
                format!(
                    "unknown time zone {timezone:?}; use an IANA name such as UTC or Europe/Paris"
                ),
            )
        })?;
        let fields = schedule.split_whitespace().count();
        if !(schedule.trim().starts_with('@') || fields == 5 || fields == 6) {
            return Err(PlatformError::invalid_field(
                "schedule",
                format!(
                    "schedule {schedule:?} has {fields} fields; use 5 (minute hour day month \
                     weekday), 6 (with seconds first) or a shorthand such as @hourly"
                ),
            ));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(schedule).map_err(|e| {
            PlatformError::invalid_field("schedule", format!("schedule {schedule:?}: {e}"))
        })?;
        Ok(Self { cron, tz })
    }

    /// The next `n` fire times strictly after `after`, in whole seconds.
    pub fn next_after(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        // Fire times are whole seconds: the first one after `after` is the
        // first one after the start of its second.
        // Step by hand: the crate's iterator skipped every other second of
        // a `* * * * * *` schedule (found by an outside test).
        let mut at = whole_second(after).with_timezone(&self.tz);
        let mut fires = Vec::with_capacity(n);
        while fires.len() < n {
            let Ok(next) = self.cron.find_next_occurrence(&at, false) else {
                break;
            };
            at = next;
            fires.push(whole_second(next.with_timezone(&Utc)));
        }
        fires
    }

    /// The latest fire time at or before `at`, in whole seconds.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = whole_second(at).with_timezone(&self.tz);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|t| whole_second(t.with_timezone(&Utc)))
    }
}

/// `at` without its fraction of a second.
fn whole_second(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_nanosecond(0).unwrap_or(at)
}

/// The next `count` fire times of a schedule after `now`.
pub fn next_fires(
    schedule: &str,
    timezone: &str,
    now: DateTime<Utc>,
    count: usize,
) -> Result<Vec<DateTime<Utc>>, PlatformError> {
    Ok(Schedule::parse(schedule, timezone)?.next_after(now, count))
}

/// What a cron loop needs of its trigger.
#[derive(Clone, Debug)]
pub(crate) struct CronJob {
    pub trigger_id: String,
    pub function: String,
    pub schedule_text: String,
    pub schedule: Schedule,
    pub max_attempts: u32,
}

/// Watches the clock and fires `job`'s ticks until aborted.
pub(crate) async fn run(platform: Platform, job: CronJob) {
    let clock = platform.inner.clock.clone();
    let mut last = match last_tick(&platform, &job.trigger_id).await {
        Ok(Some(ms)) => ms,
        Ok(None) => return, // deleted meanwhile
        Err(e) => {
            tracing::error!(trigger = %job.trigger_id, error = %e, "cron trigger could not start");
            return;
        }
    };
    loop {
        let now = clock.now();
        if let Some(tick) = job.schedule.latest_at_or_before(now) {
            let tick_ms = tick.timestamp_millis();
            if tick_ms > last {
                match fire(&platform, &job, last, tick).await {
                    Ok(true) => last = tick_ms,
                    // Another node (or process) fired it: catch up.
                    Ok(false) => match last_tick(&platform, &job.trigger_id).await {
                        Ok(Some(ms)) => last = ms,
                        Ok(None) => return,
                        Err(e) => tracing::error!(error = %e, "reading a cron trigger failed"),
                    },
                    Err(e) => {
                        tracing::error!(trigger = %job.trigger_id, error = %e, "firing a cron tick failed")
                    }
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn last_tick(platform: &Platform, trigger_id: &str) -> Result<Option<i64>, PlatformError> {
    let row = sqlx::query("SELECT last_tick_ms FROM triggers WHERE id = $1")
        .bind(trigger_id)
        .fetch_optional(&platform.inner.db)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get::<Option<i64>, _>("last_tick_ms")?.unwrap_or(0)),
        None => None,
    })
}

/// Fires `tick` if the trigger's last tick is still `last`; whether it did.
async fn fire(
    platform: &Platform,
    job: &CronJob,
    last: i64,
    tick: DateTime<Utc>,
) -> Result<bool, PlatformError> {
    let tick_ms = tick.timestamp_millis();
    let now_ms = platform.inner.clock.now_ms();
    let mut tx = crate::db::begin_write(&platform.inner.db, platform.inner.backend).await?;
    let moved = sqlx::query(
        "UPDATE triggers SET last_tick_ms = $1, updated_at = $2 \
         WHERE id = $3 AND COALESCE(last_tick_ms, 0) = $4",
    )
    .bind(tick_ms)
    .bind(now_ms)
    .bind(&job.trigger_id)
    .bind(last)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(false);
    }
    let event_id = format!("{}:{tick_ms}", job.trigger_id);
    let body = serde_json::json!({
        "trigger_id": job.trigger_id,
        "schedule": job.schedule_text,
        "scheduled_time": tick.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    let new_job = NewJob {
        function: job.function.clone(),
        source: TriggerKind::Cron,
        trigger_id: Some(job.trigger_id.clone()),
        event_id: Some(event_id.clone()),
        dedupe_key: Some(format!("cron:{event_id}")),
        parent_id: None,
        method: "POST".into(),
        path: "/".into(),
        headers: cloud_event_headers(
            &event_id,
            &format!("/triggers/{}", job.trigger_id),
            "dev.wisp.cron.tick",
            &job.schedule_text,
            tick,
            Some("application/json"),
        ),
        body: body.to_string().into_bytes(),
        max_attempts: job.max_attempts,
        run_at_ms: now_ms,
    };
    insert(&mut tx, &new_job, now_ms).await?;
    tx.commit().await?;
    platform.inner.dispatcher.wake();
    tracing::info!(trigger = %job.trigger_id, function = %job.function, %tick, "cron tick fired");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_six_fields_and_shorthands() {
        let s = Schedule::parse("*/5 * * * *", "UTC").unwrap();
        assert_eq!(
            s.next_after(at("2026-01-01T00:03:00Z"), 2),
            vec![at("2026-01-01T00:05:00Z"), at("2026-01-01T00:10:00Z")]
        );
        let s = Schedule::parse("30 * * * * *", "UTC").unwrap();
        assert_eq!(
            s.next_after(at("2026-01-01T00:00:00Z"), 1),
            vec![at("2026-01-01T00:00:30Z")]
        );
        let s = Schedule::parse("@hourly", "UTC").unwrap();
        assert_eq!(
            s.next_after(at("2026-01-01T00:10:00Z"), 1),
            vec![at("2026-01-01T01:00:00Z")]
        );
        assert!(Schedule::parse("* * *", "UTC").is_err());
        assert!(Schedule::parse("61 * * * *", "UTC").is_err());
        assert!(Schedule::parse("* * * * *", "Mars/Olympus").is_err());
    }

    #[test]
    fn time_zones_shift_the_fire_time() {
        // 09:00 in Paris is 08:00 UTC in winter.
        let s = Schedule::parse("0 9 * * *", "Europe/Paris").unwrap();
        assert_eq!(
            s.next_after(at("2026-01-10T00:00:00Z"), 1),
            vec![at("2026-01-10T08:00:00Z")]
        );
    }

    /// Within a matching second every poll sees the same tick, and previews
    /// carry no fraction of a second (croner keeps the caller's).
    #[test]
    fn every_second_previews_every_second() {
        let s = Schedule::parse("* * * * * *", "UTC").unwrap();
        let fires = s.next_after(at("2026-03-01T10:00:00.400Z"), 5);
        let want: Vec<_> = (1..=5)
            .map(|i| at(&format!("2026-03-01T10:00:0{i}Z")))
            .collect();
        assert_eq!(fires, want);
    }

    #[test]
    fn ticks_and_previews_are_whole_seconds() {
        let s = Schedule::parse("* * * * *", "UTC").unwrap();
        let polls: Vec<_> = ["00.000", "00.200", "00.457122413", "00.999"]
            .iter()
            .map(|f| s.latest_at_or_before(at(&format!("2026-01-01T18:48:{f}Z"))))
            .collect();
        assert!(
            polls.iter().all(|t| *t == Some(at("2026-01-01T18:48:00Z"))),
            "{polls:?}"
        );
        let s = Schedule::parse("*/10 * * * * *", "UTC").unwrap();
        assert_eq!(
            s.latest_at_or_before(at("2026-01-01T00:00:10.600Z")),
            Some(at("2026-01-01T00:00:10Z"))
        );
        assert_eq!(
            s.next_after(at("2026-01-01T18:47:59.457122413Z"), 2),
            vec![at("2026-01-01T18:48:00Z"), at("2026-01-01T18:48:10Z")]
        );
        assert_eq!(
            s.next_after(at("2026-01-01T18:48:00.457122413Z"), 1),
            vec![at("2026-01-01T18:48:10Z")]
        );
    }

    #[test]
    fn latest_tick_after_downtime_is_the_last_one() {
        let s = Schedule::parse("*/5 * * * *", "UTC").unwrap();
        assert_eq!(
            s.latest_at_or_before(at("2026-01-01T01:07:00Z")),
            Some(at("2026-01-01T01:05:00Z"))
        );
        assert_eq!(
            s.latest_at_or_before(at("2026-01-01T01:05:00Z")),
            Some(at("2026-01-01T01:05:00Z"))
        );
    }
}
