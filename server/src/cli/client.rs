//! A small typed HTTP client for the REST API; turns API errors
//! (`{"error":{"code","message"}}`) into readable CLI errors.

use anyhow::{bail, Context};
use bytes::Bytes;
use futures::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::ClientArgs;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(args: &ClientArgs) -> anyhow::Result<Self> {
        let token = match &args.token {
            Some(t) => t.clone(),
            None => std::fs::read_to_string("wisp-data/admin-token")
                .map(|t| t.trim().to_string())
                .context(
                    "no API token: set WISP_TOKEN or run from the directory holding wisp-data/",
                )?,
        };
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            base: args.url.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token)
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = rb
            .send()
            .await
            .with_context(|| format!("cannot reach the Wisp API at {}", self.base))?;
        Ok(response)
    }

    async fn json<T: DeserializeOwned>(response: reqwest::Response) -> anyhow::Result<T> {
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!("{}", api_error_text(status, &bytes));
        }
        serde_json::from_slice(&bytes).context("unexpected answer from the API")
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        Self::json(self.send(self.request(reqwest::Method::GET, path)).await?).await
    }

    /// A non-JSON answer (e.g. CSV), as text.
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let bytes = self.get_bytes(path).await?;
        String::from_utf8(bytes).context("unexpected answer from the API")
    }

    /// A binary answer (e.g. a PDF).
    pub async fn get_bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let response = self.send(self.request(reqwest::Method::GET, path)).await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!("{}", api_error_text(status, &bytes));
        }
        Ok(bytes.to_vec())
    }

    pub async fn post_json<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        Self::json(
            self.send(self.request(reqwest::Method::POST, path).json(body))
                .await?,
        )
        .await
    }

    /// `PATCH path` with a JSON body, answer as JSON.
    pub async fn patch_json<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        Self::json(
            self.send(self.request(reqwest::Method::PATCH, path).json(body))
                .await?,
        )
        .await
    }

    /// `PUT path` with a JSON body, answer as JSON.
    pub async fn put_json<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        Self::json(
            self.send(self.request(reqwest::Method::PUT, path).json(body))
                .await?,
        )
        .await
    }

    pub async fn post_wasm<T: DeserializeOwned>(
        &self,
        path: &str,
        wasm: Vec<u8>,
    ) -> anyhow::Result<T> {
        let rb = self
            .request(reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "application/wasm")
            .body(wasm);
        Self::json(self.send(rb).await?).await
    }

    /// Uploads `wasm` to an upload route and follows its streamed answer
    /// (`Accept: application/x-ndjson`): `on_event` hears the upload's own
    /// progress (bytes sent so far, as `Sent`) and each server event; the
    /// result is the deployed version or the server's error.
    pub async fn post_wasm_streamed(
        &self,
        path: &str,
        wasm: Vec<u8>,
        mut on_event: impl FnMut(UploadEvent<'_>),
    ) -> anyhow::Result<model::DeployedVersion> {
        use futures::StreamExt as _;
        /// Bytes per chunk of the request body: progress granularity.
        const CHUNK: usize = 256 * 1024;
        let total = wasm.len();
        let wasm = Bytes::from(wasm);
        let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel();
        let chunks = (0..total.div_ceil(CHUNK)).map(move |i| {
            let end = ((i + 1) * CHUNK).min(total);
            let _ = sent_tx.send(end);
            Ok::<_, std::io::Error>(wasm.slice(i * CHUNK..end))
        });
        let rb = self
            .request(reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "application/wasm")
            .header(reqwest::header::ACCEPT, "application/x-ndjson")
            .header(reqwest::header::CONTENT_LENGTH, total)
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        let sending = self.send(rb);
        tokio::pin!(sending);
        let response = loop {
            tokio::select! {
                response = &mut sending => break response?,
                Some(sent) = sent_rx.recv() => on_event(UploadEvent::Sent { sent, total }),
            }
        };
        // The answer can come before the progress of the last chunks was
        // heard (`select!` picks either ready branch): hear it now, and
        // again before each server event, so `upload 100%` is never lost.
        let mut drain_sent = |on_event: &mut dyn FnMut(UploadEvent<'_>)| {
            while let Ok(sent) = sent_rx.try_recv() {
                on_event(UploadEvent::Sent { sent, total });
            }
        };
        drain_sent(&mut on_event);
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await?;
            bail!("{}", api_error_text(status, &bytes));
        }
        let mut stream = response.bytes_stream();
        let mut buffer = Vec::new();
        while let Some(chunk) = stream.next().await {
            buffer.extend_from_slice(&chunk.context("reading the upload's progress")?);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let event: model::DeployEvent = serde_json::from_slice(&line)
                    .context("unexpected progress line from the API")?;
                match event {
                    model::DeployEvent::Deployed(deployed) => return Ok(deployed),
                    model::DeployEvent::Failed { status, error } => {
                        bail!("{} ({}, HTTP {status})", error.message, error.code)
                    }
                    other => {
                        drain_sent(&mut on_event);
                        on_event(UploadEvent::Server(&other))
                    }
                }
            }
        }
        bail!("the server ended its answer before the upload finished (it may still complete: see `wisp functions`)")
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> anyhow::Result<reqwest::Response> {
        self.send(self.request(reqwest::Method::POST, path).body(body))
            .await
    }

    /// `DELETE path`; a non-2xx answer is an error with the API's message.
    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let response = self
            .send(self.request(reqwest::Method::DELETE, path))
            .await?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await?;
            bail!("{}", api_error_text(status, &bytes));
        }
        Ok(())
    }

    /// `PUT path` with a raw body; a non-2xx answer is an error.
    pub async fn put_raw(&self, path: &str, body: Vec<u8>) -> anyhow::Result<()> {
        let response = self
            .send(self.request(reqwest::Method::PUT, path).body(body))
            .await?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await?;
            bail!("{}", api_error_text(status, &bytes));
        }
        Ok(())
    }

    /// `POST path` with a raw body, answer as JSON.
    pub async fn post_bytes_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<T> {
        Self::json(self.post_raw(path, body).await?).await
    }

    pub async fn get_stream(
        &self,
        path: &str,
    ) -> anyhow::Result<impl Stream<Item = reqwest::Result<Bytes>> + Unpin> {
        let response = self.send(self.request(reqwest::Method::GET, path)).await?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await?;
            bail!("{}", api_error_text(status, &bytes));
        }
        Ok(Box::pin(response.bytes_stream()))
    }
}

