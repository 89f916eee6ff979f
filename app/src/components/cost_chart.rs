//! The daily cost chart of the Costs page: one bar per day of the month,
//! stacked by function, drawn as inline SVG markup computed here in Rust (no
//! chart library, no script). It also owns the colour of each function, so
//! the chart, its legend and the cost table agree. It fetches nothing.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use leptos::prelude::*;
use model::DailyCost;

use crate::format;

/// Colour-blind-aware categorical palette (Okabe–Ito, then Tableau tones).
const PALETTE: [&str; 10] = [
    "#4f46e5", "#e69f00", "#0f9d8a", "#d55e00", "#56b4e9", "#cc79a7", "#8c6d31", "#64748b",
    "#b91c1c", "#65a30d",
];

/// The SVG's coordinate system; it scales to the card's width.
const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 280.0;
/// Room for the y-axis labels (left) and the day numbers (bottom).
const LEFT: f64 = 112.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 30.0;
/// Horizontal grid lines above the baseline.
const TICKS: usize = 4;

/// A stable colour for each function: a hash of its name picks the palette
/// slot (the same function keeps its colour from month to month); a slot
/// already taken moves on to the next free one.
pub fn function_colours<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    let mut sorted: Vec<&str> = names.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut taken = [false; PALETTE.len()];
    let mut colours = BTreeMap::new();
    for name in sorted {
        // FNV-1a: tiny, and identical on the server and in the browser.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut slot = (hash % PALETTE.len() as u64) as usize;
        if taken.iter().all(|t| *t) {
            taken = [false; PALETTE.len()];
        }
        while taken[slot] {
            slot = (slot + 1) % PALETTE.len();
        }
        taken[slot] = true;
        colours.insert(name.to_string(), PALETTE[slot].to_string());
    }
    colours
}

/// A round axis maximum at or above `max`: 1, 2 or 5 × 10ⁿ per tick.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw_step = max / TICKS as f64;
    let magnitude = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| step * TICKS as f64 >= max)
        .unwrap_or(10.0 * magnitude);
    step * TICKS as f64
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Days in the month starting at `first`.
fn days_in_month(first: NaiveDate) -> u32 {
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    next.map_or(31, |next| (next - first).num_days() as u32)
}

/// The chart as SVG markup. Bars are cost per day; when nothing cost
/// anything (a free plan) they are requests, and the title says so.
pub fn chart_svg(
    month: &str,
    currency: &str,
    daily: &[DailyCost],
    colours: &BTreeMap<String, String>,
) -> String {
    let Ok(first) = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d") else {
        return String::new();
    };
    let days = days_in_month(first);
    let by_cost = daily.iter().any(|d| format::amount(&d.usage.cost) > 0.0);
    let value = |d: &DailyCost| {
        if by_cost {
            format::amount(&d.usage.cost)
        } else {
            d.usage.requests as f64
        }
    };
    let label = |v: f64| {
        if by_cost {
            format::money(v, currency)
        } else {
            format::count(v.round() as i64)
        }
    };
    let mut per_day = vec![0.0_f64; days as usize];
    for d in daily {
        if let Some(total) = per_day.get_mut(d.date.day0() as usize) {
            *total += value(d);
        }
    }
    let top = nice_ceiling(per_day.iter().copied().fold(0.0, f64::max));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / f64::from(days);
    let bar_w = (slot * 0.7).max(1.0);
    let y = |v: f64| TOP + plot_h - v / top * plot_h;
    let what = if by_cost { "Cost" } else { "Requests" };
    let month_name = first.format("%B %Y");

    let mut svg = format!(
        r#"<svg class="cost-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="cost-chart-title cost-chart-desc" xmlns="http://www.w3.org/2000/svg"><title id="cost-chart-title">{what} per day, {month_name}, stacked by function</title><desc id="cost-chart-desc">{}</desc>"#,
        escape(&per_day_summary(&per_day, first, &label)),
    );
    for tick in 0..=TICKS {
        let v = top * tick as f64 / TICKS as f64;
        let ty = y(v);
        svg.push_str(&format!(
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 8.0,
            ty + 4.0,
            escape(&label(v)),
        ));
    }
    let mut stacked = vec![0.0_f64; days as usize];
    for d in daily {
        let index = d.date.day0() as usize;
        let v = value(d);
        if v <= 0.0 || index >= stacked.len() {
            continue;
        }
        let base = stacked[index];
        stacked[index] += v;
        // Keep every non-zero segment visible, however small.
        let height = ((v / top) * plot_h).max(1.5);
        let x = LEFT + slot * index as f64 + (slot - bar_w) / 2.0;
        let colour = colours.get(&d.function).map_or(PALETTE[7], String::as_str);
        svg.push_str(&format!(
            r#"<rect class="bar" x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{height:.1}" fill="{colour}"><title>{} · {}: {} ({} requests)</title></rect>"#,
            y(base) - height,
            d.date,
            escape(&d.function),
            escape(&format::money(format::amount(&d.usage.cost), currency)),
            format::count(d.usage.requests),
        ));
    }
    for day in (1..=days).filter(|day| *day == 1 || day % 5 == 0) {
        let x = LEFT + slot * f64::from(day - 1) + slot / 2.0;
        svg.push_str(&format!(
            r#"<text class="axis" x="{x:.1}" y="{:.1}" text-anchor="middle">{day}</text>"#,
            HEIGHT - 10.0
        ));
    }
    svg.push_str(&format!(
        r#"<line class="baseline" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/></svg>"#,
        WIDTH - RIGHT,
        TOP + plot_h,
        TOP + plot_h
    ));
    svg
}

