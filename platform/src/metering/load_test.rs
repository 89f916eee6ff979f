//! Load test: a month of usage (1,000,000 invocations across 20 functions,
//! with explicit timestamps as the test clock) goes through the real
//! recorder (records + rollups in one transaction per batch), then the month
//! report, its CSV and its PDF are produced from the rollups. Timings are printed,
//! not asserted (shared build machines vary too much). About 3 minutes in a
//! debug build, almost all of it recording; `WISP_LOAD_TEST_PDF=FILE` keeps
//! the PDF. Measured numbers are in bench/README.md.

use std::time::Instant;

use chrono::Duration;
use model::InvocationRecord;

use super::{plan, report, rollup, Month};
use crate::recorder::Recorder;
use crate::time::from_ms;

const INVOCATIONS: i64 = 1_000_000;
const FUNCTIONS: i64 = 20;

fn record(i: i64, month: Month) -> InvocationRecord {
    let span = month.end_ms() - month.start_ms();
    // Spread evenly over the month; each function gets its own memory size.
    let at = month.start_ms() + i * (span / INVOCATIONS);
    let f = i % FUNCTIONS;
    InvocationRecord {
        id: format!("load-{i:08}"),
        function: format!("fn-{f:02}"),
        version: 1,
        trigger: model::TriggerKind::Http,
        started_at: from_ms(at),
        duration_ms: 1.5,
        billed_ms: 1 + i % 7,
        memory_limit_mb: 128 * (1 + f % 4),
        peak_memory_bytes: 1 << 20,
        bytes_in: 10,
        bytes_out: 100 + i % 13,
        status: if i % 100 == 0 {
            model::InvocationStatus::Error
        } else {
            model::InvocationStatus::Success
        },
        outcome: model::InvocationOutcome::Success,
        status_code: Some(200),
        error: None,
        method: "GET".into(),
        path: "/".into(),
        logs: String::new(),
        logs_truncated: false,
        parent_id: None,
        trigger_id: None,
        trace_id: None,
        parent_span_id: None,
        attempt: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_a_million_invocations() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("wisp.db").display());
    let (db, backend) = crate::db::connect(&url).await.unwrap();
    let month: Month = "2026-02".parse().unwrap();

    let started = Instant::now();
    let recorder = Recorder::start(db.clone(), backend, &url);
    let mut expected = rollup::Usage::default();
    for i in 0..INVOCATIONS {
        let r = record(i, month);
        expected.add(&rollup::Usage::of(&r));
        recorder.record(r).await;
    }
    recorder.flush().await;
    let recording = started.elapsed();

    let started = Instant::now();
    let hours = rollup::load(&db, month.previous().start_ms(), month.end_ms())
        .await
        .unwrap();
    let book = plan::load(&db).await.unwrap();
    let now = month.end_ms() + Duration::days(3).num_milliseconds();
    // Four applications of five functions each.
    let applications: std::collections::HashMap<String, String> = (0..FUNCTIONS)
        .map(|f| (format!("fn-{f:02}"), format!("app-{}", f % 4)))
        .collect();
    let report = report::build(month, &hours, &book, now, &applications);
    let reporting = started.elapsed();
    let started = Instant::now();
    let csv = render::cost_csv(&report);
    let csv_time = started.elapsed();
    let started = Instant::now();
    let pdf = render::cost_pdf(&report).expect("a well-formed month");
    let pdf_time = started.elapsed();
    eprintln!(
        "load test: recorded {INVOCATIONS} invocations in {recording:.2?}; \
         month report from {} hourly rows in {reporting:.2?}; CSV ({} bytes) in {csv_time:.2?}; \
         PDF ({} bytes) in {pdf_time:.2?}",
        hours.len(),
        csv.len(),
        pdf.len()
    );
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    if let Some(out) = std::env::var_os("WISP_LOAD_TEST_PDF") {
        std::fs::write(out, &pdf).unwrap();
    }
    assert_eq!(report.applications.len(), 4);
    assert!(report.applications.iter().all(|a| a.functions.len() == 5));
    let app_requests: i64 = report.applications.iter().map(|a| a.usage.requests).sum();
    assert_eq!(app_requests, expected.requests);

    assert_eq!(report.functions.len(), FUNCTIONS as usize);
    assert_eq!(report.totals.requests, expected.requests);
    assert_eq!(report.totals.errors, expected.errors);
    assert_eq!(report.totals.billed_ms, expected.billed_ms);
    assert_eq!(report.totals.egress_bytes, expected.bytes_out);
    // Priced per function per day and summed, against one product over
    // the month: equal far below a cent (both carry 28 digits).
    let total: rust_decimal::Decimal = report.totals.cost.parse().unwrap();
    let whole = report::cost_of(&expected, &plan::Plan::default_plan().prices);
    assert_eq!(total.round_dp(12), whole.round_dp(12));
    // 28 days × 20 functions, plus header, one total per application and
    // the grand total.
    assert_eq!(
        csv.lines().count(),
        28 * FUNCTIONS as usize + 2 + report.applications.len()
    );
    // Each application's total row is the exact sum of its functions' rows,
    // and equals the JSON report's application line.
    use rust_decimal::Decimal;
    let mut sums: std::collections::HashMap<String, Decimal> = Default::default();
    let mut totals: std::collections::HashMap<String, Decimal> = Default::default();
    for line in csv.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (date, cost, app) = (fields[0], fields[7].parse::<Decimal>().unwrap(), fields[9]);
        match (date, app) {
            ("total", "") => {}
            ("total", app) => {
                totals.insert(app.to_string(), cost);
            }
            (_, app) => *sums.entry(app.to_string()).or_default() += cost,
        }
    }
    assert_eq!(totals.len(), report.applications.len());
    for a in &report.applications {
        let json: Decimal = a.usage.cost.parse().unwrap();
        assert_eq!(totals[&a.name], json, "{}", a.name);
        assert_eq!(sums[&a.name], json, "{}", a.name);
    }
}
