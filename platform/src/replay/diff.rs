//! The diff of an original call and its replay: status, response headers,
//! body, logs and outbound requests, part by part, with line diffs of the
//! texts (the `similar` crate's Myers diff).

use model::{
    DiffLine, DiffTag, HeaderDiff, InvocationRecord, OutboundDiff, ReplayDiff, ReplayDivergence,
    StatusDiff, TextDiff,
};
use runtime::{PlaybackReport, Recording};

/// Lines shown per text diff; the rest is summarised in one line.
const MAX_DIFF_LINES: usize = 2000;

/// The original's body when the capture did not keep it.
const NOT_CAPTURED: &str = "[not captured: the call failed after sending a head below 500]";

/// What the replay answered, as the diff needs it.
pub(crate) struct ReplayedResponse {
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The original call (its record and recording) against the replay.
pub(crate) fn diff(
    original: &InvocationRecord,
    recording: &Recording,
    replay: &InvocationRecord,
    response: &ReplayedResponse,
    playback: &PlaybackReport,
) -> ReplayDiff {
    let recorded = recording.response.as_ref();
    let original_status = recorded
        .and_then(|r| r.status)
        .or(original.status_code.map(|s| s as u16));
    let status = StatusDiff {
        same: original_status == response.status,
        original: original_status,
        replay: response.status,
    };
    // A call captured for failing after a head below 500 kept that status
    // only (DECISIONS #53): its headers and body are not compared.
    let status_only =
        recorded.is_some_and(|r| !r.body_complete && r.body.is_empty() && r.headers.is_empty());
    let headers = if status_only {
        Vec::new()
    } else {
        header_diff(
            recorded.map(|r| r.headers.as_slice()).unwrap_or_default(),
            &response.headers,
        )
    };
    let original_body = recorded.map(|r| r.body.as_slice()).unwrap_or_default();
    let body = if status_only {
        text_diff(NOT_CAPTURED, &shown(&response.body), false)
    } else {
        text_diff(
            &shown(original_body),
            &shown(&response.body),
            original_body == response.body.as_slice(),
        )
    };
    let logs = text_diff(&original.logs, &replay.logs, original.logs == replay.logs);
    let originals: Vec<String> = recording
        .outbound
        .iter()
        .map(super::capture::call_line)
        .collect();
    let replays: Vec<String> = playback
        .calls
        .iter()
        .map(|c| {
            let outcome = match (c.status, &c.error) {
                (Some(s), _) => s.to_string(),
                (None, Some(e)) => format!("error: {e}"),
                (None, None) => "no answer".into(),
            };
            format!("{} -> {outcome}", c.request)
        })
        .collect();
    let outbound: Vec<OutboundDiff> = (0..originals.len().max(replays.len()))
        .map(|index| {
            let original = originals.get(index).cloned();
            let replay = replays.get(index).cloned();
            OutboundDiff {
                index,
                same: original == replay,
                original,
                replay,
            }
        })
        .collect();
    let divergences: Vec<ReplayDivergence> = playback
        .divergences
        .iter()
        .map(|d| ReplayDivergence {
            index: d.index,
            recorded: d.recorded.clone(),
            replay: d.replay.clone(),
            differs: d.differs.clone(),
        })
        .collect();
    let same = status.same
        && headers.is_empty()
        && body.same
        && logs.same
        && outbound.iter().all(|o| o.same)
        && divergences.is_empty();
    ReplayDiff {
        same,
        status,
        headers,
        body,
        logs,
        outbound,
        divergences,
    }
}

/// Every secret value in the diff's texts replaced by `[redacted]`
/// (`values` longest first).
pub(crate) fn redact(diff: &mut ReplayDiff, values: &[String]) {
    if values.is_empty() {
        return;
    }
    let r = |s: &mut String| *s = crate::secrets::redact(s, values);
    for text in [&mut diff.body, &mut diff.logs] {
        r(&mut text.original);
        r(&mut text.replay);
        for line in &mut text.lines {
            r(&mut line.text);
        }
    }
    for h in &mut diff.headers {
        h.original.as_mut().map(r);
        h.replay.as_mut().map(r);
    }
    for o in &mut diff.outbound {
        o.original.as_mut().map(r);
        o.replay.as_mut().map(r);
    }
    for d in &mut diff.divergences {
        d.recorded.as_mut().map(r);
        r(&mut d.replay);
    }
}

/// A body as text: itself in UTF-8, else its size.
fn shown(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) => text.to_string(),
        Err(_) => format!("[{} bytes, not UTF-8]", body.len()),
    }
}

/// Headers whose values differ (names compared case-insensitively, the
/// values of a repeated header joined with `, `).
fn header_diff(original: &[(String, String)], replay: &[(String, String)]) -> Vec<HeaderDiff> {
    fn joined(headers: &[(String, String)]) -> std::collections::BTreeMap<String, String> {
        let mut map = std::collections::BTreeMap::<String, String>::new();
        for (name, value) in headers {
            map.entry(name.to_ascii_lowercase())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(value);
                })
                .or_insert_with(|| value.clone());
        }
        map
    }
    let (a, b) = (joined(original), joined(replay));
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| a.get(*name) != b.get(*name))
        .map(|name| HeaderDiff {
            name: name.clone(),
            original: a.get(name).cloned(),
            replay: b.get(name).cloned(),
        })
        .collect()
}

/// Two texts and, when they differ, their line diff.
fn text_diff(original: &str, replay: &str, same: bool) -> TextDiff {
    let mut lines = Vec::new();
    if !same {
        let diff = similar::TextDiff::from_lines(original, replay);
        for change in diff.iter_all_changes() {
            if lines.len() == MAX_DIFF_LINES {
                lines.push(DiffLine {
                    tag: DiffTag::Same,
                    text: "[… more lines not shown]".into(),
                });
                break;
            }
            let tag = match change.tag() {
                similar::ChangeTag::Equal => DiffTag::Same,
                similar::ChangeTag::Delete => DiffTag::Removed,
                similar::ChangeTag::Insert => DiffTag::Added,
            };
            lines.push(DiffLine {
                tag,
                text: change.value().trim_end_matches('\n').to_string(),
            });
        }
    }
    TextDiff {
        same,
        original: original.to_string(),
        replay: replay.to_string(),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_is_removed_and_added_and_the_rest_kept() {
        let d = text_diff("a\nb\nc\n", "a\nB\nc\n", false);
        let tags: Vec<(DiffTag, &str)> = d.lines.iter().map(|l| (l.tag, l.text.as_str())).collect();
        assert_eq!(
            tags,
            vec![
                (DiffTag::Same, "a"),
                (DiffTag::Removed, "b"),
                (DiffTag::Added, "B"),
                (DiffTag::Same, "c"),
            ]
        );
        assert!(text_diff("x", "x", true).lines.is_empty());
    }

    #[test]
    fn headers_differ_by_value_or_presence_not_by_case() {
        let a = vec![
            ("Content-Type".to_string(), "text/plain".to_string()),
            ("x-a".to_string(), "1".to_string()),
        ];
        let b = vec![
            ("content-type".to_string(), "text/plain".to_string()),
            ("x-b".to_string(), "2".to_string()),
        ];
        let d = header_diff(&a, &b);
        let names: Vec<&str> = d.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, vec!["x-a", "x-b"]);
    }
}
