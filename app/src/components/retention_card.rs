//! The Settings page's "Data retention" card: how long the team's history
//! is kept, the oldest record, the database size and the last pruning pass;
//! a form for the team's period (owners) and one for the server's
//! (administrators). Everyone else sees the values only.

use leptos::prelude::*;
use model::RetentionStatus;

use crate::{
    components::feedback::{ErrorPanel, Loading},
    format,
    retention_api::{load_retention, RetentionView, SaveServerRetention, SaveTeamRetention},
};

#[component]
pub fn RetentionCard() -> impl IntoView {
    let save_team = ServerAction::<SaveTeamRetention>::new();
    let save_server = ServerAction::<SaveServerRetention>::new();
    let view_data = Resource::new(
        move || (save_team.version().get(), save_server.version().get()),
        |_| load_retention(),
    );
    view! {
        <section class="card" id="retention" aria-labelledby="retention-title">
            <h2 id="retention-title">"Data retention"</h2>
            <p class="muted card-lede">
                "Invocations and their logs, outbound calls, replay captures and events older than the period are removed in small batches in the background. Hourly cost totals (so old months' reports stay exact) and dead letters are kept."
            </p>
            <Transition fallback=|| view! { <Loading /> }>
                {move || Suspend::new(async move {
                    match view_data.await {
                        Ok(data) => view! { <RetentionBody data save_team save_server /> }.into_any(),
                        Err(error) => view! { <ErrorPanel error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RetentionBody(
    data: RetentionView,
    save_team: ServerAction<SaveTeamRetention>,
    save_server: ServerAction<SaveServerRetention>,
) -> impl IntoView {
    let RetentionView {
        status,
        owner,
        admin,
    } = data;
    let team_value = status.team_days.map(|d| d.to_string()).unwrap_or_default();
    let team_form = owner.then(|| {
        view! {
            <ActionForm action=save_team attr:class="inline-form" attr:data-form="team-retention">
                <div class="field">
                    <label for="team-retention">"Team's period (days)"</label>
                    <input id="team-retention" name="days" type="number" min="1" max="3650"
                        value=team_value placeholder=format!("server default: {}", status.server_days) />
                </div>
                <button type="submit" class="btn" disabled=move || save_team.pending().get()>
                    {move || if save_team.pending().get() { "Saving…" } else { "Save" }}
                </button>
            </ActionForm>
            <p class="small muted">"Leave empty to use the server's default."</p>
            <ActionError action=save_team />
        }
    });
    let server_form = admin.then(|| {
        view! {
            <ActionForm action=save_server attr:class="inline-form" attr:data-form="server-retention">
                <div class="field">
                    <label for="server-retention">"Server default (days, administrators)"</label>
                    <input id="server-retention" name="days" type="number" min="1" max="3650"
                        value=status.server_days.to_string() required=true />
                </div>
                <button type="submit" class="btn" disabled=move || save_server.pending().get()>
                    {move || if save_server.pending().get() { "Saving…" } else { "Save" }}
                </button>
            </ActionForm>
            <ActionError action=save_server />
        }
    });
    view! {
        <StorageFacts status last_pass=true />
        {team_form}
        {server_form}
    }
}

/// How long history is kept, the oldest record, the database size and
/// (with `last_pass`) the last pruning: the retention card's and the
/// Overview's storage figures.
#[component]
pub fn StorageFacts(status: RetentionStatus, #[prop(optional)] last_pass: bool) -> impl IntoView {
    let whose = if status.team_days.is_some() {
        "set by the team"
    } else {
        "the server's default"
    };
    let oldest = status
        .oldest_record_at
        .map(|at| format::datetime(&at))
        .unwrap_or_else(|| "none yet".to_string());
    let size = status
        .database_bytes
        .map(|b| format::bytes(b as i64))
        .unwrap_or_else(|| "—".to_string());
    let pass_text = status
        .last_pass
        .map(|p| {
            format!(
                "{}: {} invocations, {} events, {} captures removed",
                format::datetime(&p.finished_at),
                format::count(p.invocations as i64),
                format::count(p.events as i64),
                format::count(p.captures as i64),
            )
        })
        .unwrap_or_else(|| "not yet since this server started".to_string());
    view! {
        <dl class="facts">
            <div>
                <dt>"History kept"</dt>
                <dd data-fact="retention">{format!("{} days", status.days)} <span class="muted small">" (" {whose} ")"</span></dd>
            </div>
            <div>
                <dt>"Oldest record kept"</dt>
                <dd data-fact="oldest-record">{oldest}</dd>
            </div>
            <div>
                <dt>"Database size"</dt>
                <dd data-fact="database-size">{size}</dd>
            </div>
            {last_pass.then(|| view! {
                <div>
                    <dt>"Last pruning"</dt>
                    <dd data-fact="last-pass">{pass_text}</dd>
                </div>
            })}
        </dl>
    }
}

/// The error of an action's last run, if it failed.
#[component]
fn ActionError<A>(action: ServerAction<A>) -> impl IntoView
where
    A: leptos::server_fn::ServerFn + Clone + Send + Sync + 'static,
    A::Output: Clone + Send + Sync + 'static,
    A::Error: Clone + Send + Sync + std::fmt::Display + 'static,
{
    move || {
        action.value().get().and_then(Result::err).map(|error| {
            view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }
        })
    }
}
