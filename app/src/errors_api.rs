//! The Errors page's server function: the team's error groups, a thin call
//! into `platform` behind the session check.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::ErrorGroup;

use crate::error::AppError;

/// The team's error groups, most recently seen first. `function` empty:
/// every function; `range` one of [`crate::api::TIME_RANGES`] or empty for
/// all time.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn error_groups(
    function: Option<String>,
    range: Option<String>,
) -> Result<Vec<ErrorGroup>, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let since = given(range)
        .and_then(|range| crate::api::range_seconds(&range))
        .map(|seconds| chrono::Utc::now() - chrono::Duration::seconds(seconds));
    let query = platform::ErrorGroupQuery {
        function: given(function),
        since,
        limit: platform::MAX_ERROR_GROUPS,
    };
    Ok(crate::api::ssr::platform()
        .functions()
        .error_groups(&who, &query)
        .await?)
}
