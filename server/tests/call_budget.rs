//! Call trees over the real server (issue 29, item 9): one root call and
//! everything it causes share a depth limit and a budget of invocations.
//! A function calling itself three times per call stops at the budget, a
//! function publishing to the topic it subscribes to stops at the depth
//! limit (on SQLite and PostgreSQL), both with recorded refusals, a call
//! publishing thirty events still has every delivery run, and the calls still running under a
//! root that timed out are cancelled (none start after it).

mod common;

use std::time::{Duration, Instant};

use common::storage::TestDatabase;
use common::TestServer;
use model::InvocationRecord;
use serde_json::json;

/// Three calls of the function to itself, one after the other.
fn self_calls(name: &str) -> String {
    vec![format!("GET http://{name}.fn.wisp/"); 3].join(";")
}

/// A refusal by the call tree (the function did not run).
fn refused(record: &InvocationRecord) -> bool {
    matches!(
        record.outcome.as_str(),
        "call_budget_exceeded" | "call_depth_exceeded"
    )
}

/// Waits until `name`'s recorded invocations stop changing (none new for
/// 3 s, 60 s at most), failing as soon as there are more than `most`.
async fn settled(server: &TestServer, name: &str, most: usize) -> Vec<InvocationRecord> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = (0, Instant::now());
    loop {
        let list: Vec<InvocationRecord> = serde_json::from_value(
            server
                .get_json(&format!("/api/v1/functions/{name}/invocations?limit=1000"))
                .await,
        )
        .unwrap();
        assert!(
            list.len() <= most,
            "{} invocations of {name} recorded from one root call; at most {most} expected",
            list.len()
        );
        if list.len() != last.0 {
            last = (list.len(), Instant::now());
        } else if !list.is_empty() && last.1.elapsed() >= Duration::from_secs(3) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "invocations of {name} never settled: {} so far",
            list.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_self_calling_fan_out_stops_at_the_root_budget() {
    const BUDGET: usize = 40;
    let server = TestServer::start_with(&["--max-calls-per-root", "40"]).await;
    server.deploy("fan", "relay").await;
    server
        .configure(
            "fan",
            json!({"max_concurrency": 100, "timeout_ms": 20000, "env": {"STEPS": self_calls("fan")}}),
        )
        .await;

    let r = server
        .http
        .get(server.fn_url("/fn/fan/"))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();

    // Every call that ran makes 3 attempts at most, so refusals are bounded
    // by 3 per call of the deepest running chain and of the budget's end.
    let list = settled(&server, "fan", BUDGET * 4).await;
    let ran = list.iter().filter(|r| !refused(r)).count();
    let over_budget: Vec<_> = list
        .iter()
        .filter(|r| r.outcome == model::InvocationOutcome::CallBudgetExceeded)
        .collect();
    eprintln!(
        "one request: {ran} calls ran, {} refused for the budget, {} for the depth",
        over_budget.len(),
        list.len() - ran - over_budget.len()
    );
    assert!(
        ran <= BUDGET,
        "{ran} calls ran from one request with a budget of {BUDGET}"
    );
    assert!(
        !over_budget.is_empty(),
        "no call was refused for the budget: {} records",
        list.len()
    );
    for record in &over_budget {
        assert_eq!(record.status, model::InvocationStatus::Error);
        assert!(record.parent_id.is_some(), "{record:?}");
        let error = record.error.as_deref().unwrap_or_default();
        assert!(error.contains("budget of 40"), "{error}");
    }
    // The root answered; its refused calls show as 508 in its steps.
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("-> 508"), "{body}");
}

