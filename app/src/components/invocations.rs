//! The table of recorded invocations (newest first), each row linking to the
//! invocation's own page. Pure presentation of `model::InvocationRecord`.

use leptos::prelude::*;
use model::InvocationRecord;

use crate::{components::feedback::StatusBadge, format};

#[component]
pub fn InvocationTable(invocations: Vec<InvocationRecord>) -> impl IntoView {
    let rows = invocations
        .into_iter()
        .map(|record| {
            let href = format!("/invocations/{}", record.id);
            let http_status = match record.status_code {
                Some(code) => {
                    let class = if code >= 500 {
                        "http http-5xx"
                    } else if code >= 400 {
                        "http http-4xx"
                    } else {
                        "http"
                    };
                    view! { <span class=class>{code}</span> }.into_any()
                }
                None => view! { <span class="muted">"—"</span> }.into_any(),
            };
            view! {
                <tr>
                    <th scope="row" class="nowrap">
                        <a class="row-link" href=href title=format!("Invocation {}", record.id)>
                            <time datetime=format::datetime_attr(&record.started_at)>
                                {format::datetime(&record.started_at)}
                            </time>
                        </a>
                    </th>
                    <td>
                        <StatusBadge status=record.status />
                    </td>
                    <td class="nowrap">{format::outcome(record.outcome.as_str())}</td>
                    <td class="num">{http_status}</td>
                    <td class="num nowrap">{format::duration_ms(record.duration_ms)}</td>
                    <td class="num nowrap">{format::bytes(record.peak_memory_bytes)}</td>
                    <td class="num nowrap">{format::bytes(record.bytes_in)}</td>
                    <td class="num nowrap">{format::bytes(record.bytes_out)}</td>
                    <td class="nowrap">
                        <span class="mono">"v" {record.version}</span>
                    </td>
                    <td class="request-cell">
                        <span class="mono">{record.method} " " {record.path}</span>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Started (UTC)"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col" class="num">
                            "HTTP"
                        </th>
                        <th scope="col" class="num">
                            "Duration"
                        </th>
                        <th scope="col" class="num">
                            "Peak memory"
                        </th>
                        <th scope="col" class="num">
                            "In"
                        </th>
                        <th scope="col" class="num">
                            "Out"
                        </th>
                        <th scope="col">"Version"</th>
                        <th scope="col">"Request"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
