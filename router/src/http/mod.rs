//! The built-in HTTP servers. `[router] serve` (this module) serves each local sink's directory
//! under `/SINK/`, with HLS content types, no caching of playlists and CORS open so browser
//! players (hls.js) can load the streams; the mounts follow reloads (a local sink added or
//! moved is served at once). `[router] listen` ([`operator`]) is the operator's: metrics,
//! status, health and the watch page.
//!
//! Owns the listener; reads files only through tower-http's `ServeDir`; writes nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use streamrouter_plugin::{PLAYLIST_CONTENT_TYPE, SEGMENT_CONTENT_TYPE};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::services::ServeDir;

pub mod operator;

/// A directory served under `/{name}/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// URL path segment (the sink's name).
    pub name: String,
    /// Directory served.
    pub dir: PathBuf,
    /// Playlists (and masters) published there, linked from the index page: node name and
    /// file.
    pub playlists: Vec<(String, String)>,
}

/// What the server shows, as the daemon updates it.
#[derive(Debug, Clone)]
pub struct Served {
    /// The local sinks' directories.
    pub mounts: watch::Receiver<Arc<Vec<Mount>>>,
}

/// Serves `served` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    served: Served,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(index))
        .fallback(mounted)
        .layer(middleware::from_fn(hls_headers))
        .with_state(served);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// The URL a playlist of a mount is served at.
pub fn playlist_url(addr: SocketAddr, mount: &str, playlist: &str) -> String {
    format!("http://{addr}/{mount}/{playlist}")
}

async fn index(State(served): State<Served>) -> Html<String> {
    let mounts = Arc::clone(&served.mounts.borrow());
    Html(index_page(&mounts))
}

/// `/{mount}/{file}`: the file in that mount's directory.
async fn mounted(State(served): State<Served>, mut request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/').to_owned();
    let (name, rest) = path.split_once('/').unwrap_or((path.as_str(), ""));
    let dir = served
        .mounts
        .borrow()
        .iter()
        .find(|mount| mount.name == name)
        .map(|mount| mount.dir.clone());
    let (Some(dir), Ok(uri)) = (dir, format!("/{rest}").parse::<Uri>()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    *request.uri_mut() = uri;
    match ServeDir::new(dir).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(infallible) => match infallible {},
    }
}

/// Content type by extension (mime guessing maps .ts and .m3u8 wrongly), no caching of
/// playlists, and CORS for browser players.
async fn hls_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if path.ends_with(".m3u8") {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PLAYLIST_CONTENT_TYPE),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    } else if path.ends_with(".ts") {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SEGMENT_CONTENT_TYPE),
        );
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn index_page(mounts: &[Mount]) -> String {
    let mut page =
        String::from("<!doctype html><title>streamrouter</title><h1>streamrouter</h1><ul>");
    for mount in mounts {
        for (_, playlist) in &mount.playlists {
            let href = escape(&format!("/{}/{}", mount.name, playlist));
            page.push_str(&format!("<li><a href=\"{href}\">{href}</a></li>"));
        }
    }
    page.push_str("</ul>");
    page
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
