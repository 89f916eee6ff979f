//! The gateway's connections on runtimes of their own: each is a
//! single-threaded tokio runtime on a thread of its own, and a connection,
//! with every task its calls spawn (the call, the guest, its recording),
//! stays on the runtime it was handed to.
//! The accept loop hands each new connection to the runtime with the
//! fewest open ones. Nothing is stolen between them, so a call's tasks
//! never wake a parked worker on the other core, and each runtime's I/O
//! driver serves only its own connections (docs/DECISIONS.md #74: 11 %
//! less CPU per hello call than two workers sharing one runtime).
//!
//! The runtimes live as long as the process: what a connection spawned (a
//! call still running for a caller that went away, its record) finishes
//! on its runtime after the connection is gone.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::listener::{self, Timeouts};

/// The gateway's runtimes, started before the listener serves.
pub struct Runtimes(Vec<Handle>);

/// Tasks a gateway runtime polls between two looks at its I/O driver
/// (tokio's default is 61): under load each look finds more connections
/// ready, and the driver's system calls are fewer per call
/// (docs/DECISIONS.md #74).
const EVENT_INTERVAL: u32 = 200;

impl Runtimes {
    /// Starts `count` single-threaded runtimes (at least one), each on a
    /// thread of its own named `wisp-gateway-N`.
    pub fn start(count: usize) -> std::io::Result<Self> {
        (0..count.max(1))
            .map(start_runtime)
            .collect::<std::io::Result<_>>()
            .map(Self)
    }

    /// Serves `app` on `listener` until `stop` turns true, then waits for
    /// the open connections to finish (the caller bounds the wait).
    pub async fn serve(
        self,
        listener: TcpListener,
        app: axum::Router,
        timeouts: Timeouts,
        stop: watch::Receiver<bool>,
    ) {
        let lanes: Vec<Lane> = self
            .0
            .iter()
            .map(|runtime| Lane::start(runtime, app.clone(), timeouts, stop.clone()))
            .collect();
        let stopped = listener::stopped(stop);
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    match accepted.and_then(|(tcp, remote)| Ok((tcp.into_std()?, remote))) {
                        Ok(connection) => {
                            let lane = lanes
                                .iter()
                                .min_by_key(|lane| lane.open.load(Ordering::Relaxed))
                                .expect("at least one runtime");
                            lane.hand(connection);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "accepting a connection failed");
                            tokio::time::sleep(listener::ACCEPT_BACKOFF).await;
                        }
                    }
                }
                _ = &mut stopped => break,
            }
        }
        drop(listener);
        let drained: Vec<_> = lanes
            .into_iter()
            .map(|lane| {
                drop(lane.connections);
                lane.drained
            })
            .collect();
        for lane in drained {
            let _ = lane.await;
        }
    }
}

/// Counts a connection as open on its lane until dropped (also when its
/// task panics).
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Starts gateway runtime `index` on a thread of its own; its handle.
/// The thread drives it for as long as the process lives (see the
/// module's comment).
fn start_runtime(index: usize) -> std::io::Result<Handle> {
    let (started, handle) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("wisp-gateway-{index}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .event_interval(EVENT_INTERVAL)
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => {
                    let _ = started.send(Ok(runtime.handle().clone()));
                    runtime.block_on(std::future::pending::<()>());
                }
                Err(e) => {
                    let _ = started.send(Err(e));
                }
            }
        })?;
    handle
        .recv()
        .map_err(|_| std::io::Error::other("a gateway runtime's thread ended before it started"))?
}

/// A connection accepted and not yet registered with a runtime.
type Accepted = (std::net::TcpStream, SocketAddr);

/// One runtime as the accept loop sees it.
struct Lane {
    connections: mpsc::UnboundedSender<Accepted>,
    /// Connections handed to it and not yet closed.
    open: Arc<AtomicUsize>,
    /// Answered once its connections are done after the stop.
    drained: oneshot::Receiver<()>,
}

