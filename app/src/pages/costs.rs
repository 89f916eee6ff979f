//! `/costs?month=YYYY-MM`: what a month of serverless work cost, per function
//! and per day, beside the previous month, the month-end projection and an
//! always-on server. The platform prices everything (`Platform::cost_report`);
//! this page only lays the report out, and sorts the table in the browser.

use chrono::{Months, NaiveDate};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use model::{ApplicationCost, CostReport, FunctionCost, ServerComparison, UsageCost};

use crate::{
    api::month_costs,
    components::{
        cost_chart::{function_colours, CostChart},
        feedback::{ErrorList, ErrorPanel, Loading},
        sortable::{sort_rows, SortHeader, SortState, SortValue},
    },
    format::{self, amount, count, money},
};

#[component]
pub fn CostsPage() -> impl IntoView {
    let query = use_query_map();
    let month = Memo::new(move |_| query.read().get("month").filter(|m| !m.is_empty()));
    let application = Memo::new(move |_| query.read().get("application").filter(|a| !a.is_empty()));
    let report = Resource::new(
        move || (month.get(), application.get()),
        |(month, application)| month_costs(month, application),
    );

    view! {
        <Title text="Costs · Wisp" />
        <Transition fallback=|| view! { <Loading /> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(report) => view! { <MonthReport report /> }.into_any(),
                        Err(error) => {
                            view! {
                                <div class="page-head">
                                    <h1>"Costs"</h1>
                                </div>
                                <ErrorPanel error />
                                <p>
                                    <a href="/costs">"Show this month"</a>
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </ErrorBoundary>
        </Transition>
    }
    .into_any()
}

/// `2026-11` → `November 2026` (the input itself when it is not a month).
fn month_label(month: &str) -> String {
    first_day(month).map_or_else(|| month.to_string(), |d| d.format("%B %Y").to_string())
}

fn first_day(month: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()
}

/// The month `delta` months away, as `YYYY-MM`.
fn shift_month(month: &str, delta: i32) -> Option<String> {
    let first = first_day(month)?;
    let moved = if delta >= 0 {
        first.checked_add_months(Months::new(delta.unsigned_abs()))
    } else {
        first.checked_sub_months(Months::new(delta.unsigned_abs()))
    }?;
    Some(moved.format("%Y-%m").to_string())
}

/// GB-seconds read best with three significant digits when small.
fn gb_seconds(decimal: &str) -> String {
    let value = amount(decimal);
    if value != 0.0 && value.abs() < 1.0 {
        let digits = ((-value.abs().log10()).floor() as usize + 3).min(9);
        format!("{value:.digits$}")
    } else {
        format!("{value:.2}")
    }
}

#[component]
fn MonthReport(report: CostReport) -> impl IntoView {
    let label = month_label(&report.month);
    let empty = report.totals.requests == 0 && report.daily.is_empty();
    let body = if empty {
        view! { <EmptyMonth report=report.clone() /> }.into_any()
    } else {
        let colours = function_colours(report.functions.iter().map(|f| f.name.as_str()));
        let names: Vec<String> = report.functions.iter().map(|f| f.name.clone()).collect();
        let scope = report
            .application
            .as_deref()
            .map(|a| format!("?application={}", format::query_value(a)))
            .unwrap_or_default();
        let csv = format!("/api/v1/costs/{}.csv{scope}", report.month);
        let pdf = format!("/api/v1/costs/{}.pdf{scope}", report.month);
        view! {
            <Totals report=report.clone() />
            <div class="cost-insights">
                {report.projection.clone().map(|p| {
                    let elapsed = amount(&p.elapsed_fraction) * 100.0;
                    view! {
                        <section class="card" aria-labelledby="projection-title">
                            <h2 id="projection-title">"Projected for the month"</h2>
                            <p class="big-number">{money(amount(&p.projected_cost), &report.currency)}</p>
                            <p class="muted">
                                {format!("{elapsed:.0}% of the month has passed; at this pace about {} requests by its end.", count(p.projected_requests))}
                            </p>
                        </section>
                    }
                })}
                <ServerCard server=report.server.clone() currency=report.currency.clone() month_to_date=report.month_to_date />
            </div>
            <section class="card" aria-labelledby="daily-title">
                <h2 id="daily-title">"Daily cost by function"</h2>
                <CostChart month=report.month.clone() currency=report.currency.clone() daily=report.daily.clone() functions=names colours=colours.clone() />
            </section>
            <section class="card card-flush" aria-labelledby="lines-title">
                <div class="card-head">
                    <h2 id="lines-title">"By function"</h2>
                    <div class="card-tools">
                        <a class="btn btn-small" href=csv download rel="external">"Download CSV"</a>
                        <a class="btn btn-small" href=pdf download rel="external">"Download PDF"</a>
                    </div>
                </div>
                <CostTable lines=report.functions.clone() totals=report.totals.clone() currency=report.currency.clone() colours />
            </section>
            <ApplicationTable lines=report.applications.clone() currency=report.currency.clone() month=report.month.clone() />
        }
        .into_any()
    };
    let lede = match &report.application {
        Some(app) => format!(
            "Usage and cost of the functions of application {app} in {label} (UTC), priced with the plan in force each hour."
        ),
        None => format!(
            "Usage and cost of every function in {label} (UTC), priced with the plan in force each hour."
        ),
    };
    let scope = report.application.clone().map(|app| {
        let all = format!("/costs?month={}", report.month);
        view! {
            <p class="scope-note">
                <span class="badge">{format!("Application: {app}")}</span>
                " "
                <a href=all>"Show all applications"</a>
            </p>
        }
    });
    view! {
        <div class="page-head">
            <div>
                <h1>{match &report.application {
                    Some(app) => format!("Costs · {app}"),
                    None => "Costs".to_string(),
                }}</h1>
                <p class="lede">{lede}</p>
                {scope}
            </div>
            <MonthPicker month=report.month.clone() month_to_date=report.month_to_date application=report.application.clone() />
        </div>
        {body}
    }
    .into_any()
}

/// Previous / next links around a month input that navigates on change (and,
/// before the bundle has loaded, submits as a plain GET form).
#[component]
fn MonthPicker(month: String, month_to_date: bool, application: Option<String>) -> impl IntoView {
    let navigate = use_navigate();
    // Moving between months keeps the application in view.
    let scope = application
        .as_deref()
        .map(|a| format!("&application={}", format::query_value(a)))
        .unwrap_or_default();
    let link = |delta: i32, text: &'static str| {
        let target = shift_month(&month, delta)?;
        let aria = format!("{text} month, {}", month_label(&target));
        Some(view! {
            <a class="btn btn-small" href=format!("/costs?month={target}{scope}") aria-label=aria>
                {if delta < 0 { "‹ " } else { "" }}
                {month_label(&target)}
                {if delta > 0 { " ›" } else { "" }}
            </a>
        })
    };
    let previous = link(-1, "Previous");
    // Months after the running one have no usage yet.
    let next = (!month_to_date).then(|| link(1, "Next")).flatten();
    view! {
        <nav class="month-picker" aria-label="Month">
            {previous}
            <form method="get" action="/costs" class="month-form">
                <label class="visually-hidden" for="cost-month">
                    "Month"
                </label>
                <input
                    id="cost-month"
                    type="month"
                    name="month"
                    value=month.clone()
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        if first_day(&value).is_some() {
                            navigate(&format!("/costs?month={value}{scope}"), Default::default());
                        }
                    }
                />
            </form>
            {next}
        </nav>
    }
}

/// One summary card: the value, and the previous month beside it.
fn stat(label: &'static str, value: String, note: String) -> impl IntoView {
    view! {
        <div class="stat">
            <span class="stat-label">{label}</span>
            <span class="stat-value">{value}</span>
            <span class="stat-note">{note}</span>
        </div>
    }
}

#[component]
fn Totals(report: CostReport) -> impl IntoView {
    let (now, before) = (&report.totals, &report.previous_totals);
    let previous = first_day(&report.previous_month).map_or_else(
        || report.previous_month.clone(),
        |d| d.format("%b %Y").to_string(),
    );
    let note = |shown: String, a: f64, b: f64| {
        format!("{previous}: {shown} · {}", format::change_percent(a, b))
    };
    let cur = report.currency.as_str();
    let error_rate = if now.requests > 0 {
        format!(
            "{:.1}% of requests",
            now.errors as f64 / now.requests as f64 * 100.0
        )
    } else {
        String::new()
    };
    view! {
        <div class="stats cost-stats" aria-label="Month totals" role="group">
            {stat(
                "Cost",
                money(amount(&now.cost), cur),
                note(money(amount(&before.cost), cur), amount(&now.cost), amount(&before.cost)),
            )}
            {stat(
                "Requests",
                count(now.requests),
                note(count(before.requests), now.requests as f64, before.requests as f64),
            )}
            {stat(
                "Errors",
                count(now.errors),
                format!("{error_rate} · {previous}: {}", count(before.errors)),
            )}
            {stat(
                "GB-seconds",
                gb_seconds(&now.gb_seconds),
                note(gb_seconds(&before.gb_seconds), amount(&now.gb_seconds), amount(&before.gb_seconds)),
            )}
            {stat(
                "Egress",
                format::bytes(now.egress_bytes),
                note(format::bytes(before.egress_bytes), now.egress_bytes as f64, before.egress_bytes as f64),
            )}
        </div>
    }
}

/// The same work on an always-on server, with both as bars and the break-even.
#[component]
fn ServerCard(server: ServerComparison, currency: String, month_to_date: bool) -> impl IntoView {
    let (fixed, serverless) = (
        amount(&server.server_monthly),
        amount(&server.serverless_cost),
    );
    let widest = fixed.max(serverless).max(f64::MIN_POSITIVE);
    let width = |v: f64| format!("width:{:.1}%", (v / widest * 100.0).max(0.5));
    let basis = if month_to_date {
        "Serverless (projected)"
    } else {
        "Serverless"
    };
    let verdict = if server.server_cheaper {
        "An always-on server would have been cheaper for this month's work."
    } else {
        "Serverless is cheaper than an always-on server for this month's work."
    };
    let break_even = match (server.break_even_requests, &server.cost_per_request) {
        (Some(requests), Some(per)) => format!(
            "Break-even: about {} requests a month, at {} per request.",
            count(requests),
            money(amount(per), &currency)
        ),
        _ => "No requests yet, so no break-even point.".to_string(),
    };
    view! {
        <section class="card" aria-labelledby="server-title">
            <h2 id="server-title">"On an always-on server"</h2>
            <dl class="compare">
                <dt>{basis}</dt>
                <dd>
                    <span class="compare-bar compare-serverless" style=width(serverless)></span>
                    <span class="compare-value">{money(serverless, &currency)}</span>
                </dd>
                <dt>"Server, per month"</dt>
                <dd>
                    <span class="compare-bar compare-server" style=width(fixed)></span>
                    <span class="compare-value">{money(fixed, &currency)}</span>
                </dd>
            </dl>
            <p class="muted small">{verdict} " " {break_even}</p>
        </section>
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Name,
    Requests,
    Errors,
    GbSeconds,
    Egress,
    Cost,
    Change,
}

/// What a line shows in a column (every line has a value in every column).
fn sort_value(line: &FunctionCost, key: SortKey) -> Option<SortValue<'_>> {
    Some(match key {
        SortKey::Name => line.name.as_str().into(),
        SortKey::Requests => line.usage.requests.into(),
        SortKey::Errors => line.usage.errors.into(),
        SortKey::GbSeconds => amount(&line.usage.gb_seconds).into(),
        SortKey::Egress => line.usage.egress_bytes.into(),
        SortKey::Cost => amount(&line.usage.cost).into(),
        SortKey::Change => amount(&line.change).into(),
    })
}

fn sort_lines(lines: &mut [FunctionCost], sort: SortState<SortKey>) {
    sort_rows(lines, sort, sort_value, |a, b| a.name.cmp(&b.name));
}

/// Per-function lines, highest cost first; headers sort in the browser.
#[component]
fn CostTable(
    lines: Vec<FunctionCost>,
    totals: UsageCost,
    currency: String,
    colours: std::collections::BTreeMap<String, String>,
) -> impl IntoView {
    let sort = RwSignal::new(SortState::descending(SortKey::Cost));
    let currency = StoredValue::new(currency);
    let colours = StoredValue::new(colours);
    let lines = StoredValue::new(lines);
    let rows = move || {
        let mut lines = lines.get_value();
        sort_lines(&mut lines, sort.get());
        let cur = currency.get_value();
        lines
            .into_iter()
            .map(|line| {
                let swatch = format!(
                    "background:{}",
                    colours.with_value(|c| c.get(&line.name).cloned()).unwrap_or_default()
                );
                let change = amount(&line.change);
                let change_text = format!(
                    "{}{} ({})",
                    if change > 0.0 { "+" } else { "" },
                    money(change, &cur),
                    format::change_percent(amount(&line.usage.cost), amount(&line.previous_month_cost))
                );
                view! {
                    <tr>
                        <th scope="row">
                            <span class="swatch" style=swatch aria-hidden="true"></span>
                            <a class="row-link" href=format!("/functions/{}", line.name)>{line.name.clone()}</a>
                        </th>
                        <td class="num requests">{count(line.usage.requests)}</td>
                        <td class="num">{count(line.usage.errors)}</td>
                        <td class="num">{gb_seconds(&line.usage.gb_seconds)}</td>
                        <td class="num nowrap">{format::bytes(line.usage.egress_bytes)}</td>
                        <td class="num nowrap" title=format!("{} {}", line.usage.cost, cur)>
                            {money(amount(&line.usage.cost), &cur)}
                        </td>
                        <td class="num nowrap muted">{change_text}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    let total_cost = money(amount(&totals.cost), &currency.get_value());
    view! {
        <div class="table-wrap">
            <table class="table cost-table">
                <thead>
                    <tr>
                        <SortHeader label="Function" key=SortKey::Name sort />
                        <SortHeader label="Requests" key=SortKey::Requests sort numeric=true />
                        <SortHeader label="Errors" key=SortKey::Errors sort numeric=true />
                        <SortHeader label="GB-s" key=SortKey::GbSeconds sort numeric=true />
                        <SortHeader label="Egress" key=SortKey::Egress sort numeric=true />
                        <SortHeader label="Cost" key=SortKey::Cost sort numeric=true />
                        <SortHeader label="vs last month" key=SortKey::Change sort numeric=true />
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
                <tfoot>
                    <tr>
                        <th scope="row">"Total"</th>
                        <td class="num">{count(totals.requests)}</td>
                        <td class="num">{count(totals.errors)}</td>
                        <td class="num">{gb_seconds(&totals.gb_seconds)}</td>
                        <td class="num nowrap">{format::bytes(totals.egress_bytes)}</td>
                        <td class="num nowrap">{total_cost}</td>
                        <td></td>
                    </tr>
                </tfoot>
            </table>
        </div>
    }
}

#[component]
fn EmptyMonth(report: CostReport) -> impl IntoView {
    let previous =
        amount(&report.previous_totals.cost) > 0.0 || report.previous_totals.requests > 0;
    let previous_link = previous.then(|| {
        view! {
            <p>
                <a href=format!("/costs?month={}", report.previous_month)>
                    {format!("See {}", month_label(&report.previous_month))}
                </a>
            </p>
        }
    });
    view! {
        <section class="card">
            <div class="empty">
                <div class="empty-mark" aria-hidden="true"></div>
                <h3>{format!("No usage in {}", month_label(&report.month))}</h3>
                <p class="muted">
                    "Every call through the gateway is metered: requests, memory × time and bytes out. Call a function and its cost shows up here."
                </p>
                {previous_link}
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_move_across_years() {
        assert_eq!(shift_month("2026-01", -1).as_deref(), Some("2025-12"));
        assert_eq!(shift_month("2026-12", 1).as_deref(), Some("2027-01"));
        assert_eq!(shift_month("junk", 1), None);
        assert_eq!(month_label("2026-11"), "November 2026");
        assert_eq!(gb_seconds("0.000125"), "0.000125");
        assert_eq!(gb_seconds("2000"), "2000.00");
    }

    fn line(name: &str, requests: i64, cost: &str) -> FunctionCost {
        FunctionCost {
            name: name.into(),
            usage: UsageCost {
                requests,
                errors: 0,
                billed_ms: 0,
                gb_seconds: "0".into(),
                egress_bytes: 0,
                cost: cost.into(),
                cost_display: cost.into(),
            },
            previous_month_cost: "0".into(),
            change: cost.into(),
            change_percent: None,
        }
    }

    #[test]
    fn lines_sort_by_decimal_amounts_then_name() {
        let mut lines = vec![line("b", 1, "0.5"), line("a", 3, "0.5"), line("c", 2, "10")];
        let names =
            |lines: &[FunctionCost]| lines.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
        sort_lines(&mut lines, SortState::descending(SortKey::Cost));
        assert_eq!(names(&lines), ["c", "a", "b"]);
        sort_lines(&mut lines, SortState::ascending(SortKey::Requests));
        assert_eq!(names(&lines), ["b", "c", "a"]);
    }
}

/// The month's cost per application (functions grouped by their `application`).
#[component]
fn ApplicationTable(lines: Vec<ApplicationCost>, currency: String, month: String) -> impl IntoView {
    if lines.is_empty() {
        return ().into_any();
    }
    let rows = lines
        .into_iter()
        .map(|a| {
            let functions = a.functions.join(", ");
            let change = a
                .change_percent
                .clone()
                .map(|p| format!("{p} %"))
                .unwrap_or_else(|| "—".into());
            view! {
                <tr>
                    <th scope="row">
                        <a href=format!("/costs?month={month}&application={}", format::query_value(&a.name))>
                            {a.name.clone()}
                        </a>
                    </th>
                    <td class="break muted">{functions}</td>
                    <td class="num">{count(a.usage.requests)}</td>
                    <td class="num">{money(amount(&a.usage.cost), &currency)}</td>
                    <td class="num">{money(amount(&a.previous_month_cost), &currency)}</td>
                    <td class="num">{change}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card card-flush" aria-labelledby="apps-title">
            <div class="card-head">
                <h2 id="apps-title">"By application"</h2>
            </div>
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th scope="col">"Application"</th>
                            <th scope="col">"Functions"</th>
                            <th scope="col" class="num">"Requests"</th>
                            <th scope="col" class="num">"Cost"</th>
                            <th scope="col" class="num">"Previous month"</th>
                            <th scope="col" class="num">"Change"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}
