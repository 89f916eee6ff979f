//! A log search's text, cut into words the server chooses, so that nothing
//! a user types reaches a full-text query language as syntax: it owns the
//! parsing of `q`, its rendering as an FTS5 MATCH expression and as a
//! PostgreSQL tsquery, and finding the hits in a line of text.
//!
//! A word is a run of letters and digits, compared case-insensitively:
//! the words both indexes hold (SQLite `unicode61 remove_diacritics 0`;
//! PostgreSQL `simple` over text whose other characters became spaces).
//! The query language, all of it:
//!
//! - `timeout refused`: both words, anywhere in the call's logs or error;
//! - `"connection reset"`: the words next to each other, in this order; a
//!   term with punctuation inside (`user_id=42`, `/orders/7`) is such a
//!   phrase too (`user id 42`);
//! - `ship*`: a word starting with `ship`;
//! - `-healthz`: calls without the word;
//! - `timeout OR refused`: either one (`OR` in capitals, between terms).

use crate::PlatformError;

/// Longest search text accepted, in bytes.
const MAX_QUERY_BYTES: usize = 1000;
/// Most terms (words, phrases) in one search.
const MAX_TERMS: usize = 16;
/// Longest word accepted, in characters.
const MAX_WORD_CHARS: usize = 100;

/// One term: a word or a phrase (words next to each other).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Term {
    /// Lower-cased words, letters and digits only.
    pub words: Vec<String>,
    /// The last word is a prefix (`ship*`).
    pub prefix: bool,
}

/// A parsed search: every group must match (one of its terms is enough),
/// and no excluded term may.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Terms {
    pub groups: Vec<Vec<Term>>,
    pub excluded: Vec<Term>,
}

/// One chunk of the search text before grouping.
struct Chunk {
    term: Option<Term>,
    negated: bool,
    /// A bare `OR` between terms.
    or: bool,
}

