//! Broker trigger URLs are not a server-side SSRF or port scanner (issue 28,
//! item 4): NATS, Redis and MQTT triggers may only reach broker hosts the
//! administrator allows with `--broker-hosts` (public hosts by default;
//! loopback, private, link-local and metadata addresses only when listed),
//! refused with a 400 at creation and update; and a trigger's status neither
//! echoes what a remote port sent nor tells a closed port from an open one.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Internal destinations a developer must not reach by default.
const INTERNAL_HOSTS: [&str; 7] = [
    "127.0.0.1",
    "localhost",
    "10.0.0.7",
    "192.168.1.20",
    "169.254.169.254",
    "[::1]",
    "[::ffff:127.0.0.1]",
];

fn broker_trigger(kind: &str, host: &str, port: u16) -> Value {
    match kind {
        "nats" => {
            json!({"kind": "nats", "function": "sink", "url": format!("nats://{host}:{port}"), "subject": "a"})
        }
        "redis" => {
            json!({"kind": "redis", "function": "sink", "url": format!("redis://{host}:{port}"), "stream": "s"})
        }
        _ => {
            json!({"kind": "mqtt", "function": "sink", "url": format!("mqtt://{host}:{port}"), "topic": "t"})
        }
    }
}

#[tokio::test]
async fn broker_triggers_to_internal_hosts_are_refused_by_default() {
    let server = TestServer::start().await;
    server.deploy("sink", "relay").await;
    for kind in ["nats", "redis", "mqtt"] {
        for host in INTERNAL_HOSTS {
            let body = broker_trigger(kind, host, 4222);
            let r = server
                .post("/api/v1/triggers")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert_eq!(status, 400, "{body}: {text}");
            assert!(text.contains("--broker-hosts"), "{body}: {text}");
        }
    }
    // Updating an allowed trigger to an internal broker is refused too.
    let cron = server
        .create_trigger(json!({"kind": "cron", "function": "sink", "schedule": "0 0 * * *"}))
        .await;
    let id = cron["id"].as_str().unwrap();
    let r = server
        .http
        .put(server.api_url(&format!("/api/v1/triggers/{id}")))
        .bearer_auth(&server.token)
        .json(&broker_trigger("redis", "169.254.169.254", 6379))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("--broker-hosts"), "{text}");
    // Nothing was stored for the refused ones.
    let list = server.get_json("/api/v1/triggers").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["kind"], "cron", "{list}");
}

/// A local TCP service that is not a broker: it greets every connection
/// with a banner (like SSH or SMTP) and keeps it open.
async fn banner_service(banner: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = socket.write_all(banner.as_bytes()).await;
                let mut buf = [0u8; 1024];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let _ = socket.write_all(banner.as_bytes()).await;
                }
            });
        }
    });
    port
}

fn closed_port() -> u16 {
    // Bound and released: nothing listens there.
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn error_status(server: &TestServer, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = server.get_json(&format!("/api/v1/triggers/{id}")).await;
        if let Some(status) = t["status"].as_str().filter(|s| s.starts_with("error")) {
            return status.to_string();
        }
        assert!(Instant::now() < deadline, "no error status: {t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn listed_local_brokers_are_allowed_and_statuses_reveal_no_port_state() {
    const BANNER: &str = "SSH-2.0-OpenSSH_9.6 internal-secret-banner\r\n";
    let server = TestServer::start_with(&["--broker-hosts", "127.0.0.1"]).await;
    server.deploy("sink", "relay").await;
    let open = banner_service(BANNER).await;
    let closed = closed_port();
    for kind in ["nats", "redis", "mqtt"] {
        let to_open = server
            .create_trigger(broker_trigger(kind, "127.0.0.1", open))
            .await;
        let to_closed = server
            .create_trigger(broker_trigger(kind, "127.0.0.1", closed))
            .await;
        let open_status = error_status(&server, to_open["id"].as_str().unwrap()).await;
        let closed_status = error_status(&server, to_closed["id"].as_str().unwrap()).await;
        assert!(
            !open_status.contains("secret") && !open_status.contains("SSH"),
            "{kind}: the status echoes the remote banner: {open_status}"
        );
        assert_eq!(
            open_status, closed_status,
            "{kind}: an open and a closed port are told apart"
        );
    }
    // Listing 127.0.0.1 does not open other internal addresses.
    let r = server
        .post("/api/v1/triggers")
        .json(&broker_trigger("nats", "169.254.169.254", 4222))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
