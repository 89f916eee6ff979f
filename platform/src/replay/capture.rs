//! Captures at rest: which calls are recorded (the function's `capture`
//! setting and sample), how a recording is stored — its secret values
//! replaced by their names, then sealed with the server's key like a
//! secret — within the team's storage cap (oldest captures go first), how
//! old ones are pruned, and how a replay gets one back with the secrets of
//! today filled in again.

use std::sync::Arc;

use model::{CaptureInfo, CaptureMode};
use runtime::{RecordedMessage, Recording};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::registry::LiveFunction;
use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// Largest body (request, response, or an outbound one) a capture keeps;
/// a call with a longer one is captured incomplete and not replayed.
pub const CAPTURE_BODY_LIMIT: usize = 1024 * 1024;
/// Capture storage per team by default (`--capture-cap-mb`); beyond it the
/// oldest captures are dropped.
pub const DEFAULT_TEAM_CAPTURE_CAP_BYTES: i64 = 256 * 1024 * 1024;
/// How long captures are kept by default (`--capture-retention-days`).
pub const DEFAULT_CAPTURE_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(30 * 24 * 3600);

/// How a secret's value is written in a stored capture.
fn secret_marker(name: &str) -> String {
    format!("{{{{wisp-secret:{name}}}}}")
}

/// What is stored of one call (sealed).
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredCapture {
    /// The environment the call had; `None` for a secret (read again, by
    /// name, when replayed).
    pub env: Vec<(String, Option<String>)>,
    pub recording: Recording,
}

/// Whether a call of `live` is recorded: its capture setting, then its
/// sample.
pub(crate) fn records(live: &LiveFunction) -> bool {
    live.capture != CaptureMode::Off
        && live.component
        && (live.capture_sample_percent >= 100
            || rand::random::<u32>() % 100 < live.capture_sample_percent)
}

/// Whether a finished call's recording is kept.
pub(crate) fn keeps(live: &LiveFunction, report: &runtime::InvocationReport) -> bool {
    live.capture == CaptureMode::All || report.failed()
}

/// `haystack` with every `needle` replaced by `with`.
fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// Applies `swap` (one replacement of bytes) to every text and body a
/// message carries.
fn swap_message(message: &mut RecordedMessage, swap: &dyn Fn(&[u8]) -> Vec<u8>) {
    let text = |s: &mut String| {
        let swapped = swap(s.as_bytes());
        if swapped != s.as_bytes() {
            *s = String::from_utf8_lossy(&swapped).into_owned();
        }
    };
    if let Some(uri) = message.uri.as_mut() {
        text(uri);
    }
    for (_, value) in &mut message.headers {
        text(value);
    }
    message.body = swap(&message.body);
}

/// Applies `swap` to everything of a recording that came from or went to
/// the outside (the clock readings and random bytes stay as they are).
fn swap_recording(recording: &mut Recording, swap: &dyn Fn(&[u8]) -> Vec<u8>) {
    for message in [recording.request.as_mut(), recording.response.as_mut()]
        .into_iter()
        .flatten()
    {
        swap_message(message, swap);
    }
    for call in &mut recording.outbound {
        swap_message(&mut call.request, swap);
        if let Some(response) = call.response.as_mut() {
            swap_message(response, swap);
        }
    }
}

/// Drops every body of a recording (an incomplete one is only shown).
fn strip_bodies(recording: &mut Recording) {
    let empty = |m: &mut RecordedMessage| {
        m.body_complete = m.body_complete && m.body.is_empty();
        m.body.clear();
    };
    for m in [recording.request.as_mut(), recording.response.as_mut()]
        .into_iter()
        .flatten()
    {
        empty(m);
    }
    for call in &mut recording.outbound {
        empty(&mut call.request);
        if let Some(r) = call.response.as_mut() {
            empty(r);
        }
    }
}

/// Every secret value replaced by its name's marker (longest value first).
pub(crate) fn scrub(recording: &mut Recording, secrets: &[(String, String)]) {
    let mut secrets: Vec<&(String, String)> =
        secrets.iter().filter(|(_, v)| !v.is_empty()).collect();
    if secrets.is_empty() {
        return;
    }
    secrets.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    swap_recording(recording, &|bytes| {
        secrets.iter().fold(bytes.to_vec(), |acc, (name, value)| {
            replace_bytes(&acc, value.as_bytes(), secret_marker(name).as_bytes())
        })
    });
}

/// Every marker replaced by the secret's value of today.
pub(crate) fn unscrub(recording: &mut Recording, secrets: &[(String, String)]) {
    if secrets.is_empty() {
        return;
    }
    swap_recording(recording, &|bytes| {
        secrets.iter().fold(bytes.to_vec(), |acc, (name, value)| {
            replace_bytes(&acc, secret_marker(name).as_bytes(), value.as_bytes())
        })
    });
}

/// A capture as read back: its row and what was sealed.
pub(crate) struct LoadedCapture {
    pub info: CaptureInfo,
    pub stored: StoredCapture,
}

