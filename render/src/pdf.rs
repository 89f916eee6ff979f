//! The month cost report as a PDF document (A4, `printpdf` with the built-in
//! Helvetica fonts, so no system fonts are needed): title, period and
//! generation time, totals beside the previous month, a bar chart of daily
//! cost drawn with rectangles, the per-function table sorted by cost, and the
//! price plans used. Renders a [`CostReport`] as the JSON API returns it;
//! money is shown as the report's cent-rounded display values. The month's
//! days come from the report's own `month` field (see [`crate::month`]).

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Duration, NaiveDate};
use model::{CostReport, UsageCost};
use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions,
    Point, Pt, Rect, Rgb, TextItem,
};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::month::{MalformedMonth, Month};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const LEFT: f32 = 50.0;
const RIGHT: f32 = WIDTH - 50.0;
const TOP: f32 = 60.0;
const BOTTOM: f32 = 70.0;
const ROW: f32 = 16.0;

const INK: (f32, f32, f32) = (0.13, 0.15, 0.18);
const MUTED: (f32, f32, f32) = (0.42, 0.45, 0.50);
const ACCENT: (f32, f32, f32) = (0.20, 0.42, 0.78);
const RULE: (f32, f32, f32) = (0.82, 0.84, 0.87);
const BAND: (f32, f32, f32) = (0.95, 0.96, 0.97);

fn rgb((r, g, b): (f32, f32, f32)) -> Color {
    Color::Rgb(Rgb::new(r, g, b, None))
}

/// Approximate Helvetica advance width of `s` at `size` pt (AFM widths of
/// the characters a report uses; good enough to right-align numbers).
fn text_width(s: &str, size: f32, bold: bool) -> f32 {
    let units: f32 = s
        .chars()
        .map(|c| match c {
            '0'..='9' | '$' => 556.0,
            '.' | ',' | ' ' | ':' | '/' => 278.0,
            '-' | '(' | ')' => 333.0,
            '%' => 889.0,
            'i' | 'j' | 'l' => 222.0,
            'f' | 't' | 'I' => 278.0,
            'm' | 'M' | 'W' => 833.0,
            'w' => 722.0,
            'r' => 333.0,
            c if c.is_ascii_uppercase() => 667.0,
            _ => 540.0,
        })
        .sum();
    units * size / 1000.0 * if bold { 1.05 } else { 1.0 }
}

/// Pages under construction; `y` is the cursor measured from the page top.
struct Writer {
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Writer {
    fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            y: TOP,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    /// Starts a new page unless `height` more points fit on this one.
    fn room_for(&mut self, height: f32) -> bool {
        if self.y + height <= HEIGHT - BOTTOM {
            return true;
        }
        self.pages.push(Vec::new());
        self.y = TOP;
        false
    }

    /// `s` with its baseline at `top` from the page top, starting at `x`.
    fn text(&mut self, x: f32, top: f32, size: f32, bold: bool, color: (f32, f32, f32), s: &str) {
        let font = if bold {
            BuiltinFont::HelveticaBold
        } else {
            BuiltinFont::Helvetica
        };
        self.ops().extend([
            Op::StartTextSection,
            Op::SetFillColor { col: rgb(color) },
            Op::SetFont {
                font: PdfFontHandle::Builtin(font),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(x),
                    y: Pt(HEIGHT - top),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(s.to_string())],
            },
            Op::EndTextSection,
        ]);
    }

    /// `s` ending at `right`.
    fn text_right(&mut self, right: f32, top: f32, size: f32, bold: bool, s: &str) {
        let x = right - text_width(s, size, bold);
        self.text(x, top, size, bold, INK, s);
    }

    /// A filled rectangle whose top-left corner is `top` from the page top.
    fn rect(&mut self, x: f32, top: f32, w: f32, h: f32, color: (f32, f32, f32)) {
        let mut rectangle = Rect::from_xywh(Pt(x), Pt(HEIGHT - top - h), Pt(w), Pt(h));
        rectangle.mode = Some(printpdf::PaintMode::Fill);
        self.ops().extend([
            Op::SetFillColor { col: rgb(color) },
            Op::DrawRectangle { rectangle },
        ]);
    }

