//! The tape of one call, for replay: everything a component's sandbox took
//! from outside itself, in order — the request, the wall and monotonic
//! clock readings, the random bytes (secure and insecure) and the insecure
//! seed, each outbound request with its answer — and the response it gave.
//!
//! Every sandbox reads its clocks and random generators through a [`Tape`].
//! A sandbox made ahead of its call (a warm spare) buffers what its start-up
//! code reads; the call then keeps it ([`TapeMode::Record`]) or drops it. A
//! replay ([`TapeMode::Play`]) runs in a fresh sandbox whose tape answers
//! every reading from a [`Recording`] in the same order, and, with recorded
//! outbound, answers each outbound request from it too (nothing leaves the
//! sandbox); a request that differs from the recorded one is a
//! [`Divergence`]. A tape costs a lock per reading and copies of the bodies
//! (up to the recording's body limit) when recording; nothing when off.

mod recording;
mod tee;

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use wasmtime_wasi::clocks::{MonotonicClock, WallClock};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, Rng as _};

pub use recording::{
    CallLine, Divergence, PlaybackPlan, PlaybackReport, RawRecording, RecordedCall,
    RecordedMessage, Recording, TapeMode,
};
use recording::{RawCall, RawHead};
pub(crate) use tee::BodySink;
pub(crate) use tee::{tee_frame, TeeBody, TeeOr};

/// Monotonic nanoseconds added per reading once a replay has used up the
/// recorded ones (a newer version may read the clock more often).
const EXTRA_TICK_NS: u64 = 1_000;

enum Mode {
    /// A sandbox made ahead of its call: keep its start-up readings until
    /// the call says whether it records.
    Buffering,
    Recording,
    Off,
    Playing(Box<Cursor>),
}

/// A replay's position in its recording.
struct Cursor {
    plan: Arc<PlaybackPlan>,
    wall: usize,
    monotonic: usize,
    random: usize,
    insecure: usize,
    outbound: usize,
    report: PlaybackReport,
}

struct State {
    mode: Mode,
    /// What is recorded: the readings, and the heads and bodies as the
    /// call holds them (bodies filled by their [`TeeBody`] as they stream).
    recording: RawRecording,
}

