//! SRT listeners: one socket per bound address, shared by every `listener` source on it, and
//! the routing of each caller to the source registered for its stream id (the plain id or the
//! access-control form `#!::r=ID,m=publish`), with that source's passphrase. A source without
//! `stream_id` takes any caller on its port.
//!
//! A caller with an unknown id, a wrong or missing passphrase, or one for a feed that already
//! has its caller is refused and logged with its address (never a passphrase); the other feeds
//! go on. The port's listener has one `latency`: that of the source that opened the port. The
//! port's task lives while a source is registered on it; if srt-tokio's listener
//! ends (it panics on an encrypted caller to a feed without passphrase, see
//! `docs/srt-stack.md`) the port is bound again with backoff. Owns the registry of ports and
//! their tasks; must not read the bytes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

use futures_util::StreamExt;
use srt_protocol::access::{RejectReason, ServerRejectReason};
use srt_protocol::settings::{KeySettings, Passphrase};
use srt_tokio::{ConnectionRequest, SrtListener, SrtSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Stop;
use super::backoff::Backoff;
use super::emit::Emitter;
use super::srt::{SrtPassphrase, SrtSource, pump};
use super::srt_stats::SrtMetrics;

/// An accepted caller, handed to its source; `Lease` marks the feed busy while it lives.
type Handoff = (SrtSocket, SocketAddr, Lease);

/// Marks a feed busy; dropping it frees the feed for the next caller.
struct Lease(Arc<AtomicBool>);

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// What one source registered on a port.
struct Route {
    key: u64,
    stream_id: Option<String>,
    passphrase: Option<SrtPassphrase>,
    busy: Arc<AtomicBool>,
    handoff: mpsc::Sender<Handoff>,
}

/// One bound address: its routes and the token that stops its task.
struct Port {
    routes: Mutex<Vec<Route>>,
    stop: CancellationToken,
}

impl Drop for Port {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

static PORTS: LazyLock<Mutex<HashMap<SocketAddr, Weak<Port>>>> = LazyLock::new(Default::default);
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

/// A source's place on a port; dropping it removes the route (and the port with its last one).
struct Registration {
    port: Arc<Port>,
    key: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut routes = self
            .port
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        routes.retain(|route| route.key != self.key);
    }
}

fn register(bind: SocketAddr, source: &SrtSource, handoff: mpsc::Sender<Handoff>) -> Registration {
    let mut ports = PORTS.lock().unwrap_or_else(PoisonError::into_inner);
    ports.retain(|_, port| port.strong_count() > 0);
    let port = match ports.get(&bind).and_then(Weak::upgrade) {
        Some(port) => port,
        None => {
            let port = Arc::new(Port {
                routes: Mutex::new(Vec::new()),
                stop: CancellationToken::new(),
            });
            ports.insert(bind, Arc::downgrade(&port));
            tokio::spawn(serve_port(
                bind,
                source.latency,
                Arc::downgrade(&port),
                port.stop.clone(),
            ));
            port
        }
    };
    let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
    port.routes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Route {
            key,
            stream_id: source.stream_id.clone(),
            passphrase: source.passphrase.clone(),
            busy: Arc::new(AtomicBool::new(false)),
            handoff,
        });
    Registration { port, key }
}

/// A listener source: takes the callers its port routes to it, one at a time, until shutdown.
pub(crate) async fn run(
    bind: SocketAddr,
    source: &SrtSource,
    out: &mut Emitter,
    metrics: &mut SrtMetrics,
) -> Stop {
    let shutdown = out.shutdown().clone();
    let (handoff, mut callers) = mpsc::channel(1);
    let _registration = register(bind, source, handoff);
    tracing::info!(%bind, stream_id = source.stream_id.as_deref(), "waiting for an SRT caller");
    loop {
        let (socket, peer, lease) = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Stop::Shutdown,
            caller = callers.recv() => match caller {
                Some(caller) => caller,
                None => return Stop::Closed,
            },
        };
        tracing::info!(%peer, "SRT caller connected");
        let end = pump(socket, out, metrics).await;
        drop(lease);
        match end {
            Ok(end) => end.log(&peer),
            Err(stop) => return stop,
        }
        out.new_stream("new SRT caller");
    }
}

