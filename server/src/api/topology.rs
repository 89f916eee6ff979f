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
}

/// Parses `15m`, `1h`, `24h`, `7d` (any count of m/h/d).
pub fn parse_window(s: &str) -> Option<Duration> {
    let (count, unit) = s.split_at(s.len().checked_sub(1)?);
    let count: i64 = count.parse().ok().filter(|c| *c > 0)?;
    match unit {
        "m" => Some(Duration::minutes(count)),
        "h" => Some(Duration::hours(count)),
        "d" => Some(Duration::days(count)),
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
        (None, Some(w)) => {
            until
                - parse_window(w).ok_or_else(|| {
                    AppError::bad_request("window must look like 15m, 1h, 24h or 7d")
                })?
        }
        (None, None) => until - Duration::hours(1),
    };
    let mut graph = state.platform.topology(who.team_id, since, until).await?;
    let format = p.format.as_deref().unwrap_or("json");
    match format {
        "json" => {
            if p.layout.unwrap_or(false) {
                graph.layout = Some(platform::topology_layout(&graph));
            }
            Ok(Json(graph).into_response())
        }
        "svg" => {
            graph.layout = Some(platform::topology_layout(&graph));
            Ok((
                [(header::CONTENT_TYPE, "image/svg+xml")],
                platform::topology_svg(&graph, ""),
            )
                .into_response())
        }
        "dot" => Ok((
            [(header::CONTENT_TYPE, "text/vnd.graphviz; charset=utf-8")],
            platform::topology_dot(&graph),
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
    }
}
