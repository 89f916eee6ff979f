//! The overview's chart of calls per minute over the last hour: one bar per
//! minute, failures stacked in red on top of successes, drawn as inline SVG
//! markup computed in Rust on the server (same approach as the cost chart).
//! It fetches nothing.

use leptos::prelude::*;
use model::MinuteCount;

use crate::format;

/// The SVG's coordinate system; it scales to the card's width.
const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 220.0;
/// Room for the y-axis labels (left) and the time labels (bottom).
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// Horizontal grid lines above the baseline.
const TICKS: i64 = 4;
/// A time label every this many minutes.
const LABEL_EVERY: usize = 10;

/// A whole-number axis maximum at or above `max`, divisible into the ticks.
fn axis_top(max: i64) -> i64 {
    if max <= TICKS {
        return TICKS;
    }
    let step = (max + TICKS - 1) / TICKS;
    let magnitude = 10_i64.pow(step.ilog10());
    let step = [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= step)
        .unwrap_or(10 * magnitude);
    step * TICKS
}

/// The chart as SVG markup.
pub fn minute_chart_svg(minutes: &[MinuteCount]) -> String {
    let total: i64 = minutes.iter().map(|m| m.invocations).sum();
    let errors: i64 = minutes.iter().map(|m| m.errors).sum();
    let busiest = minutes.iter().max_by_key(|m| m.invocations);
    let top = axis_top(busiest.map_or(0, |m| m.invocations)) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / minutes.len().max(1) as f64;
    let bar_w = (slot * 0.72).max(1.0);
    let y = |v: f64| TOP + plot_h - v / top * plot_h;
    let summary = match busiest.filter(|m| m.invocations > 0) {
        Some(m) => format!(
            "{} calls ({} failed) in the last {} minutes; the busiest minute, {} UTC, had {}.",
            format::count(total),
            format::count(errors),
            minutes.len(),
            m.minute.format("%H:%M"),
            format::count(m.invocations)
        ),
        None => format!("No calls in the last {} minutes.", minutes.len()),
    };
    let mut svg = format!(
        r#"<svg class="minute-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="minute-chart-title minute-chart-desc" xmlns="http://www.w3.org/2000/svg"><title id="minute-chart-title">Invocations per minute, last hour</title><desc id="minute-chart-desc">{summary}</desc>"#
    );
    for tick in 0..=TICKS {
        let v = top * tick as f64 / TICKS as f64;
        let ty = y(v);
        svg.push_str(&format!(
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 8.0,
            ty + 4.0,
            format::count(v.round() as i64),
        ));
    }
    for (index, minute) in minutes.iter().enumerate() {
        let x = LEFT + slot * index as f64 + (slot - bar_w) / 2.0;
        let ok = minute.invocations - minute.errors;
        let label = format!(
            "{} UTC: {} calls, {} failed",
            minute.minute.format("%H:%M"),
            format::count(minute.invocations),
            format::count(minute.errors)
        );
        let mut base = 0.0;
        for (value, class) in [(ok, "bar bar-ok"), (minute.errors, "bar bar-error")] {
            if value <= 0 {
                continue;
            }
            // Keep every non-zero segment visible, however small.
            let height = (value as f64 / top * plot_h).max(1.5);
            svg.push_str(&format!(
                r#"<rect class="{class}" x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{height:.1}"><title>{label}</title></rect>"#,
                y(base) - height,
            ));
            base += value as f64;
        }
        if index % LABEL_EVERY == 0 || index + 1 == minutes.len() {
            svg.push_str(&format!(
                r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + bar_w / 2.0,
                HEIGHT - 8.0,
                minute.minute.format("%H:%M"),
            ));
        }
    }
    svg.push_str(&format!(
        r#"<line class="baseline" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/></svg>"#,
        WIDTH - RIGHT,
        TOP + plot_h,
        TOP + plot_h
    ));
    svg
}

/// The chart with its legend.
#[component]
pub fn MinuteChart(minutes: Vec<MinuteCount>) -> impl IntoView {
    let svg = minute_chart_svg(&minutes);
    view! {
        // Scrolled to its right end on narrow screens: the latest minutes matter most.
        <div class="chart-scroll chart-scroll-end" inner_html=svg></div>
        <ul class="chart-legend" aria-label="Legend">
            <li>
                <span class="swatch swatch-ok" aria-hidden="true"></span>
                "Succeeded"
            </li>
            <li>
                <span class="swatch swatch-error" aria-hidden="true"></span>
                "Failed"
            </li>
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn minute(index: i64, invocations: i64, errors: i64) -> MinuteCount {
        MinuteCount {
            minute: Utc.timestamp_opt(1_700_000_040 + index * 60, 0).unwrap(),
            invocations,
            errors,
        }
    }

    #[test]
    fn axis_is_round() {
        assert_eq!(axis_top(0), 4);
        assert_eq!(axis_top(3), 4);
        assert_eq!(axis_top(5), 8);
        assert_eq!(axis_top(37), 40);
        assert_eq!(axis_top(130), 200);
    }

    #[test]
    fn failures_stack_on_successes() {
        let minutes: Vec<_> = (0..60)
            .map(|i| {
                if i == 59 {
                    minute(i, 3, 1)
                } else {
                    minute(i, 0, 0)
                }
            })
            .collect();
        let svg = minute_chart_svg(&minutes);
        assert_eq!(svg.matches("class=\"bar bar-ok\"").count(), 1);
        assert_eq!(svg.matches("class=\"bar bar-error\"").count(), 1);
        assert!(svg.contains("3 calls (1 failed) in the last 60 minutes"));
        // Labels every ten minutes plus the last one.
        assert_eq!(svg.matches("text-anchor=\"middle\"").count(), 7);
    }
}