/// The words of `text` with their byte ranges, lower-cased.
pub(crate) fn words(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((text[s..i].to_lowercase(), s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((text[s..].to_lowercase(), s, text.len()));
    }
    out
}

impl Terms {
    /// Parses the search text `q`; an empty search, or one with no letters
    /// or digits to look for, is invalid input naming `q`.
    pub fn parse(q: &str) -> Result<Self, PlatformError> {
        if q.len() > MAX_QUERY_BYTES {
            return Err(PlatformError::invalid_field(
                "q",
                format!("the search text is longer than {MAX_QUERY_BYTES} bytes"),
            ));
        }
        let mut groups: Vec<Vec<Term>> = Vec::new();
        let mut excluded = Vec::new();
        let mut join_next = false;
        for chunk in chunks(q) {
            if chunk.or {
                join_next = !groups.is_empty();
                continue;
            }
            let Some(term) = chunk.term else { continue };
            if let Some(long) = term
                .words
                .iter()
                .find(|w| w.chars().count() > MAX_WORD_CHARS)
            {
                return Err(PlatformError::invalid_field(
                    "q",
                    format!(
                        "the word {}… is longer than {MAX_WORD_CHARS} characters",
                        long.chars().take(20).collect::<String>()
                    ),
                ));
            }
            if chunk.negated {
                excluded.push(term);
            } else if join_next {
                groups
                    .last_mut()
                    .expect("join_next needs a group")
                    .push(term);
            } else {
                groups.push(vec![term]);
            }
            join_next = false;
        }
        let count = groups.iter().map(Vec::len).sum::<usize>() + excluded.len();
        if count > MAX_TERMS {
            return Err(PlatformError::invalid_field(
                "q",
                format!("the search has {count} terms; at most {MAX_TERMS} are allowed"),
            ));
        }
        if groups.is_empty() {
            let message = if excluded.is_empty() {
                "the search has no letters or digits to look for"
            } else {
                "give at least one word to find: `-word` only leaves calls out"
            };
            return Err(PlatformError::invalid_field("q", message));
        }
        Ok(Self { groups, excluded })
    }

    /// Requires `word` as well (the level filter's prefilter).
    pub fn require(&mut self, word: &str) {
        self.groups.push(vec![Term {
            words: vec![word.to_lowercase()],
            prefix: false,
        }]);
    }

    /// The search as an FTS5 MATCH expression: every word a quoted string
    /// of letters and digits, so no operator, column filter or quote of
    /// the user's can take effect.
    pub fn fts5(&self) -> String {
        let term = |t: &Term| {
            format!(
                "\"{}\"{}",
                t.words.join(" "),
                if t.prefix { " *" } else { "" }
            )
        };
        let group = |g: &Vec<Term>| {
            let alternatives: Vec<String> = g.iter().map(term).collect();
            format!("({})", alternatives.join(" OR "))
        };
        let all: Vec<String> = self.groups.iter().map(group).collect();
        let mut out = format!("({})", all.join(" AND "));
        if !self.excluded.is_empty() {
            let none: Vec<String> = self.excluded.iter().map(term).collect();
            out = format!("{out} NOT ({})", none.join(" OR "));
        }
        out
    }

    /// The search as PostgreSQL tsquery text for `to_tsquery('simple', ..)`:
    /// every word a quoted lexeme of letters and digits.
    pub fn tsquery(&self) -> String {
        let term = |t: &Term| {
            let last = t.words.len() - 1;
            let lexemes: Vec<String> = t
                .words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    if t.prefix && i == last {
                        format!("'{w}':*")
                    } else {
                        format!("'{w}'")
                    }
                })
                .collect();
            format!("({})", lexemes.join(" <-> "))
        };
        let group = |g: &Vec<Term>| {
            let alternatives: Vec<String> = g.iter().map(term).collect();
            format!("({})", alternatives.join(" | "))
        };
        let mut parts: Vec<String> = self.groups.iter().map(group).collect();
        parts.extend(self.excluded.iter().map(|t| format!("!{}", term(t))));
        parts.join(" & ")
    }

    /// Where the terms to find (not the excluded ones) occur in `line`:
    /// sorted, merged `[start, end)` byte ranges.
    pub fn hits(&self, line: &str) -> Vec<(usize, usize)> {
        let found = words(line);
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for term in self.groups.iter().flatten() {
            let n = term.words.len();
            if n == 0 || found.len() < n {
                continue;
            }
            for at in 0..=found.len() - n {
                let matches = term.words.iter().enumerate().all(|(k, w)| {
                    let seen = &found[at + k].0;
                    if term.prefix && k == n - 1 {
                        seen.starts_with(w.as_str())
                    } else {
                        seen == w
                    }
                });
                if matches {
                    ranges.push((found[at].1, found[at + n - 1].2));
                }
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

/// Cuts `q` into terms: `"quoted phrases"`, whitespace-separated words
/// (punctuation inside makes a phrase), a leading `-`, a trailing `*`, and
/// bare `OR`s. Unbalanced quotes end at the end of the text.
fn chunks(q: &str) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut rest = q.trim_start();
    while !rest.is_empty() {
        let negated = rest.starts_with('-');
        let body = if negated { &rest[1..] } else { rest };
        let (raw, after, quoted) = if let Some(inner) = body.strip_prefix('"') {
            let end = inner.find('"').unwrap_or(inner.len());
            let after = inner.get(end + 1..).unwrap_or("");
            (&inner[..end], after, true)
        } else {
            let end = body.find(char::is_whitespace).unwrap_or(body.len());
            (&body[..end], &body[end..], false)
        };
        // A `*` right after the term (or its closing quote) makes a prefix.
        let (prefix, after) = match after.strip_prefix('*') {
            Some(after) if quoted => (true, after),
            _ => (!quoted && raw.ends_with('*'), after),
        };
        if !quoted && !negated && raw == "OR" {
            out.push(Chunk {
                term: None,
                negated: false,
                or: true,
            });
        } else {
            let found: Vec<String> = words(raw).into_iter().map(|(w, _, _)| w).collect();
            out.push(Chunk {
                term: (!found.is_empty()).then_some(Term {
                    words: found,
                    prefix,
                }),
                negated,
                or: false,
            });
        }
        rest = after.trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Terms {
        Terms::parse(q).unwrap()
    }

    #[test]
    fn words_are_runs_of_letters_and_digits() {
        let found: Vec<String> = words("GET /orders/Zebra7?x=Ünïcode_42")
            .into_iter()
            .map(|w| w.0)
            .collect();
        assert_eq!(found, ["get", "orders", "zebra7", "x", "ünïcode", "42"]);
        assert_eq!(words("  a-b ")[1], ("b".to_string(), 4, 5));
    }

    #[test]
    fn renders_fts5_and_tsquery_from_words_only() {
        let t = parse(r#"Timeout "conn reset" user_id=42 ship* -healthz"#);
        assert_eq!(
            t.fts5(),
            r#"(("timeout") AND ("conn reset") AND ("user id 42") AND ("ship" *)) NOT ("healthz")"#
        );
        assert_eq!(
            t.tsquery(),
            "(('timeout')) & (('conn' <-> 'reset')) & (('user' <-> 'id' <-> '42')) & (('ship':*)) & !('healthz')"
        );
        let either = parse("timeout OR refused db");
        assert_eq!(either.fts5(), r#"(("timeout" OR "refused") AND ("db"))"#);
        assert_eq!(either.tsquery(), "(('timeout') | ('refused')) & (('db'))");
    }

    #[test]
    fn operators_and_quotes_of_the_user_stay_text() {
        // FTS5 and tsquery syntax in the input: only its words survive.
        for q in [
            r#"a" OR "b"#,
            "NEAR(a b) col:x",
            "a & !b | c:*",
            "' OR 1=1 --",
            "\"unbalanced",
            "a AND NOT b",
            "(a",
            "^a",
            "x'y\\z",
        ] {
            let t = parse(q);
            for g in t.groups.iter().flatten().chain(&t.excluded) {
                assert!(
                    g.words.iter().all(|w| w.chars().all(char::is_alphanumeric)),
                    "{q}: {g:?}"
                );
            }
            assert_eq!(t.fts5().matches('"').count() % 2, 0, "{q}");
        }
    }

    #[test]
    fn refuses_searches_with_nothing_to_find() {
        for q in ["", "   ", "!!! ---", "\"\"", "*", "-healthz", "OR"] {
            let err = Terms::parse(q).unwrap_err();
            assert_eq!(err.status(), 400, "{q}");
            assert_eq!(err.field(), Some("q"));
        }
        assert!(Terms::parse(&"a ".repeat(17)).is_err());
        assert!(Terms::parse(&"x".repeat(101)).is_err());
        assert!(Terms::parse(&"a".repeat(1001)).is_err());
    }

    #[test]
    fn finds_hits_in_a_line() {
        let t = parse(r#"zebra "slow query" ord*"#);
        let line = "WARN Slow query for ORDER_7: zebra, zebras";
        let hits = t.hits(line);
        let shown: Vec<&str> = hits.iter().map(|&(s, e)| &line[s..e]).collect();
        assert_eq!(shown, ["Slow query", "ORDER", "zebra"]);
        assert!(parse("-zebra x").hits("zebra").is_empty());
        assert!(parse("slow query").hits("query slow").len() == 2);
        assert!(parse("\"slow query\"").hits("query slow").is_empty());
    }
}
