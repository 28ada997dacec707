//! The `http` source: GETs a URL and streams the response body; on an error, a non-2xx status
//! or the end of the body it requests again with backoff, announcing each new response's data
//! with `Restarted`.
//!
//! Owns the HTTP client (connect timeout, no overall timeout: live bodies are endless; a body
//! or header wait silent for [`NETWORK_IDLE`] counts as dead), and what a `url` must be for
//! it ([`HttpUrl`], made by compile). Must not parse the bytes.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Client, Url};

use super::Stop;
use super::backoff::Backoff;
use super::emit::Emitter;
use super::pump::NETWORK_IDLE;

/// Longest wait for the TCP connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests `url` (an http:// URL: compile made it an [`HttpUrl`]) again and again until
/// shutdown.
pub(crate) async fn run(url: &Url, out: &mut Emitter) -> Stop {
    let client = Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("streamrouter/", env!("CARGO_PKG_VERSION")))
        .build();
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot set up the HTTP client");
            return Stop::Invalid;
        }
    };
    let shutdown = out.shutdown().clone();
    let mut backoff = Backoff::default();
    loop {
        if let Err(stop) = fetch(&client, url, out, &mut backoff).await {
            return stop;
        }
        if let Err(stop) = backoff.wait(&shutdown).await {
            return stop;
        }
    }
}

/// One request: streams its body if the status is 2xx, and logs how it ended. `Err` only to
/// stop the source.
async fn fetch(
    client: &Client,
    url: &Url,
    out: &mut Emitter,
    backoff: &mut Backoff,
) -> Result<(), Stop> {
    let shutdown = out.shutdown().clone();
    let request = tokio::time::timeout(NETWORK_IDLE, client.get(url.clone()).send());
    let response = tokio::select! {
        biased;
        () = shutdown.cancelled() => return Err(Stop::Shutdown),
        response = request => response,
    };
    let response = match response {
        Ok(Ok(response)) => response,
        Ok(Err(error)) if error.is_builder() => {
            // A URL reqwest cannot turn into a request: retrying cannot help.
            tracing::error!(%url, error = %error_chain(&error), "cannot request");
            return Err(Stop::Invalid);
        }
        Ok(Err(error)) => {
            tracing::warn!(%url, error = %error_chain(&error), "request failed; will retry");
            return Ok(());
        }
        Err(_) => {
            tracing::warn!(%url, timeout = ?NETWORK_IDLE, "no response; will retry");
            return Ok(());
        }
    };
    let status = response.status();
    if !status.is_success() {
        tracing::warn!(%url, %status, "unexpected HTTP status; will retry");
        return Ok(());
    }
    tracing::info!(%url, %status, "receiving HTTP body");
    backoff.up();
    let mut body = response.bytes_stream();
    let mut bytes = 0u64;
    loop {
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Err(Stop::Shutdown),
            next = tokio::time::timeout(NETWORK_IDLE, body.next()) => next,
        };
        match next {
            Ok(Some(Ok(chunk))) => {
                bytes += chunk.len() as u64;
                out.data(chunk).await?;
            }
            Ok(Some(Err(error))) => {
                tracing::warn!(bytes, error = %error_chain(&error), "HTTP body failed");
                break;
            }
            Ok(None) => {
                tracing::info!(bytes, "HTTP body ended");
                break;
            }
            Err(_) => {
                tracing::warn!(bytes, silence = ?NETWORK_IDLE, "HTTP body silent; dropped");
                break;
            }
        }
    }
    out.new_stream("reconnected");
    Ok(())
}

/// An error with its causes, which reqwest keeps out of its own message.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// An `http://` URL (`url` of an http source), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    written: String,
    url: Url,
}

