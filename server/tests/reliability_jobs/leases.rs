//! Item 8: a node restarting with the same identity reclaims its own job
//! leases at once; another node's lease is left to run its course.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;

use super::async_ids::invoke_async;
use super::common::TestServer;
use super::{jobs_of, psql, TestDatabase};

/// Jobs running at a SIGKILL resume as soon as the node is back (same data
/// directory, so the same node identity), long before their leases (the
/// function's timeout plus a minute) run out.
async fn own_leases_are_reclaimed_at_restart(server: &mut TestServer) {
    server.deploy("slow", "relay").await;
    server
        .configure(
            "slow",
            json!({"max_concurrency": 3, "env": {"SLEEP_MS": "3000"}}),
        )
        .await;
    let ids = invoke_async(server, "slow", 3).await;
    eventually!(
        20,
        "all three jobs running",
        async {
            let jobs = jobs_of(server, "slow").await;
            let running = jobs.iter().filter(|j| j["state"] == "running").count();
            if running == 3 {
                Ok(())
            } else {
                Err(format!("{running} running"))
            }
        }
        .await
    );
    server.kill9_and_restart().await;
    let restarted = Instant::now();
    // The leases last over a minute; the node's own jobs must not wait them out.
    eventually!(
        40,
        "jobs of the killed node done after the restart",
        async {
            let jobs = jobs_of(server, "slow").await;
            let done = jobs.iter().filter(|j| j["state"] == "done").count();
            if done == 3 {
                Ok(())
            } else {
                let states: Vec<&str> = jobs.iter().map(|j| j["state"].as_str().unwrap()).collect();
                Err(format!(
                    "after {:?}: states {states:?}",
                    restarted.elapsed()
                ))
            }
        }
        .await
    );
    for id in &ids {
        let record = server.final_invocation(id).await;
        assert_eq!(record.status_code, Some(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_leases_are_reclaimed_at_restart_on_postgres() {
    let db = TestDatabase::create("leases");
    let mut server = TestServer::start_with(&["--database-url", &db.url]).await;
    own_leases_are_reclaimed_at_restart(&mut server).await;

    // Another node's lease is left alone: a job leased by "node-b" for an
    // hour stays running across this node's restart.
    let job = jobs_of(&server, "slow").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hour_ahead = Utc::now().timestamp_millis() + 3_600_000;
    psql(
        &db.url,
        &format!(
            "UPDATE jobs SET state = 'running', lease_owner = 'node-b', \
             lease_until = {hour_ahead} WHERE id = '{job}'"
        ),
    );
    server.kill9_and_restart().await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let state = server.get_json(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(
        state["state"], "running",
        "another node's job was taken: {state}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_leases_are_reclaimed_at_restart_on_sqlite() {
    let mut server = TestServer::start().await;
    own_leases_are_reclaimed_at_restart(&mut server).await;
}
