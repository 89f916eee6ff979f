//! External queue triggers against real brokers on this machine (NATS with
//! JetStream on 4222, Redis on 6379, Mosquitto on 1883; `scripts/test.sh`
//! starts them): messages published with a real client become exactly one
//! successful call each, a message that always fails is retried, stored as
//! a dead letter and acknowledged, and (JetStream, Redis, MQTT's persistent
//! session) a message published while the server is down is delivered after
//! it starts again, with nothing acknowledged delivered twice; deleting a
//! trigger removes the JetStream consumer or Redis group Wisp made for it.
//! Updating a trigger moves it (updates.rs). Every run uses fresh subject,
//! stream and topic names.

#[path = "../common/mod.rs"]
mod common;
mod updates;

use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};

const POISON: &str = "poison";

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Fails with a clear message when the broker is not listening.
async fn require(service: &str, addr: &str) {
    if tokio::net::TcpStream::connect(addr).await.is_err() {
        panic!(
            "{service} is not running on {addr}: start it (scripts/test.sh ensure_services does)"
        );
    }
}

/// A server with `sink` (records each delivery in kv `seen/<ce-id>`, fails
/// on bodies containing POISON) and one trigger, waited on until connected.
async fn server_with_trigger(trigger: Value) -> (TestServer, String) {
    // The brokers run on this machine: the administrator must allow them.
    let server = TestServer::start_with(&[
        "--retry-base-ms",
        "50",
        "--max-attempts",
        "3",
        "--broker-hosts",
        "127.0.0.1",
    ])
    .await;
    server.deploy("sink", "relay").await;
    server
        .configure(
            "sink",
            json!({"env": {"STEPS": "PUT http://kv.wisp/seen/{ce-id} {body}", "FAIL_BODY_CONTAINS": POISON}}),
        )
        .await;
    let created = server.create_trigger(trigger).await;
    let id = created["id"].as_str().unwrap().to_string();
    wait_connected(&server, &id).await;
    (server, id)
}

async fn wait_connected(server: &TestServer, id: &str) {
    server
        .wait_json(
            &format!("/api/v1/triggers/{id}"),
            "trigger connected",
            |t| t["status"] == "connected",
        )
        .await;
}

/// Bodies the function has seen (one kv entry per message), sorted.
async fn seen(server: &TestServer) -> Vec<String> {
    let list = server.get_json("/api/v1/kv?prefix=seen/&limit=1000").await;
    let mut bodies: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["preview"].as_str().unwrap().to_string())
        .collect();
    bodies.sort();
    bodies
}

/// Waits until exactly `expected` bodies were seen, then checks the
/// invocation records: one 200 per good body, `max` 500s for the poisoned
/// one, all from this trigger; the dead letter is there; and nothing more
/// arrives afterwards (each message was acknowledged).
async fn check_deliveries(
    server: &TestServer,
    kind: &str,
    trigger_id: &str,
    good: &[String],
    poisoned: Option<&str>,
) {
    let mut expected: Vec<String> = good.to_vec();
    expected.extend(poisoned.map(str::to_string));
    expected.sort();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let bodies = seen(server).await;
        if bodies == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries: got {bodies:?}, want {expected:?}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failures = if poisoned.is_some() { 3 } else { 0 };
    if poisoned.is_some() {
        let dead = server
            .wait_json("/api/v1/dead-letters", "a dead letter", |d| {
                d.as_array().is_some_and(|a| !a.is_empty())
            })
            .await;
        let dead = dead.as_array().unwrap();
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert_eq!(dead[0]["source"], kind);
        assert_eq!(dead[0]["trigger_id"], trigger_id);
        assert_eq!(dead[0]["attempts"], 3, "{:?}", dead[0]);
        assert_eq!(dead[0]["state"], "dead");
    }
    server.invocations("sink", good.len() + failures).await;
    // Give a wrongly unacknowledged message time to come back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let records = server.invocations("sink", good.len() + failures).await;
    let ok = records
        .iter()
        .filter(|r| r.status_code == Some(200))
        .count();
    let failed = records
        .iter()
        .filter(|r| r.status_code == Some(500))
        .count();
    assert_eq!(
        (ok, failed, records.len()),
        (good.len(), failures, good.len() + failures),
        "{records:#?}"
    );
    for r in &records {
        assert_eq!(r.trigger.as_str(), kind);
        assert_eq!(r.trigger_id.as_deref(), Some(trigger_id));
    }
    assert_eq!(seen(server).await, expected, "nothing redelivered");
}

fn bodies(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} message {i}")).collect()
}