/// Why a `url` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpUrlError {
    /// reqwest is built without a TLS backend: an https:// URL would fail at every attempt.
    /// Accept it here when the build gets one.
    #[error(
        "https:// is not supported yet (this build has no TLS); use http://, or an exec source \
         such as [\"ffmpeg\", \"-i\", URL, \"-c\", \"copy\", \"-f\", \"mpegts\", \"-\"]"
    )]
    Https,
    /// Another scheme, no host, or whitespace.
    #[error("`{0}` is not an http:// URL")]
    NotHttp(String),
    /// `http://` and something no URL parser takes.
    #[error("`{written}` is not a valid URL: {reason}")]
    Invalid {
        /// The value as written.
        written: String,
        /// What the URL parser said.
        reason: String,
    },
}

impl HttpUrl {
    /// The URL of `written`, which must start with `http://`.
    pub fn parse(written: &str) -> Result<Self, HttpUrlError> {
        if written.starts_with("https://") {
            return Err(HttpUrlError::Https);
        }
        match written.strip_prefix("http://") {
            Some(rest) if !rest.is_empty() && !written.contains(char::is_whitespace) => {}
            _ => return Err(HttpUrlError::NotHttp(written.to_owned())),
        }
        let url = Url::parse(written).map_err(|reason| HttpUrlError::Invalid {
            written: written.to_owned(),
            reason: reason.to_string(),
        })?;
        Ok(Self {
            written: written.to_owned(),
            url,
        })
    }

    /// The URL to request.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// As written in the config.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::SourceKind;
    use crate::source::testutil::{Harness, sample};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const LIMIT: Duration = Duration::from_secs(5);

    /// Answers each request in turn with one of `responses` (status line, body), closing the
    /// connection after each.
    async fn serve(listener: TcpListener, responses: Vec<(&'static str, Vec<u8>)>) {
        for (status, body) in responses {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "request cut short");
                request.extend_from_slice(&buf[..n]);
            }
            assert!(request.starts_with(b"GET /live.ts HTTP/1.1\r\n"));
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n"
            );
            conn.write_all(head.as_bytes()).await.unwrap();
            conn.write_all(&body).await.unwrap();
            conn.shutdown().await.unwrap();
        }
    }

    #[tokio::test]
    async fn streams_bodies_and_reconnects_after_errors_and_ends() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/live.ts", listener.local_addr().unwrap());
        let ts = sample();
        let responses = vec![
            ("404 Not Found", b"nope".to_vec()),
            ("200 OK", ts.clone()),
            ("200 OK", ts.clone()),
        ];
        let server = tokio::spawn(serve(listener, responses));
        let url = HttpUrl::parse(&url).unwrap();
        let mut h = Harness::start(SourceKind::Http { url });
        assert_eq!(h.bytes(ts.len(), LIMIT).await, ts);
        assert_eq!(h.restarted(LIMIT).await, "reconnected");
        assert_eq!(h.bytes(ts.len(), LIMIT).await, ts);
        server.await.unwrap();
        h.stop_promptly().await;
    }

    #[tokio::test]
    async fn unreachable_server_is_retried_until_shutdown() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = HttpUrl::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let mut h = Harness::start(SourceKind::Http { url });
        h.nothing_for(Duration::from_millis(800)).await;
        h.stop_promptly().await;
    }

    #[test]
    fn http_urls_are_http_only_and_parse() {
        let url = HttpUrl::parse("http://Example.com:8000/live.ts").unwrap();
        assert_eq!(url.as_str(), "http://Example.com:8000/live.ts");
        assert_eq!(url.url().host_str(), Some("example.com"));
        assert_eq!(
            HttpUrl::parse("https://127.0.0.1:9/x"),
            Err(HttpUrlError::Https)
        );
        for refused in [
            "ftp://example.invalid/x",
            "not a url",
            "http://",
            "http://a b",
        ] {
            assert_eq!(
                HttpUrl::parse(refused),
                Err(HttpUrlError::NotHttp(refused.to_owned())),
                "{refused}"
            );
        }
        let invalid = HttpUrl::parse("http://[::1/x").unwrap_err();
        assert!(
            matches!(invalid, HttpUrlError::Invalid { .. }),
            "{invalid:?}"
        );
    }
}
