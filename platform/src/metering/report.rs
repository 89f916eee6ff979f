//! Month reports: prices hourly rollups with the plan in force at each hour
//! (exact decimals; money is rounded to cents only for display), then sums
//! per function per day, per function and in total, beside the previous
//! month, with a month-to-date projection and the "on a server" comparison.
//! Reads rollups and plans; writes nothing. Rendering a report (CSV, PDF) is
//! the `render` crate's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use model::{
    ApplicationCost, CostProjection, CostReport, DailyCost, FunctionCost, ServerComparison,
    UsageCost,
};
use rust_decimal::{Decimal, RoundingStrategy};
use sqlx::Row;

use super::plan::{self, PlanBook, Prices};
use super::rollup::{self, HourlyUsage, Usage};
use super::Month;
use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// MB-milliseconds per GB-second: 1024 MB per GB × 1000 ms per second.
const MB_MS_PER_GB_SECOND: i64 = 1024 * 1000;
/// Bytes per GB of egress (binary gigabyte, 1024³).
const BYTES_PER_GB: i64 = 1024 * 1024 * 1024;
/// Requests per unit of the request price.
const REQUESTS_PER_PRICE_UNIT: i64 = 1_000_000;

/// GB-seconds of `mb_ms` MB-milliseconds: mb_ms / 1024 / 1000 (exact: the
/// divisor is 2^13 × 125, so the quotient has at most 13 decimals).
pub fn gb_seconds(mb_ms: i64) -> Decimal {
    Decimal::from(mb_ms) / Decimal::from(MB_MS_PER_GB_SECOND)
}

/// What `usage` costs under `prices`:
/// requests / 1e6 × per_million + GB-s × per_gb_second + bytes_out / 1024³ × per_gb_egress.
/// Each product is formed before its division so integers stay exact; the
/// result carries `Decimal`'s 28 significant digits.
pub fn cost_of(usage: &Usage, prices: &Prices) -> Decimal {
    let requests = Decimal::from(usage.requests) * prices.per_million_requests
        / Decimal::from(REQUESTS_PER_PRICE_UNIT);
    let compute =
        Decimal::from(usage.mb_ms) * prices.per_gb_second / Decimal::from(MB_MS_PER_GB_SECOND);
    let egress =
        Decimal::from(usage.bytes_out) * prices.per_gb_egress / Decimal::from(BYTES_PER_GB);
    requests + compute + egress
}

/// Money rounded to cents (half away from zero), always two decimals.
fn cents(amount: Decimal) -> String {
    let mut r = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r.to_string()
}

fn exact(amount: Decimal) -> String {
    amount.normalize().to_string()
}

fn usage_cost(usage: &Usage, cost: Decimal) -> UsageCost {
    UsageCost {
        requests: usage.requests,
        errors: usage.errors,
        billed_ms: usage.billed_ms,
        gb_seconds: exact(gb_seconds(usage.mb_ms)),
        egress_bytes: usage.bytes_out,
        cost: exact(cost),
        cost_display: cents(cost),
    }
}

/// Usage and cost per (function, UTC day): each day's usage is summed per
/// plan in force, priced once per plan, then added up.
fn price_days(
    hours: &[HourlyUsage],
    book: &PlanBook,
) -> BTreeMap<(String, NaiveDate), (Usage, Decimal)> {
    let mut by_plan: BTreeMap<(String, NaiveDate, usize), Usage> = BTreeMap::new();
    for h in hours {
        let day = from_ms(h.hour_start).date_naive();
        let plan = book.index_at(h.hour_start);
        by_plan
            .entry((h.function.clone(), day, plan))
            .or_default()
            .add(&h.usage);
    }
    let mut days: BTreeMap<(String, NaiveDate), (Usage, Decimal)> = BTreeMap::new();
    for ((function, day, plan), usage) in by_plan {
        let entry = days.entry((function, day)).or_default();
        entry.0.add(&usage);
        entry.1 += cost_of(&usage, &book.get(plan).prices);
    }
    days
}

/// Sums days per function.
fn per_function(
    days: &BTreeMap<(String, NaiveDate), (Usage, Decimal)>,
) -> BTreeMap<String, (Usage, Decimal)> {
    let mut out: BTreeMap<String, (Usage, Decimal)> = BTreeMap::new();
    for ((function, _), (usage, cost)) in days {
        let entry = out.entry(function.clone()).or_default();
        entry.0.add(usage);
        entry.1 += *cost;
    }
    out
}

fn total(functions: &BTreeMap<String, (Usage, Decimal)>) -> (Usage, Decimal) {
    let mut sum = (Usage::default(), Decimal::ZERO);
    for (usage, cost) in functions.values() {
        sum.0.add(usage);
        sum.1 += *cost;
    }
    sum
}

