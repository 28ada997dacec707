//! The built-in HTTP server (`[router] serve`): serves each local sink's directory under
//! `/SINK/`, with HLS content types, no caching of playlists and CORS open so browser players
//! (hls.js) can load the streams.
//!
//! Owns the listener; reads files only through tower-http's `ServeDir`; writes nothing.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{Html, Response};
use axum::routing::get;
use streamrouter_plugin::{PLAYLIST_CONTENT_TYPE, SEGMENT_CONTENT_TYPE};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::services::ServeDir;

/// A directory served under `/{name}/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// URL path segment (the sink's name).
    pub name: String,
    /// Directory served.
    pub dir: PathBuf,
    /// Playlist files published there, linked from the index page.
    pub playlists: Vec<String>,
}

/// Serves `mounts` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    mounts: Vec<Mount>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let index = index_page(&mounts);
    let mut app = Router::new().route("/", get(move || async move { Html(index) }));
    for mount in &mounts {
        app = app.nest_service(&format!("/{}", mount.name), ServeDir::new(&mount.dir));
    }
    let app = app.layer(middleware::from_fn(hls_headers));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// The URL a playlist of a mount is served at.
pub fn playlist_url(addr: SocketAddr, mount: &str, playlist: &str) -> String {
    format!("http://{addr}/{mount}/{playlist}")
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
        for playlist in &mount.playlists {
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
