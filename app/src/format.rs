//! How numbers, sizes, times and URLs read in the dashboard. Pure functions:
//! the same output on the server and in the browser, so hydration never sees
//! a difference (no "now", no locale).

use chrono::{DateTime, Utc};

/// `2025-03-04 15:06:07` (UTC; column headers and titles say so).
pub fn datetime(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// RFC 3339 for `<time datetime=…>`.
pub fn datetime_attr(at: &DateTime<Utc>) -> String {
    at.to_rfc3339()
}

/// Sizes in binary units: `512 B`, `1.5 KiB`, `12.0 MiB`.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n.abs() < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value.abs() < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// Durations: `0.42 ms`, `12.3 ms`, `1.25 s`.
pub fn duration_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// Milliseconds of configuration (timeouts): `30 s`, `1500 ms`.
pub fn timeout(ms: u64) -> String {
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// A decimal string from the API as a number for charts and sorting (0 when
/// unreadable). Displayed amounts go through [`money`].
pub fn amount(decimal: &str) -> f64 {
    decimal.trim().parse().unwrap_or(0.0)
}

/// Money with its currency: `$12.34`, `€0.81`, `CHF 3.00`. Amounts under a
/// cent keep three significant digits (`$0.000000202`) so small bills do not
/// read as zero.
pub fn money(value: f64, currency: &str) -> String {
    let digits = if value != 0.0 && value.abs() < 0.01 {
        // Three significant digits: 2.02e-7 → 9 decimals.
        ((-value.abs().log10()).floor() as usize + 3).min(12)
    } else {
        2
    };
    let sign = if value < 0.0 { "-" } else { "" };
    let number = format!("{:.digits$}", value.abs());
    match currency {
        "USD" => format!("{sign}${number}"),
        "EUR" => format!("{sign}€{number}"),
        "GBP" => format!("{sign}£{number}"),
        other => format!("{sign}{other} {number}"),
    }
}

/// Whole numbers with thousands separators: `1,234,567`.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A change against a previous value: `+12.5%`, `−3.0%`, `new` (from zero).
pub fn change_percent(now: f64, before: f64) -> String {
    if before == 0.0 {
        return if now == 0.0 {
            "no change".into()
        } else {
            "new".into()
        };
    }
    let percent = (now - before) / before * 100.0;
    if percent >= 0.0 {
        format!("+{percent:.1}%")
    } else {
        format!("−{:.1}%", percent.abs())
    }
}

/// The first 12 hex digits of a content hash, enough to tell versions apart.
pub fn short_hash(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

/// Invocation ids are long; tables show the start and the end.
pub fn short_id(id: &str) -> String {
    if id.len() <= 14 {
        id.to_string()
    } else {
        format!("{}…{}", &id[..8], &id[id.len() - 4..])
    }
}

/// Human words for an invocation outcome (`out_of_memory` → `Out of memory`).
pub fn outcome(outcome: &str) -> String {
    sentence(&outcome.replace('_', " "))
}

/// A message as a sentence: first letter upper case (`not a module` → `Not a module`).
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Percent-encodes a value for a query string (RFC 3986 unreserved kept, `/` too
/// so paths stay readable).
pub fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Suggests a function name from an uploaded file name: `Hello_World.wasm` → `hello-world`.
pub fn name_from_file(file_name: &str) -> String {
    let stem = file_name
        .rsplit_once('.')
        .map_or(file_name, |(stem, _)| stem);
    let mut name = String::new();
    for c in stem.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name
        .trim_matches('-')
        .trim_start_matches(|c: char| c.is_ascii_digit());
    name.chars()
        .take(64)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// A share as a percentage: `0 %`, `0.5 %`, `12 %`, `100 %`.
pub fn percent(share: f64) -> String {
    let value = share * 100.0;
    if value == 0.0 || value >= 10.0 {
        format!("{value:.0} %")
    } else {
        format!("{value:.1} %")
    }
}

/// `1 function`, `3 functions`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A name or id from the URL as a page title shows it: anything but
/// letters, digits, `-`, `_` and `.` becomes `?`. Names and ids never hold
/// other characters, and a title is written into the page's `<head>`
/// as the server renders it (an attacker's link must not add markup there).
pub fn title_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_keep_names_and_drop_markup() {
        assert_eq!(title_safe("shop-e2e_1.v2"), "shop-e2e_1.v2");
        assert_eq!(title_safe("</title><meta>"), "??title??meta?");
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(128 * 1024 * 1024), "128.0 MiB");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms(0.4213), "0.42 ms");
        assert_eq!(duration_ms(12.34), "12.3 ms");
        assert_eq!(duration_ms(1250.0), "1.25 s");
        assert_eq!(timeout(30_000), "30 s");
        assert_eq!(timeout(1_500), "1500 ms");
    }

    #[test]
    fn words_and_ids() {
        assert_eq!(outcome("out_of_memory"), "Out of memory");
        assert_eq!(
            short_id("0193a4b2-1111-2222-3333-444455556666"),
            "0193a4b2…6666"
        );
        assert_eq!(short_hash("abcdef0123456789"), "abcdef012345");
    }

    #[test]
    fn query_values() {
        assert_eq!(query_value("/functions/a-b"), "/functions/a-b");
        assert_eq!(
            query_value("/x?status=error&a b"),
            "/x%3Fstatus%3Derror%26a%20b"
        );
    }

    #[test]
    fn names_from_files() {
        assert_eq!(name_from_file("hello.wasm"), "hello");
        assert_eq!(
            name_from_file("Hello_World.component.wasm"),
            "hello-world-component"
        );
        assert_eq!(name_from_file("2fast.wasm"), "fast");
        assert_eq!(name_from_file("___.wasm"), "");
    }
    #[test]
    fn money_and_counts() {
        assert_eq!(money(12.345, "USD"), "$12.35");
        assert_eq!(money(0.0, "EUR"), "€0.00");
        assert_eq!(money(0.000_000_202, "USD"), "$0.000000202");
        assert_eq!(money(-1.5, "CHF"), "-CHF 1.50");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-999), "-999");
        assert_eq!(change_percent(15.0, 10.0), "+50.0%");
        assert_eq!(change_percent(5.0, 10.0), "−50.0%");
        assert_eq!(change_percent(5.0, 0.0), "new");
    }
}