/// Builds the report of `month` from the rollups of it and the month before,
/// as of `now` (UTC ms).
/// Groups per-function lines by application (functions missing from
/// `applications` belong to the default one).
fn per_application(
    functions: &BTreeMap<String, (Usage, Decimal)>,
    applications: &HashMap<String, String>,
) -> BTreeMap<String, (Usage, Decimal, Vec<String>)> {
    let mut out: BTreeMap<String, (Usage, Decimal, Vec<String>)> = BTreeMap::new();
    for (name, (usage, cost)) in functions {
        let app = applications
            .get(name)
            .cloned()
            .unwrap_or_else(|| model::DEFAULT_APPLICATION.to_string());
        let entry = out.entry(app).or_default();
        entry.0.add(usage);
        entry.1 += *cost;
        entry.2.push(name.clone());
    }
    out
}

fn application_lines(
    functions: &BTreeMap<String, (Usage, Decimal)>,
    previous_functions: &BTreeMap<String, (Usage, Decimal)>,
    applications: &HashMap<String, String>,
) -> Vec<ApplicationCost> {
    let now = per_application(functions, applications);
    let before = per_application(previous_functions, applications);
    let names: BTreeSet<&String> = now.keys().chain(before.keys()).collect();
    let mut lines: Vec<(Decimal, ApplicationCost)> = names
        .into_iter()
        .map(|name| {
            let (usage, cost, mut members) = now.get(name).cloned().unwrap_or_default();
            let (_, previous, earlier) = before.get(name).cloned().unwrap_or_default();
            members.extend(earlier);
            members.sort();
            members.dedup();
            let change = cost - previous;
            let line = ApplicationCost {
                name: name.clone(),
                functions: members,
                usage: usage_cost(&usage, cost),
                previous_month_cost: exact(previous),
                change: exact(change),
                change_percent: (!previous.is_zero())
                    .then(|| exact((change * Decimal::ONE_HUNDRED / previous).round_dp(2))),
            };
            (cost, line)
        })
        .collect();
    lines.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    lines.into_iter().map(|(_, l)| l).collect()
}

pub(crate) fn build(
    month: Month,
    hours: &[HourlyUsage],
    book: &PlanBook,
    now: i64,
    applications: &HashMap<String, String>,
) -> CostReport {
    let (start, end) = (month.start_ms(), month.end_ms());
    let previous = month.previous();
    let (this, before): (Vec<HourlyUsage>, Vec<HourlyUsage>) = hours
        .iter()
        .filter(|h| h.hour_start >= previous.start_ms() && h.hour_start < end)
        .cloned()
        .partition(|h| h.hour_start >= start);

    let days = price_days(&this, book);
    let functions = per_function(&days);
    let previous_functions = per_function(&price_days(&before, book));
    let (total_usage, total_cost) = total(&functions);
    let (previous_usage, previous_cost) = total(&previous_functions);

    let application_costs = application_lines(&functions, &previous_functions, applications);
    let names: BTreeSet<&String> = functions.keys().chain(previous_functions.keys()).collect();
    let mut lines: Vec<(Decimal, FunctionCost)> = names
        .into_iter()
        .map(|name| {
            let (usage, cost) = functions.get(name).copied().unwrap_or_default();
            let before = previous_functions
                .get(name)
                .map(|(_, c)| *c)
                .unwrap_or_default();
            let change = cost - before;
            let line = FunctionCost {
                name: name.clone(),
                usage: usage_cost(&usage, cost),
                previous_month_cost: exact(before),
                change: exact(change),
                change_percent: (!before.is_zero())
                    .then(|| exact((change * Decimal::ONE_HUNDRED / before).round_dp(2))),
            };
            (cost, line)
        })
        .collect();
    lines.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));

    // Plans in force at some instant of the month.
    let first = book.index_at(start);
    let last = book.index_at(end - 1);
    let plans: Vec<_> = (first..=last).map(|i| book.get(i).to_model()).collect();
    let closing = book.get(last);

    let month_to_date = start <= now && now < end;
    let projection = month_to_date.then(|| {
        let fraction = Decimal::from(now - start) / Decimal::from(end - start);
        let (cost, requests) = if fraction.is_zero() {
            (Decimal::ZERO, 0)
        } else {
            (
                total_cost / fraction,
                (Decimal::from(total_usage.requests) / fraction)
                    .round()
                    .try_into()
                    .unwrap_or(i64::MAX),
            )
        };
        CostProjection {
            elapsed_fraction: exact(fraction.round_dp(6)),
            projected_cost: exact(cost),
            projected_cost_display: cents(cost),
            projected_requests: requests,
        }
    });

    let (serverless_cost, serverless_requests) = match &projection {
        Some(p) => (
            p.projected_cost.parse().unwrap_or(total_cost),
            p.projected_requests,
        ),
        None => (total_cost, total_usage.requests),
    };
    let server_monthly = closing.prices.server_monthly;
    let cost_per_request = (serverless_requests > 0 && !serverless_cost.is_zero())
        .then(|| serverless_cost / Decimal::from(serverless_requests));
    let server = ServerComparison {
        server_monthly: exact(server_monthly),
        serverless_cost: exact(serverless_cost),
        serverless_requests,
        server_cheaper: server_monthly < serverless_cost,
        cost_per_request: cost_per_request.map(exact),
        break_even_requests: cost_per_request
            .and_then(|c| (server_monthly / c).ceil().try_into().ok()),
    };

    CostReport {
        month: month.to_string(),
        application: None,
        currency: closing.currency.clone(),
        generated_at: from_ms(now),
        month_to_date,
        plans,
        functions: lines.into_iter().map(|(_, l)| l).collect(),
        applications: application_costs,
        totals: usage_cost(&total_usage, total_cost),
        previous_month: previous.to_string(),
        previous_totals: usage_cost(&previous_usage, previous_cost),
        projection,
        server,
        daily: days
            .into_iter()
            .map(|((function, date), (usage, cost))| DailyCost {
                date,
                function,
                usage: usage_cost(&usage, cost),
            })
            .collect(),
    }
}