impl Platform {
    /// Stores the recording of call `id` of `live` (its secrets named,
    /// sealed), then makes room under the team's cap. A failure is logged:
    /// the call itself stands.
    pub(crate) async fn store_capture(
        &self,
        id: &str,
        live: &Arc<LiveFunction>,
        mut recording: Recording,
        failed: bool,
    ) {
        scrub(&mut recording, &live.secrets);
        if recording.incomplete.is_some() {
            // It is never replayed: keep what shows the call (request line,
            // outbound requests, why it is incomplete), not its bodies,
            // which would only take the team's storage.
            strip_bodies(&mut recording);
        }
        let secret_names: Vec<&str> = live.secrets.iter().map(|(n, _)| n.as_str()).collect();
        let stored = StoredCapture {
            env: live
                .warm
                .sandbox()
                .env
                .iter()
                .map(|(k, v)| {
                    let secret = secret_names.contains(&k.as_str());
                    (k.clone(), (!secret).then(|| v.clone()))
                })
                .collect(),
            recording,
        };
        if let Err(e) = self.insert_capture(id, live, &stored, failed).await {
            tracing::error!(invocation = id, function = %live.name, error = %e, "storing the call's capture failed");
        }
    }

    async fn insert_capture(
        &self,
        id: &str,
        live: &LiveFunction,
        stored: &StoredCapture,
        failed: bool,
    ) -> Result<(), PlatformError> {
        let json = serde_json::to_string(stored).map_err(anyhow::Error::from)?;
        let sealed = self
            .inner
            .secrets
            .seal(&live.name, &format!("capture:{id}"), &json)
            .map_err(|e| anyhow::anyhow!("sealing a capture: {e}"))?;
        let size = sealed.len() as i64;
        let now = self.inner.clock.now_ms();
        sqlx::query(
            "INSERT INTO captures (invocation_id, team_id, function_name, version, created_at, \
             size_bytes, incomplete, failed, key_id, sealed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (invocation_id) DO NOTHING",
        )
        .bind(id)
        .bind(live.team_id)
        .bind(&live.name)
        .bind(live.version)
        .bind(now)
        .bind(size)
        .bind(stored.recording.incomplete.clone())
        .bind(i64::from(failed))
        .bind(self.inner.secrets.key_id())
        .bind(&sealed)
        .execute(&self.inner.db)
        .await?;
        Ok(())
    }

    /// Drops the oldest captures of every team that holds more than its
    /// cap (run by the housekeeping, not per call: a team may be over its
    /// cap for a few seconds).
    async fn trim_captures(&self) -> Result<(), PlatformError> {
        let cap = self.inner.config.capture_cap_bytes;
        let over_cap = sqlx::query(
            "SELECT team_id, CAST(SUM(size_bytes) AS BIGINT) AS total FROM captures \
             GROUP BY team_id HAVING SUM(size_bytes) > $1",
        )
        .bind(cap)
        .fetch_all(&self.inner.db)
        .await?;
        for row in over_cap {
            let team_id: i64 = row.try_get("team_id")?;
            let total: i64 = row.try_get("total")?;
            self.trim_team_captures(team_id, total - cap).await?;
        }
        Ok(())
    }

    /// Drops a team's oldest captures until `over` bytes are gone.
    async fn trim_team_captures(&self, team_id: i64, mut over: i64) -> Result<(), PlatformError> {
        let oldest = sqlx::query(
            "SELECT invocation_id, size_bytes FROM captures WHERE team_id = $1 \
             ORDER BY created_at, invocation_id LIMIT 1000",
        )
        .bind(team_id)
        .fetch_all(&self.inner.db)
        .await?;
        let mut dropped = 0;
        for row in oldest {
            if over <= 0 {
                break;
            }
            let id: String = row.try_get("invocation_id")?;
            over -= row.try_get::<i64, _>("size_bytes")?;
            sqlx::query("DELETE FROM captures WHERE invocation_id = $1")
                .bind(&id)
                .execute(&self.inner.db)
                .await?;
            dropped += 1;
        }
        tracing::info!(
            team_id,
            dropped,
            "dropped the oldest captures: the team's capture storage is over its cap"
        );
        Ok(())
    }

    /// Forgets captures older than the retention period (as of `now_ms`),
    /// then the oldest of teams over their storage cap.
    pub(crate) async fn prune_captures(&self, now_ms: i64) -> Result<u64, PlatformError> {
        let before_ms = now_ms - self.inner.config.capture_retention.as_millis() as i64;
        let old = sqlx::query("DELETE FROM captures WHERE created_at < $1")
            .bind(before_ms)
            .execute(&self.inner.db)
            .await?
            .rows_affected();
        self.trim_captures().await?;
        Ok(old)
    }

