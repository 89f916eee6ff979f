//! The dashboard's server functions: thin calls into `platform::Platform`
//! (taken from the Leptos context the server provides), guarded by the
//! `wisp_session` cookie. They own no domain logic and touch no storage; the
//! bodies compile only with the `ssr` feature, the browser gets HTTP stubs.
//! The overview, configuration, test-call and token functions are in
//! [`dashboard`].

pub mod dashboard;

pub use dashboard::*;

use leptos::prelude::*;
use model::{CostReport, FunctionDetail, FunctionSummary, InvocationRecord};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Name of the session cookie the dashboard and the REST API accept.
pub const SESSION_COOKIE: &str = "wisp_session";

/// Public base URL of the function gateway (e.g. `http://127.0.0.1:8080`),
/// provided as Leptos context by the server so pages can show full URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayOrigin(pub String);

/// Everything the function page shows above the invocations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionOverview {
    pub detail: FunctionDetail,
    /// Full URL of the function on the gateway, when the gateway origin is known.
    pub gateway_url: Option<String>,
}

/// How many invocations one page of the function page lists.
pub const INVOCATIONS_PER_PAGE: u32 = 50;

/// One page of a function's invocations, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvocationPage {
    pub records: Vec<InvocationRecord>,
    /// Whether older calls match the filters (a next page exists).
    pub has_older: bool,
    /// Whether newer calls match the filters (the page is not the first).
    pub has_newer: bool,
}

/// The time ranges the invocations table offers: query value, label, length.
pub const TIME_RANGES: [(&str, &str, i64); 4] = [
    ("15m", "15 min", 15 * 60),
    ("1h", "1 hour", 60 * 60),
    ("24h", "24 hours", 24 * 60 * 60),
    ("7d", "7 days", 7 * 24 * 60 * 60),
];

/// Seconds covered by a time range query value (None: all time).
pub fn range_seconds(range: &str) -> Option<i64> {
    TIME_RANGES
        .iter()
        .find(|(value, _, _)| *value == range)
        .map(|(_, _, seconds)| *seconds)
}

/// The signed-in user's name.
#[server(prefix = "/rpc")]
pub async fn current_user() -> Result<String, AppError> {
    Ok(ssr::require_user().await?.username)
}

/// Checks the credentials, sets the session cookie and sends the browser on to
/// `next` (a local path; anything else goes to the overview).
#[server(prefix = "/rpc")]
pub async fn login(username: String, password: String, next: String) -> Result<(), AppError> {
    if username.trim().is_empty() || password.is_empty() {
        return Err(AppError::InvalidInput(
            "Enter your username and password.".into(),
        ));
    }
    let previous = ssr::session_token();
    let session = ssr::platform()
        .login(
            username.trim(),
            &password,
            ssr::client_ip(),
            previous.as_deref(),
        )
        .await
        .map_err(|err| match AppError::from(err) {
            AppError::Unauthorized | AppError::NotFound(_) => AppError::BadCredentials,
            other => other,
        })?;
    let max_age = (session.expires_at - chrono::Utc::now())
        .num_seconds()
        .max(0);
    ssr::set_session_cookie(&session.token, max_age);
    leptos_axum::redirect(&ssr::local_path_or_home(&next));
    Ok(())
}