/// The feed id a caller sends: `r` of the access-control form, else the whole id.
pub(crate) fn feed_id(sent: &str) -> &str {
    match sent.strip_prefix("#!::") {
        Some(pairs) => pairs
            .split(',')
            .find_map(|pair| pair.strip_prefix("r="))
            .unwrap_or(""),
        None => sent,
    }
}

/// Binds `bind` and routes callers until `stop` (the last source left).
async fn serve_port(
    bind: SocketAddr,
    latency: std::time::Duration,
    port: Weak<Port>,
    stop: CancellationToken,
) {
    let mut backoff = Backoff::default();
    loop {
        match SrtListener::builder().latency(latency).bind(bind).await {
            Ok((_listener, mut incoming)) => {
                tracing::info!(%bind, "SRT listening");
                backoff.up();
                loop {
                    let request = tokio::select! {
                        biased;
                        () = stop.cancelled() => return,
                        request = incoming.incoming().next() => request,
                    };
                    let Some(request) = request else { break };
                    let Some(port) = port.upgrade() else { return };
                    route(&port, request);
                }
                tracing::warn!(%bind, "SRT listener ended; binding again");
            }
            Err(error) => tracing::warn!(%bind, %error, "cannot listen for SRT; will retry"),
        }
        if backoff.wait(&stop).await.is_err() {
            return;
        }
    }
}

/// Accepts `request` for the source registered for its stream id, or refuses it.
fn route(port: &Port, request: ConnectionRequest) {
    let peer = request.remote();
    let sent = request.stream_id().map(|id| id.as_str().to_owned());
    let wanted = feed_id(sent.as_deref().unwrap_or(""));
    let chosen = {
        let routes = port.routes.lock().unwrap_or_else(PoisonError::into_inner);
        routes
            .iter()
            .find(|route| route.stream_id.as_deref() == Some(wanted))
            .or_else(|| routes.iter().find(|route| route.stream_id.is_none()))
            .map(|route| {
                // The caller's key size: srt-protocol panics on a mismatch (docs/srt-stack.md).
                let key_settings = route.passphrase.as_ref().map(|passphrase| {
                    Passphrase::try_from(passphrase.expose().to_owned()).map(|passphrase| {
                        KeySettings {
                            key_size: request.key_size(),
                            passphrase,
                        }
                    })
                });
                (key_settings, route.busy.clone(), route.handoff.clone())
            })
    };
    let refuse = |request: ConnectionRequest| {
        tokio::spawn(async move {
            let reason = RejectReason::Server(ServerRejectReason::BadRequest);
            let _ = request.reject(reason).await;
        });
    };
    let Some((key_settings, busy, handoff)) = chosen else {
        tracing::warn!(%peer, stream_id = ?sent, "SRT caller refused: no feed has this stream id");
        return refuse(request);
    };
    if busy.swap(true, Ordering::SeqCst) {
        tracing::warn!(%peer, stream_id = ?sent, "SRT caller refused: the feed already has a caller");
        return refuse(request);
    }
    let lease = Lease(busy);
    let key_settings = match key_settings.transpose() {
        Ok(key_settings) => key_settings,
        // Compile checked the length: not reached.
        Err(_) => return refuse(request),
    };
    tokio::spawn(async move {
        match request.accept(key_settings).await {
            Ok(socket) => {
                if handoff.send((socket, peer, lease)).await.is_err() {
                    tracing::debug!(%peer, "SRT feed gone before its caller was handed over");
                }
            }
            Err(_) => tracing::warn!(
                %peer,
                stream_id = ?sent,
                "SRT caller refused in the handshake (wrong or missing passphrase?)"
            ),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::feed_id;

    #[test]
    fn feed_id_reads_plain_and_access_control_ids() {
        assert_eq!(feed_id("cam1"), "cam1");
        assert_eq!(feed_id("#!::r=cam1,m=publish"), "cam1");
        assert_eq!(feed_id("#!::m=publish,r=cam2"), "cam2");
        assert_eq!(feed_id("#!::m=publish"), "");
    }
}
