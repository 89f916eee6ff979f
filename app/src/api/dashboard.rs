//! Server functions of the overview, the function page's configuration form
//! and test-call panel, and the settings page's API tokens. Thin like the
//! rest of `api`: they check the session and call `platform`; the shapes that
//! cross the wire (and the form parsing shared by browser and server) are here.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};
use model::{ApiTokenInfo, ConfigProblem, CreatedApiToken, FunctionConfig, Overview};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::ssr;
use crate::error::AppError;

/// Most response-body bytes the test panel shows.
pub const TEST_BODY_SHOWN: usize = 64 * 1024;

/// The configuration form as typed: numbers still text, so a bad value can
/// be reported beside its field rather than refused by the encoding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigForm {
    pub memory_mb: String,
    pub timeout_ms: String,
    pub max_concurrency: String,
    /// Rows of the environment table, in screen order.
    pub env: Vec<(String, String)>,
    /// One host per row.
    pub allowed_hosts: Vec<String>,
    /// Which calls are recorded for replay (`off`, `failures`, `all`);
    /// empty: left as it is.
    #[serde(default)]
    pub capture: String,
}

impl ConfigForm {
    pub fn from_config(config: &FunctionConfig) -> Self {
        Self {
            memory_mb: config.memory_mb.to_string(),
            timeout_ms: config.timeout_ms.to_string(),
            max_concurrency: config.max_concurrency.to_string(),
            env: config
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            allowed_hosts: config.allowed_hosts.clone(),
            capture: config.capture.as_str().to_string(),
        }
    }

    /// The configuration the form describes, or every problem with it, each
    /// naming its field. Run in the browser before sending and again on the
    /// server.
    pub fn parse(&self) -> Result<FunctionConfig, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut number = |field: &str, text: &str, unit: &str| -> u64 {
            match text.trim().parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    problems.push(ConfigProblem {
                        field: field.into(),
                        message: format!("Enter a whole number of {unit}."),
                    });
                    // Stands in for the bad value so the other checks still run.
                    1
                }
            }
        };
        let memory_mb = number("memory_mb", &self.memory_mb, "MiB");
        let timeout_ms = number("timeout_ms", &self.timeout_ms, "milliseconds");
        let max_concurrency = number("max_concurrency", &self.max_concurrency, "calls");
        let capture = if self.capture.trim().is_empty() {
            model::CaptureMode::default()
        } else {
            model::CaptureMode::parse(&self.capture).unwrap_or_else(|e| {
                problems.push(ConfigProblem {
                    field: "capture".into(),
                    message: crate::format::sentence(&e.to_string()) + ".",
                });
                model::CaptureMode::default()
            })
        };
        let mut env = BTreeMap::new();
        for (key, value) in &self.env {
            let key = key.trim();
            if key.is_empty() && value.is_empty() {
                continue;
            }
            if key.is_empty() {
                problems.push(ConfigProblem {
                    field: "env".into(),
                    message: "Every environment variable needs a name.".into(),
                });
            } else if env.insert(key.to_string(), value.clone()).is_some() {
                problems.push(ConfigProblem {
                    field: "env".into(),
                    message: format!("{key} is set twice."),
                });
            }
        }
        let allowed_hosts = self
            .allowed_hosts
            .iter()
            .map(|host| host.trim().to_string())
            .filter(|host| !host.is_empty())
            .collect();
        let config = FunctionConfig {
            memory_mb: u32::try_from(memory_mb).unwrap_or(u32::MAX),
            timeout_ms,
            max_concurrency: u32::try_from(max_concurrency).unwrap_or(u32::MAX),
            env,
            allowed_hosts,
            capture,
            // Not on this form; the patch below leaves it as it is.
            ..FunctionConfig::default()
        };
        // Range and syntax rules are the platform's own (shared through
        // `model`); the numbers' messages are worded for the form's labels.
        for problem in model::config_problems(&config) {
            if problems.iter().any(|p| p.field == problem.field) {
                continue;
            }
            let message = match problem.field.as_str() {
                "memory_mb" => {
                    format!("Memory must be between 1 and {} MiB.", model::MAX_MEMORY_MB)
                }
                "timeout_ms" => format!(
                    "Timeout must be between 1 and {} ms (15 minutes).",
                    model::MAX_TIMEOUT_MS
                ),
                "max_concurrency" => format!(
                    "Max concurrency must be between 1 and {}.",
                    model::MAX_CONCURRENCY
                ),
                _ => crate::format::sentence(&problem.message) + ".",
            };
            problems.push(ConfigProblem {
                field: problem.field,
                message,
            });
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }
}

