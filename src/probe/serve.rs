//! `probe --web.listen-address`: the same lines as the textfile, read
//! afresh on every scrape of `/metrics` (one read at a time; a scrape that
//! arrives during a read waits for it and gets its result too). For a
//! server where node_exporter's textfile collector is not an option.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use tokio::sync::Mutex;

use super::{Inputs, collect, exposition};

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

struct Shared {
    inputs: Inputs,
    /// Held while reading; with the reading's generation and exposition.
    last: Mutex<(u64, Arc<Vec<u8>>)>,
    generation: std::sync::atomic::AtomicU64,
}

/// Serves `/metrics` on `listener` until `shutdown` completes.
pub async fn run(
    listener: tokio::net::TcpListener,
    inputs: Inputs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        inputs,
        last: Mutex::new((0, Arc::new(Vec::new()))),
        generation: std::sync::atomic::AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(landing))
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    use std::sync::atomic::Ordering;
    // The generation when this scrape arrived: a read that ends after it
    // has read the server no earlier than the scrape asked.
    let asked = shared.generation.load(Ordering::Acquire);
    let mut last = shared.last.lock().await;
    if last.0 <= asked {
        let inputs = shared.inputs.clone();
        let body = tokio::task::spawn_blocking(move || exposition::render(&collect(&inputs)))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "probe read failed");
                b"gridpane_probe_success 0\n".to_vec()
            });
        let generation = shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
        *last = (generation, Arc::new(body));
    }
    let body = last.1.as_ref().clone();
    drop(last);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body)
}

async fn landing() -> Html<&'static str> {
    Html(
        "<!doctype html><title>gridpane-backup-exporter probe</title>\
         <h1>gridpane-backup-exporter probe</h1><p><a href=\"/metrics\">Metrics</a></p>",
    )
}
