//! Metering routes: the price plan (read, change from a date) and month cost
//! reports as JSON or CSV. Thin: the platform prices and renders.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::{CostReport, PricePlan, PricePlanUpdate, PricePlans};
use serde::Deserialize;

use super::{AppError, AppState, Authenticated};

/// The plan in force now and every plan, oldest first.
#[utoipa::path(get, path = "/api/v1/price-plan",
    responses((status = 200, body = PricePlans)), security(("bearer" = [])))]
pub async fn get_plan(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<PricePlans>, AppError> {
    Ok(Json(state.platform.metering().price_plans(&who).await?))
}

/// Add a price plan taking effect at `effective_from` (default now; never
/// before the current month).
#[utoipa::path(put, path = "/api/v1/price-plan", request_body = PricePlanUpdate,
    responses((status = 200, body = PricePlan), (status = 400, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn put_plan(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Json(update): Json<PricePlanUpdate>,
) -> Result<Json<PricePlan>, AppError> {
    // Prices apply to every team: the server's operators set them.
    Ok(Json(
        state
            .platform
            .metering()
            .set_price_plan(&who, update)
            .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ReportParams {
    /// `YYYY-MM` (UTC); default the current month.
    month: Option<String>,
    /// Only this application's functions.
    application: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DownloadParams {
    /// Only this application's functions.
    application: Option<String>,
}

/// The team's report, or one application's.
async fn scoped_report(
    state: &AppState,
    who: &platform::Principal,
    month: Option<&str>,
    application: Option<&str>,
) -> Result<CostReport, AppError> {
    if application.is_some_and(|app| !model::is_application_name(app)) {
        return Err(AppError::bad_request(
            "application must be 1-64 letters, digits, '-' or '_'",
        ));
    }
    let metering = state.platform.metering();
    Ok(match application {
        Some(app) => metering.application_cost_report(who, month, app).await?,
        None => metering.cost_report(who, month).await?,
    })
}

/// A month's usage and cost per function, beside the previous month.
#[utoipa::path(get, path = "/api/v1/costs", params(ReportParams),
    responses((status = 200, body = CostReport), (status = 400, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(params): Query<ReportParams>,
) -> Result<Json<CostReport>, AppError> {
    Ok(Json(
        scoped_report(
            &state,
            &who,
            params.month.as_deref(),
            params.application.as_deref(),
        )
        .await?,
    ))
}

/// A month's report as a download: `{YYYY-MM}.csv` (RFC 4180, one row per
/// function per day and a totals row) or `{YYYY-MM}.pdf` (a printable
/// document: totals, daily cost chart, per-function table, price plan).
#[utoipa::path(get, path = "/api/v1/costs/{file}",
    params(("file" = String, Path, description = "`YYYY-MM.csv` or `YYYY-MM.pdf`"), DownloadParams),
    responses((status = 200,
               description = "`YYYY-MM.csv`: the report as CSV; `YYYY-MM.pdf`: as a PDF document",
               content((String = "text/csv"), (Vec<u8> = "application/pdf"))),
              (status = 400, body = model::ApiError), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(file): Path<String>,
    Query(params): Query<DownloadParams>,
) -> Result<Response, AppError> {
    let (month, extension) = match file.rsplit_once('.') {
        Some((month, ext @ ("csv" | "pdf"))) => (month, ext),
        _ => {
            return Err(AppError::not_found(format!(
                "no report format for {file:?}: use YYYY-MM.csv or YYYY-MM.pdf"
            )))
        }
    };
    let report = scoped_report(&state, &who, Some(month), params.application.as_deref()).await?;
    let scope = report
        .application
        .as_deref()
        .map(|a| format!("-{a}"))
        .unwrap_or_default();
    let disposition = format!(
        "attachment; filename=\"wisp-costs{scope}-{}.{extension}\"",
        report.month
    );
    let (content_type, body) = if extension == "pdf" {
        // Rendering is CPU work: keep it off the async workers.
        // The platform's reports always name a well-formed month, so a
        // rendering error is ours: 500, logged.
        let failed = |error: &dyn std::fmt::Display| {
            tracing::error!(%error, "rendering the cost report PDF");
            AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "rendering the PDF failed",
            )
        };
        let pdf = tokio::task::spawn_blocking(move || render::cost_pdf(&report))
            .await
            .map_err(|e| failed(&e))?
            .map_err(|e| failed(&e))?;
        ("application/pdf", pdf)
    } else {
        (
            "text/csv; charset=utf-8",
            render::cost_csv(&report).into_bytes(),
        )
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
