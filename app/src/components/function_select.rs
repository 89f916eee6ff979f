//! The function picker of the filter forms (Logs, Errors): every function
//! of the team, and the chosen one (kept even when it is not one of them,
//! so the form shows what was asked for).

use leptos::prelude::*;

/// A `<select name="function">` with "All functions" first.
#[component]
pub fn FunctionSelect(id: &'static str, names: Vec<String>, chosen: String) -> impl IntoView {
    let mut names = names;
    if !chosen.is_empty() && !names.contains(&chosen) {
        names.push(chosen.clone());
    }
    view! {
        <select id=id name="function">
            <option value="" selected=chosen.is_empty()>"All functions"</option>
            {names
                .into_iter()
                .map(|n| view! { <option value=n.clone() selected=n == chosen>{n.clone()}</option> })
                .collect_view()}
        </select>
    }
}
