//! Server functions of the event pages (triggers, dead letters, key-value
//! store, topology): thin calls into `platform::Platform` behind the session
//! check. Form-friendly: every argument is a plain string, so the forms also
//! work before hydration.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::{Job, KvEntry, Topology, Trigger, TriggerSpec};

use crate::error::AppError;

/// Every trigger.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn list_triggers() -> Result<Vec<Trigger>, AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform().triggers().list(&who).await?)
}

/// Names of all functions (for the trigger form's picker).
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn function_names() -> Result<Vec<String>, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let list = crate::api::ssr::platform().functions().list(&who).await?;
    Ok(list.into_iter().map(|f| f.name).collect())
}

/// The trigger a form describes (fields of other kinds are ignored).
#[allow(clippy::too_many_arguments)]
pub fn spec_from_form(
    kind: &str,
    route: &str,
    methods: &str,
    schedule: &str,
    timezone: &str,
    topic: &str,
    url: &str,
    subject: &str,
    stream: &str,
    group: &str,
) -> Result<TriggerSpec, AppError> {
    let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(match kind {
        "http" => TriggerSpec::Http {
            route: route.trim().to_string(),
            methods: methods
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
        },
        "cron" => TriggerSpec::Cron {
            schedule: schedule.trim().to_string(),
            timezone: opt(timezone).unwrap_or_else(|| "UTC".into()),
        },
        "topic" => TriggerSpec::Topic {
            topic: topic.trim().to_string(),
        },
        "nats" => TriggerSpec::Nats {
            url: url.trim().to_string(),
            subject: subject.trim().to_string(),
            stream: opt(stream),
        },
        "redis" => TriggerSpec::Redis {
            url: url.trim().to_string(),
            stream: stream.trim().to_string(),
            group: opt(group),
        },
        "mqtt" => TriggerSpec::Mqtt {
            url: url.trim().to_string(),
            topic: topic.trim().to_string(),
        },
        other => {
            return Err(AppError::InvalidInput(format!(
                "unknown trigger kind {other:?}"
            )))
        }
    })
}

/// Creates a trigger (`id` empty) or replaces trigger `id` from the form's fields.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/rpc")]
pub async fn save_trigger(
    #[server(default)] id: String,
    kind: String,
    function: String,
    #[server(default)] route: String,
    #[server(default)] methods: String,
    #[server(default)] schedule: String,
    #[server(default)] timezone: String,
    #[server(default)] topic: String,
    #[server(default)] url: String,
    #[server(default)] subject: String,
    #[server(default)] stream: String,
    #[server(default)] group: String,
) -> Result<Trigger, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let spec = spec_from_form(
        &kind, &route, &methods, &schedule, &timezone, &topic, &url, &subject, &stream, &group,
    )?;
    let new = model::NewTrigger {
        function,
        spec,
        max_attempts: None,
    };
    let id = Some(id.trim()).filter(|id| !id.is_empty());
    Ok(crate::api::ssr::platform()
        .triggers()
        .save(&who, id, new)
        .await?)
}

/// Deletes a trigger.
#[server(prefix = "/rpc")]
pub async fn delete_trigger(id: String) -> Result<(), AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform()
        .triggers()
        .delete(&who, &id)
        .await?)
}

/// The next five fire times of a schedule (the form's preview).
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn cron_preview(
    schedule: String,
    timezone: String,
) -> Result<Vec<DateTime<Utc>>, AppError> {
    crate::api::ssr::require_user().await?;
    let tz = if timezone.trim().is_empty() {
        "UTC".to_string()
    } else {
        timezone
    };
    Ok(crate::api::ssr::platform()
        .cron_preview(&schedule, &tz, 5)?
        .next)
}

/// Async work that failed every attempt.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn dead_letters() -> Result<Vec<Job>, AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform()
        .events()
        .dead_letters(&who, None, 200)
        .await?)
}

/// Sends a dead letter back to the queue.
#[server(prefix = "/rpc")]
pub async fn redrive_job(id: String) -> Result<Job, AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform()
        .events()
        .redrive(&who, &id)
        .await?)
}

/// The form's application, or the default one when left empty.
#[cfg(feature = "ssr")]
fn application_or_default(application: String) -> String {
    if application.trim().is_empty() {
        model::DEFAULT_APPLICATION.to_string()
    } else {
        application
    }
}

/// Key-value entries of an application by prefix.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn kv_entries(application: String, prefix: String) -> Result<Vec<KvEntry>, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let app = application_or_default(application);
    Ok(crate::api::ssr::platform()
        .events()
        .kv_list(&who, &app, &prefix, 200)
        .await?)
}

/// Sets a key (the value as text).
#[server(prefix = "/rpc")]
pub async fn kv_set(application: String, key: String, value: String) -> Result<(), AppError> {
    let who = crate::api::ssr::require_user().await?;
    let app = application_or_default(application);
    Ok(crate::api::ssr::platform()
        .events()
        .kv_put(
            &who,
            &app,
            key.trim(),
            value.as_bytes(),
            Some("text/plain; charset=utf-8"),
        )
        .await?)
}

/// Deletes a key.
#[server(prefix = "/rpc")]
pub async fn kv_remove(application: String, key: String) -> Result<(), AppError> {
    let who = crate::api::ssr::require_user().await?;
    let app = application_or_default(application);
    Ok(crate::api::ssr::platform()
        .events()
        .kv_delete(&who, &app, &key)
        .await?)
}

/// The graph and its drawing (SVG, laid out on the server).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TopologyView {
    pub topology: Topology,
    pub svg: String,
}

/// The graph of the last `window` (`15m`, `1h`, `24h`, `7d`), laid out and
/// drawn: the team's, or one `application`'s.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn load_topology(
    window: String,
    application: Option<String>,
) -> Result<TopologyView, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let platform = crate::api::ssr::platform();
    let span = match window.as_str() {
        "15m" => chrono::Duration::minutes(15),
        "24h" => chrono::Duration::hours(24),
        "7d" => chrono::Duration::days(7),
        _ => chrono::Duration::hours(1),
    };
    let until = platform.now();
    let metering = platform.metering();
    let mut graph = match application.filter(|a| !a.is_empty()) {
        Some(app) => {
            metering
                .application_topology(&who, until - span, until, &app)
                .await?
        }
        None => metering.topology(&who, until - span, until).await?,
    };
    graph.layout = Some(render::topology_layout(&graph));
    let svg = render::topology_svg(&graph, "");
    Ok(TopologyView {
        topology: graph,
        svg,
    })
}
