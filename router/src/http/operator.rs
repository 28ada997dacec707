//! The operator's HTTP server (`[router] listen`): `/metrics` in Prometheus text format,
//! `/status` as JSON (every node's state, the last reload, alerts, the served streams),
//! `/healthz` for a load balancer, `/archives` (what the sinks' journals record), and the
//! watch page.
//!
//! Owns its listener and the page's routes; reads the status board and the metrics recorder,
//! never changes them.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::publish::journal::JournalError;
use crate::status::{Board, DaemonStatus};

/// What the operator's server shows.
#[derive(Clone)]
pub struct Operated {
    /// The daemon's status (generation, last reload, streams).
    pub status: watch::Receiver<DaemonStatus>,
    /// What the nodes report.
    pub board: Board,
    /// The metrics recorder's handle; `None` when another recorder was installed first.
    pub metrics: Option<PrometheusHandle>,
    /// hls.js for the watch page (`--hls-js`), if given.
    pub hls_js: Option<Arc<PathBuf>>,
}

/// Serves the operator's endpoints on `listener` until `shutdown` is cancelled.
pub async fn serve_operator(
    listener: TcpListener,
    operated: Operated,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/archives", get(archives))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/hls.min.js", get(hls_js))
        .route(
            "/",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    include_str!("page/index.html"),
                )
            }),
        )
        .route(
            "/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    include_str!("page/app.js"),
                )
            }),
        )
        .route(
            "/style.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    include_str!("page/style.css"),
                )
            }),
        )
        .with_state(operated);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// The whole status: the daemon's, with every node's state and the alerts as of now.
pub fn current_status(operated: &Operated) -> DaemonStatus {
    let mut status = operated.status.borrow().clone();
    status.alerts = operated.board.alerts.snapshot();
    status.nodes = operated.board.nodes.snapshot();
    status
}

async fn status(State(operated): State<Operated>) -> Json<DaemonStatus> {
    Json(current_status(&operated))
}

/// `/archives?feed=NAME`: the archives every running sink's journal records (of feed `NAME`
/// only, when given), as `streamrouter archive list` prints them.
async fn archives(
    State(operated): State<Operated>,
    Query(query): Query<ArchivesQuery>,
) -> Response {
    let journals = operated.board.nodes.journals();
    let read = tokio::task::spawn_blocking(move || {
        let mut records = Vec::new();
        for (sink, journal) in journals {
            records.extend(journal.archives(&sink)?);
        }
        Ok::<_, JournalError>(records)
    });
    match read.await {
        Ok(Ok(mut records)) => {
            if let Some(feed) = &query.feed {
                records.retain(|record| record.in_feed(feed));
            }
            Json(records).into_response()
        }
        Ok(Err(error)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response(),
    }
}

/// The query of `/archives`.
#[derive(Debug, serde::Deserialize)]
struct ArchivesQuery {
    /// Only this feed's archives.
    feed: Option<String>,
}

async fn metrics(State(operated): State<Operated>) -> Response {
    let Some(handle) = &operated.metrics else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no metrics recorder\n").into_response();
    };
    for (feed, seconds) in operated.board.nodes.seconds_since_last_segment() {
        metrics::gauge!("streamrouter_feed_seconds_since_last_segment", "feed" => feed)
            .set(seconds);
    }
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn hls_js(State(operated): State<Operated>) -> Response {
    let Some(path) = operated.hls_js.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(path.as_ref()).await {
        Ok(script) => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            script,
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read --hls-js");
            StatusCode::NOT_FOUND.into_response()
        }
    }
}