impl Platform {
    /// A team's cost report of `month` (`YYYY-MM`; default the current UTC month).
    pub(crate) async fn cost_report(
        &self,
        team_id: i64,
        month: Option<&str>,
    ) -> Result<CostReport, PlatformError> {
        self.cost_report_at(team_id, month, None, self.inner.clock.now_ms())
            .await
    }

    /// The cost report of one application of the team (its functions as
    /// they are grouped now).
    pub(crate) async fn application_cost_report(
        &self,
        team_id: i64,
        month: Option<&str>,
        application: &str,
    ) -> Result<CostReport, PlatformError> {
        self.cost_report_at(team_id, month, Some(application), self.inner.clock.now_ms())
            .await
    }

    /// The cost report as it stood at `now` (UTC ms): drives the projection
    /// and the default month. For tests and reports "as of" a date. Only the
    /// functions `team_id` owns (or owned, if deleted) are in it; with
    /// `application`, only that application's.
    pub(crate) async fn cost_report_at(
        &self,
        team_id: i64,
        month: Option<&str>,
        application: Option<&str>,
        now: i64,
    ) -> Result<CostReport, PlatformError> {
        let month = match month {
            Some(m) => m.parse()?,
            None => Month::containing(now),
        };
        let mut hours =
            rollup::load(&self.inner.db, month.previous().start_ms(), month.end_ms()).await?;
        let owned: std::collections::HashSet<String> =
            sqlx::query("SELECT name FROM function_owners WHERE team_id = $1")
                .bind(team_id)
                .fetch_all(&self.inner.db)
                .await?
                .iter()
                .map(|row| row.try_get::<String, _>("name"))
                .collect::<Result<_, _>>()?;
        hours.retain(|hour| owned.contains(&hour.function));
        let book = plan::load(&self.inner.db).await?;
        let rows = sqlx::query("SELECT name, application FROM functions")
            .fetch_all(&self.inner.db)
            .await?;
        let mut applications = HashMap::new();
        for row in &rows {
            applications.insert(
                row.try_get::<String, _>("name")?,
                row.try_get::<String, _>("application")?,
            );
        }
        if let Some(app) = application {
            // As `per_application` groups: a function it no longer knows
            // (deleted) is in the default application.
            hours.retain(|hour| {
                applications
                    .get(&hour.function)
                    .map_or(model::DEFAULT_APPLICATION, String::as_str)
                    == app
            });
        }
        let mut report = build(month, &hours, &book, now, &applications);
        report.application = application.map(str::to_string);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::plan::Plan;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// Hand-computed with the default plan ($0.20 / 1M requests,
    /// $0.0000166667 / GB-s, $0.09 / GB egress):
    ///   3,000,000 requests             → 3 × 0.20                    = 0.60
    ///   1,000,000 ms billed at 2048 MB → 2,048,000,000 MB-ms
    ///                                    / 1,024,000 = 2000 GB-s
    ///                                    × 0.0000166667              = 0.0333334
    ///   2 × 1024³ bytes out            → 2 GB × 0.09                 = 0.18
    ///   total                                                         = 0.8133334
    ///   (displayed 0.81)
    /// and one 1 ms call at 128 MB, no output:
    ///   1 request   → 0.20 / 1,000,000                  = 0.0000002
    ///   128 MB-ms   → 0.000125 GB-s × 0.0000166667      = 0.0000000020833375
    ///   total                                           = 0.0000002020833375
    #[test]
    fn cost_matches_hand_computation() {
        let prices = Plan::default_plan().prices;
        let month = Usage {
            requests: 3_000_000,
            errors: 7,
            billed_ms: 1_000_000,
            mb_ms: 1_000_000 * 2048,
            bytes_in: 123,
            bytes_out: 2 * 1024 * 1024 * 1024,
        };
        assert_eq!(gb_seconds(month.mb_ms), d("2000"));
        let cost = cost_of(&month, &prices);
        assert_eq!(cost, d("0.8133334"));
        assert_eq!(cents(cost), "0.81");

        let one = Usage {
            requests: 1,
            billed_ms: 1,
            mb_ms: 128,
            ..Usage::default()
        };
        assert_eq!(gb_seconds(one.mb_ms), d("0.000125"));
        assert_eq!(cost_of(&one, &prices), d("0.0000002020833375"));
        assert_eq!(cents(d("0.005")), "0.01");
        assert_eq!(cents(d("2")), "2.00");
    }

    fn hour(function: &str, at: i64, requests: i64) -> HourlyUsage {
        HourlyUsage {
            function: function.into(),
            hour_start: rollup::hour_of(at),
            usage: Usage {
                requests,
                billed_ms: requests * 10,
                mb_ms: requests * 10 * 128,
                bytes_out: requests * 100,
                ..Usage::default()
            },
        }
    }

    #[test]
    fn report_prices_each_hour_with_its_plan() {
        let month: Month = "2026-03".parse().unwrap();
        let mut dear = Plan::default_plan();
        dear.id = Some(1);
        // Ten times the request price from the 16th on.
        dear.effective_from = month.start_ms() + 15 * 24 * 3_600_000;
        dear.prices.per_million_requests = d("2");
        let book = PlanBook::new(vec![dear.clone()]);
        let hours = vec![
            hour("a", month.start_ms() + 1_000, 1_000_000),
            hour("a", dear.effective_from + 1_000, 1_000_000),
            hour("b", month.previous().start_ms(), 500),
        ];
        let shop: HashMap<String, String> = [("a", "shop"), ("b", "shop")]
            .into_iter()
            .map(|(f, a)| (f.to_string(), a.to_string()))
            .collect();
        let report = build(month, &hours, &book, month.end_ms() + 1, &shop);
        assert!(!report.month_to_date && report.projection.is_none());
        // Both functions roll up into their application, this month and last.
        assert_eq!(report.applications.len(), 1);
        let app = &report.applications[0];
        assert_eq!(
            (app.name.as_str(), app.functions.clone()),
            ("shop", vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(app.usage.cost, report.totals.cost);
        assert_eq!(app.previous_month_cost, report.previous_totals.cost);
        assert_eq!(report.plans.len(), 2);
        assert_eq!(report.functions[0].name, "a");
        let default = Plan::default_plan().prices;
        let expected = cost_of(&hours[0].usage, &default) + cost_of(&hours[1].usage, &dear.prices);
        assert_eq!(report.totals.cost, exact(expected));
        assert_eq!(report.totals.requests, 2_000_000);
        // b ran only last month: listed with its previous cost and the drop.
        let b = &report.functions[1];
        assert_eq!(b.usage.requests, 0);
        let before = cost_of(&hours[2].usage, &default);
        assert_eq!(b.previous_month_cost, exact(before));
        assert_eq!(b.change, exact(-before));
        assert_eq!(report.daily.len(), 2);
        // Break-even: $40 / (cost per request) requests.
        let per_request = expected / Decimal::from(2_000_000);
        assert_eq!(
            report.server.break_even_requests,
            Some((d("40") / per_request).ceil().try_into().unwrap())
        );
    }

    #[test]
    fn month_to_date_projects_to_month_end() {
        let month: Month = "2026-04".parse().unwrap();
        let book = PlanBook::new(vec![]);
        let hours = vec![hour("a", month.start_ms(), 3_000)];
        // A tenth of April (30 days) has passed: 3 days.
        let now = month.start_ms() + 3 * 24 * 3_600_000;
        let report = build(month, &hours, &book, now, &HashMap::new());
        let p = report.projection.expect("projection");
        assert_eq!(p.elapsed_fraction, "0.1");
        assert_eq!(p.projected_requests, 30_000);
        let cost = cost_of(&hours[0].usage, &book.get(0).prices);
        assert_eq!(p.projected_cost, exact(cost * Decimal::TEN));
    }
}