#[tokio::test]
async fn nats_core_subject_with_wildcard() {
    require("nats-server", "127.0.0.1:4222").await;
    let u = unique();
    let (server, id) = server_with_trigger(json!({"kind": "nats", "function": "sink",
        "url": "nats://127.0.0.1:4222", "subject": format!("wcore{u}.orders.*")}))
    .await;
    let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
    let good = bodies("core", 5);
    for (i, body) in good.iter().enumerate() {
        client
            .publish(format!("wcore{u}.orders.{i}"), body.clone().into())
            .await
            .unwrap();
    }
    // Not matched by the subject filter.
    client
        .publish(format!("wcore{u}.other"), "ignored".into())
        .await
        .unwrap();
    client
        .publish(
            format!("wcore{u}.orders.bad"),
            format!("{POISON} pill").into(),
        )
        .await
        .unwrap();
    client.flush().await.unwrap();
    check_deliveries(&server, "nats", &id, &good, Some(&format!("{POISON} pill"))).await;
}

#[tokio::test]
async fn nats_jetstream_acks_naks_and_survives_a_restart() {
    require("nats-server", "127.0.0.1:4222").await;
    let u = unique();
    let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
    let js = async_nats::jetstream::new(client);
    let stream_name = format!("WISPTEST_{u}");
    js.create_stream(async_nats::jetstream::stream::Config {
        name: stream_name.clone(),
        subjects: vec![format!("wjs{u}.>")],
        max_age: Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .expect("creating a JetStream stream (is nats-server running with -js?)");
    // No `stream` given: the trigger finds the stream capturing its subject.
    let (mut server, id) = server_with_trigger(json!({"kind": "nats", "function": "sink",
        "url": "nats://127.0.0.1:4222", "subject": format!("wjs{u}.orders.*")}))
    .await;
    let publish = |subject: String, body: String| {
        let js = js.clone();
        async move {
            js.publish(subject, body.into())
                .await
                .unwrap()
                .await
                .expect("stored by JetStream");
        }
    };
    let mut good = bodies("js", 4);
    for (i, body) in good.iter().enumerate() {
        publish(format!("wjs{u}.orders.{i}"), body.clone()).await;
    }
    publish(format!("wjs{u}.orders.x"), format!("{POISON} js")).await;
    check_deliveries(&server, "nats", &id, &good, Some(&format!("{POISON} js"))).await;

    // The durable consumer has nothing outstanding.
    let stream = js.get_stream(&stream_name).await.unwrap();
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(&format!("wisp-{id}")).await.unwrap();
    let info = consumer.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0, "{info:?}");
    assert_eq!(info.num_pending, 0, "{info:?}");

    // Published while the server is down: delivered once it is back.
    server.stop().await;
    publish(format!("wjs{u}.orders.late"), "while down".into()).await;
    server.resume().await;
    good.push("while down".into());
    check_deliveries(&server, "nats", &id, &good, Some(&format!("{POISON} js"))).await;

    // Deleting the trigger deletes its durable consumer on the server.
    delete_trigger(&server, &id).await;
    let durable = format!("wisp-{id}");
    eventually("the JetStream consumer deleted", || {
        consumer_gone(&stream, &durable)
    })
    .await;
    js.delete_stream(&stream_name).await.unwrap();
}

/// Whether `stream` no longer has the durable consumer `durable`.
async fn consumer_gone(stream: &async_nats::jetstream::stream::Stream, durable: &str) -> bool {
    stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(durable)
        .await
        .is_err()
}

/// The consumer groups of a Redis stream.
async fn groups(stream: &str) -> Vec<String> {
    let info: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query_async(&mut redis_conn().await)
        .await
        .unwrap();
    info.groups.into_iter().map(|g| g.name).collect()
}

/// `DELETE /api/v1/triggers/{id}`, asserting 204.
async fn delete_trigger(server: &TestServer, id: &str) {
    let r = server
        .http
        .delete(server.api_url(&format!("/api/v1/triggers/{id}")))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

/// Polls `check` until it holds (20 s at most).
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn redis_conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open("redis://127.0.0.1:6379")
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("connecting to Redis")
}

async fn xadd(conn: &mut redis::aio::MultiplexedConnection, stream: &str, fields: &[(&str, &str)]) {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    let _: String = cmd.query_async(conn).await.unwrap();
}

#[tokio::test]
async fn redis_stream_consumer_group_acks_and_survives_sigkill() {
    require("redis-server", "127.0.0.1:6379").await;
    let stream = format!("wisp-test-{}", unique());
    let (mut server, id) = server_with_trigger(json!({"kind": "redis", "function": "sink",
        "url": "redis://127.0.0.1:6379", "stream": stream}))
    .await;
    let mut conn = redis_conn().await;
    let mut good = bodies("redis", 4);
    for body in &good {
        xadd(&mut conn, &stream, &[("payload", body)]).await;
    }
    // No payload field: the whole entry as a JSON object.
    xadd(&mut conn, &stream, &[("kind", "order"), ("n", "7")]).await;
    good.push(r#"{"kind":"order","n":"7"}"#.into());
    xadd(&mut conn, &stream, &[("data", &format!("{POISON} redis"))]).await;
    check_deliveries(
        &server,
        "redis",
        &id,
        &good,
        Some(&format!("{POISON} redis")),
    )
    .await;
    let group = format!("wisp-{id}");
    let pending: Vec<Value> = redis::cmd("XPENDING")
        .arg(&stream)
        .arg(&group)
        .query_async::<redis::Value>(&mut conn)
        .await
        .map(|v| match v {
            redis::Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    redis::Value::Int(n) => json!(n),
                    other => json!(format!("{other:?}")),
                })
                .collect(),
            other => vec![json!(format!("{other:?}"))],
        })
        .unwrap();
    assert_eq!(
        pending[0],
        json!(0),
        "XPENDING {stream} {group}: {pending:?}"
    );

    // Added while the server is down (SIGTERM), then after a SIGKILL restart.
    server.stop().await;
    xadd(&mut conn, &stream, &[("payload", "while down")]).await;
    server.resume().await;
    good.push("while down".into());
    check_deliveries(
        &server,
        "redis",
        &id,
        &good,
        Some(&format!("{POISON} redis")),
    )
    .await;
    server.kill9_and_restart().await;
    wait_connected(&server, &id).await;
    xadd(&mut conn, &stream, &[("payload", "after sigkill")]).await;
    good.push("after sigkill".into());
    check_deliveries(
        &server,
        "redis",
        &id,
        &good,
        Some(&format!("{POISON} redis")),
    )
    .await;

    // Deleting the trigger destroys the consumer group Wisp named for it.
    delete_trigger(&server, &id).await;
    eventually("the Redis consumer group destroyed", || async {
        !groups(&stream).await.contains(&group)
    })
    .await;
    let _: i64 = redis::cmd("DEL")
        .arg(&stream)
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// Publishes with QoS 1 and waits for the broker's PUBACKs.
async fn mqtt_publish(messages: &[(String, String)]) {
    mqtt_publish_to(1883, messages).await;
}

async fn mqtt_publish_to(port: u16, messages: &[(String, String)]) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut options = MqttOptions::new(format!("wisp-test-pub-{}", unique()), "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(options, 64);
    for (topic, body) in messages {
        client
            .publish(topic.clone(), QoS::AtLeastOnce, false, body.clone())
            .await
            .unwrap();
    }
    let mut acked = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while acked < messages.len() {
        let event = tokio::time::timeout_at(deadline, events.poll())
            .await
            .expect("PUBACKs from mosquitto")
            .expect("MQTT connection to mosquitto");
        if let Event::Incoming(Packet::PubAck(_)) = event {
            acked += 1;
        }
    }
    let _ = client.disconnect().await;
}

/// Publishes the same QoS 0 message `times` times (no packet id, no PUBACK).
async fn mqtt_publish_qos0(topic: &str, body: &str, times: usize) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, QoS};
    let options = MqttOptions::new(format!("wisp-test-pub-{}", unique()), "127.0.0.1", 1883);
    let (client, mut events) = AsyncClient::new(options, 64);
    for _ in 0..times {
        client
            .publish(topic, QoS::AtMostOnce, false, body.to_string())
            .await
            .unwrap();
    }
    client.disconnect().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let event = tokio::time::timeout_at(deadline, events.poll())
            .await
            .expect("publishing to mosquitto")
            .expect("MQTT connection to mosquitto");
        if let Event::Outgoing(Outgoing::Disconnect) = event {
            break;
        }
    }
}