/// Ends the session (server side and cookie) and goes back to the sign-in page.
#[server(prefix = "/rpc")]
pub async fn logout() -> Result<(), AppError> {
    if let Some(token) = ssr::session_token() {
        // An unknown or expired token is as good as logged out.
        if let Err(err) = ssr::platform().logout(&token).await {
            if err.code() != "unauthorized" && err.code() != "not_found" {
                return Err(err.into());
            }
        }
    }
    ssr::set_session_cookie("", 0);
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/rpc")]
pub async fn list_functions() -> Result<Vec<FunctionSummary>, AppError> {
    let who = ssr::require_user().await?;
    Ok(ssr::platform().list_functions(who.team_id).await?)
}

#[server(prefix = "/rpc")]
pub async fn load_function(name: String) -> Result<FunctionOverview, AppError> {
    let who = ssr::require_user().await?;
    ssr::platform()
        .authorize_function(&who, &name, platform::Role::Viewer)
        .await?;
    let detail = ssr::platform().function_detail(&name).await?;
    let gateway_url = use_context::<GatewayOrigin>()
        .map(|origin| format!("{}{}", origin.0.trim_end_matches('/'), detail.gateway_path));
    Ok(FunctionOverview {
        detail,
        gateway_url,
    })
}

/// One page of a function's invocations, newest first. `status` is
/// `success`, `error` or empty for all; `range` one of [`TIME_RANGES`] or
/// empty for all time; `before` / `after` an invocation id to page from.
#[server(prefix = "/rpc")]
pub async fn list_invocations(
    name: String,
    status: Option<String>,
    range: Option<String>,
    before: Option<String>,
    after: Option<String>,
) -> Result<InvocationPage, AppError> {
    let who = ssr::require_user().await?;
    ssr::platform()
        .authorize_function(&who, &name, platform::Role::Viewer)
        .await?;
    let non_empty = |value: Option<String>| value.filter(|v| !v.is_empty());
    let before = non_empty(before);
    let after = non_empty(after);
    let since = non_empty(range)
        .and_then(|range| range_seconds(&range))
        .map(|seconds| chrono::Utc::now() - chrono::Duration::seconds(seconds));
    let query = platform::InvocationQuery {
        // One more than shown tells whether another page exists.
        limit: INVOCATIONS_PER_PAGE + 1,
        status: non_empty(status),
        since,
        until: None,
        before: before.clone(),
        after: after.clone(),
    };
    let mut records = ssr::platform().list_invocations(&name, query).await?;
    let more = records.len() > INVOCATIONS_PER_PAGE as usize;
    let (has_older, has_newer) = if after.is_some() {
        // Read upwards from the cursor: the extra row is the newest one.
        if more {
            records.remove(0);
        }
        (true, more)
    } else {
        records.truncate(INVOCATIONS_PER_PAGE as usize);
        (more, before.is_some())
    };
    Ok(InvocationPage {
        records,
        has_older,
        has_newer,
    })
}

#[server(prefix = "/rpc")]
pub async fn invocation(id: String) -> Result<InvocationRecord, AppError> {
    let who = ssr::require_user().await?;
    Ok(ssr::platform().invocation_for(&who, &id).await?)
}

/// Points the `live` alias of `name` at `version` (rollback or roll forward).
#[server(prefix = "/rpc")]
pub async fn activate_version(name: String, version: i64) -> Result<FunctionDetail, AppError> {
    let who = ssr::require_user().await?;
    ssr::platform()
        .authorize_function(&who, &name, platform::Role::Developer)
        .await?;
    Ok(ssr::platform().set_alias(&name, version).await?)
}

/// The cost report of `month` (`YYYY-MM`, UTC; empty or none: this month).
#[server(prefix = "/rpc")]
pub async fn month_costs(month: Option<String>) -> Result<CostReport, AppError> {
    let who = ssr::require_user().await?;
    let month = month.filter(|m| !m.trim().is_empty());
    Ok(ssr::platform()
        .cost_report(who.team_id, month.as_deref())
        .await?)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    //! Request plumbing shared by the server functions: the platform handle,
    //! the session cookie in and out.

    use http::{header, request::Parts, HeaderValue};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;

    use super::SESSION_COOKIE;
    use crate::error::AppError;

    pub fn platform() -> platform::Platform {
        expect_context::<platform::Platform>()
    }

    /// The session token from the request's `Cookie` header, if any.
    pub fn session_token() -> Option<String> {
        let parts = use_context::<Parts>()?;
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE)
            .map(|(_, token)| token.to_string())
            .filter(|token| !token.is_empty())
    }

    /// The client's address (sign-in rate limiting), when the server was
    /// started with connection info.
    pub fn client_ip() -> Option<std::net::IpAddr> {
        let parts = use_context::<Parts>()?;
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip())
    }

    /// The signed-in user, or [`AppError::Unauthorized`].
    pub async fn require_user() -> Result<platform::Principal, AppError> {
        let token = session_token().ok_or(AppError::Unauthorized)?;
        platform()
            .session_user(&token)
            .await
            .map_err(|err| match AppError::from(err) {
                AppError::NotFound(_) => AppError::Unauthorized,
                other => other,
            })
    }

    /// Sets (or, with `max_age` 0, clears) the HttpOnly session cookie.
    pub fn set_session_cookie(token: &str, max_age: i64) {
        let cookie = format!(
            "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}"
        );
        if let (Some(response), Ok(value)) = (
            use_context::<ResponseOptions>(),
            HeaderValue::from_str(&cookie),
        ) {
            response.append_header(header::SET_COOKIE, value);
        }
    }

    /// `next` when it is a path on this site, else the overview: never
    /// an open redirect to another origin.
    pub fn local_path_or_home(next: &str) -> String {
        let local = next.starts_with('/')
            && !next.starts_with("//")
            && !next.contains('\\')
            && !next.starts_with("/login");
        if local {
            next.to_string()
        } else {
            "/".to_string()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::local_path_or_home;

        #[test]
        fn next_stays_on_site() {
            assert_eq!(local_path_or_home("/functions/hello"), "/functions/hello");
            assert_eq!(
                local_path_or_home("/invocations/1?x=2"),
                "/invocations/1?x=2"
            );
            for outside in [
                "",
                "https://evil.example",
                "//evil.example",
                "/\\evil",
                "/login",
            ] {
                assert_eq!(local_path_or_home(outside), "/", "{outside:?}");
            }
        }
    }
}
