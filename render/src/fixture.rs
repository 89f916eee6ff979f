//! A small cost report for the renderers' tests: two functions of one
//! application, function `a` ran on two days of the month, `b` only the
//! month before.

use chrono::{NaiveDate, TimeZone, Utc};
use model::{
    ApplicationCost, CostReport, DailyCost, FunctionCost, PricePlan, ServerComparison, UsageCost,
};

fn usage(requests: i64, cost: &str, cost_display: &str) -> UsageCost {
    UsageCost {
        requests,
        errors: requests / 100,
        billed_ms: requests * 10,
        gb_seconds: "12.5".into(),
        egress_bytes: requests * 100,
        cost: cost.into(),
        cost_display: cost_display.into(),
    }
}

/// The report of `month` (`YYYY-MM`, taken as is: tests pass malformed ones).
pub(crate) fn report(month: &str) -> CostReport {
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let totals = usage(2_000_000, "2.4000002", "2.40");
    CostReport {
        month: month.into(),
        application: None,
        currency: "USD".into(),
        generated_at: Utc.with_ymd_and_hms(2026, 4, 2, 8, 0, 0).unwrap(),
        month_to_date: false,
        plans: vec![PricePlan {
            id: None,
            effective_from: Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            currency: "USD".into(),
            per_million_requests: "0.20".into(),
            per_gb_second: "0.0000166667".into(),
            per_gb_egress: "0.09".into(),
            server_monthly: "40".into(),
        }],
        functions: vec![
            FunctionCost {
                name: "a".into(),
                usage: totals.clone(),
                previous_month_cost: "0".into(),
                change: "2.4000002".into(),
                change_percent: None,
            },
            FunctionCost {
                name: "b, \"quoted\"".into(),
                usage: usage(0, "0", "0.00"),
                previous_month_cost: "0.0001".into(),
                change: "-0.0001".into(),
                change_percent: Some("-100".into()),
            },
        ],
        applications: vec![ApplicationCost {
            name: "shop".into(),
            functions: vec!["a".into(), "b, \"quoted\"".into()],
            usage: totals.clone(),
            previous_month_cost: "0.0001".into(),
            change: "2.4000001".into(),
            change_percent: None,
        }],
        totals,
        previous_month: "2026-02".into(),
        previous_totals: usage(500, "0.0001", "0.00"),
        projection: None,
        server: ServerComparison {
            server_monthly: "40".into(),
            serverless_cost: "2.4000002".into(),
            serverless_requests: 2_000_000,
            server_cheaper: false,
            cost_per_request: Some("0.0000012".into()),
            break_even_requests: Some(33_333_331),
        },
        daily: vec![
            DailyCost {
                date: day(1),
                function: "a".into(),
                usage: usage(1_000_000, "0.2000001", "0.20"),
            },
            DailyCost {
                date: day(16),
                function: "a".into(),
                usage: usage(1_000_000, "2.2000001", "2.20"),
            },
        ],
    }
}
