//! The dashboard's server functions: thin calls into `platform::Platform`
//! (taken from the Leptos context the server provides), guarded by the
//! `wisp_session` cookie. They own no domain logic and touch no storage; the
//! bodies compile only with the `ssr` feature, the browser gets HTTP stubs.
//! The overview, configuration, test-call and token functions are in
//! [`dashboard`].

pub mod dashboard;
#[cfg(feature = "ssr")]
pub mod door;

pub use dashboard::*;

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::{CostReport, FunctionDetail, FunctionListPage, FunctionSummary, InvocationRecord};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The dashboard's session cookie, as the dashboard and the REST API set and
/// read it: `wisp_session` over plain http; `__Host-wisp_session` with
/// `Secure` when the dashboard's public URL is https (a `__Host-` cookie is
/// bound to this exact host, so a sibling subdomain cannot plant one). The
/// server provides it as Leptos context; the default is plain http.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionCookie {
    /// Whether the dashboard is served over https.
    pub secure: bool,
}

impl SessionCookie {
    /// The cookie's name over plain http.
    pub const PLAIN: &'static str = "wisp_session";
    /// The cookie's name behind https.
    pub const HOST_ONLY: &'static str = "__Host-wisp_session";

    /// The cookie for a dashboard reached at `public_url` (none: plain http).
    pub fn for_public_url(public_url: Option<&str>) -> Self {
        Self {
            secure: public_url.is_some_and(|url| {
                url.trim()
                    .get(..8)
                    .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
            }),
        }
    }

    /// The name this server sets and reads.
    pub fn name(self) -> &'static str {
        if self.secure {
            Self::HOST_ONLY
        } else {
            Self::PLAIN
        }
    }

    /// The `Set-Cookie` value that stores `token` for `max_age` seconds (0: clears it).
    pub fn set_cookie(self, token: &str, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}",
            self.name()
        )
    }

    /// The session token in a request's `Cookie` headers, if present and not empty.
    pub fn token_in(self, headers: &http::HeaderMap) -> Option<&str> {
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == self.name())
            .map(|(_, token)| token)
            .filter(|token| !token.is_empty())
    }

    /// Whether a cookie of this name is one of Wisp's (either spelling):
    /// the gateway removes these before a function sees the request.
    pub fn is_wisp_cookie(name: &[u8]) -> bool {
        name == Self::PLAIN.as_bytes() || name == Self::HOST_ONLY.as_bytes()
    }
}

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
#[server(prefix = "/rpc", input = GetUrl)]
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
    let cookie = ssr::sign_in(&username, &password).await.map_err(|err| {
        let status = match err.status() {
            429 => http::StatusCode::TOO_MANY_REQUESTS,
            401 | 404 => http::StatusCode::UNAUTHORIZED,
            _ => http::StatusCode::INTERNAL_SERVER_ERROR,
        };
        ssr::set_error_status(status);
        match AppError::from(err) {
            AppError::Unauthorized | AppError::NotFound(_) => AppError::BadCredentials,
            other => other,
        }
    })?;
    ssr::set_cookie(cookie);
    leptos_axum::redirect(&ssr::local_path_or_home(&next));
    Ok(())
}

/// Ends the session (server side and cookie) and goes back to the sign-in page.
#[server(prefix = "/rpc")]
pub async fn logout() -> Result<(), AppError> {
    ssr::set_cookie(ssr::sign_out().await?);
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/rpc", input = GetUrl)]
pub async fn list_functions() -> Result<Vec<FunctionSummary>, AppError> {
    let who = ssr::require_user().await?;
    Ok(ssr::platform().functions().list(&who).await?)
}

/// Functions per page of the /functions list.
pub const FUNCTIONS_PER_PAGE: u32 = 100;

/// A page of [`FUNCTIONS_PER_PAGE`] functions by name: those whose name
/// contains `search`, after the name `after`.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn list_function_page(
    search: Option<String>,
    after: Option<String>,
) -> Result<FunctionListPage, AppError> {
    let who = ssr::require_user().await?;
    let query = model::FunctionListQuery {
        limit: Some(FUNCTIONS_PER_PAGE),
        after,
        search,
    };
    Ok(ssr::platform().functions().page(&who, &query).await?)
}

