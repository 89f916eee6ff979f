//! The lines shown for a log search hit: the lines of the invocation's logs
//! (and its error text) that hold a hit, with where the hits are, a long
//! line cut around its first hit; and the `level` filter for JSON lines.

use model::LogLine;

use super::terms::Terms;

/// Matching lines shown per invocation; the rest are counted.
pub(crate) const MAX_LINES: usize = 5;
/// A longer line is cut to about this many bytes around its first hit.
const MAX_LINE_BYTES: usize = 400;
/// Bytes kept before the first hit of a cut line.
const CONTEXT_BEFORE: usize = 80;
const ELLIPSIS: &str = "…";

/// The matching lines of one invocation.
pub(crate) struct Matched {
    pub lines: Vec<LogLine>,
    pub more_lines: u32,
    pub error: Option<LogLine>,
}

/// The lines of `logs` (and `error`) that hold a hit of `terms`; with
/// `level`, only JSON lines of that level count, and `None` means the
/// invocation has none (it is not a hit).
pub(crate) fn matched(
    terms: &Terms,
    logs: &str,
    error: Option<&str>,
    level: Option<&str>,
) -> Option<Matched> {
    let mut lines = Vec::new();
    let mut total = 0usize;
    for (i, line) in logs.lines().enumerate() {
        if level.is_some_and(|level| !at_level(line, level)) {
            continue;
        }
        let hits = terms.hits(line);
        if hits.is_empty() {
            continue;
        }
        total += 1;
        if lines.len() < MAX_LINES {
            lines.push(cut(i as u32 + 1, line, &hits));
        }
    }
    let error = match (level, error) {
        (None, Some(text)) => {
            let hits = terms.hits(text);
            (!hits.is_empty()).then(|| cut(0, text, &hits))
        }
        _ => None,
    };
    if level.is_some() && total == 0 {
        return None;
    }
    Some(Matched {
        more_lines: (total - lines.len()) as u32,
        lines,
        error,
    })
}

/// Whether `line` is a JSON object whose `level` (or `lvl`, `severity`)
/// is `level`, ignoring case.
pub(crate) fn at_level(line: &str, level: &str) -> bool {
    let line = line.trim();
    if !line.starts_with('{') {
        return false;
    }
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(line) else {
        return false;
    };
    fields.iter().any(|(key, value)| {
        ["level", "lvl", "severity"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
            && value
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case(level))
    })
}

/// Line `number` with its `hits`; a long line is cut to a window that
/// starts a little before its first hit.
fn cut(number: u32, line: &str, hits: &[(usize, usize)]) -> LogLine {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.len() <= MAX_LINE_BYTES {
        return LogLine {
            number,
            text: line.to_string(),
            highlights: hits
                .iter()
                .filter(|&&(_, end)| end <= line.len())
                .map(|&(s, e)| [s as u32, e as u32])
                .collect(),
        };
    }
    let first = hits.first().map_or(0, |h| h.0);
    let start = floor_char(line, first.saturating_sub(CONTEXT_BEFORE));
    let end = floor_char(line, (start + MAX_LINE_BYTES).min(line.len()));
    let mut text = String::with_capacity(end - start + 2 * ELLIPSIS.len());
    if start > 0 {
        text.push_str(ELLIPSIS);
    }
    let shift = text.len();
    text.push_str(&line[start..end]);
    if end < line.len() {
        text.push_str(ELLIPSIS);
    }
    let highlights = hits
        .iter()
        .filter(|&&(s, e)| s >= start && e <= end)
        .map(|&(s, e)| [(s - start + shift) as u32, (e - start + shift) as u32])
        .collect();
    LogLine {
        number,
        text,
        highlights,
    }
}

/// The largest char boundary of `s` at or before `at`.
fn floor_char(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(q: &str) -> Terms {
        Terms::parse(q).unwrap()
    }

    fn shown(line: &LogLine) -> Vec<&str> {
        line.highlights
            .iter()
            .map(|[s, e]| &line.text[*s as usize..*e as usize])
            .collect()
    }

    #[test]
    fn shows_only_the_lines_with_a_hit() {
        let logs = "start\nGET /orders/zebra 200\nother\nzebra again\n";
        let m = matched(&terms("zebra"), logs, None, None).unwrap();
        assert_eq!(m.lines.iter().map(|l| l.number).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(shown(&m.lines[0]), ["zebra"]);
        assert_eq!(m.more_lines, 0);
        assert!(m.error.is_none());
    }

    #[test]
    fn caps_the_lines_and_counts_the_rest() {
        let logs = "hit\n".repeat(MAX_LINES + 3);
        let m = matched(&terms("hit"), &logs, None, None).unwrap();
        assert_eq!(m.lines.len(), MAX_LINES);
        assert_eq!(m.more_lines, 3);
    }

    #[test]
    fn the_error_text_is_line_zero() {
        let m = matched(
            &terms("unreachable"),
            "",
            Some("wasm trap: unreachable"),
            None,
        )
        .unwrap();
        let error = m.error.unwrap();
        assert_eq!(error.number, 0);
        assert_eq!(shown(&error), ["unreachable"]);
    }

    #[test]
    fn cuts_a_long_line_around_its_first_hit() {
        let line = format!("{} needle {}", "é".repeat(300), "x ".repeat(400));
        let m = matched(&terms("needle"), &line, None, None).unwrap();
        let cut = &m.lines[0];
        assert!(cut.text.starts_with(ELLIPSIS) && cut.text.ends_with(ELLIPSIS));
        assert!(cut.text.len() <= MAX_LINE_BYTES + 2 * ELLIPSIS.len());
        assert_eq!(shown(cut), ["needle"]);
    }

    #[test]
    fn level_keeps_json_lines_of_that_level() {
        let logs = concat!(
            "{\"level\":\"info\",\"msg\":\"order created\"}\n",
            "{\"level\":\"ERROR\",\"msg\":\"order failed\"}\n",
            "error order plain text\n",
        );
        let m = matched(&terms("order"), logs, None, Some("error")).unwrap();
        assert_eq!(m.lines.len(), 1);
        assert_eq!(m.lines[0].number, 2);
        assert!(matched(&terms("created"), logs, None, Some("error")).is_none());
        assert!(at_level("{\"severity\":\"warn\"}", "WARN"));
        assert!(!at_level("{\"level\":3}", "3"));
        assert!(!at_level("level=error", "error"));
    }
}