#[tokio::test]
async fn a_call_publishing_many_events_gets_every_one_delivered() {
    const EVENTS: usize = 30;
    let server = TestServer::start().await;
    server.deploy("announcer", "relay").await;
    server.deploy("listener", "hello").await;
    let steps = vec!["POST http://events.wisp/news {body}"; EVENTS].join(";");
    server
        .configure("announcer", json!({"env": {"STEPS": steps}}))
        .await;
    server
        .create_trigger(json!({"kind": "topic", "function": "listener", "topic": "news"}))
        .await;
    let r = server
        .http
        .post(server.fn_url("/fn/announcer/"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Every delivery runs: none is refused for lack of budget.
    let list = settled(&server, "listener", EVENTS).await;
    let refusals: Vec<_> = list.iter().filter(|r| refused(r)).collect();
    assert!(
        refusals.is_empty(),
        "{} refused: {refusals:?}",
        refusals.len()
    );
    assert_eq!(list.len(), EVENTS);
}

#[tokio::test]
async fn a_topic_self_loop_stops_at_the_depth_limit() {
    topic_self_loop_stops_at_the_depth_limit(&TestServer::start().await).await;
}

/// The same on PostgreSQL: the delivery's place in its tree travels in the
/// job's row there too.
#[tokio::test]
async fn a_topic_self_loop_stops_at_the_depth_limit_on_postgres() {
    let db = TestDatabase::create("call_budget");
    let server = TestServer::start_with(&["--database-url", &db.url]).await;
    topic_self_loop_stops_at_the_depth_limit(&server).await;
}

async fn topic_self_loop_stops_at_the_depth_limit(server: &TestServer) {
    let depth = platform::DEFAULT_MAX_CALL_DEPTH as usize;
    server.deploy("looper", "relay").await;
    server
        .configure(
            "looper",
            json!({"env": {"STEPS": "POST http://events.wisp/loop {body}"}}),
        )
        .await;
    server
        .create_trigger(json!({"kind": "topic", "function": "looper", "topic": "loop"}))
        .await;

    let r = server
        .post("/api/v1/topics/loop")
        .body("round")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    // Depth 0 (the delivery of the outside publish) to the limit ran; the
    // delivery one deeper was refused, recorded, and ends the loop.
    let list = settled(server, "looper", depth + 2).await;
    let ran = list.iter().filter(|r| !refused(r)).count();
    let too_deep: Vec<_> = list
        .iter()
        .filter(|r| r.outcome == model::InvocationOutcome::CallDepthExceeded)
        .collect();
    assert_eq!(ran, depth + 1, "{list:?}");
    assert_eq!(too_deep.len(), 1, "{list:?}");
    assert_eq!(too_deep[0].trigger, model::TriggerKind::Topic);
    assert!(too_deep[0].parent_id.is_some());
    // The whole loop is one trace: the depth travelled with it.
    let trace = list[0]
        .trace_id
        .clone()
        .expect("a trace id on every record");
    assert!(
        list.iter().all(|r| r.trace_id.as_ref() == Some(&trace)),
        "{list:?}"
    );
    let tree = server.get_json(&format!("/api/v1/traces/{trace}")).await;
    let spans = tree["spans"].as_array().unwrap();
    assert_eq!(spans.len(), list.len(), "{tree}");
    let deepest = spans.iter().map(|s| s["level"].as_u64().unwrap()).max();
    assert_eq!(deepest, Some(depth as u64 + 1), "{tree}");

    // It stays stopped: no retry runs it again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = settled(server, "looper", depth + 2).await;
    assert_eq!(again.len(), list.len());
}

#[tokio::test]
async fn descendants_of_a_timed_out_root_are_cancelled() {
    let server = TestServer::start().await;
    server.deploy("entry", "relay").await;
    server.deploy("tree", "relay").await;
    // The root gives up after 1 s; below it, each call calls itself three
    // times, then sleeps, under a 10 s deadline of its own: the tree would
    // run on long after the root's 504.
    server
        .configure(
            "entry",
            json!({"timeout_ms": 1000, "env": {"STEPS": "GET http://tree.fn.wisp/"}}),
        )
        .await;
    server
        .configure(
            "tree",
            json!({"max_concurrency": 100, "timeout_ms": 10000,
                   "env": {"STEPS": self_calls("tree"), "SLEEP_MS": "500"}}),
        )
        .await;

    let r = server
        .http
        .get(server.fn_url("/fn/entry/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504, "{}", r.text().await.unwrap());
    let root_id = common::invocation_id(&r);
    let root = server.final_invocation(&root_id).await;
    assert_eq!(root.outcome, model::InvocationOutcome::Timeout);
    let root_end =
        root.started_at + chrono::Duration::microseconds((root.duration_ms * 1000.0) as i64);

    let list = settled(&server, "tree", 1000).await;
    // None started after the root ended (a generous second for the cancel
    // to land).
    let late: Vec<_> = list
        .iter()
        .filter(|r| r.started_at > root_end + chrono::Duration::seconds(1))
        .map(|r| (r.started_at, &r.outcome))
        .collect();
    assert!(
        late.is_empty(),
        "{} of {} calls started after the root ended at {root_end}: {late:?}",
        late.len(),
        list.len()
    );
    // The descendants still running when the root ended were stopped.
    let outcomes: Vec<_> = list.iter().map(|r| r.outcome.as_str()).collect();
    assert!(
        outcomes.contains(&"cancelled"),
        "no descendant was cancelled: {outcomes:?}"
    );
    assert!(
        !outcomes.contains(&"timeout"),
        "a descendant ran to its own deadline: {outcomes:?}"
    );
}