/// What [`Client::post_wasm_streamed`] reports as an upload goes.
pub enum UploadEvent<'a> {
    /// Bytes of the file handed to the connection so far.
    Sent { sent: usize, total: usize },
    /// A stage started or ended on the server.
    Server(&'a model::DeployEvent),
}

/// The data of the next complete server-sent event in `buffer` (drained
/// from it), once one has arrived.
pub fn next_event_data(buffer: &mut String) -> Option<String> {
    let end = buffer.find("\n\n")?;
    let event: String = buffer.drain(..end + 2).collect();
    Some(
        event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn api_error_text(status: reqwest::StatusCode, body: &[u8]) -> String {
    match serde_json::from_slice::<model::ApiError>(body) {
        Ok(e) => format!(
            "{} ({}, HTTP {})",
            e.error.message,
            e.error.code,
            status.as_u16()
        ),
        Err(_) => format!("HTTP {status}: {}", String::from_utf8_lossy(body)),
    }
}

/// Percent-encodes a query-string value.
pub fn encode_query(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that reads the whole upload, then answers one `deployed`
    /// line. The first progress report is slow (as a busy terminal or a
    /// loaded machine makes it): meanwhile the connection hands over the
    /// other chunks and the answer arrives, so both are ready at once when
    /// the upload looks again. The last progress heard must still be the
    /// whole file, every time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_last_upload_progress_is_heard_even_when_the_answer_is_ready_first() {
        let app = axum::Router::new().route(
            "/up",
            axum::routing::post(|body: Bytes| async move {
                let deployed = model::DeployEvent::Deployed(model::DeployedVersion {
                    name: "f".into(),
                    version: 1,
                    sha256: String::new(),
                    kind: "http".into(),
                    size_bytes: body.len() as i64,
                    live: true,
                    stages: Vec::new(),
                    code: model::CodeTier::Optimized,
                });
                format!("{}\n", serde_json::to_string(&deployed).unwrap())
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = Client::new(&ClientArgs {
            url,
            token: Some("t".into()),
        })
        .unwrap();
        let total = 600 * 1024;
        for attempt in 0..20 {
            let mut heard = Vec::new();
            let deployed = client
                .post_wasm_streamed("/up", vec![0; total], |event| {
                    if let UploadEvent::Sent { sent, .. } = event {
                        if heard.is_empty() {
                            std::thread::sleep(std::time::Duration::from_millis(50));
                        }
                        heard.push(sent);
                    }
                })
                .await
                .unwrap();
            assert_eq!(deployed.size_bytes, total as i64);
            assert_eq!(
                heard.last(),
                Some(&total),
                "attempt {attempt}: heard {heard:?}"
            );
        }
    }
}
