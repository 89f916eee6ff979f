//! The month cost report as CSV (RFC 4180): a header row, one row per
//! function per day with its usage, then a `total` row. Renders a
//! [`CostReport`] as the JSON API returns it; money keeps the report's exact
//! decimal strings.

use model::{CostReport, UsageCost};

/// One CSV field, quoted when RFC 4180 requires it.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// The report as CSV (RFC 4180: CRLF line ends, a header row): one row per
/// function per day with usage (`report.daily`, in its order), then one
/// `total` row per application (its functions' sums, exact, as in
/// `report.applications`), then the `total` row of `report.totals` (no
/// application). Every row names the report's currency; the last column is
/// the function's application.
pub fn cost_csv(report: &CostReport) -> String {
    let mut out = String::from(
        "date,function,requests,errors,billed_ms,gb_seconds,egress_bytes,cost,currency,application\r\n",
    );
    let application_of = |function: &str| {
        report
            .applications
            .iter()
            .find(|a| a.functions.iter().any(|f| f == function))
            .map(|a| a.name.as_str())
            .unwrap_or_default()
    };
    let mut row = |date: &str, function: &str, u: &UsageCost, application: &str| {
        let fields = [
            date.to_string(),
            function.to_string(),
            u.requests.to_string(),
            u.errors.to_string(),
            u.billed_ms.to_string(),
            u.gb_seconds.clone(),
            u.egress_bytes.to_string(),
            u.cost.clone(),
            report.currency.clone(),
            application.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    };
    for d in &report.daily {
        row(
            &d.date.to_string(),
            &d.function,
            &d.usage,
            application_of(&d.function),
        );
    }
    for a in &report.applications {
        row("total", "", &a.usage, &a.name);
    }
    row("total", "", &report.totals, "");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::report;

    #[test]
    fn one_row_per_function_per_day_then_the_total() {
        let report = report("2026-03");
        let csv = cost_csv(&report);
        let applications = report.applications.len();
        assert_eq!(csv.lines().count(), 4 + applications, "{csv}");
        assert!(csv.starts_with("date,function,requests,"));
        assert!(csv.contains("\r\n2026-03-01,a,1000000,"), "{csv}");
        assert!(csv.ends_with(&format!(",{},USD,\r\n", report.totals.cost)));
        for a in &report.applications {
            let line = format!("total,,{},", a.usage.requests);
            let row = csv
                .lines()
                .find(|l| l.starts_with(&line) && l.ends_with(&format!(",{}", a.name)));
            assert!(
                row.is_some_and(|r| r.contains(&format!(",{},USD,", a.usage.cost))),
                "{csv}"
            );
        }
        assert!(csv.split("\r\n").all(|line| !line.contains('\n')));
    }

    #[test]
    fn fields_are_quoted_when_rfc_4180_requires_it() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
