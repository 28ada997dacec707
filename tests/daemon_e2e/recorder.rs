//! An HTTP proxy that records every request an S3 server sees, in order: when it arrived, when
//! its answer went back, method, object path, status, and the body of every playlist upload.
//! Forwarded unchanged (Host included, so signatures stay valid) to 127.0.0.1:`target`.

use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::http::{Request, Response, StatusCode};

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Position on the common clock when the request arrived.
    pub arrived: u64,
    /// Position on the common clock when its answer was sent back.
    pub answered: u64,
    /// HTTP method.
    pub method: String,
    /// URL path, without the query.
    pub path: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// The uploaded text, for PUTs of `.m3u8` objects.
    pub playlist: Option<String>,
}

#[derive(Default)]
struct Log {
    clock: u64,
    operations: Vec<Operation>,
}

impl Log {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
}

/// A running recorder.
pub struct Recorder {
    /// The port to send requests to instead of the server's.
    pub port: u16,
    log: Arc<Mutex<Log>>,
}

impl Recorder {
    /// Starts recording and forwarding to 127.0.0.1:`target`.
    pub fn start(target: u16) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = Arc::clone(&log);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let client = reqwest::Client::new();
                let app = axum::Router::new().fallback(move |request: Request<Body>| {
                    forward(request, client.clone(), target, Arc::clone(&shared))
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        Self { port, log }
    }

    /// Every request so far, in order of arrival.
    pub fn operations(&self) -> Vec<Operation> {
        self.log.lock().unwrap().operations.clone()
    }
}

async fn forward(
    request: Request<Body>,
    client: reqwest::Client,
    target: u16,
    log: Arc<Mutex<Log>>,
) -> Response<Body> {
    let arrived = log.lock().unwrap().tick();
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 256 << 20).await.unwrap();
    let path = parts.uri.path().to_owned();
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let playlist = (parts.method == "PUT" && path.ends_with(".m3u8"))
        .then(|| String::from_utf8_lossy(&body).into_owned());
    let url = format!("http://127.0.0.1:{target}{path}{query}");
    let mut headers = parts.headers.clone();
    headers.remove("transfer-encoding");
    let answer = client
        .request(parts.method.clone(), url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let (status, response) = match answer {
        Ok(answer) => {
            let status = answer.status();
            let mut headers = answer.headers().clone();
            headers.remove("transfer-encoding");
            headers.remove("content-length");
            let bytes = answer.bytes().await.unwrap_or_default();
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            (status, response)
        }
        Err(_) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            (StatusCode::BAD_GATEWAY, response)
        }
    };
    let mut log = log.lock().unwrap();
    let answered = log.tick();
    log.operations.push(Operation {
        arrived,
        answered,
        method: parts.method.to_string(),
        path,
        status: status.as_u16(),
        playlist,
    });
    response
}
