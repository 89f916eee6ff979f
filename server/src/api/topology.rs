//! `GET /api/v1/topology`: the application graph over a time window, as
//! JSON (optionally with its layout), SVG or Graphviz DOT.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::{AppError, AppState, Authenticated};

#[derive(Deserialize, utoipa::IntoParams)]
pub struct TopologyParams {
    /// Window start (RFC 3339); default `until` minus `window`.
    since: Option<DateTime<Utc>>,
    /// Window end (RFC 3339); default now.
    until: Option<DateTime<Utc>>,
    /// `15m`, `1h` (default), `24h` or `7d`, when `since` is not given.
    window: Option<String>,
    /// `json` (default), `svg` or `dot`.
    format: Option<String>,
    /// JSON only: include the left-to-right layout (node boxes, edge paths).
    layout: Option<bool>,
    /// Only this application's functions, with what they touch.
    application: Option<String>,
}

/// Parses `15m`, `1h`, `24h`, `7d` (any count of m/h/d).
/// None for anything else, including counts too large to represent.
pub fn parse_window(s: &str) -> Option<Duration> {
    // The unit is one character; split before it (not at a byte count, which
    // could fall inside a multi-byte character).
    let (split, _) = s.char_indices().last()?;
    let (count, unit) = s.split_at(split);
    let count: i64 = count.parse().ok().filter(|c| *c > 0)?;
    match unit {
        "m" => Duration::try_minutes(count),
        "h" => Duration::try_hours(count),
        "d" => Duration::try_days(count),
        _ => None,
    }
}

/// Nodes (triggers, topics, functions, hosts, key-value stores) and edges
/// (declared and observed) with calls, errors, p50/p95 and cost.
#[utoipa::path(get, path = "/api/v1/topology", params(TopologyParams),
    responses((status = 200, body = model::Topology, description = "JSON, or SVG / DOT with ?format="),
              (status = 400, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn topology(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(p): Query<TopologyParams>,
) -> Result<Response, AppError> {
    let until = p.until.unwrap_or_else(|| state.platform.now());
    let since = match (p.since, p.window.as_deref()) {
        (Some(since), _) => since,
        (None, Some(w)) => parse_window(w)
            .and_then(|window| until.checked_sub_signed(window))
            .ok_or_else(|| AppError::bad_request("window must look like 15m, 1h, 24h or 7d"))?,
        (None, None) => until
            .checked_sub_signed(Duration::hours(1))
            .ok_or_else(|| AppError::bad_request("until is out of range"))?,
    };
    let metering = state.platform.metering();
    let mut graph = match p.application.as_deref() {
        Some(app) => {
            metering
                .application_topology(&who, since, until, app)
                .await?
        }
        None => metering.topology(&who, since, until).await?,
    };
    let format = p.format.as_deref().unwrap_or("json");
    match format {
        "json" => {
            if p.layout.unwrap_or(false) {
                graph.layout = Some(render::topology_layout(&graph));
            }
            Ok(Json(graph).into_response())
        }
        "svg" => {
            graph.layout = Some(render::topology_layout(&graph));
            Ok((
                [(header::CONTENT_TYPE, "image/svg+xml")],
                render::topology_svg(&graph, ""),
            )
                .into_response())
        }
        "dot" => Ok((
            [(header::CONTENT_TYPE, "text/vnd.graphviz; charset=utf-8")],
            render::topology_dot(&graph),
        )
            .into_response()),
        other => Err(AppError::bad_request(format!(
            "format {other:?}: use json, svg or dot"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn windows() {
        assert_eq!(
            super::parse_window("15m"),
            Some(chrono::Duration::minutes(15))
        );
        assert_eq!(super::parse_window("7d"), Some(chrono::Duration::days(7)));
        assert_eq!(super::parse_window("0h"), None);
        assert_eq!(super::parse_window("h"), None);
        assert_eq!(super::parse_window("3w"), None);
        // Found by the API fuzzer: a multi-byte last character, a huge count.
        assert_eq!(super::parse_window("\u{80}"), None);
        assert_eq!(super::parse_window("1\u{c6}"), None);
        assert_eq!(super::parse_window("9999999999999999d"), None);
    }
}
