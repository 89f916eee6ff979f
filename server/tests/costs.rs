//! Metering and cost reports over HTTP: calls to a real function show up in
//! the month report (priced exactly as an independent computation from the
//! invocation records says), the CSV download parses and adds up, the PDF
//! is a document pdftotext reads the totals from, and a
//! price-plan change from next month leaves this month's cost untouched.

mod common;

use std::str::FromStr;
use std::time::{Duration, Instant};

use common::{wisp, TestServer};
use model::{CostReport, PricePlans};
use rust_decimal::Decimal;
use serde_json::json;

const CALLS: usize = 12;

/// Polls the report until `function` shows `n` requests (the recorder
/// flushes on its own within a batch window).
async fn report_with(server: &TestServer, function: &str, n: i64) -> CostReport {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report: CostReport =
            serde_json::from_value(server.get_json("/api/v1/costs").await).unwrap();
        if report
            .functions
            .iter()
            .any(|f| f.name == function && f.usage.requests == n)
        {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "report never showed {n} requests of {function}: {report:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{s:?} is not a decimal: {e}"))
}

#[tokio::test]
async fn month_report_prices_recorded_calls_exactly() {
    let server = TestServer::start().await;
    server.deploy("hello", "hello").await;
    for _ in 0..CALLS {
        let r = server
            .http
            .get(server.fn_url("/fn/hello/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let report = report_with(&server, "hello", CALLS as i64).await;
    let records = server.invocations("hello", CALLS).await;
    assert_eq!(records.len(), CALLS);

    // Independent computation from the records with the default plan.
    let plans: PricePlans =
        serde_json::from_value(server.get_json("/api/v1/price-plan").await).unwrap();
    assert_eq!(plans.current.id, None, "the default plan applies");
    assert_eq!(plans.current.per_million_requests, "0.20");
    assert_eq!(plans.current.per_gb_second, "0.0000166667");
    let mb_ms: i64 = records
        .iter()
        .map(|r| r.billed_ms * r.memory_limit_mb)
        .sum();
    let bytes_out: i64 = records.iter().map(|r| r.bytes_out).sum();
    let errors = records
        .iter()
        .filter(|r| r.status == model::InvocationStatus::Error)
        .count() as i64;
    let expected = Decimal::from(CALLS as i64) * dec("0.20") / Decimal::from(1_000_000)
        + Decimal::from(mb_ms) * dec("0.0000166667") / Decimal::from(1_024_000)
        + Decimal::from(bytes_out) * dec("0.09") / Decimal::from(1_073_741_824i64);

    let hello = report.functions.iter().find(|f| f.name == "hello").unwrap();
    assert_eq!(hello.usage.requests, CALLS as i64);
    assert_eq!(hello.usage.errors, errors);
    assert_eq!(
        hello.usage.billed_ms,
        records.iter().map(|r| r.billed_ms).sum::<i64>()
    );
    assert_eq!(
        dec(&hello.usage.gb_seconds),
        Decimal::from(mb_ms) / Decimal::from(1_024_000)
    );
    assert_eq!(hello.usage.egress_bytes, bytes_out);
    // Both sides carry 28 significant digits; calls that straddle midnight
    // are priced per day, so compare far below a cent.
    assert_eq!(dec(&hello.usage.cost).round_dp(15), expected.round_dp(15));
    assert_eq!(dec(&report.totals.cost).round_dp(15), expected.round_dp(15));
    assert_eq!(report.totals.requests, CALLS as i64);
    assert_eq!(report.currency, "USD");
    assert_eq!(hello.previous_month_cost, "0");
    assert!(report.month_to_date);
    let projection = report
        .projection
        .as_ref()
        .expect("month-to-date projection");
    assert!(projection.projected_requests >= CALLS as i64);
    assert_eq!(report.server.server_monthly, "40");
    assert!(!report.server.server_cheaper);
    assert!(report.server.break_even_requests.unwrap() > 0);
    let daily: i64 = report.daily.iter().map(|d| d.usage.requests).sum();
    assert_eq!(daily, CALLS as i64);

    // CSV: header, a row per function per day, a totals row that adds up.
    let r = server
        .get(&format!("/api/v1/costs/{}.csv", report.month))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    assert!(csv.ends_with("\r\n"), "RFC 4180 lines end in CRLF");
    let rows: Vec<Vec<&str>> = csv
        .trim_end_matches("\r\n")
        .split("\r\n")
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "date",
            "function",
            "requests",
            "errors",
            "billed_ms",
            "gb_seconds",
            "egress_bytes",
            "cost",
            "currency",
            "application"
        ]
    );
    let (total, lines) = rows[1..].split_last().unwrap();
    let (days, app_totals): (Vec<_>, Vec<_>) = lines.iter().partition(|d| d[0] != "total");
    assert_eq!(days.len(), report.daily.len());
    assert!(days
        .iter()
        .all(|d| d[1] == "hello" && d.len() == 10 && d[9] == "default"));
    assert_eq!(total[0], "total");
    assert_eq!(total[9], "", "the grand total names no application");
    // One total per application, equal (exactly) to its functions' rows.
    assert_eq!(app_totals.len(), 1, "{csv}");
    assert_eq!(app_totals[0][9], "default");
    assert_eq!(
        dec(app_totals[0][7]),
        days.iter().map(|d| dec(d[7])).sum::<Decimal>()
    );
    let requests: i64 = days.iter().map(|d| d[2].parse::<i64>().unwrap()).sum();
    assert_eq!(requests, CALLS as i64);
    assert_eq!(total[2], CALLS.to_string());
    let cost: Decimal = days.iter().map(|d| dec(d[7])).sum();
    assert_eq!(cost, dec(total[7]));
    assert_eq!(dec(total[7]), dec(&report.totals.cost));

    // Unknown download formats and bad months are clear errors.
    let r = server
        .get(&format!("/api/v1/costs/{}.xls", report.month))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = server
        .get("/api/v1/costs?month=2026-13")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Reports need a token.
    let r = server
        .http
        .get(server.api_url("/api/v1/costs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// Runs a poppler tool (`pdftotext`, `pdftoppm`), failing with its stderr.
fn poppler(tool: &str, args: &[&str]) {
    let output = std::process::Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (Debian poppler-utils) is needed: {e}"));
    assert!(
        output.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn pdf_report_is_a_document_with_the_totals() {
    let server = TestServer::start().await;
    server.deploy("hello", "hello").await;
    for _ in 0..5 {
        let r = server
            .http
            .get(server.fn_url("/fn/hello/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let report = report_with(&server, "hello", 5).await;

    let r = server
        .get(&format!("/api/v1/costs/{}.pdf", report.month))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"wisp-costs-{}.pdf\"", report.month).as_str()
    );
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let file = file.to_str().unwrap();
    let txt = dir.path().join("report.txt");
    poppler("pdftotext", &["-layout", file, txt.to_str().unwrap()]);
    let text = std::fs::read_to_string(&txt).unwrap();
    assert!(text.contains("Wisp cost report"), "{text}");
    assert!(text.contains(&report.month), "{text}");
    assert!(text.contains("hello"), "{text}");
    assert!(text.contains(&report.totals.cost_display), "{text}");
    assert!(text.contains("Price plan used"), "{text}");
    // Page 1 renders (WISP_PDF_PNG keeps the image for a look).
    let png = std::env::var("WISP_PDF_PNG")
        .unwrap_or_else(|_| dir.path().join("page").to_str().unwrap().to_string());
    poppler(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            file,
            &png,
        ],
    );
    assert!(std::fs::metadata(format!("{png}.png")).unwrap().len() > 1000);

    // The CLI writes the same document to a file and prints its path.
    let out_file = dir.path().join("cli.pdf");
    let (ok, out, err) = wisp(
        &server,
        &[
            "costs",
            "--month",
            &report.month,
            "--format",
            "pdf",
            "--output",
            out_file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), out_file.to_str().unwrap());
    assert!(std::fs::read(&out_file).unwrap().starts_with(b"%PDF-"));
}

#[tokio::test]
async fn plan_change_from_next_month_keeps_this_month() {
    let server = TestServer::start().await;
    server.deploy("hello", "hello").await;
    for _ in 0..3 {
        let r = server
            .http
            .get(server.fn_url("/fn/hello/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let before = report_with(&server, "hello", 3).await;
    let next = next_month(&before.month);

    let put = |body: serde_json::Value| {
        server
            .http
            .put(server.api_url("/api/v1/price-plan"))
            .bearer_auth(&server.token)
            .json(&body)
            .send()
    };
    let plan = json!({
        "effective_from": format!("{next}-01T00:00:00Z"),
        "currency": "EUR",
        "per_million_requests": "2.00",
        "per_gb_second": "0.001",
        "per_gb_egress": "1",
        "server_monthly": "10",
    });
    let r = put(plan.clone()).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Invalid plans are refused with the reason.
    for (field, value) in [
        ("currency", json!("euro")),
        ("per_gb_second", json!("-1")),
        ("per_million_requests", json!("a lot")),
        ("effective_from", json!("2000-01-01T00:00:00Z")),
    ] {
        let mut bad = plan.clone();
        bad[field] = value;
        let r = put(bad).await.unwrap();
        assert_eq!(r.status(), 400, "{field} accepted");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_input");
    }

    let plans: PricePlans =
        serde_json::from_value(server.get_json("/api/v1/price-plan").await).unwrap();
    assert_eq!(plans.history.len(), 2);
    assert_eq!(plans.current.id, None, "the new plan starts next month");
    assert_eq!(plans.history[1].currency, "EUR");

    let after: CostReport = serde_json::from_value(
        server
            .get_json(&format!("/api/v1/costs?month={}", before.month))
            .await,
    )
    .unwrap();
    assert_eq!(after.totals, before.totals);
    assert_eq!(after.currency, "USD");
    assert_eq!(after.plans.len(), 1);

    let coming: CostReport = serde_json::from_value(
        server
            .get_json(&format!("/api/v1/costs?month={next}"))
            .await,
    )
    .unwrap();
    assert_eq!(coming.currency, "EUR");
    assert_eq!(coming.totals.requests, 0);
    assert_eq!(coming.previous_totals, before.totals);
    assert_eq!(coming.server.server_monthly, "10");
}

fn next_month(month: &str) -> String {
    let (y, m) = month.split_once('-').unwrap();
    let (y, m): (i32, u32) = (y.parse().unwrap(), m.parse().unwrap());
    if m == 12 {
        format!("{}-01", y + 1)
    } else {
        format!("{y}-{:02}", m + 1)
    }
}

#[tokio::test]
async fn cli_prints_costs_as_table_json_and_csv() {
    let server = TestServer::start().await;
    server.deploy("hello", "hello").await;
    let r = server
        .http
        .get(server.fn_url("/fn/hello/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report = report_with(&server, "hello", 1).await;

    let (ok, out, err) = wisp(&server, &["costs"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("Costs for {}", report.month)),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("hello") && l.contains(" 1 ")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("TOTAL")), "{out}");

    let (ok, out, err) = wisp(
        &server,
        &["costs", "--month", &report.month, "--format", "json"],
    );
    assert!(ok, "{err}");
    let json: CostReport = serde_json::from_str(&out).unwrap();
    assert_eq!(json.totals, report.totals);

    let (ok, out, err) = wisp(&server, &["costs", "--format", "csv"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("date,function,requests,"), "{out}");
    assert!(out.contains(",hello,1,"), "{out}");

    let (ok, _, err) = wisp(&server, &["costs", "--month", "2026-13"]);
    assert!(!ok);
    assert!(err.contains("YYYY-MM"), "{err}");
}

/// One application's report: only its functions, totals that are the exact
/// sum of their lines, in JSON, CSV and PDF; the team's report shows each
/// application's total as the exact sum of its functions.
#[tokio::test]
async fn a_report_scoped_to_one_application_adds_up_in_json_csv_and_pdf() {
    let server = TestServer::start().await;
    for (name, app, calls) in [
        ("shop-a", "shop", 3),
        ("shop-b", "shop", 4),
        ("blog-a", "blog", 5),
    ] {
        server.deploy(name, "hello").await;
        server.configure(name, json!({ "application": app })).await;
        for _ in 0..calls {
            let r = server
                .http
                .get(server.fn_url(&format!("/fn/{name}/")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    }
    report_with(&server, "blog-a", 5).await;
    report_with(&server, "shop-a", 3).await;
    // Once these show, every call is in (their records were all stored).
    let team = report_with(&server, "shop-b", 4).await;
    for a in &team.applications {
        let sum: Decimal = team
            .functions
            .iter()
            .filter(|f| a.functions.contains(&f.name))
            .map(|f| dec(&f.usage.cost))
            .sum();
        assert_eq!(dec(&a.usage.cost), sum, "{}", a.name);
    }

    let shop: CostReport =
        serde_json::from_value(server.get_json("/api/v1/costs?application=shop").await).unwrap();
    assert_eq!(shop.application.as_deref(), Some("shop"));
    let mut names: Vec<&str> = shop.functions.iter().map(|f| f.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["shop-a", "shop-b"]);
    assert_eq!(shop.totals.requests, 7);
    let lines: Decimal = shop.functions.iter().map(|f| dec(&f.usage.cost)).sum();
    assert_eq!(dec(&shop.totals.cost), lines);
    let in_team = team.applications.iter().find(|a| a.name == "shop").unwrap();
    assert_eq!(dec(&shop.totals.cost), dec(&in_team.usage.cost));

    let r = server
        .get(&format!(
            "/api/v1/costs/{}.csv?application=shop",
            shop.month
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-disposition"],
        format!(
            "attachment; filename=\"wisp-costs-shop-{}.csv\"",
            shop.month
        )
        .as_str()
    );
    let csv = r.text().await.unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert!(rows.iter().all(|r| r[1] != "blog-a"), "{csv}");
    let days: Decimal = rows
        .iter()
        .filter(|r| r[0] != "total")
        .map(|r| dec(r[7]))
        .sum();
    let app_total = rows
        .iter()
        .find(|r| r[0] == "total" && r[9] == "shop")
        .unwrap();
    assert_eq!(dec(app_total[7]), days);
    assert_eq!(dec(app_total[7]), dec(&shop.totals.cost));

    let pdf = server
        .get(&format!(
            "/api/v1/costs/{}.pdf?application=shop",
            shop.month
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let txt = dir.path().join("shop.txt");
    poppler(
        "pdftotext",
        &["-layout", file.to_str().unwrap(), txt.to_str().unwrap()],
    );
    let text = std::fs::read_to_string(&txt).unwrap();
    assert!(text.contains("Application: shop"), "{text}");
    assert!(
        text.contains("shop-a") && !text.contains("blog-a"),
        "{text}"
    );
    assert!(text.contains(&shop.totals.cost_display), "{text}");
}