/// What saving the configuration did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ConfigSaveOutcome {
    Saved(FunctionConfig),
    /// Nothing was saved; each problem belongs beside its field.
    Invalid(Vec<ConfigProblem>),
}

/// A finished test call, as the test panel shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestInvocation {
    pub invocation_id: String,
    /// The function's HTTP status (None: it produced no response).
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8), at most [`TEST_BODY_SHOWN`] bytes of it.
    pub body: String,
    pub body_bytes: u64,
    pub body_truncated: bool,
    /// Why there is no response (trap, timeout, ...).
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// `Name: value` lines as header pairs; blank lines are skipped.
pub fn parse_header_lines(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() && !name.trim().contains(' ') => {
                Ok((name.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(format!(
                "Header line {} is not in the form `Name: value`.",
                index + 1
            )),
        })
        .collect()
}

/// The platform at a glance.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn load_overview() -> Result<Overview, AppError> {
    let who = ssr::require_user().await?;
    Ok(ssr::platform().metering().overview(&who).await?)
}

/// Saves a function's configuration through the platform's config update
/// (the same as `PATCH /api/v1/functions/{name}`).
#[server(prefix = "/rpc", input = Json)]
pub async fn save_config(name: String, form: ConfigForm) -> Result<ConfigSaveOutcome, AppError> {
    let who = ssr::require_user().await?;
    let config = match form.parse() {
        Ok(config) => config,
        Err(problems) => return Ok(ConfigSaveOutcome::Invalid(problems)),
    };
    let patch = model::FunctionConfigPatch {
        memory_mb: Some(config.memory_mb),
        timeout_ms: Some(config.timeout_ms),
        max_concurrency: Some(config.max_concurrency),
        env: Some(config.env),
        allowed_hosts: Some(config.allowed_hosts),
        application: None,
        max_outbound_calls: None,
        capture: (!form.capture.trim().is_empty()).then_some(config.capture),
        capture_sample_percent: None,
        secrets: None,
    };
    match ssr::platform()
        .functions()
        .configure(&who, &name, patch)
        .await
    {
        Ok(detail) => Ok(ConfigSaveOutcome::Saved(detail.config)),
        Err(err @ platform::PlatformError::InvalidInput { .. }) => {
            Ok(ConfigSaveOutcome::Invalid(vec![ConfigProblem {
                field: err.field().unwrap_or("form").into(),
                message: crate::format::sentence(&err.to_string()),
            }]))
        }
        Err(err) => Err(err.into()),
    }
}

/// Sets (`Some(value)`) or removes (`None`) secrets of `name`; answers the
/// names it has now. Values go one way: nothing here returns them.
#[server(prefix = "/rpc", input = Json)]
pub async fn save_secrets(
    name: String,
    changes: BTreeMap<String, Option<String>>,
) -> Result<Vec<String>, AppError> {
    let who = ssr::require_user().await?;
    let patch = model::FunctionConfigPatch {
        secrets: Some(changes),
        ..Default::default()
    };
    Ok(ssr::platform()
        .functions()
        .configure(&who, &name, patch)
        .await?
        .secrets)
}

