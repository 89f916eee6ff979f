//! The Settings page's "Server" card, for server administrators: version,
//! uptime, node, data directory, database and its size, nodes up, the
//! scheduled backups on disk, and the price plan with a form for a new one
//! (from now on). Other users do not see the card.

use leptos::prelude::*;
use model::{BackupSchedule, PricePlan, ServerInfo};

use crate::{
    components::feedback::Loading,
    error::AppError,
    format,
    retention_api::{load_server_info, SavePricePlan, ServerView},
};

#[component]
pub fn ServerCard() -> impl IntoView {
    let save_plan = ServerAction::<SavePricePlan>::new();
    let data = Resource::new(move || save_plan.version().get(), |_| load_server_info());
    view! {
        <Transition fallback=|| view! { <Loading /> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(ServerView { info, plan }) => view! {
                        <section class="card" id="server" aria-labelledby="server-title">
                            <h2 id="server-title">"Server"</h2>
                            <p class="muted card-lede">"Shown to server administrators."</p>
                            <Facts info=info.clone() />
                            {info.backups.map(|backups| view! { <Backups backups /> })}
                            <PlanForm plan save_plan />
                        </section>
                    }
                        .into_any(),
                    // Not an administrator: no card.
                    Err(AppError::Forbidden(_)) => ().into_any(),
                    Err(error) => view! {
                        <div class="alert alert-error" role="alert">{error.to_string()}</div>
                    }
                        .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Facts(info: ServerInfo) -> impl IntoView {
    let uptime = {
        let s = info.uptime_secs;
        if s >= 86_400 {
            format!("{} d {} h", s / 86_400, (s % 86_400) / 3600)
        } else if s >= 3600 {
            format!("{} h {} min", s / 3600, (s % 3600) / 60)
        } else {
            format!("{} min {} s", s / 60, s % 60)
        }
    };
    let size = info
        .database_bytes
        .map(|b| format::bytes(b as i64))
        .unwrap_or_else(|| "—".to_string());
    view! {
        <dl class="facts">
            <div><dt>"Version"</dt><dd data-fact="version">{info.version}</dd></div>
            <div><dt>"Up for"</dt><dd data-fact="uptime">{uptime} <span class="muted small">" (since " {format::datetime(&info.started_at)} ")"</span></dd></div>
            <div><dt>"This node"</dt><dd class="mono">{info.node_id}</dd></div>
            <div><dt>"Nodes up"</dt><dd data-fact="nodes">{format!("{} of {}", info.nodes_up, info.nodes)}</dd></div>
            <div><dt>"Data directory"</dt><dd class="mono" data-fact="data-dir">{info.data_dir}</dd></div>
            <div><dt>"Database"</dt><dd data-fact="database">{format!("{}, {size}", info.database)}</dd></div>
            <div><dt>"Server retention"</dt><dd>{format!("{} days", info.retention_days)}</dd></div>
        </dl>
    }
}

#[component]
fn Backups(backups: BackupSchedule) -> impl IntoView {
    let every = if backups.every_secs.is_multiple_of(86_400) {
        format!("{} d", backups.every_secs / 86_400)
    } else if backups.every_secs.is_multiple_of(3600) {
        format!("{} h", backups.every_secs / 3600)
    } else {
        format!("{} s", backups.every_secs)
    };
    let files = backups
        .files
        .iter()
        .map(|f| {
            view! {
                <li><span class="mono">{f.name.clone()}</span> " · " {format::bytes(f.bytes as i64)}</li>
            }
        })
        .collect_view();
    view! {
        <h3>"Scheduled backups"</h3>
        <p class="small">
            {format!("Every {every} into ")} <code>{backups.dir.clone()}</code>
            {format!(", keeping {}.", backups.keep)}
        </p>
        {if backups.files.is_empty() {
            view! { <p class="muted small">"None written yet."</p> }.into_any()
        } else {
            view! { <ul class="small">{files}</ul> }.into_any()
        }}
    }
}

#[component]
fn PlanForm(plan: PricePlan, save_plan: ServerAction<SavePricePlan>) -> impl IntoView {
    view! {
        <h3>"Price plan"</h3>
        <p class="small muted">
            {format!("In force since {}. A new plan applies from now on; past months keep their prices.", format::datetime(&plan.effective_from))}
        </p>
        <ActionForm action=save_plan attr:class="inline-form" attr:data-form="price-plan">
            <div class="field">
                <label for="plan-currency">"Currency"</label>
                <input id="plan-currency" name="currency" type="text" value=plan.currency.clone() required=true maxlength="3" />
            </div>
            <div class="field">
                <label for="plan-requests">"Per million requests"</label>
                <input id="plan-requests" name="per_million_requests" type="text" value=plan.per_million_requests.clone() required=true />
            </div>
            <div class="field">
                <label for="plan-gbs">"Per GB-second"</label>
                <input id="plan-gbs" name="per_gb_second" type="text" value=plan.per_gb_second.clone() required=true />
            </div>
            <div class="field">
                <label for="plan-egress">"Per GB out"</label>
                <input id="plan-egress" name="per_gb_egress" type="text" value=plan.per_gb_egress.clone() required=true />
            </div>
            <div class="field">
                <label for="plan-server">"Server per month"</label>
                <input id="plan-server" name="server_monthly" type="text" value=plan.server_monthly.clone() required=true />
            </div>
            <button type="submit" class="btn" disabled=move || save_plan.pending().get()>
                {move || if save_plan.pending().get() { "Saving…" } else { "Save plan" }}
            </button>
        </ActionForm>
        {move || save_plan.value().get().and_then(Result::err).map(|error| view! {
            <div class="alert alert-error" role="alert">{error.to_string()}</div>
        })}
    }
}
