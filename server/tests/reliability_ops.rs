//! Operational reliability of `wisp serve` (issue 29, items 3 and 4; issue
//! 28, item 9): a damaged cached artifact is caught and recompiled instead
//! of crashing the server on every start; SIGTERM ends live-tail streams and
//! lets running async jobs finish within a bounded grace period; slow,
//! half-sent and idle connections are closed on both listeners while long
//! calls and live tails are not.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Overwrites the `.text` section (the native code) of an ELF64
/// little-endian file with `ud2` instructions, as a damaged disk would leave
/// it: the file still looks like a valid artifact to its header checks.
fn corrupt_text_section(path: &std::path::Path) {
    let mut elf = std::fs::read(path).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF", "{} is not ELF", path.display());
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap());
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let shoff = u64_at(&elf, 0x28) as usize;
    let shentsize = u16_at(&elf, 0x3a) as usize;
    let shnum = u16_at(&elf, 0x3c) as usize;
    let shstrndx = u16_at(&elf, 0x3e) as usize;
    let section = |i: usize| shoff + i * shentsize;
    let names = u64_at(&elf, section(shstrndx) + 24) as usize;
    let text = (0..shnum)
        .find(|&i| {
            let name = names + u32_at(&elf, section(i)) as usize;
            elf[name..].starts_with(b".text\0")
        })
        .expect("a .text section");
    let offset = u64_at(&elf, section(text) + 24) as usize;
    let size = u64_at(&elf, section(text) + 32) as usize;
    assert!(size >= 2, ".text is empty");
    for pair in elf[offset..offset + size].chunks_exact_mut(2) {
        pair.copy_from_slice(&[0x0f, 0x0b]); // ud2: SIGILL when executed
    }
    std::fs::write(path, elf).unwrap();
}

fn cached_artifacts(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect()
}