#[server(prefix = "/rpc", input = GetUrl)]
pub async fn load_function(name: String) -> Result<FunctionOverview, AppError> {
    let who = ssr::require_user().await?;
    let detail = ssr::platform().functions().detail(&who, &name).await?;
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
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn list_invocations(
    name: String,
    status: Option<String>,
    range: Option<String>,
    before: Option<String>,
    after: Option<String>,
) -> Result<InvocationPage, AppError> {
    let who = ssr::require_user().await?;
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
    let mut records = ssr::platform()
        .functions()
        .invocations(&who, &name, query)
        .await?;
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

#[server(prefix = "/rpc", input = GetUrl)]
pub async fn invocation(id: String) -> Result<InvocationRecord, AppError> {
    let who = ssr::require_user().await?;
    Ok(ssr::platform().functions().invocation(&who, &id).await?)
}

/// Points the `live` alias of `name` at `version` (rollback or roll forward).
#[server(prefix = "/rpc")]
pub async fn activate_version(name: String, version: i64) -> Result<FunctionDetail, AppError> {
    let who = ssr::require_user().await?;
    Ok(ssr::platform()
        .functions()
        .set_alias(&who, &name, version)
        .await?)
}

/// The cost report of `month` (`YYYY-MM`, UTC; empty or none: this month),
/// of the whole team or of one `application`.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn month_costs(
    month: Option<String>,
    application: Option<String>,
) -> Result<CostReport, AppError> {
    let who = ssr::require_user().await?;
    let month = month.filter(|m| !m.trim().is_empty());
    let platform = ssr::platform();
    let metering = platform.metering();
    Ok(match application.filter(|a| !a.trim().is_empty()) {
        Some(app) => {
            metering
                .application_cost_report(&who, month.as_deref(), &app)
                .await?
        }
        None => metering.cost_report(&who, month.as_deref()).await?,
    })
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    //! Request plumbing shared by the server functions: the platform handle,
    //! the session cookie in and out.

    use http::{header, request::Parts, HeaderValue};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;

    use super::SessionCookie;
    use crate::error::AppError;

    pub fn platform() -> platform::Platform {
        expect_context::<platform::Platform>()
    }

    /// The session cookie as this server names it (see [`SessionCookie`]).
    pub fn session_cookie() -> SessionCookie {
        use_context::<SessionCookie>().unwrap_or_default()
    }

    /// The session token from the request's `Cookie` header, if any.
    pub fn session_token() -> Option<String> {
        let parts = use_context::<Parts>()?;
        session_cookie()
            .token_in(&parts.headers)
            .map(str::to_string)
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

    /// The signed-in user, or [`AppError::Unauthorized`] (see
    /// [`super::door::authenticate`]: the same check as the REST API's).
    pub async fn require_user() -> Result<platform::Principal, AppError> {
        let parts = use_context::<Parts>().ok_or(AppError::Unauthorized)?;
        super::door::authenticate(
            &platform(),
            session_cookie(),
            super::door::Door::Dashboard,
            &parts.method,
            &parts.headers,
        )
        .await
        .map_err(|refusal| match refusal {
            super::door::Refusal::Unauthorized => AppError::Unauthorized,
            super::door::Refusal::Csrf => AppError::Forbidden(refusal.message().into()),
        })
    }

    /// Signs in (see [`super::door::sign_in`]); answers the session cookie to set.
    pub async fn sign_in(
        username: &str,
        password: &str,
    ) -> Result<HeaderValue, platform::PlatformError> {
        let headers = use_context::<Parts>()
            .map(|parts| parts.headers)
            .unwrap_or_default();
        super::door::sign_in(
            &platform(),
            session_cookie(),
            &headers,
            client_ip(),
            username,
            password,
        )
        .await
    }

    /// Signs out (see [`super::door::sign_out`]); answers the cookie that clears the session.
    pub async fn sign_out() -> Result<HeaderValue, AppError> {
        let headers = use_context::<Parts>()
            .map(|parts| parts.headers)
            .unwrap_or_default();
        Ok(super::door::sign_out(&platform(), session_cookie(), &headers).await?)
    }

    /// The status of a failed call made by the hydrated page (which reads
    /// the error from the body whatever the status). A plain HTML form
    /// post keeps server_fn's redirect back to the form, which carries the
    /// error in its URL: a 4xx there would stop the browser on a blank page.
    pub fn set_error_status(status: http::StatusCode) {
        let accepts_html = use_context::<Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
        });
        if let (false, Some(response)) = (accepts_html, use_context::<ResponseOptions>()) {
            response.set_status(status);
        }
    }

    /// Adds a `Set-Cookie` header to the server function's response.
    pub fn set_cookie(cookie: HeaderValue) {
        if let Some(response) = use_context::<ResponseOptions>() {
            response.append_header(header::SET_COOKIE, cookie);
        }
    }

    /// `next` when it is a path on this site, else the overview: never
    /// an open redirect to another origin, and never a value that cannot be
    /// a `Location` header. Only visible ASCII is kept: browsers drop tabs
    /// and newlines from URLs, so `/\t/evil.example` would otherwise
    /// become the scheme-relative `//evil.example`, and a newline would
    /// not fit in a header at all.
    pub fn local_path_or_home(next: &str) -> String {
        let local = next.starts_with('/')
            && next.bytes().all(|b| b.is_ascii_graphic())
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
                "/\t/evil.example",
                "/\n/evil.example",
                "/\r\n/evil.example",
                "/ /evil.example",
                "/\u{7f}/x",
                "/caf\u{e9}",
            ] {
                assert_eq!(local_path_or_home(outside), "/", "{outside:?}");
            }
        }
    }
}
