//! `wisp logs --search TEXT`: log search across the team's functions
//! (`GET /api/v1/logs`), printed one invocation per block with its
//! matching lines, the hits in bold on a terminal.

use std::io::IsTerminal;

use anyhow::Context;
use chrono::{DateTime, Utc};
use model::{LogLine, LogSearchPage};

use super::client::{encode_query, Client};
use super::LogsArgs;

pub async fn search(client: &Client, args: LogsArgs) -> anyhow::Result<()> {
    let text = args.search.clone().unwrap_or_default();
    let function = args.function.clone().or(args.name.clone());
    let mut query = format!("q={}&limit={}", encode_query(&text), args.limit);
    let now = Utc::now();
    let params = [
        ("function", function),
        ("status", args.status.clone()),
        ("level", args.level.clone()),
        (
            "since",
            args.since.as_deref().map(|t| instant(t, now)).transpose()?,
        ),
        (
            "until",
            args.until.as_deref().map(|t| instant(t, now)).transpose()?,
        ),
    ];
    for (key, value) in params {
        if let Some(value) = value {
            query.push_str(&format!("&{key}={}", encode_query(&value)));
        }
    }
    let page: LogSearchPage = client.get_json(&format!("/api/v1/logs?{query}")).await?;
    if page.hits.is_empty() {
        println!("No invocation's logs match.");
        return Ok(());
    }
    let bold = std::io::stdout().is_terminal();
    for hit in &page.hits {
        println!(
            "{}  {}  {} v{}  {} {}",
            hit.started_at.format("%Y-%m-%d %H:%M:%S%.3f"),
            hit.id,
            hit.function,
            hit.version,
            hit.status,
            hit.outcome
        );
        if let Some(error) = &hit.error {
            println!("    error: {}", marked(error, bold));
        }
        for line in &hit.lines {
            println!("    {:>4} | {}", line.number, marked(line, bold));
        }
        if hit.more_lines > 0 {
            println!("         ({} more matching lines)", hit.more_lines);
        }
    }
    if page.next_before.is_some() {
        eprintln!(
            "({} shown, newest first; more match: narrow the search or raise --limit)",
            page.hits.len()
        );
    }
    Ok(())
}

/// RFC 3339 as given, or `15m` / `2h` / `7d` before `now`, as RFC 3339.
pub(super) fn instant(text: &str, now: DateTime<Utc>) -> anyhow::Result<String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc).to_rfc3339());
    }
    let ago = crate::api::parse_window(text).with_context(|| {
        format!("{text:?} is not a time: use RFC 3339 or a time ago such as 15m, 2h or 7d")
    })?;
    let at = now
        .checked_sub_signed(ago)
        .with_context(|| format!("{text:?} is too long ago"))?;
    Ok(at.to_rfc3339())
}

/// The line with its hits between ANSI bold markers (when `bold`).
fn marked(line: &LogLine, bold: bool) -> String {
    if !bold {
        return line.text.clone();
    }
    let mut out = String::with_capacity(line.text.len() + 8 * line.highlights.len());
    let mut at = 0;
    for [start, end] in &line.highlights {
        let (start, end) = (*start as usize, *end as usize);
        let (Some(before), Some(hit)) = (line.text.get(at..start), line.text.get(start..end))
        else {
            continue;
        };
        out.push_str(before);
        out.push_str("\x1b[1m");
        out.push_str(hit);
        out.push_str("\x1b[0m");
        at = end;
    }
    out.push_str(line.text.get(at..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_a_time_ago() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(instant("2h", now).unwrap(), "2026-03-01T10:00:00+00:00");
        assert_eq!(instant("7d", now).unwrap(), "2026-02-22T12:00:00+00:00");
        assert_eq!(
            instant("2026-01-31T12:00:00+01:00", now).unwrap(),
            "2026-01-31T11:00:00+00:00"
        );
        for bad in ["", "yesterday", "0h", "-1h", "5y", "99999999999999d"] {
            assert!(instant(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn hits_are_bold_on_a_terminal() {
        let line = LogLine {
            number: 1,
            text: "GET /orders/zebra ok".into(),
            highlights: vec![[12, 17]],
        };
        assert_eq!(marked(&line, false), "GET /orders/zebra ok");
        assert_eq!(marked(&line, true), "GET /orders/\x1b[1mzebra\x1b[0m ok");
    }
}