/// A call through the gateway; the server must answer it (not die).
async fn call_hello(server: &TestServer) -> String {
    let r = server
        .http
        .get(server.fn_url("/fn/hello/"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the server did not answer ({e}):\n{}", server.log()));
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn a_corrupted_cached_artifact_is_quarantined_and_recompiled() {
    // Its own cache: the damaged file must not reach other tests.
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap().to_string();
    let mut server = TestServer::start_with(&["--cache-dir", &cache_arg]).await;
    server.deploy("hello", "hello").await;
    assert_eq!(call_hello(&server).await, "Hello from Wisp!\n");
    server
        .wait_json("/api/v1/functions/hello", "optimised code", |f| {
            f["live_code"] == "optimized"
        })
        .await;
    server.stop().await;

    let artifacts = cached_artifacts(cache.path());
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    corrupt_text_section(&artifacts[0]);

    server.resume().await;
    assert_eq!(call_hello(&server).await, "Hello from Wisp!\n");
    let status = server.get_json("/api/v1/status").await;
    assert_eq!(status["artifact_cache"]["compiles"], 1, "{status}");
    let log = server.log();
    assert!(
        log.contains("failed verification"),
        "the damage is logged:\n{log}"
    );
    let quarantine: Vec<_> = std::fs::read_dir(cache.path().join("quarantine"))
        .expect("a quarantine directory")
        .collect();
    assert_eq!(
        quarantine.len(),
        1,
        "the damaged file is kept for inspection"
    );

    // The recompiled artifact is trusted again: a plain cache hit.
    server.restart().await;
    assert_eq!(call_hello(&server).await, "Hello from Wisp!\n");
    let status = server.get_json("/api/v1/status").await;
    assert_eq!(status["artifact_cache"]["compiles"], 0, "{status}");
}

#[tokio::test]
async fn sigterm_ends_live_tail_streams() {
    // A grace longer than `stop`'s 30 s deadline: only the stream ending
    // can let the server exit in time.
    let mut server = TestServer::start_with(&["--shutdown-grace-secs", "120"]).await;
    let mut tail = server
        .get("/api/v1/invocations/stream")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 200);
    server.stop().await;
    // The client sees the stream end (not hang).
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(_)) = tail.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the live tail did not end");
}

/// Deploys `relay` as `name`, sleeping `sleep_ms` per call.
async fn deploy_sleeper(server: &TestServer, name: &str, sleep_ms: u64, timeout_ms: u64) {
    server.deploy(name, "relay").await;
    server
        .configure(
            name,
            json!({"env": {"SLEEP_MS": sleep_ms.to_string()}, "timeout_ms": timeout_ms}),
        )
        .await;
}

async fn enqueue(server: &TestServer, name: &str, n: usize) {
    for i in 0..n {
        let r = server
            .post(&format!("/api/v1/functions/{name}/invoke?async=true"))
            .body(format!("job {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    }
}

async fn jobs(server: &TestServer, name: &str) -> Vec<Value> {
    server
        .get_json(&format!("/api/v1/jobs?function={name}&limit=1000"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

async fn wait_running(server: &TestServer, name: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running = jobs(server, name)
            .await
            .iter()
            .filter(|j| j["state"] == "running")
            .count();
        if running >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {running} of {n} jobs running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sigterm_lets_running_jobs_finish_within_the_grace() {
    let mut server = TestServer::start_with(&["--shutdown-grace-secs", "25"]).await;
    deploy_sleeper(&server, "slow", 3000, 30_000).await;
    enqueue(&server, "slow", 20).await;
    wait_running(&server, "slow", 20).await;

    server.stop().await;
    server.resume().await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let list = loop {
        let list = jobs(&server, "slow").await;
        if list.len() == 20 && list.iter().all(|j| j["state"] == "done") {
            break list;
        }
        assert!(Instant::now() < deadline, "jobs not all done: {list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rerun: Vec<String> = list
        .iter()
        .filter(|j| j["attempts"] != 1)
        .map(|j| format!("{} (attempts {})", j["id"], j["attempts"]))
        .collect();
    assert!(
        rerun.is_empty(),
        "{} of 20 jobs were cut by the shutdown and ran again: {rerun:?}",
        rerun.len()
    );
    assert_eq!(server.invocations("slow", 20).await.len(), 20);
}

#[tokio::test]
async fn the_shutdown_grace_is_bounded() {
    let mut server = TestServer::start_with(&["--shutdown-grace-secs", "1"]).await;
    // Longer than `stop`'s 30 s deadline: waiting for it would fail.
    deploy_sleeper(&server, "endless", 90_000, 120_000).await;
    enqueue(&server, "endless", 1).await;
    wait_running(&server, "endless", 1).await;
    server.stop().await;
    assert!(
        server.log().contains("shutdown grace period over"),
        "{}",
        server.log()
    );
    // The job that was cut off runs again after the next start.
    server.resume().await;
    let job = server
        .wait_json(
            "/api/v1/jobs?function=endless",
            "the cut job claimed again",
            |v| v[0]["attempts"].as_u64().unwrap_or(0) >= 2,
        )
        .await;
    assert_eq!(job[0]["state"], "running", "{job}");
}

/// The `host:port` of a base URL such as `http://127.0.0.1:3000`.
fn authority(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Waits (at most `within`) for the server to close `stream`: end of file
/// or a reset. Err when it is still open.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> Result<(), String> {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(format!("still open after {within:?}")),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(()),
            Ok(Ok(_)) => continue, // e.g. a 408 answer before the close
        }
    }
}

#[tokio::test]
async fn half_sent_and_silent_connections_are_closed_on_both_listeners() {
    let server = TestServer::start_with(&[
        "--header-read-timeout-secs",
        "1",
        "--idle-timeout-secs",
        "300",
    ])
    .await;
    for base in [&server.api, &server.gateway] {
        let mut half_sent = Vec::new();
        for _ in 0..20 {
            let mut c = TcpStream::connect(authority(base)).await.unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: wisp\r\nX-Slow: ")
                .await
                .unwrap();
            half_sent.push(c);
        }
        let mut silent = TcpStream::connect(authority(base)).await.unwrap();
        // A trickling client: one header byte at a time keeps bytes moving.
        let mut trickle = TcpStream::connect(authority(base)).await.unwrap();
        trickle
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        let trickling = tokio::spawn(async move {
            for _ in 0..60 {
                if trickle.write_all(b"X").await.is_err() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            closed_by_server(&mut trickle, Duration::from_secs(1))
                .await
                .is_ok()
        });
        for (i, c) in half_sent.iter_mut().enumerate() {
            closed_by_server(c, Duration::from_secs(20))
                .await
                .unwrap_or_else(|e| panic!("{base}: half-sent request {i}: {e}"));
        }
        closed_by_server(&mut silent, Duration::from_secs(20))
            .await
            .unwrap_or_else(|e| panic!("{base}: silent connection: {e}"));
        assert!(
            trickling.await.unwrap(),
            "{base}: a trickled request head was never cut off"
        );
        // The listener still serves.
        let r = server.http.get(format!("{base}/healthz")).send().await;
        assert!(r.is_ok(), "{base}: {r:?}");
    }
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_on_both_listeners() {
    let server = TestServer::start_with(&[
        "--header-read-timeout-secs",
        "300",
        "--idle-timeout-secs",
        "1",
    ])
    .await;
    server.deploy("hello", "hello").await;
    for (base, path) in [(&server.api, "/healthz"), (&server.gateway, "/fn/hello/")] {
        let mut c = TcpStream::connect(authority(base)).await.unwrap();
        c.write_all(format!("GET {path} HTTP/1.1\r\nHost: wisp\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(20), c.read(&mut buf))
                .await
                .expect("an answer")
                .unwrap();
            assert!(n > 0, "{base}: closed before answering");
            answer.extend_from_slice(&buf[..n]);
        }
        assert!(
            String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
            "{base}: {}",
            String::from_utf8_lossy(&answer)
        );
        // Keep-alive: the connection stays usable, then idles out.
        closed_by_server(&mut c, Duration::from_secs(20))
            .await
            .unwrap_or_else(|e| panic!("{base}: idle keep-alive connection: {e}"));
    }
}

#[tokio::test]
async fn long_calls_and_live_tails_outlast_the_idle_timeout() {
    let server = TestServer::start_with(&[
        "--header-read-timeout-secs",
        "1",
        "--idle-timeout-secs",
        "1",
    ])
    .await;
    deploy_sleeper(&server, "slow", 3000, 30_000).await;
    // A call that sends nothing for 3 s is not cut off.
    let r = server
        .http
        .post(server.fn_url("/fn/slow/"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Nor is a live tail with nothing to say for 3 s.
    let mut tail = server
        .get("/api/v1/invocations/stream?function=slow")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = server
        .http
        .post(server.fn_url("/fn/slow/"))
        .body("y")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut seen = String::new();
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        while !seen.contains("event: invocation") {
            match tail.chunk().await {
                Ok(Some(chunk)) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                other => return Err(format!("the stream ended: {other:?}")),
            }
        }
        Ok(())
    })
    .await;
    assert!(
        matches!(got, Ok(Ok(()))),
        "the live tail lost its event: {got:?} {seen}"
    );
}
