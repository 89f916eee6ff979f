//! `/alerts`: the team's alert rules — which fire now (red, first), their
//! metric, threshold, last value and scope — a form to create one (its
//! webhook signing secret shown once), deleting one,
//! and the history of firing and resolved events with what became of each
//! webhook notification.

use leptos::prelude::*;
use leptos_meta::Title;
use model::{AlertEvent, AlertMetric, AlertRule, AlertState, CreatedAlertRule};

use crate::{
    alerts_api::{load_alerts, AlertsView, CreateAlert, DeleteAlert},
    components::feedback::{ErrorList, ErrorPanel, Loading},
    format,
};

#[component]
pub fn AlertsPage() -> impl IntoView {
    let create = ServerAction::<CreateAlert>::new();
    let delete = ServerAction::<DeleteAlert>::new();
    let data = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| load_alerts(),
    );
    view! {
        <Title text="Alerts · Wisp" />
        <div class="page-head">
            <div>
                <h1>"Alerts"</h1>
                <p class="lede">
                    "Rules on error rate, p95 duration, dead letters, queue age and the month's projected cost. A rule fires when its value goes above the threshold; each change is recorded and sent to its webhook, signed (HMAC-SHA256)."
                </p>
            </div>
        </div>
        <div class="split">
            <section class="card card-flush" aria-labelledby="rules-title">
                <div class="card-head">
                    <h2 id="rules-title">"Rules"</h2>
                </div>
                <Transition fallback=|| view! { <Loading /> }>
                    <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                        {move || Suspend::new(async move {
                            match data.await {
                                Ok(AlertsView { rules, .. }) => view! { <RuleTable rules delete /> }.into_any(),
                                Err(error) => view! { <div class="card-body"><ErrorPanel error /></div> }.into_any(),
                            }
                        })}
                    </ErrorBoundary>
                </Transition>
            </section>
            <aside class="card" aria-labelledby="new-alert-title">
                <h2 id="new-alert-title">"Create a rule"</h2>
                <NewRuleForm create />
            </aside>
        </div>
        <section class="card card-flush" aria-labelledby="history-title">
            <div class="card-head">
                <h2 id="history-title">"History"</h2>
            </div>
            <Transition fallback=|| view! { <Loading /> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(AlertsView { history, .. }) => view! { <HistoryTable history /> }.into_any(),
                        Err(error) => view! { <div class="card-body"><ErrorPanel error /></div> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn NewRuleForm(create: ServerAction<CreateAlert>) -> impl IntoView {
    let metrics = AlertMetric::ALL
        .into_iter()
        .map(|m| view! { <option value=m.as_str()>{format!("{} ({})", m.as_str(), m.unit())}</option> })
        .collect_view();
    view! {
        <ActionForm action=create attr:class="token-form" attr:data-form="new-alert">
            <div class="field">
                <label for="alert-name">"Name"</label>
                <input id="alert-name" name="name" type="text" required=true maxlength="100" placeholder="checkout-errors" autocomplete="off" />
            </div>
            <div class="field">
                <label for="alert-metric">"Metric"</label>
                <select id="alert-metric" name="metric">{metrics}</select>
            </div>
            <div class="field">
                <label for="alert-threshold">"Fires above"</label>
                <input id="alert-threshold" name="threshold" type="text" inputmode="decimal" required=true placeholder="10" />
            </div>
            <div class="field">
                <label for="alert-scope">"Watch"</label>
                <select id="alert-scope" name="scope">
                    <option value="team">"every function of the team"</option>
                    <option value="function">"one function"</option>
                    <option value="application">"one application"</option>
                </select>
            </div>
            <div class="field">
                <label for="alert-target">"Function or application name"</label>
                <input id="alert-target" name="target" type="text" autocomplete="off" />
            </div>
            <div class="field">
                <label for="alert-window">"Window (minutes, error rate and p95)"</label>
                <input id="alert-window" name="window_minutes" type="text" inputmode="numeric" placeholder="5" />
            </div>
            <div class="field">
                <label for="alert-webhook">"Webhook URL (optional)"</label>
                <input id="alert-webhook" name="webhook_url" type="text" placeholder="https://hooks.example.com/wisp" autocomplete="off" />
            </div>
            <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>
                {move || if create.pending().get() { "Creating…" } else { "Create rule" }}
            </button>
        </ActionForm>
        {move || match create.value().get() {
            Some(Ok(created)) => view! { <CreatedRule created /> }.into_any(),
            Some(Err(error)) => view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }.into_any(),
            None => ().into_any(),
        }}
    }
}

/// A rule just created, with its signing secret (shown once).
#[component]
fn CreatedRule(created: CreatedAlertRule) -> impl IntoView {
    view! {
        <div class="alert alert-success new-token" role="status">
            <p>
                <strong>"Rule “" {created.rule.name.clone()} "” created."</strong>
                " Its webhook signing secret is shown only this once:"
            </p>
            <div class="token-copy">
                <label class="visually-hidden" for="new-alert-secret">"Webhook signing secret"</label>
                <input id="new-alert-secret" class="mono" type="text" readonly=true value=created.webhook_secret.clone() />
            </div>
        </div>
    }
}

#[component]
fn RuleTable(rules: Vec<AlertRule>, delete: ServerAction<DeleteAlert>) -> impl IntoView {
    if rules.is_empty() {
        return view! {
            <div class="empty empty-compact">
                <p>"No alert rules yet. Create one to hear about failures, slow calls, stuck queues or a budget running out."</p>
            </div>
        }
        .into_any();
    }
    let rows = rules
        .into_iter()
        .map(|rule| {
            let firing = rule.state == AlertState::Firing;
            let id = rule.id.clone();
            let label = rule.name.clone();
            let last = rule
                .last_value
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "—".to_string());
            let since = rule
                .since
                .filter(|_| firing)
                .map(|at| format!("since {}", format::datetime(&at)))
                .unwrap_or_default();
            view! {
                <tr data-alert=rule.name.clone() data-state=if firing { "firing" } else { "ok" }>
                    <th scope="row">
                        {rule.name.clone()}
                        <div class="muted small">{rule.scope()}</div>
                    </th>
                    <td>
                        <span class=if firing { "badge badge-error" } else { "badge badge-success" }>
                            {if firing { "firing" } else { "ok" }}
                        </span>
                        <div class="muted small">{since}</div>
                    </td>
                    <td class="mono">{rule.metric.as_str()}</td>
                    <td class="num">{rule.threshold.to_string()}</td>
                    <td class="num">{last}</td>
                    <td class="actions">
                        <button
                            type="button"
                            class="btn btn-small"
                            aria-label=format!("Delete alert {label}")
                            on:click=move |_| {
                                delete.dispatch(DeleteAlert { id: id.clone() });
                            }
                        >
                            "Delete"
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table alert-table">
                <thead>
                    <tr>
                        <th scope="col">"Rule"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Metric"</th>
                        <th scope="col" class="num">"Above"</th>
                        <th scope="col" class="num">"Last value"</th>
                        <th scope="col" class="actions"><span class="visually-hidden">"Delete"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn HistoryTable(history: Vec<AlertEvent>) -> impl IntoView {
    if history.is_empty() {
        return view! {
            <div class="empty empty-compact"><p>"No alert has fired yet."</p></div>
        }
        .into_any();
    }
    let rows = history
        .into_iter()
        .map(|e| {
            let firing = e.state == "firing";
            view! {
                <tr data-event=e.state.clone()>
                    <td>{format::datetime(&e.at)}</td>
                    <th scope="row">{e.rule_name.clone()}</th>
                    <td>
                        <span class=if firing { "badge badge-error" } else { "badge badge-success" }>{e.state.clone()}</span>
                    </td>
                    <td class="num">{format!("{:.2}", e.value)}</td>
                    <td class="num">{e.threshold.to_string()}</td>
                    <td>{e.delivery.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"At (UTC)"</th>
                        <th scope="col">"Rule"</th>
                        <th scope="col">"State"</th>
                        <th scope="col" class="num">"Value"</th>
                        <th scope="col" class="num">"Threshold"</th>
                        <th scope="col">"Webhook"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
