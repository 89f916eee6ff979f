//! Tests of the tape: recording, playback, divergence, body limits.

use super::*;

#[test]
fn a_replay_reads_the_recorded_clocks_and_random_bytes_in_order() {
    let tape = Tape::new(&TapeMode::Off);
    tape.begin(&TapeMode::Record {
        max_body_bytes: 1024,
        failures_only: false,
    });
    let mut counter = 100;
    let walls: Vec<u64> = (0..3)
        .map(|_| {
            counter += 7;
            tape.wall_clock(|| counter)
        })
        .collect();
    let mut first = [0u8; 5];
    tape.random(false, &mut first, |d| d.fill(9));
    let (recording, _) = tape.finish();
    let recording = recording.unwrap().into_recording();
    assert_eq!(recording.wall_clock_ns, walls);
    assert_eq!(recording.random, vec![9; 5]);

    let plan = Arc::new(PlaybackPlan {
        recording,
        recorded_outbound: true,
    });
    let replay = Tape::new(&TapeMode::Play(plan));
    let again: Vec<u64> = (0..4).map(|_| replay.wall_clock(|| 0)).collect();
    assert_eq!(
        again,
        vec![107, 114, 121, 121],
        "past the end: the last reading"
    );
    let mut bytes = [0u8; 7];
    replay.random(false, &mut bytes, |d| d.fill(1));
    assert_eq!(bytes, [9, 9, 9, 9, 9, 1, 1], "past the end: live bytes");
    let monotonic: Vec<u64> = (0..2).map(|_| replay.monotonic(|| 5)).collect();
    assert_eq!(monotonic, vec![EXTRA_TICK_NS, 2 * EXTRA_TICK_NS]);
}

#[test]
fn a_call_without_recording_forgets_what_start_up_read() {
    let tape = Tape::new(&TapeMode::Off);
    tape.wall_clock(|| 1);
    tape.begin(&TapeMode::Off);
    tape.wall_clock(|| 2);
    assert!(tape.finish().0.is_none());

    let spare = Tape::new(&TapeMode::Off);
    spare.wall_clock(|| 1);
    spare.begin(&TapeMode::Record {
        max_body_bytes: 8,
        failures_only: false,
    });
    spare.wall_clock(|| 2);
    let recording = spare.finish().0.unwrap().into_recording();
    assert_eq!(
        recording.wall_clock_ns,
        vec![1, 2],
        "start-up readings are kept"
    );
}

#[test]
fn a_different_request_is_a_divergence_and_an_extra_one_too() {
    let recording = Recording {
        outbound: vec![RecordedCall {
            request: RecordedMessage {
                method: Some("GET".into()),
                uri: Some("http://x/a".into()),
                body_complete: true,
                ..Default::default()
            },
            response: Some(RecordedMessage {
                status: Some(200),
                body_complete: true,
                ..Default::default()
            }),
            error: None,
        }],
        ..Default::default()
    };
    let tape = Tape::new(&TapeMode::Play(Arc::new(PlaybackPlan {
        recording,
        recorded_outbound: true,
    })));
    let same = tape.answer(0, "GET", "http://x/a", b"");
    assert_eq!(same.unwrap().response.unwrap().status, Some(200));
    let other = tape.answer(0, "GET", "http://x/b", b"").unwrap_err();
    assert_eq!(other.differs, vec!["uri"]);
    assert_eq!(other.recorded.as_deref(), Some("GET http://x/a"));
    let extra = tape.answer(1, "POST", "http://x/a", b"").unwrap_err();
    assert_eq!(extra.recorded, None);
}

#[test]
fn a_body_over_the_limit_marks_the_recording_incomplete() {
    let tape = Tape::new(&TapeMode::Off);
    tape.begin(&TapeMode::Record {
        max_body_bytes: 4,
        failures_only: false,
    });
    let body = http_body_util::Full::new(bytes::Bytes::from_static(b"0123456789"));
    let sink = tape
        .request(&http::Request::new(body))
        .expect("a body still to come is teed");
    lock(&sink).push(&bytes::Bytes::from_static(b"0123456789"));
    let recording = tape.finish().0.unwrap().into_recording();
    assert_eq!(recording.request.unwrap().body, b"0123");
    assert!(recording.incomplete.unwrap().contains("the request body"));
}

#[test]
fn recording_for_failures_keeps_a_response_below_500_by_its_status_alone() {
    let response = |status: u16| {
        http::Response::builder()
            .status(status)
            .header("x-kept", "yes")
            .body(())
            .unwrap()
    };
    let tape = Tape::new(&TapeMode::Off);
    tape.begin(&TapeMode::Record {
        max_body_bytes: 64,
        failures_only: true,
    });
    assert!(tape.response(&response(200)).is_none(), "no body tee");
    let recording = tape.finish().0.unwrap().into_recording();
    let kept = recording.response.unwrap();
    assert_eq!(kept.status, Some(200));
    assert!(kept.headers.is_empty() && !kept.body_complete);
    assert_eq!(recording.incomplete, None, "still replayable");

    let tape = Tape::new(&TapeMode::Off);
    tape.begin(&TapeMode::Record {
        max_body_bytes: 64,
        failures_only: true,
    });
    let sink = tape.response(&response(503)).expect("a 5xx body is teed");
    lock(&sink).push(&bytes::Bytes::from_static(b"down"));
    let kept = tape.finish().0.unwrap().into_recording().response.unwrap();
    assert_eq!(kept.body, b"down");
    assert!(kept.body_complete);
    assert_eq!(
        kept.headers,
        vec![("x-kept".to_string(), "yes".to_string())]
    );
}

#[test]
fn a_recorded_head_keeps_its_request_line_and_headers_in_order() {
    let tape = Tape::new(&TapeMode::Off);
    tape.begin(&TapeMode::Record {
        max_body_bytes: 8,
        failures_only: true,
    });
    let request = http::Request::builder()
        .method("POST")
        .uri("http://fn.local/orders?id=7&x=a%20b")
        .header("x-a", "1")
        .header("x-b", "two words: and a colon")
        .header("x-a", "again")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    assert!(
        tape.request(&request).is_none(),
        "an ended body needs no tee"
    );
    let kept = tape.finish().0.unwrap().into_recording().request.unwrap();
    assert_eq!(kept.method.as_deref(), Some("POST"));
    assert_eq!(
        kept.uri.as_deref(),
        Some("http://fn.local/orders?id=7&x=a%20b")
    );
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        kept.headers,
        vec![
            pair("x-a", "1"),
            pair("x-a", "again"),
            pair("x-b", "two words: and a colon")
        ]
    );
    assert!(
        kept.body.is_empty() && kept.body_complete,
        "an ended body is recorded empty and complete"
    );
}

#[test]
fn a_recorded_head_keeps_a_value_that_is_not_utf8_readable() {
    let tape = Tape::new(&TapeMode::Off);
    tape.begin(&TapeMode::Record {
        max_body_bytes: 8,
        failures_only: false,
    });
    let request = http::Request::builder()
        .uri("/plain")
        .header(
            "x-latin1",
            http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        )
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    tape.request(&request);
    let kept = tape.finish().0.unwrap().into_recording().request.unwrap();
    assert_eq!(kept.method.as_deref(), Some("GET"));
    assert_eq!(kept.uri.as_deref(), Some("/plain"));
    assert_eq!(
        kept.headers,
        vec![("x-latin1".to_string(), "caf\u{fffd}".to_string())]
    );
}