    fn rule(&mut self, top: f32, color: (f32, f32, f32)) {
        let point = |x: f32| LinePoint {
            p: Point {
                x: Pt(x),
                y: Pt(HEIGHT - top),
            },
            bezier: false,
        };
        self.ops().extend([
            Op::SetOutlineColor { col: rgb(color) },
            Op::SetOutlineThickness { pt: Pt(0.6) },
            Op::DrawLine {
                line: Line {
                    points: vec![point(LEFT), point(RIGHT)],
                    is_closed: false,
                },
            },
        ]);
    }

    fn heading(&mut self, title: &str) {
        self.room_for(60.0);
        self.y += 26.0;
        self.text(LEFT, self.y, 13.0, true, ACCENT, title);
        self.y += 6.0;
        self.rule(self.y, ACCENT);
        self.y += ROW;
    }

    /// One table row: the first cell left-aligned at LEFT, the others
    /// right-aligned at `columns` (their right edges).
    fn row(&mut self, cells: &[String], columns: &[f32], bold: bool, band: bool) {
        if band {
            self.rect(LEFT, self.y - 11.5, RIGHT - LEFT, ROW, BAND);
        }
        self.text(LEFT + 4.0, self.y, 9.0, bold, INK, &cells[0]);
        for (cell, right) in cells[1..].iter().zip(columns) {
            self.text_right(*right, self.y, 9.0, bold, cell);
        }
        self.y += ROW;
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn decimal(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

/// A decimal string rounded to `dp` places for display.
fn rounded(s: &str, dp: u32) -> String {
    let mut d = decimal(s).round_dp(dp);
    d.rescale(dp);
    d.to_string()
}

fn totals_cells(u: &UsageCost) -> [String; 5] {
    [
        thousands(u.requests),
        thousands(u.errors),
        rounded(&u.gb_seconds, 4),
        bytes(u.egress_bytes),
        u.cost_display.clone(),
    ]
}

fn totals(w: &mut Writer, r: &CostReport) {
    w.heading("Totals");
    let columns = [360.0, RIGHT - 4.0];
    let header = [
        String::new(),
        format!(
            "{}{}",
            r.month,
            if r.month_to_date { " (so far)" } else { "" }
        ),
        format!("{} (previous)", r.previous_month),
    ];
    w.row(&header, &columns, true, false);
    let this = totals_cells(&r.totals);
    let before = totals_cells(&r.previous_totals);
    let labels = [
        "Requests".to_string(),
        "Errors".into(),
        "GB-seconds".into(),
        "Egress".into(),
        format!("Cost ({})", r.currency),
    ];
    for (i, label) in labels.iter().enumerate() {
        let cells = [label.clone(), this[i].clone(), before[i].clone()];
        w.row(&cells, &columns, i == 4, i % 2 == 0);
    }
    if let Some(p) = &r.projection {
        w.y += 4.0;
        let line = format!(
            "Projected to month end: {} {} for about {} requests.",
            p.projected_cost_display,
            r.currency,
            thousands(p.projected_requests)
        );
        w.text(LEFT + 4.0, w.y, 9.0, false, MUTED, &line);
        w.y += ROW;
    }
}

/// Bars of the month's cost per UTC day (all functions together).
fn chart(w: &mut Writer, r: &CostReport, month: Month) {
    w.heading(&format!("Daily cost ({})", r.currency));
    let first = month.first_day();
    let days = month.days();
    let mut per_day: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
    for d in &r.daily {
        *per_day.entry(d.date).or_default() += decimal(&d.usage.cost);
    }
    let max = per_day.values().copied().max().unwrap_or_default();
    let (plot_left, plot_top, plot_h) = (LEFT + 46.0, w.y, 130.0);
    let plot_w = RIGHT - plot_left;
    let base = plot_top + plot_h;
    // Grid: top, middle and baseline with their values.
    for (fraction, top) in [(1.0, plot_top), (0.5, plot_top + plot_h / 2.0), (0.0, base)] {
        let label = if max.is_zero() {
            "0".to_string()
        } else {
            let value = max * Decimal::from_f32_retain(fraction).unwrap_or_default();
            short_money(value)
        };
        w.text_right(plot_left - 6.0, top + 3.0, 7.5, false, &label);
        let mut line = Writer::new();
        line.rule(top, RULE);
        let mut ops = line.pages.remove(0);
        // Shift the rule's left end to the plot area.
        if let Some(Op::DrawLine { line }) = ops.last_mut() {
            line.points[0].p.x = Pt(plot_left);
        }
        w.ops().extend(ops);
    }
    let slot = plot_w / days as f32;
    for i in 0..days {
        let date = first + Duration::days(i as i64);
        let cost = per_day.get(&date).copied().unwrap_or_default();
        if !max.is_zero() && !cost.is_zero() {
            let share = (cost / max).to_f32().unwrap_or(0.0);
            let h = (plot_h * share).max(0.8);
            let x = plot_left + slot * i as f32 + slot * 0.15;
            w.rect(x, base - h, slot * 0.7, h, ACCENT);
        }
        let day = i + 1;
        if day == 1 || day % 5 == 0 {
            let label = day.to_string();
            let x = plot_left + slot * (i as f32 + 0.5) - text_width(&label, 7.5, false) / 2.0;
            w.text(x, base + 11.0, 7.5, false, MUTED, &label);
        }
    }
    if max.is_zero() {
        let note = "No usage in this month.";
        w.text(
            plot_left + 8.0,
            plot_top + plot_h / 2.0 - 6.0,
            9.0,
            false,
            MUTED,
            note,
        );
    }
    w.y = base + 26.0;
    let note = format!("Day of {} (UTC); cost of all functions per day.", r.month);
    w.text(plot_left, w.y, 7.5, false, MUTED, &note);
    w.y += 4.0;
}

/// Money for an axis label: cents, or more places below a cent.
fn short_money(value: Decimal) -> String {
    let dp = if value >= Decimal::new(1, 1) {
        2
    } else if value >= Decimal::new(1, 4) {
        5
    } else {
        8
    };
    value.round_dp(dp).normalize().to_string()
}

fn functions(w: &mut Writer, r: &CostReport) {
    w.heading("Cost per function");
    let columns = [250.0, 295.0, 360.0, 420.0, 480.0, RIGHT - 4.0];
    let header: Vec<String> = [
        "Function",
        "Requests",
        "Errors",
        "GB-seconds",
        "Egress",
        "Cost",
        "Previous",
    ]
    .map(String::from)
    .to_vec();
    w.row(&header, &columns, true, false);
    if r.functions.is_empty() {
        w.text(LEFT + 4.0, w.y, 9.0, false, MUTED, "No functions ran.");
        w.y += ROW;
    }
    let mut lines: Vec<_> = r.functions.iter().collect();
    lines.sort_by_key(|f| std::cmp::Reverse(decimal(&f.usage.cost)));
    for (i, f) in lines.into_iter().enumerate() {
        if !w.room_for(ROW) {
            w.row(&header, &columns, true, false);
        }
        let cells = [
            f.name.clone(),
            thousands(f.usage.requests),
            thousands(f.usage.errors),
            rounded(&f.usage.gb_seconds, 4),
            bytes(f.usage.egress_bytes),
            f.usage.cost_display.clone(),
            rounded(&f.previous_month_cost, 2),
        ];
        w.row(&cells, &columns, false, i % 2 == 1);
    }
    w.room_for(ROW);
    w.rule(w.y - 12.0, RULE);
    let t = &r.totals;
    let cells = [
        format!("Total ({})", r.currency),
        thousands(t.requests),
        thousands(t.errors),
        rounded(&t.gb_seconds, 4),
        bytes(t.egress_bytes),
        t.cost_display.clone(),
        r.previous_totals.cost_display.clone(),
    ];
    w.row(&cells, &columns, true, false);
}

fn applications(w: &mut Writer, r: &CostReport) {
    w.heading("Cost per application");
    let columns = [250.0, 295.0, 360.0, 420.0, 480.0, RIGHT - 4.0];
    let header: Vec<String> = [
        "Application",
        "Functions",
        "Requests",
        "Errors",
        "GB-seconds",
        "Cost",
        "Previous",
    ]
    .map(String::from)
    .to_vec();
    w.row(&header, &columns, true, false);
    if r.applications.is_empty() {
        w.text(LEFT + 4.0, w.y, 9.0, false, MUTED, "No functions ran.");
        w.y += ROW;
    }
    for (i, a) in r.applications.iter().enumerate() {
        if !w.room_for(ROW) {
            w.row(&header, &columns, true, false);
        }
        let cells = [
            a.name.clone(),
            a.functions.len().to_string(),
            thousands(a.usage.requests),
            thousands(a.usage.errors),
            rounded(&a.usage.gb_seconds, 4),
            a.usage.cost_display.clone(),
            rounded(&a.previous_month_cost, 2),
        ];
        w.row(&cells, &columns, false, i % 2 == 1);
    }
}

fn plans(w: &mut Writer, r: &CostReport) {
    w.heading("Price plan used");
    for p in &r.plans {
        w.room_for(3.0 * ROW);
        let from = match p.id {
            None => "Default plan (AWS Lambda x86 list prices)".to_string(),
            Some(_) => format!("From {}", p.effective_from.format("%Y-%m-%d %H:%M UTC")),
        };
        w.text(LEFT + 4.0, w.y, 9.0, true, INK, &from);
        w.y += 13.0;
        let c = &p.currency;
        let line = format!(
            "{} {c} per 1M requests  |  {} {c} per GB-second  |  {} {c} per GB egress",
            p.per_million_requests, p.per_gb_second, p.per_gb_egress
        );
        w.text(LEFT + 4.0, w.y, 9.0, false, INK, &line);
        w.y += 13.0;
        let line = format!(
            "Compared server: {} {c} a month. GB-seconds = billed ms x memory (GB) / 1000.",
            p.server_monthly
        );
        w.text(LEFT + 4.0, w.y, 8.0, false, MUTED, &line);
        w.y += ROW;
    }
}

/// Renders `report` as an A4 PDF document (built-in fonts; pages break as
/// the tables need). Fails only when `report.month` is not a calendar month
/// written `YYYY-MM`: the period line and the daily chart are drawn from it.
/// CPU work of some milliseconds for a large report: callers on an async
/// runtime should run it on a blocking thread.
pub fn cost_pdf(report: &CostReport) -> Result<Vec<u8>, MalformedMonth> {
    let month = Month::parse(&report.month)?;
    let mut w = Writer::new();
    w.rect(0.0, 0.0, WIDTH, 8.0, ACCENT);
    w.text(LEFT, w.y, 22.0, true, INK, "Wisp cost report");
    w.y += 20.0;
    let period = format!(
        "Period: {} ({} to {}, UTC){}",
        report.month,
        month.first_day(),
        month.last_day(),
        if report.month_to_date {
            " - month to date"
        } else {
            ""
        }
    );
    w.text(LEFT, w.y, 10.0, false, MUTED, &period);
    w.y += 14.0;
    if let Some(app) = &report.application {
        let scope = format!("Application: {app} (its functions only)");
        w.text(LEFT, w.y, 10.0, false, MUTED, &scope);
        w.y += 14.0;
    }
    let generated = format!(
        "Generated: {}   Currency: {}",
        report.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        report.currency
    );
    w.text(LEFT, w.y, 10.0, false, MUTED, &generated);
    w.y += 4.0;

    totals(&mut w, report);
    chart(&mut w, report, month);
    functions(&mut w, report);
    applications(&mut w, report);
    plans(&mut w, report);

    let count = w.pages.len();
    let pages: Vec<PdfPage> = std::mem::take(&mut w.pages)
        .into_iter()
        .enumerate()
        .map(|(i, ops)| {
            let mut footer = Writer {
                pages: vec![ops],
                y: 0.0,
            };
            let text = format!(
                "Wisp cost report {}  -  page {} of {count}",
                report.month,
                i + 1
            );
            footer.text(LEFT, HEIGHT - 35.0, 7.5, false, MUTED, &text);
            let ops = footer.pages.remove(0);
            PdfPage::new(printpdf::Mm(210.0), printpdf::Mm(297.0), ops)
        })
        .collect();
    Ok(
        PdfDocument::new(&format!("Wisp cost report {}", report.month))
            .with_pages(pages)
            .save(&PdfSaveOptions::default(), &mut Vec::new()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::report;

    #[test]
    fn a_report_is_a_pdf() {
        let pdf = cost_pdf(&report("2026-03")).unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    }

    #[test]
    fn a_malformed_month_is_refused() {
        assert_eq!(
            cost_pdf(&report("March")),
            Err(MalformedMonth("March".into()))
        );
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1_000), "-1,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.5 MB");
        assert_eq!(rounded("0.123456", 4), "0.1235");
        assert_eq!(rounded("2", 2), "2.00");
        assert_eq!(short_money(Decimal::new(12346, 3)), "12.35");
        assert_eq!(short_money(Decimal::new(5, 4)), "0.0005");
    }
}