/// Calls the live version of `name` with the given request and returns its
/// whole answer (the body cut at [`TEST_BODY_SHOWN`] bytes).
#[server(prefix = "/rpc", input = Json)]
pub async fn test_invoke(
    name: String,
    method: String,
    path: String,
    headers: String,
    body: String,
) -> Result<TestInvocation, AppError> {
    let who = ssr::require_user().await?;
    let method = http::Method::from_bytes(method.trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| AppError::InvalidInput(format!("{method:?} is not an HTTP method.")))?;
    let path = if path.trim().is_empty() {
        "/".to_string()
    } else {
        path.trim().to_string()
    };
    if !path.starts_with('/') {
        return Err(AppError::InvalidInput(
            "The path must start with '/'.".into(),
        ));
    }
    let mut request = http::Request::builder().method(method).uri(path.as_str());
    let mut has_host = false;
    for (header, value) in parse_header_lines(&headers).map_err(AppError::InvalidInput)? {
        has_host |= header.eq_ignore_ascii_case("host");
        request = request.header(header, value);
    }
    if !has_host {
        request = request.header(http::header::HOST, "localhost");
    }
    let request = request
        .body(platform::full_body(body.into_bytes()))
        .map_err(|e| AppError::InvalidInput(crate::format::sentence(&e.to_string())))?;
    let call = ssr::platform()
        .functions()
        .invoke_buffered(&who, &name, request, TEST_BODY_SHOWN)
        .await?;
    Ok(TestInvocation {
        invocation_id: call.invocation_id,
        status: call.status,
        headers: call.headers,
        body: String::from_utf8_lossy(&call.body).into_owned(),
        body_truncated: call.body_bytes > call.body.len() as u64,
        body_bytes: call.body_bytes,
        error: call.error,
        duration_ms: call.elapsed.as_secs_f64() * 1000.0,
    })
}

/// The signed-in user's active API tokens, newest first.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn list_tokens() -> Result<Vec<ApiTokenInfo>, AppError> {
    let user = ssr::require_user().await?;
    Ok(ssr::platform().access().tokens(&user).await?)
}

/// A new API token for the signed-in user; the secret is shown this once.
/// `expires`: days until it expires (the form offers 30 and 90); empty: never.
#[server(prefix = "/rpc")]
pub async fn create_token(
    name: String,
    role: Option<String>,
    expires: Option<String>,
) -> Result<CreatedApiToken, AppError> {
    let user = ssr::require_user().await?;
    let role = role.filter(|r| !r.trim().is_empty());
    let expires_in_days = match expires.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(days) => Some(days.parse::<u32>().map_err(|_| {
            AppError::InvalidInput(format!("Expiry {days:?} is not a number of days."))
        })?),
    };
    Ok(ssr::platform()
        .access()
        .create_token(&user, &name, role.as_deref(), expires_in_days)
        .await?)
}

/// Revokes one of the signed-in user's tokens.
#[server(prefix = "/rpc")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let user = ssr::require_user().await?;
    Ok(ssr::platform().access().revoke_token(&user, id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines() {
        assert_eq!(
            parse_header_lines("Content-Type: text/plain\n\nX-A:  b c ").unwrap(),
            vec![
                ("Content-Type".to_string(), "text/plain".to_string()),
                ("X-A".to_string(), "b c".to_string())
            ]
        );
        assert!(parse_header_lines("no colon here")
            .unwrap_err()
            .contains("line 1"));
    }

    #[test]
    fn config_form_reports_each_field() {
        let form = ConfigForm {
            memory_mb: "lots".into(),
            timeout_ms: "0".into(),
            max_concurrency: "10".into(),
            env: vec![
                ("A".into(), "1".into()),
                ("".into(), "".into()),
                ("A".into(), "2".into()),
            ],
            allowed_hosts: vec![" api.example.com ".into(), "".into()],
            capture: "sometimes".into(),
        };
        let problems = form.parse().unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["memory_mb", "capture", "env", "timeout_ms"]);
        let good = ConfigForm {
            memory_mb: "256".into(),
            timeout_ms: "1000".into(),
            capture: "all".into(),
            ..form
        };
        let good = ConfigForm {
            env: vec![("A".into(), "1".into())],
            ..good
        };
        let config = good.parse().unwrap();
        assert_eq!(config.memory_mb, 256);
        assert_eq!(config.allowed_hosts, ["api.example.com"]);
        assert_eq!(config.capture, model::CaptureMode::All);
    }
}
