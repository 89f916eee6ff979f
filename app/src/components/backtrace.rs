//! An invocation's error text, readable: the reason first, then the trap's
//! wasm frames as a numbered list, innermost first, each with its source
//! file and line when the function was built with debug info and the
//! server runs with `--backtrace-details` (the runtime writes frames as
//! `  N: module!function` lines, each followed by `at file:line:col`
//! lines).

use leptos::prelude::*;

/// One frame: its function, and where in the source (innermost inlined
/// call first), if known.
struct Frame {
    function: String,
    locations: Vec<String>,
}

/// Splits the runtime's error text into its reason, its frames and any
/// note after them (`... N more frames`).
fn parse(error: &str) -> (String, Vec<Frame>, Vec<String>) {
    let mut lines = error.lines();
    let reason = lines.next().unwrap_or_default().to_string();
    let mut frames: Vec<Frame> = Vec::new();
    let mut notes = Vec::new();
    for line in lines {
        let text = line.trim();
        if let Some(location) = text.strip_prefix("at ") {
            if let Some(frame) = frames.last_mut() {
                frame.locations.push(location.to_string());
                continue;
            }
        }
        match text.split_once(": ") {
            Some((index, function))
                if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) =>
            {
                frames.push(Frame {
                    function: function.to_string(),
                    locations: Vec::new(),
                });
            }
            _ => notes.push(text.to_string()),
        }
    }
    (reason, frames, notes)
}

/// The error of an invocation: a plain block when it has no frames.
#[component]
pub fn ErrorText(error: String) -> impl IntoView {
    let (reason, frames, notes) = parse(&error);
    if frames.is_empty() {
        return view! { <pre class="error-block">{error}</pre> }.into_any();
    }
    let with_source = frames.iter().filter(|f| !f.locations.is_empty()).count();
    let hint = (with_source == 0).then(|| {
        view! {
            <p class="muted small">
                "No source lines: build the function with debug info and start the server with --backtrace-details to see file:line."
            </p>
        }
    });
    let items = frames
        .into_iter()
        .map(|frame| {
            let located = !frame.locations.is_empty();
            // The guest's own frames stand out; the language runtime's are dimmed.
            let class = if is_library(&frame.function) {
                "frame-library"
            } else if located {
                "frame-located"
            } else {
                "frame"
            };
            let locations = frame
                .locations
                .into_iter()
                .map(|at| view! { <span class="frame-location">"at " {at}</span> })
                .collect_view();
            view! {
                <li class=class>
                    <code class="frame-function">{frame.function}</code>
                    {locations}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="error-block backtrace">
            <p class="error-reason">{reason}</p>
            <ol class="frames" start="0" aria-label="Backtrace, innermost frame first">{items}</ol>
            {notes.into_iter().map(|n| view! { <p class="muted small">{n}</p> }).collect_view()}
        </div>
        {hint}
    }
    .into_any()
}

/// A frame of the language's own runtime (Rust's panic machinery and
/// standard library, libc's `abort`): shown dimmed, the guest's frames stand out.
fn is_library(frame: &str) -> bool {
    let function = frame.rsplit_once('!').map_or(frame, |(_, f)| f);
    [
        "std::",
        "core::",
        "alloc::",
        "__rustc::",
        "__rust_",
        "<std::",
        "<core::",
        "<alloc::",
    ]
    .iter()
    .any(|prefix| function.starts_with(prefix))
        || matches!(function, "abort" | "__wasm_call_ctors" | "_start")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_keep_their_locations() {
        let (reason, frames, notes) = parse(
            "wasm trap: unreachable\n  0: m!abort\n  1: m!shop::validate\n       at src/main.rs:25:9 (shop::inner)\n       at src/main.rs:19:5\n  ... 3 more frames",
        );
        assert_eq!(reason, "wasm trap: unreachable");
        assert_eq!(frames.len(), 2);
        assert!(frames[0].locations.is_empty());
        assert_eq!(frames[1].function, "m!shop::validate");
        assert_eq!(
            frames[1].locations,
            vec!["src/main.rs:25:9 (shop::inner)", "src/main.rs:19:5"]
        );
        assert_eq!(notes, vec!["... 3 more frames"]);
        assert!(is_library("m.wasm!std::panicking::panic_with_hook"));
        assert!(is_library("m.wasm!abort"));
        assert!(!is_library("m.wasm!shop::validate"));
    }
}
