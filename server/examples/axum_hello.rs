//! The benchmark's baseline: a plain axum server answering `Hello from Wisp!`
//! on every path, with the same tokio runtime and axum version as the Wisp
//! gateway, so `bench/run.sh` can show what HTTP alone costs. Not used by
//! the tests.
//!
//! ```sh
//! cargo run --release -p server --example axum_hello -- 127.0.0.1:8090
//! ```

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let app = axum::Router::new().fallback(|| async {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            "Hello from Wisp!\n",
        )
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