/// The tape of one sandbox (clones share it).
#[derive(Clone)]
pub(crate) struct Tape(Arc<Mutex<State>>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Tape {
    /// The tape of a new sandbox: playing a recording from the start, or
    /// buffering start-up readings until its call begins.
    pub fn new(mode: &TapeMode) -> Self {
        let (mode, seed) = match mode {
            TapeMode::Play(plan) => (
                Mode::Playing(Box::new(Cursor {
                    plan: plan.clone(),
                    wall: 0,
                    monotonic: 0,
                    random: 0,
                    insecure: 0,
                    outbound: 0,
                    report: PlaybackReport::default(),
                })),
                plan.recording.insecure_seed,
            ),
            _ => (Mode::Buffering, random_seed()),
        };
        Tape(Arc::new(Mutex::new(State {
            mode,
            recording: RawRecording {
                readings: Recording {
                    insecure_seed: seed,
                    ..Default::default()
                },
                ..Default::default()
            },
        })))
    }

    /// The seed `wasi:random/insecure-seed` answers in this sandbox.
    pub fn insecure_seed(&self) -> u128 {
        let (low, high) = lock(&self.0).recording.readings.insecure_seed;
        u128::from(low) | (u128::from(high) << 64)
    }

    /// The call begins: keep recording (with what start-up read) or stop.
    pub fn begin(&self, mode: &TapeMode) {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        match (&state.mode, mode) {
            (Mode::Playing(_), _) => {}
            (
                _,
                TapeMode::Record {
                    max_body_bytes,
                    failures_only,
                },
            ) => {
                state.mode = Mode::Recording;
                state.recording.max_body_bytes = *max_body_bytes;
                state.recording.failures_only = *failures_only;
            }
            _ => {
                state.mode = Mode::Off;
                let seed = state.recording.readings.insecure_seed;
                state.recording = RawRecording {
                    readings: Recording {
                        insecure_seed: seed,
                        ..Default::default()
                    },
                    ..Default::default()
                };
            }
        }
    }

    /// Whether the call's request, response and outbound bodies are kept.
    pub fn records(&self) -> bool {
        matches!(lock(&self.0).mode, Mode::Recording | Mode::Buffering)
    }

    /// Whether a call that ended so (`failed`: an error or a 5xx head)
    /// keeps its recording, so that its unread request body is worth
    /// reading into it.
    pub fn keeps(&self, failed: bool) -> bool {
        let state = lock(&self.0);
        matches!(state.mode, Mode::Recording) && (failed || !state.recording.failures_only)
    }

    /// Records the head of the request handed to the guest (when
    /// [`Tape::records`]); its body is to be teed into the sink returned,
    /// if any (none for a body already at its end, such as a GET's: it is
    /// recorded as empty and complete).
    pub fn request<B: http_body::Body>(
        &self,
        request: &http::Request<B>,
    ) -> Option<Arc<Mutex<BodySink>>> {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        let sink = (!request.body().is_end_stream())
            .then(|| BodySink::new(state.recording.max_body_bytes));
        state.recording.request = Some((RawHead::request(request), sink.clone()));
        sink
    }

    /// Records the head of the response the guest sent (when
    /// [`Tape::records`]); its body is to be teed into the sink returned,
    /// if any (none when only its status is wanted: see
    /// [`TapeMode::Record`]'s `failures_only`).
    pub fn response<B>(&self, response: &http::Response<B>) -> Option<Arc<Mutex<BodySink>>> {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        let status = response.status().as_u16();
        if state.recording.failures_only && status < 500 {
            state.recording.response = Some((RawHead::status(status), None));
            return None;
        }
        let sink = BodySink::new(state.recording.max_body_bytes);
        state.recording.response = Some((RawHead::response(response), Some(sink.clone())));
        Some(sink)
    }

    /// What this outbound request should do: be answered from the
    /// recording, or go out (recorded, when recording).
    pub fn outbound<B>(&self, request: http::Request<B>) -> Outbound<B> {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        let max = state.recording.max_body_bytes;
        match &mut state.mode {
            Mode::Playing(cursor) => {
                let index = cursor.outbound;
                cursor.outbound += 1;
                let line = format!("{} {}", request.method(), request.uri());
                cursor.report.calls.push(CallLine {
                    request: line,
                    ..Default::default()
                });
                if cursor.plan.recorded_outbound {
                    Outbound::Answer(index, request)
                } else {
                    Outbound::Live(Some(index), request.map(TeeOr::Plain))
                }
            }
            Mode::Recording | Mode::Buffering => {
                let index = state.recording.outbound.len();
                let sink = BodySink::new(max);
                state.recording.outbound.push(RawCall {
                    request: RawHead::request(&request),
                    request_body: Some(sink.clone()),
                    ..Default::default()
                });
                Outbound::Live(
                    Some(index),
                    request.map(|body| TeeOr::Tee(TeeBody { inner: body, sink })),
                )
            }
            Mode::Off => Outbound::Live(None, request.map(TeeOr::Plain)),
        }
    }

    /// Outbound request `index` (a live one) was answered: returns the
    /// response, its body teed when recording.
    pub fn outbound_response<B>(
        &self,
        index: usize,
        response: http::Response<B>,
    ) -> http::Response<TeeOr<B>> {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        let status = Some(response.status().as_u16());
        match &mut state.mode {
            Mode::Playing(cursor) => {
                if let Some(line) = cursor.report.calls.get_mut(index) {
                    line.status = status;
                }
            }
            Mode::Recording | Mode::Buffering => {
                let max = state.recording.max_body_bytes;
                if let Some(call) = state.recording.outbound.get_mut(index) {
                    let sink = BodySink::new(max);
                    call.response = Some((RawHead::response(&response), sink.clone()));
                    return response.map(|body| TeeOr::Tee(TeeBody { inner: body, sink }));
                }
            }
            Mode::Off => {}
        }
        response.map(TeeOr::Plain)
    }

    /// Outbound request `index` (a live one) failed with `error`.
    pub fn outbound_error(&self, index: usize, error: String) {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        match &mut state.mode {
            Mode::Playing(cursor) => {
                if let Some(line) = cursor.report.calls.get_mut(index) {
                    line.error = Some(error);
                }
            }
            Mode::Recording | Mode::Buffering => {
                if let Some(call) = state.recording.outbound.get_mut(index) {
                    call.error = Some(error);
                }
            }
            Mode::Off => {}
        }
    }

    /// Answers replayed outbound request `index` (its body read in full)
    /// from the recording, or notes how it diverged (the guest then gets an
    /// error).
    pub fn answer(
        &self,
        index: usize,
        method: &str,
        uri: &str,
        body: &[u8],
    ) -> Result<RecordedCall, Divergence> {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        let Mode::Playing(cursor) = &mut state.mode else {
            unreachable!("answer is only asked of a playing tape");
        };
        let replay = format!("{method} {uri}");
        let recorded = cursor.plan.recording.outbound.get(index);
        let outcome = match recorded {
            None => Err(Divergence {
                index,
                recorded: None,
                replay,
                differs: vec!["extra request".into()],
            }),
            Some(call) => {
                let mut differs = Vec::new();
                if call.request.method.as_deref() != Some(method) {
                    differs.push("method".to_string());
                }
                if call.request.uri.as_deref() != Some(uri) {
                    differs.push("uri".to_string());
                }
                if call.request.body_complete && call.request.body != body {
                    differs.push("body".to_string());
                }
                if differs.is_empty() {
                    Ok(call.clone())
                } else {
                    Err(Divergence {
                        index,
                        recorded: Some(call.request.request_line()),
                        replay,
                        differs,
                    })
                }
            }
        };
        let line = cursor.report.calls.get_mut(index);
        match &outcome {
            Ok(call) => {
                if let Some(line) = line {
                    line.status = call.response.as_ref().and_then(|r| r.status);
                    line.error = call.error.clone();
                }
            }
            Err(divergence) => {
                if let Some(line) = line {
                    line.error = Some("diverged from the recording".into());
                }
                cursor.report.divergences.push(divergence.clone());
            }
        }
        outcome
    }

    /// The call is over: its recording (when recording; made into its
    /// stored form only if kept) or its playback report (when playing).
    pub fn finish(&self) -> (Option<Box<RawRecording>>, Option<Box<PlaybackReport>>) {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        match std::mem::replace(&mut state.mode, Mode::Off) {
            Mode::Playing(cursor) => (None, Some(Box::new(cursor.report))),
            Mode::Recording => (Some(Box::new(std::mem::take(&mut state.recording))), None),
            Mode::Buffering | Mode::Off => (None, None),
        }
    }

    fn wall_clock(&self, live: impl FnOnce() -> u64) -> u64 {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        match &mut state.mode {
            Mode::Off => live(),
            Mode::Recording | Mode::Buffering => {
                let now = live();
                state.recording.readings.wall_clock_ns.push(now);
                now
            }
            Mode::Playing(cursor) => {
                let readings = &cursor.plan.recording.wall_clock_ns;
                let now = readings
                    .get(cursor.wall)
                    .or(readings.last())
                    .copied()
                    .unwrap_or_else(live);
                cursor.wall += 1;
                now
            }
        }
    }

    fn monotonic(&self, live: impl FnOnce() -> u64) -> u64 {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        match &mut state.mode {
            Mode::Off => live(),
            Mode::Recording | Mode::Buffering => {
                let now = live();
                state.recording.readings.monotonic_ns.push(now);
                now
            }
            Mode::Playing(cursor) => {
                let readings = &cursor.plan.recording.monotonic_ns;
                let now = match readings.get(cursor.monotonic) {
                    Some(now) => *now,
                    None => {
                        let past = (cursor.monotonic + 1 - readings.len()) as u64;
                        readings.last().copied().unwrap_or(0) + past * EXTRA_TICK_NS
                    }
                };
                cursor.monotonic += 1;
                now
            }
        }
    }

    /// Fills `dst` from the live generator (recording it) or the recording.
    fn random(&self, insecure: bool, dst: &mut [u8], live: impl FnOnce(&mut [u8])) {
        let mut guard = lock(&self.0);
        let state = &mut *guard;
        match &mut state.mode {
            Mode::Off => live(dst),
            Mode::Recording | Mode::Buffering => {
                live(dst);
                let stream = if insecure {
                    &mut state.recording.readings.insecure_random
                } else {
                    &mut state.recording.readings.random
                };
                stream.extend_from_slice(dst);
            }
            Mode::Playing(cursor) => {
                let (stream, at) = if insecure {
                    (&cursor.plan.recording.insecure_random, &mut cursor.insecure)
                } else {
                    (&cursor.plan.recording.random, &mut cursor.random)
                };
                let recorded = stream.get(*at..).unwrap_or_default();
                let n = recorded.len().min(dst.len());
                dst[..n].copy_from_slice(&recorded[..n]);
                *at += n;
                // Past the recording (a newer version draws more): live bytes.
                if n < dst.len() {
                    live(&mut dst[n..]);
                }
            }
        }
    }
}

/// A sandbox's insecure seed, drawn straight from the thread's generator
/// (building a seeded generator for two numbers cost ≈ 900 instructions
/// per call).
fn random_seed() -> (u64, u64) {
    rand::random()
}

/// The wall clock a sandbox sees (through its tape).
pub(crate) struct TapedWallClock(pub Tape);

impl HostWallClock for TapedWallClock {
    fn resolution(&self) -> Duration {
        WallClock.resolution()
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(
            self.0
                .wall_clock(|| WallClock.now().as_nanos().min(u128::from(u64::MAX)) as u64),
        )
    }
}

/// The monotonic clock a sandbox sees (through its tape).
pub(crate) struct TapedMonotonicClock {
    pub tape: Tape,
    pub clock: MonotonicClock,
}

impl HostMonotonicClock for TapedMonotonicClock {
    fn resolution(&self) -> u64 {
        self.clock.resolution()
    }

    fn now(&self) -> u64 {
        self.tape.monotonic(|| self.clock.now())
    }
}

/// A random generator a sandbox draws from (through its tape). Its live
/// generator is made on the first live draw: most calls draw none, and
/// seeding one per sandbox was a cost of every call.
pub(crate) struct TapedRng {
    tape: Tape,
    insecure: bool,
    rng: Option<Box<dyn wasmtime_wasi::Rng + Send>>,
}

impl TapedRng {
    /// The secure (`insecure == false`) or insecure generator of `tape`'s sandbox.
    pub fn new(tape: Tape, insecure: bool) -> Self {
        TapedRng {
            tape,
            insecure,
            rng: None,
        }
    }
}

impl rand_core::TryRng for TapedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let rng = &mut self.rng;
        self.tape.random(self.insecure, dst, |dst| {
            rng.get_or_insert_with(wasmtime_wasi::thread_rng)
                .fill_bytes(dst)
        });
        Ok(())
    }
}

/// What an outbound request does under the tape.
pub(crate) enum Outbound<B> {
    /// Goes out (the index of its recorded or played call, if any).
    Live(Option<usize>, http::Request<TeeOr<B>>),
    /// Is answered from the recording: its index, and the request.
    Answer(usize, http::Request<B>),
}

#[cfg(test)]
mod tests;
