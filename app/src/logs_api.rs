//! The Logs page's server function: log search across the team's functions,
//! a thin call into `platform` behind the session check. Every argument is
//! a plain string from the page's GET form (empty: not given).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::LogSearchPage;

use crate::error::AppError;

/// Hits per page of the Logs page.
pub const LOG_HITS_PER_PAGE: u32 = 50;

/// One page of the invocations whose logs match `q`, newest first.
/// `status` is `success`, `error` or empty; `range` one of
/// [`crate::api::TIME_RANGES`] or empty for all time; `before` the cursor
/// of an older page.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn search_logs(
    q: String,
    function: Option<String>,
    status: Option<String>,
    range: Option<String>,
    before: Option<String>,
) -> Result<LogSearchPage, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let since = given(range)
        .and_then(|range| crate::api::range_seconds(&range))
        .map(|seconds| chrono::Utc::now() - chrono::Duration::seconds(seconds));
    let search = platform::LogSearch {
        q,
        function: given(function),
        application: None,
        status: given(status),
        level: None,
        since,
        until: None,
        trace_id: None,
        limit: LOG_HITS_PER_PAGE,
        before: given(before),
    };
    Ok(crate::api::ssr::platform()
        .functions()
        .search_logs(&who, &search)
        .await?)
}
