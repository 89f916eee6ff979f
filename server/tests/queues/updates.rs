//! Updating a queue trigger moves it: a NATS trigger given another subject
//! delivers that subject and no longer the old one, its consumer replaced
//! in the same stream and deleted from a stream it left; a Redis trigger
//! moved to another stream reads there, and the group Wisp made on the old
//! stream is destroyed; an MQTT trigger given another topic gets that
//! topic's messages and no longer the old one's (its persistent session is
//! ended and made afresh).

use super::*;

/// `PUT /api/v1/triggers/{id}`, asserting 200; waits until it reconnects.
async fn update_trigger(server: &TestServer, id: &str, body: Value) {
    let r = server
        .http
        .put(server.api_url(&format!("/api/v1/triggers/{id}")))
        .bearer_auth(&server.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    wait_connected(server, id).await;
}

/// Waits until the function has seen exactly `want` (sorted), then gives
/// anything else time to arrive and checks again.
async fn seen_exactly(server: &TestServer, want: &[&str]) {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    eventually(&format!("deliveries {want:?}"), || async {
        seen(server).await == want
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(seen(server).await, want, "{}", server.log());
}

#[tokio::test]
async fn nats_trigger_update_follows_the_new_subject() {
    require("nats-server", "127.0.0.1:4222").await;
    let u = unique();
    let js = async_nats::jetstream::new(async_nats::connect("127.0.0.1:4222").await.unwrap());
    let (first, second) = (format!("WISPUP_{u}"), format!("WISPMV_{u}"));
    for (name, subjects) in [
        (&first, format!("wup{u}.>")),
        (&second, format!("wmv{u}.>")),
    ] {
        js.create_stream(async_nats::jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![subjects],
            max_age: Duration::from_secs(600),
            ..Default::default()
        })
        .await
        .expect("creating a JetStream stream");
    }
    let publish = |subject: String, body: &str| {
        let js = js.clone();
        let body = body.to_string();
        async move {
            js.publish(subject, body.into())
                .await
                .unwrap()
                .await
                .expect("stored by JetStream");
        }
    };
    let nats = |subject: String| json!({"kind": "nats", "function": "sink", "url": "nats://127.0.0.1:4222", "subject": subject});
    let (server, id) = server_with_trigger(nats(format!("wup{u}.a"))).await;
    let durable = format!("wisp-{id}");
    publish(format!("wup{u}.a"), "a before").await;
    seen_exactly(&server, &["a before"]).await;

    // Another subject in the same stream: the consumer now filters it.
    update_trigger(&server, &id, nats(format!("wup{u}.b"))).await;
    let stream = js.get_stream(&first).await.unwrap();
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(&durable).await.unwrap();
    let filter = consumer.info().await.unwrap().config.filter_subject.clone();
    assert_eq!(filter, format!("wup{u}.b"));
    publish(format!("wup{u}.a"), "a after").await;
    publish(format!("wup{u}.b"), "b after").await;
    seen_exactly(&server, &["a before", "b after"]).await;

    // A subject of another stream: the consumer leaves the first stream.
    update_trigger(&server, &id, nats(format!("wmv{u}.c"))).await;
    eventually(
        "the consumer deleted from the stream the trigger left",
        || consumer_gone(&stream, &durable),
    )
    .await;
    publish(format!("wmv{u}.c"), "c after").await;
    seen_exactly(&server, &["a before", "b after", "c after"]).await;
    for name in [&first, &second] {
        js.delete_stream(name).await.unwrap();
    }
}

#[tokio::test]
async fn redis_trigger_update_to_another_stream_destroys_the_old_group() {
    require("redis-server", "127.0.0.1:6379").await;
    let (first, second) = (
        format!("wisp-up-{}", unique()),
        format!("wisp-mv-{}", unique()),
    );
    let redis = |stream: &str| json!({"kind": "redis", "function": "sink", "url": "redis://127.0.0.1:6379", "stream": stream});
    let (server, id) = server_with_trigger(redis(&first)).await;
    let group = format!("wisp-{id}");
    let mut conn = redis_conn().await;
    xadd(&mut conn, &first, &[("payload", "first")]).await;
    seen_exactly(&server, &["first"]).await;
    assert!(groups(&first).await.contains(&group));

    update_trigger(&server, &id, redis(&second)).await;
    eventually(
        "the group on the stream the trigger left destroyed",
        || async { !groups(&first).await.contains(&group) },
    )
    .await;
    xadd(&mut conn, &first, &[("payload", "left behind")]).await;
    xadd(&mut conn, &second, &[("payload", "second")]).await;
    seen_exactly(&server, &["first", "second"]).await;
    assert!(groups(&second).await.contains(&group));
    let _: i64 = redis::cmd("DEL")
        .arg(&first)
        .arg(&second)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn mqtt_trigger_update_follows_the_new_topic() {
    require("mosquitto", "127.0.0.1:1883").await;
    let u = unique();
    let (old, new) = (format!("wisp-up/{u}/old"), format!("wisp-up/{u}/new"));
    let mqtt = |topic: &str| json!({"kind": "mqtt", "function": "sink", "url": "mqtt://127.0.0.1:1883", "topic": topic});
    let (server, id) = server_with_trigger(mqtt(&old)).await;
    mqtt_publish(&[(old.clone(), "old before".into())]).await;
    seen_exactly(&server, &["old before"]).await;

    update_trigger(&server, &id, mqtt(&new)).await;
    mqtt_publish(&[
        (old.clone(), "old after".into()),
        (new.clone(), "new after".into()),
    ])
    .await;
    seen_exactly(&server, &["new after", "old before"]).await;

    // Deleting it ends its persistent session on the broker.
    delete_trigger(&server, &id).await;
    let client_id = format!("wisp-{}", id.replace('-', ""));
    eventually("the MQTT session ended", || {
        mqtt_session_absent(&client_id, false)
    })
    .await;
    // The probe above made a session of its own: end it.
    mqtt_session_absent(&client_id, true).await;
}

/// Connects as `client_id` (`clean`: with a clean session) and tells
/// whether the broker had no session stored for it.
async fn mqtt_session_absent(client_id: &str, clean: bool) -> bool {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
    let mut options = MqttOptions::new(client_id, "127.0.0.1", 1883);
    options.set_clean_session(clean);
    let (client, mut events) = AsyncClient::new(options, 8);
    let absent = loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.poll())
            .await
            .expect("a CONNACK from mosquitto")
            .expect("MQTT connection to mosquitto");
        if let Event::Incoming(Packet::ConnAck(ack)) = event {
            break !ack.session_present;
        }
    };
    client.disconnect().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(2), events.poll()).await;
    absent
}
