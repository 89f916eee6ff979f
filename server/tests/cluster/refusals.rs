//! What a cluster refuses or repairs when a node misbehaves (each found by
//! an outside test): a node whose secret key is not the one the stored
//! secrets were sealed with, a second live node under a taken identity,
//! and a node that stalls while running a job (the job is rerun elsewhere
//! under a new invocation id, so both runs keep their record).

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::storage::TestDatabase;
use crate::harness::{node_args, start_node};

/// Runs `wisp serve` with `args` until it exits (60 s at most): its exit
/// success and what it printed.
fn serve_until_exit(args: &[String]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("out.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wisp"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path())
        .args(args)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.path().join("err.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "wisp serve {args:?} kept running:\n{}",
                std::fs::read_to_string(dir.path().join("err.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = std::fs::read_to_string(&log).unwrap_or_default()
        + &std::fs::read_to_string(dir.path().join("err.log")).unwrap_or_default();
    (status.success(), out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_secret_key_or_a_taken_identity_does_not_start() {
    let db = TestDatabase::create("cluster_refusals");
    let node1 = start_node(&db, 1, "").await;
    node1.deploy("env", "env").await;
    node1
        .configure(
            "env",
            json!({"secrets": {"API_KEY": "sealed-by-the-cluster-key"}}),
        )
        .await;

    // Another key: refused before it serves (it would answer 404 for every
    // function with a secret and seal new ones no other node can open).
    let mut args = node_args(&db, 4);
    let key = args.iter().position(|a| a == "--secret-key").unwrap() + 1;
    args[key] = "1".repeat(64);
    let (ok, out) = tokio::task::spawn_blocking(move || serve_until_exit(&args))
        .await
        .unwrap();
    assert!(!ok, "a node with another secret key started:\n{out}");
    assert!(out.contains("sealed with a different secret key"), "{out}");

    // node-1's identity while node-1 runs: refused (it would take node-1's
    // running jobs).
    let args = node_args(&db, 1);
    let started = Instant::now();
    let (ok, out) = tokio::task::spawn_blocking(move || serve_until_exit(&args))
        .await
        .unwrap();
    assert!(!ok, "a second live node-1 started:\n{out}");
    assert!(
        out.contains("node id node-1 is in use by a live node"),
        "{out}"
    );
    println!("a taken identity refused after {:?}", started.elapsed());

    // The right key and a free identity still join.
    let node2 = start_node(&db, 2, &node1.token).await;
    let r = node2
        .http
        .get(node2.fn_url("/fn/env/?name=API_KEY"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("sealed-by-the-cluster-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_taken_from_a_stalled_node_keeps_both_records() {
    let db = TestDatabase::create("cluster_stall");
    let mut node1 = start_node(&db, 1, "").await;
    node1.deploy("slow", "relay").await;
    node1
        .configure("slow", json!({"env": {"SLEEP_MS": "6000"}}))
        .await;
    let token = node1.token.clone();
    // Only node 2 runs while the job is claimed.
    node1.stop().await;
    let node2 = start_node(&db, 2, &token).await;
    let r = node2
        .post("/api/v1/functions/slow/invoke?async=true")
        .body("once")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["invocation_id"]
        .as_str()
        .unwrap()
        .to_string();
    node2
        .wait_json(
            "/api/v1/jobs?state=running",
            "the job running on node 2",
            |j| j.as_array().is_some_and(|a| a.len() == 1),
        )
        .await;
    // Node 2 stalls; node 1 comes back, sees it down and reruns the job.
    let pid = node2.pid().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    node1.resume().await;
    let rerun = node1
        .wait_json("/api/v1/jobs?state=done", "the job rerun on node 1", |j| {
            j.as_array().is_some_and(|a| a.len() == 1)
        })
        .await;
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    let rerun_id = rerun[0]["last_invocation_id"].as_str().unwrap().to_string();
    assert_ne!(
        rerun_id, id,
        "the rerun must not reuse the stalled call's id"
    );
    // Both runs are recorded: the stalled one, once it finishes, under the
    // sender's id (before that, the id answers from the job).
    let second = node1.final_invocation(&rerun_id).await;
    assert_eq!(second.status_code, Some(200), "{second:?}");
    let records = node1.invocations("slow", 2).await;
    let mut ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    let mut want = vec![id.as_str(), rerun_id.as_str()];
    want.sort();
    assert_eq!(ids, want, "{records:?}");
    assert!(
        records.iter().all(|r| r.status_code == Some(200)),
        "{records:?}"
    );
}