    /// The capture of invocation `id`, opened (secret values still named).
    pub(crate) async fn load_capture(&self, id: &str) -> Result<LoadedCapture, PlatformError> {
        let row = sqlx::query("SELECT * FROM captures WHERE invocation_id = $1")
            .bind(id)
            .fetch_optional(&self.inner.db)
            .await?
            .ok_or_else(|| {
                PlatformError::missing(format!(
                    "invocation {id} has no capture: its function records failed calls \
                     (capture = failures) or every call (capture = all), and captures are \
                     kept for a while (30 days by default) within the team's storage cap"
                ))
            })?;
        let function: String = row.try_get("function_name")?;
        let key_id: String = row.try_get("key_id")?;
        let sealed: String = row.try_get("sealed")?;
        let json = self
            .inner
            .secrets
            .open(&function, &format!("capture:{id}"), &key_id, &sealed)
            .map_err(|e| PlatformError::Conflict {
                message: format!(
                    "the capture of invocation {id} cannot be opened ({e}): it is damaged or \
                     was sealed with another secret key"
                ),
            })?;
        let stored: StoredCapture =
            serde_json::from_str(&json).map_err(|e| PlatformError::Conflict {
                message: format!("the capture of invocation {id} is not readable: {e}"),
            })?;
        let info = capture_info(id, &function, &row, &stored)?;
        Ok(LoadedCapture { info, stored })
    }

    /// Whether call `id` was recorded, and whether completely.
    pub(crate) async fn capture_status(
        &self,
        id: &str,
    ) -> Result<model::CaptureStatus, PlatformError> {
        let row = sqlx::query("SELECT incomplete FROM captures WHERE invocation_id = $1")
            .bind(id)
            .fetch_optional(&self.inner.db)
            .await?;
        Ok(match row {
            Some(row) => model::CaptureStatus {
                captured: true,
                incomplete: row.try_get("incomplete")?,
            },
            None => model::CaptureStatus::default(),
        })
    }

    /// The latest captured failures of `function`, newest first.
    pub(crate) async fn captured_failures(
        &self,
        function: &str,
        limit: u32,
    ) -> Result<Vec<String>, PlatformError> {
        let rows = sqlx::query(
            "SELECT invocation_id FROM captures WHERE function_name = $1 AND failed = 1 \
             ORDER BY created_at DESC, invocation_id DESC LIMIT $2",
        )
        .bind(function)
        .bind(i64::from(limit))
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter()
            .map(|r| r.try_get("invocation_id").map_err(PlatformError::from))
            .collect()
    }
}

fn capture_info(
    id: &str,
    function: &str,
    row: &sqlx::any::AnyRow,
    stored: &StoredCapture,
) -> Result<CaptureInfo, PlatformError> {
    let recording = &stored.recording;
    let request = recording.request.as_ref();
    Ok(CaptureInfo {
        invocation_id: id.to_string(),
        function: function.to_string(),
        version: row.try_get("version")?,
        created_at: from_ms(row.try_get("created_at")?),
        size_bytes: row.try_get("size_bytes")?,
        incomplete: row.try_get("incomplete")?,
        request: request
            .map(|r| {
                let uri = r.uri.as_deref().unwrap_or("/");
                let path = uri
                    .parse::<http::Uri>()
                    .ok()
                    .and_then(|u| u.path_and_query().map(|p| p.to_string()))
                    .unwrap_or_else(|| uri.to_string());
                format!("{} {path}", r.method.as_deref().unwrap_or("GET"))
            })
            .unwrap_or_default(),
        request_body_bytes: request.map_or(0, |r| r.body.len()),
        outbound: recording.outbound.iter().map(call_line).collect(),
        clock_readings: recording.wall_clock_ns.len() + recording.monotonic_ns.len(),
        random_bytes: recording.random.len() + recording.insecure_random.len(),
        env: stored
            .env
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k.clone())
            .collect(),
        secrets: stored
            .env
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.clone())
            .collect(),
    })
}

/// `METHOD URL -> STATUS` (or `-> error: ...`) of a recorded call.
pub(crate) fn call_line(call: &runtime::RecordedCall) -> String {
    let outcome = match (&call.response, &call.error) {
        (Some(r), _) => r.status.map_or("?".into(), |s| s.to_string()),
        (None, Some(e)) => format!("error: {e}"),
        (None, None) => "no answer".into(),
    };
    format!("{} -> {outcome}", call.request.request_line())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_named_at_rest_and_filled_in_again() {
        let mut recording = Recording {
            request: Some(RecordedMessage {
                uri: Some("http://x/?token=hunter2".into()),
                headers: vec![("authorization".into(), "Bearer hunter2".into())],
                body: b"pw=hunter2&x=1".to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let original = recording.clone();
        let secrets = vec![("PASSWORD".to_string(), "hunter2".to_string())];
        scrub(&mut recording, &secrets);
        let json = serde_json::to_string(&recording).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        let request = recording.request.as_ref().unwrap();
        assert_eq!(
            request.uri.as_deref(),
            Some("http://x/?token={{wisp-secret:PASSWORD}}")
        );
        assert_eq!(request.body, b"pw={{wisp-secret:PASSWORD}}&x=1");
        unscrub(&mut recording, &secrets);
        assert_eq!(recording, original);
    }
}
