//! The banner every signed-in page shows while invocation recording is
//! degraded (the last write of records failed, records wait too long, or
//! some were dropped): calls are still served, but their records are late
//! or lost. It owns its server function (the recorder's health, for any
//! signed-in user) and refreshes every few seconds; nothing shows while
//! recording is healthy.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::RecorderHealth;

use crate::error::AppError;

/// Seconds between refreshes of the recorder's health.
const REFRESH_SECS: u64 = 10;

/// How invocation recording is doing on this node.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn load_recorder_health() -> Result<RecorderHealth, AppError> {
    crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform().recorder_health())
}

/// What the banner says about `health`, or `None` while recording is fine.
fn banner_text(health: &RecorderHealth) -> Option<String> {
    if !health.degraded {
        return None;
    }
    let mut parts = Vec::new();
    if health.failing_since.is_some() {
        let error = health.last_error.as_deref().unwrap_or("unknown error");
        parts.push(format!("writing them fails ({error})"));
    }
    if health.queued > 0 {
        parts.push(format!(
            "{} waiting, the oldest for {:.0} s",
            health.queued, health.lag_secs
        ));
    }
    if health.dropped > 0 {
        parts.push(format!("{} lost since the server started", health.dropped));
    }
    Some(format!(
        "Invocation records are degraded: {}. Calls are still served; records are kept in memory and written once the database accepts them.",
        parts.join("; ")
    ))
}

/// A warning across the top of the page while recording is degraded.
#[component]
pub fn RecorderBanner() -> impl IntoView {
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_secs(REFRESH_SECS),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let health = Resource::new(move || tick.get(), |_| load_recorder_health());

    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                health
                    .await
                    .ok()
                    .as_ref()
                    .and_then(banner_text)
                    .map(|text| {
                        view! {
                            <div class="alert alert-error recorder-banner" role="alert">
                                {text}
                            </div>
                        }
                    })
            })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_speaks_only_when_degraded() {
        let mut health = RecorderHealth::default();
        assert_eq!(banner_text(&health), None);
        health.degraded = true;
        health.failing_since = Some(chrono::Utc::now());
        health.last_error = Some("database or disk is full".into());
        health.queued = 300;
        health.lag_secs = 12.4;
        let text = banner_text(&health).unwrap();
        assert!(text.contains("database or disk is full"), "{text}");
        assert!(text.contains("300 waiting, the oldest for 12 s"), "{text}");
        assert!(!text.contains("lost"), "{text}");
    }
}