impl Lane {
    /// Starts serving on `runtime` the connections handed to the lane,
    /// until the accept loop stops; then answers once they are done.
    fn start(
        runtime: &Handle,
        app: axum::Router,
        timeouts: Timeouts,
        stop: watch::Receiver<bool>,
    ) -> Self {
        let (connections, mut inbox) = mpsc::unbounded_channel::<Accepted>();
        let (drained_tx, drained) = oneshot::channel();
        let open = Arc::new(AtomicUsize::new(0));
        let counted = open.clone();
        runtime.spawn(async move {
            let builder = listener::connection_builder();
            let mut serving = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = inbox.recv() => {
                        let Some((tcp, remote)) = accepted else { break };
                        // Registered with this runtime's I/O driver.
                        let tcp = match TcpStream::from_std(tcp) {
                            Ok(tcp) => tcp,
                            Err(e) => {
                                counted.fetch_sub(1, Ordering::Relaxed);
                                tracing::warn!(error = %e, "a gateway connection could not be registered");
                                continue;
                            }
                        };
                        let served = listener::serve_connection(
                            builder.clone(),
                            tcp,
                            remote,
                            app.clone(),
                            timeouts,
                            stop.clone(),
                        );
                        let open = Open(counted.clone());
                        serving.spawn(async move {
                            served.await;
                            drop(open);
                        });
                    }
                    Some(_) = serving.join_next(), if !serving.is_empty() => {}
                }
            }
            while serving.join_next().await.is_some() {}
            let _ = drained_tx.send(());
        });
        Self {
            connections,
            open,
            drained,
        }
    }

    /// Hands `connection` to the lane's runtime.
    fn hand(&self, connection: Accepted) {
        self.open.fetch_add(1, Ordering::Relaxed);
        if self.connections.send(connection).is_err() {
            // Only after a panic in the lane's task; the connection closes.
            self.open.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("a gateway runtime stopped taking connections; one was dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::{listener::Timeouts, Runtimes};

    /// The name of the thread running the caller.
    fn thread_name() -> String {
        std::thread::current().name().unwrap_or("").to_string()
    }

    /// One keep-alive HTTP/1.1 request on `tcp`; the response's body.
    async fn get(tcp: &mut TcpStream) -> String {
        tcp.write_all(b"GET / HTTP/1.1\r\nhost: wisp\r\n\r\n")
            .await
            .unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed mid-response");
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .expect("a content-length")
                    .parse()
                    .unwrap();
                if body.len() >= length {
                    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                    return body[..length].to_string();
                }
            }
        }
    }

    /// New connections go to the runtime with the fewest open ones; a
    /// connection's requests, and the tasks its handlers spawn, run on its
    /// runtime's thread; on the stop, serving ends once the connections
    /// are done.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_are_spread_over_the_runtimes_and_stay_on_theirs() {
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                let spawned = tokio::spawn(async { thread_name() }).await.unwrap();
                format!("{} {spawned}", thread_name())
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let timeouts = Timeouts {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(10),
            write: Duration::from_secs(10),
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let runtimes = Runtimes::start(2).unwrap();
        let server = tokio::spawn(runtimes.serve(listener, app, timeouts, stopped));

        let mut connections = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..4 {
            let mut tcp = TcpStream::connect(address).await.unwrap();
            // Answered: the connection is open on its runtime before the next.
            let first = get(&mut tcp).await;
            let (handler, spawned) = first.split_once(' ').unwrap();
            assert!(handler.starts_with("wisp-gateway-"), "{first}");
            assert_eq!(handler, spawned, "a spawned task left its runtime");
            threads.push(handler.to_string());
            connections.push(tcp);
        }
        for (tcp, thread) in connections.iter_mut().zip(&threads) {
            assert_eq!(get(tcp).await, format!("{thread} {thread}"));
        }
        threads.sort();
        assert_eq!(
            threads,
            [
                "wisp-gateway-0",
                "wisp-gateway-0",
                "wisp-gateway-1",
                "wisp-gateway-1"
            ]
        );

        stop.send(true).unwrap();
        // Idle keep-alive connections are closed by the server.
        for tcp in &mut connections {
            let mut rest = Vec::new();
            tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest))
                .await
                .expect("closed after the stop")
                .unwrap();
        }
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("serving ends once the connections are done")
            .unwrap();
    }
}