/// Words for screen readers: the busiest day and how many days had usage.
fn per_day_summary(per_day: &[f64], first: NaiveDate, label: &dyn Fn(f64) -> String) -> String {
    let active = per_day.iter().filter(|v| **v > 0.0).count();
    let busiest = per_day
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .filter(|(_, v)| **v > 0.0);
    match busiest {
        Some((index, v)) => format!(
            "{active} day(s) with usage; the highest was {} with {}.",
            first + chrono::Days::new(index as u64),
            label(*v)
        ),
        None => "No usage this month.".to_string(),
    }
}

/// The chart with its legend (function colours, in the table's order).
#[component]
pub fn CostChart(
    month: String,
    currency: String,
    daily: Vec<DailyCost>,
    /// Function names, highest cost first.
    functions: Vec<String>,
    colours: BTreeMap<String, String>,
) -> impl IntoView {
    let svg = chart_svg(&month, &currency, &daily, &colours);
    let legend = functions
        .into_iter()
        .map(|name| {
            let style = format!(
                "background:{}",
                colours.get(&name).map_or(PALETTE[7], String::as_str)
            );
            view! {
                <li>
                    <span class="swatch" style=style aria-hidden="true"></span>
                    {name}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="chart-scroll" inner_html=svg></div>
        <ul class="chart-legend" aria-label="Functions">
            {legend}
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::UsageCost;

    fn day(date: &str, function: &str, cost: &str, requests: i64) -> DailyCost {
        DailyCost {
            date: date.parse().unwrap(),
            function: function.into(),
            usage: UsageCost {
                requests,
                cost: cost.into(),
                ..UsageCost::default()
            },
        }
    }

    #[test]
    fn axis_maximum_is_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.2), 4.0);
        assert_eq!(nice_ceiling(7.0), 8.0);
        // 0.0000009 over 4 ticks: 1-2-5 steps give 5e-7 per tick.
        assert!((nice_ceiling(0.000_000_9) - 0.000_002).abs() < 1e-12);
    }

    #[test]
    fn colours_are_distinct_and_stable() {
        let a = function_colours(["hello", "trap", "api"]);
        let b = function_colours(["trap", "hello"]);
        assert_eq!(a["hello"], b["hello"]);
        assert_ne!(a["hello"], a["trap"]);
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn bars_stack_per_day() {
        let daily = [
            day("2026-02-03", "a", "0.5", 5),
            day("2026-02-03", "b", "0.5", 5),
            day("2026-02-28", "a", "0.25", 1),
        ];
        let colours = function_colours(["a", "b"]);
        let svg = chart_svg("2026-02", "USD", &daily, &colours);
        assert_eq!(svg.matches("class=\"bar\"").count(), 3);
        assert!(svg.contains("<title id=\"cost-chart-title\">Cost per day, February 2026"));
        assert!(svg.contains(">28</text>") || svg.contains(">25</text>"));
        assert!(!svg.contains(">29</text>"));
    }
}