#[tokio::test]
async fn mqtt_topic_filter_qos1_manual_acks() {
    require("mosquitto", "127.0.0.1:1883").await;
    let u = unique();
    let (mut server, id) = server_with_trigger(json!({"kind": "mqtt", "function": "sink",
        "url": "mqtt://127.0.0.1:1883", "topic": format!("wisp-test/{u}/sensors/+/temp")}))
    .await;
    let mut good = bodies("mqtt", 4);
    let mut messages: Vec<(String, String)> = good
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("wisp-test/{u}/sensors/s{i}/temp"), b.clone()))
        .collect();
    messages.push((
        format!("wisp-test/{u}/sensors/s1/humidity"),
        "ignored".into(),
    ));
    messages.push((
        format!("wisp-test/{u}/sensors/bad/temp"),
        format!("{POISON} mqtt"),
    ));
    mqtt_publish(&messages).await;
    // Identical QoS 0 messages are separate messages, each delivered.
    mqtt_publish_qos0(&format!("wisp-test/{u}/sensors/q0/temp"), "qos0 twice", 2).await;
    good.extend(["qos0 twice".to_string(), "qos0 twice".to_string()]);
    check_deliveries(&server, "mqtt", &id, &good, Some(&format!("{POISON} mqtt"))).await;

    // The session persists: after a restart the broker redelivers nothing
    // (all were acknowledged) but does deliver what came while it was down.
    server.stop().await;
    mqtt_publish(&[(
        format!("wisp-test/{u}/sensors/late/temp"),
        "while down".into(),
    )])
    .await;
    server.resume().await;
    good.push("while down".into());
    check_deliveries(&server, "mqtt", &id, &good, Some(&format!("{POISON} mqtt"))).await;
}

#[tokio::test]
async fn queue_triggers_reject_bad_fields() {
    let server = TestServer::start().await;
    server.deploy("sink", "relay").await;
    for (bad, needle) in [
        (
            json!({"kind": "nats", "function": "sink", "url": "http://x:1", "subject": "a"}),
            "nats",
        ),
        (
            json!({"kind": "nats", "function": "sink", "url": "nats://127.0.0.1:4222", "subject": "a..b"}),
            "empty token",
        ),
        (
            json!({"kind": "redis", "function": "sink", "url": "nats://x", "stream": "s"}),
            "redis://",
        ),
        (
            json!({"kind": "mqtt", "function": "sink", "url": "mqtt://127.0.0.1:1883", "topic": "a/#/b"}),
            "#",
        ),
    ] {
        let r = server
            .post("/api/v1/triggers")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let err: Value = r.json().await.unwrap();
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{bad}: {message}");
    }
}

/// A private broker on a free port, killed when dropped, so a test can take
/// it down without disturbing the shared ones.
struct Broker {
    child: Option<std::process::Child>,
    program: &'static str,
    args: Vec<String>,
    port: u16,
}

impl Broker {
    fn start(program: &'static str, args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let args = args
            .iter()
            .map(|a| a.replace("{port}", &port.to_string()))
            .collect();
        let mut broker = Self {
            child: None,
            program,
            args,
            port,
        };
        broker.spawn();
        broker
    }

    fn spawn(&mut self) {
        let child = std::process::Command::new(self.program)
            .args(&self.args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} ({e}): is it installed?", self.program));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "{} did not listen", self.program);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The broker goes away: the trigger shows the error, reconnects once the
/// broker is back, and delivers again.
async fn survives_broker_restart(
    mut broker: Broker,
    trigger: Value,
    publish: impl Fn(u16, String) -> futures::future::BoxFuture<'static, ()>,
) {
    let kind = trigger["kind"].as_str().unwrap().to_string();
    let (server, id) = server_with_trigger(trigger).await;
    publish(broker.port, "before".into()).await;
    check_deliveries(&server, &kind, &id, &["before".into()], None).await;
    broker.kill();
    server
        .wait_json(&format!("/api/v1/triggers/{id}"), "an error status", |t| {
            t["status"] != "connected"
        })
        .await;
    broker.spawn();
    wait_connected(&server, &id).await;
    publish(broker.port, "after".into()).await;
    check_deliveries(
        &server,
        &kind,
        &id,
        &["after".into(), "before".into()],
        None,
    )
    .await;
}

#[tokio::test]
async fn redis_trigger_reconnects_after_the_broker_restarts() {
    let broker = Broker::start(
        "redis-server",
        &[
            "--port",
            "{port}",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
    );
    let url = format!("redis://127.0.0.1:{}", broker.port);
    let trigger = json!({"kind": "redis", "function": "sink", "url": url, "stream": "orders"});
    survives_broker_restart(broker, trigger, |port, body| {
        Box::pin(async move {
            let mut conn = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            xadd(&mut conn, "orders", &[("payload", &body)]).await;
        })
    })
    .await;
}

#[tokio::test]
async fn nats_trigger_reconnects_after_the_broker_restarts() {
    let broker = Broker::start("nats-server", &["-a", "127.0.0.1", "-p", "{port}"]);
    let url = format!("nats://127.0.0.1:{}", broker.port);
    let trigger = json!({"kind": "nats", "function": "sink", "url": url, "subject": "orders"});
    survives_broker_restart(broker, trigger, |port, body| {
        Box::pin(async move {
            let client = async_nats::connect(format!("127.0.0.1:{port}"))
                .await
                .unwrap();
            client.publish("orders", body.into()).await.unwrap();
            client.flush().await.unwrap();
        })
    })
    .await;
}

#[tokio::test]
async fn mqtt_trigger_reconnects_after_the_broker_restarts() {
    let broker = Broker::start("mosquitto", &["-p", "{port}"]);
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let trigger = json!({"kind": "mqtt", "function": "sink", "url": url, "topic": "sensors/#"});
    survives_broker_restart(broker, trigger, |port, body| {
        Box::pin(async move { mqtt_publish_to(port, &[("sensors/a".into(), body)]).await })
    })
    .await;
}
