//! SRT listeners: one socket per bound address, shared by every `listener` source on it, and
//! the routing of each caller to the source registered for its stream id (the plain id or the
//! access-control form `#!::r=ID,m=publish`), with that source's passphrase. A source without
//! `stream_id` takes any caller on its port; when a reload has two sources on a port for one id
//! for a moment (the old one finishing), the newest gets the caller.
//!
//! A caller with an unknown id, a wrong or missing passphrase, or one for a feed that already
//! has its caller is refused and logged with its address (never a passphrase); the other feeds
//! go on. The port's listener has one `latency`: that of the source that opened the port.
//!
//! The registry of a graph's ports is [`SrtPorts`], owned by the topology: registering a
//! listener source gives its [`SrtRoute`], and for a new port the port's listening loop
//! ([`PortTask`]), which the topology spawns; it ends when the last route on the port is gone.
//! If srt-tokio's listener ends (its task panicking: srt-protocol 0.4.4 had five remote panics,
//! patched in `vendor/srt-protocol`, see `docs/srt-stack.md`; this stays as a safety net) the
//! port is bound again with backoff. Owns the ports' routes and
//! handshakes; spawns nothing and must not read the bytes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use srt_protocol::access::{RejectReason, ServerRejectReason};
use srt_protocol::settings::{KeySettings, KeySize, Passphrase};
use srt_tokio::{ConnectionRequest, SrtListener, SrtSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Stop;
use super::backoff::Backoff;
use super::emit::Emitter;
use super::srt::{KeyLength, SrtPassphrase, SrtSource, pump};
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
    /// `pbkeylen` when written: a caller asking for another key length is refused.
    key_length: Option<KeyLength>,
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

/// The SRT ports of a running graph, by bound address.
#[derive(Clone, Default)]
pub struct SrtPorts(Arc<Mutex<HashMap<SocketAddr, Weak<Port>>>>);

/// A listener source's place on its port: callers for it arrive here while it lives; dropping
/// it removes the route (and closes the port with its last one).
pub struct SrtRoute {
    port: Arc<Port>,
    key: u64,
    callers: mpsc::Receiver<Handoff>,
}

impl Drop for SrtRoute {
    fn drop(&mut self) {
        let mut routes = self
            .port
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        routes.retain(|route| route.key != self.key);
    }
}

/// The listening loop of a new port, for the topology to spawn: [`PortTask::serve`].
pub struct PortTask {
    bind: SocketAddr,
    latency: std::time::Duration,
    port: Weak<Port>,
    stop: CancellationToken,
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

impl SrtPorts {
    /// Registers listener `source` on `bind`; the port's task comes back when the port is new.
    pub fn register(&self, bind: SocketAddr, source: &SrtSource) -> (SrtRoute, Option<PortTask>) {
        let mut ports = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ports.retain(|_, port| port.strong_count() > 0);
        let (port, task) = match ports.get(&bind).and_then(Weak::upgrade) {
            Some(port) => (port, None),
            None => {
                let port = Arc::new(Port {
                    routes: Mutex::new(Vec::new()),
                    stop: CancellationToken::new(),
                });
                ports.insert(bind, Arc::downgrade(&port));
                let task = PortTask {
                    bind,
                    latency: source.latency,
                    port: Arc::downgrade(&port),
                    stop: port.stop.clone(),
                };
                (port, Some(task))
            }
        };
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        let (handoff, callers) = mpsc::channel(1);
        port.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Route {
                key,
                stream_id: source.stream_id.clone(),
                passphrase: source.passphrase.clone(),
                key_length: source.pbkeylen,
                busy: Arc::new(AtomicBool::new(false)),
                handoff,
            });
        (SrtRoute { port, key, callers }, task)
    }
}

/// A listener source: takes the callers its port routes to it, one at a time, until shutdown.
pub(crate) async fn run(
    route: &mut SrtRoute,
    source: &SrtSource,
    out: &mut Emitter,
    metrics: &mut SrtMetrics,
) -> Stop {
    let shutdown = out.shutdown().clone();
    tracing::info!(
        stream_id = source.stream_id.as_deref(),
        "waiting for an SRT caller"
    );
    metrics.waiting();
    loop {
        let (socket, peer, lease) = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Stop::Shutdown,
            caller = route.callers.recv() => match caller {
                Some(caller) => caller,
                None => return Stop::Closed,
            },
        };
        tracing::info!(%peer, "SRT caller connected");
        let end = pump(socket, peer, out, metrics).await;
        drop(lease);
        match end {
            Ok(end) => end.log(&peer),
            Err(stop) => return stop,
        }
        out.new_stream("new SRT caller");
    }
}

/// The feed id a caller sends: `r` of the access-control form, else the whole id.
pub fn feed_id(sent: &str) -> &str {
    match sent.strip_prefix("#!::") {
        Some(pairs) => pairs
            .split(',')
            .find_map(|pair| pair.strip_prefix("r="))
            .unwrap_or(""),
        None => sent,
    }
}

/// A handshake in progress (accepting or refusing a caller).
type Handshake = Pin<Box<dyn Future<Output = ()> + Send>>;

impl PortTask {
    /// The address the port binds.
    pub fn bind(&self) -> SocketAddr {
        self.bind
    }

    /// Binds the port and routes its callers until the last route on it is gone.
    pub async fn serve(self) {
        let Self {
            bind,
            latency,
            port,
            stop,
        } = self;
        let mut backoff = Backoff::default();
        let mut handshakes = FuturesUnordered::<Handshake>::new();
        loop {
            let builder = SrtListener::builder().set(super::srt::with_recv_buffer);
            match builder.latency(latency).bind(bind).await {
                Ok((_listener, mut incoming)) => {
                    tracing::info!(%bind, "SRT listening");
                    backoff.up();
                    loop {
                        let request = tokio::select! {
                            biased;
                            () = stop.cancelled() => return,
                            Some(()) = handshakes.next(), if !handshakes.is_empty() => continue,
                            request = incoming.incoming().next() => request,
                        };
                        let Some(request) = request else { break };
                        let Some(port) = port.upgrade() else { return };
                        handshakes.push(route(&port, request));
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
}

/// The key length a caller announces, if it names one.
fn announced(size: KeySize) -> Option<KeyLength> {
    match size {
        KeySize::AES128 => Some(KeyLength::Aes128),
        KeySize::AES192 => Some(KeyLength::Aes192),
        KeySize::AES256 => Some(KeyLength::Aes256),
        KeySize::Unspecified => None,
    }
}

/// The route for a caller sending `wanted`: the newest registered for that id, else the newest
/// without one.
fn choose<'a>(routes: &'a [Route], wanted: &str) -> Option<&'a Route> {
    let newest = || routes.iter().rev();
    newest()
        .find(|route| route.stream_id.as_deref() == Some(wanted))
        .or_else(|| newest().find(|route| route.stream_id.is_none()))
}

/// The handshake that accepts `request` for the source registered for its stream id, or
/// refuses it.
fn route(port: &Port, request: ConnectionRequest) -> Handshake {
    let peer = request.remote();
    let sent = request.stream_id().map(|id| id.as_str().to_owned());
    let wanted = feed_id(sent.as_deref().unwrap_or(""));
    let chosen = {
        let routes = port.routes.lock().unwrap_or_else(PoisonError::into_inner);
        choose(&routes, wanted).map(|route| {
            // The caller's key size, as libsrt answers (a mismatch is refused: docs/srt-stack.md).
            let key_settings = route.passphrase.as_ref().map(|passphrase| {
                Passphrase::try_from(passphrase.expose().to_owned()).map(|passphrase| KeySettings {
                    key_size: request.key_size(),
                    passphrase,
                })
            });
            let asked = announced(request.key_size());
            let mismatch = match (route.passphrase.as_ref(), route.key_length, asked) {
                (Some(_), Some(wanted), Some(asked)) if wanted != asked => Some((asked, wanted)),
                _ => None,
            };
            (
                key_settings,
                mismatch,
                route.busy.clone(),
                route.handoff.clone(),
            )
        })
    };
    let refuse = |request: ConnectionRequest| -> Handshake {
        Box::pin(async move {
            let reason = RejectReason::Server(ServerRejectReason::BadRequest);
            let _ = request.reject(reason).await;
        })
    };
    let Some((key_settings, mismatch, busy, handoff)) = chosen else {
        tracing::warn!(%peer, stream_id = ?sent, "SRT caller refused: no feed has this stream id");
        return refuse(request);
    };
    if let Some((asked, wanted)) = mismatch {
        let (asked, wanted) = (asked.bytes(), wanted.bytes());
        tracing::warn!(
            %peer,
            stream_id = ?sent,
            "SRT caller refused: it asks for a {asked}-byte key, the feed's pbkeylen is {wanted}"
        );
        return refuse(request);
    }
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
    Box::pin(async move {
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
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use srt_tokio::SrtSocket;

    use super::{SrtPorts, SrtRoute, feed_id};
    use crate::source::srt::{SrtMode, SrtSource};

    #[test]
    fn feed_id_reads_plain_and_access_control_ids() {
        assert_eq!(feed_id("cam1"), "cam1");
        assert_eq!(feed_id("#!::r=cam1,m=publish"), "cam1");
        assert_eq!(feed_id("#!::m=publish,r=cam2"), "cam2");
        assert_eq!(feed_id("#!::m=publish"), "");
    }

    fn listener(bind: std::net::SocketAddr, stream_id: &str) -> SrtSource {
        SrtSource {
            mode: SrtMode::Listener { bind },
            stream_id: Some(stream_id.into()),
            passphrase: None,
            pbkeylen: None,
            latency: Duration::from_millis(20),
        }
    }

    async fn call(bind: std::net::SocketAddr, id: &str) -> std::io::Result<SrtSocket> {
        let call = SrtSocket::builder().call(bind, Some(id));
        tokio::time::timeout(Duration::from_secs(5), call).await?
    }

    /// The peer of the next caller handed to `route`, within a few seconds.
    async fn handed(route: &mut SrtRoute) -> std::net::SocketAddr {
        let next = tokio::time::timeout(Duration::from_secs(5), route.callers.recv());
        let (_socket, peer, _lease) = next.await.unwrap().unwrap();
        peer
    }

    #[tokio::test]
    async fn callers_reach_the_newest_route_of_their_stream_id_and_the_port_closes_with_the_last() {
        let bind = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let ports = SrtPorts::default();
        let (mut cam1, task) = ports.register(bind, &listener(bind, "cam1"));
        let (mut cam2, again) = ports.register(bind, &listener(bind, "cam2"));
        assert!(again.is_none(), "one task per port");
        let serving = tokio::spawn(task.unwrap().serve());

        let caller = call(bind, "#!::r=cam2,m=publish").await.unwrap();
        assert!(handed(&mut cam2).await.ip().is_loopback());
        drop(caller);
        assert!(cam1.callers.try_recv().is_err(), "cam1 got cam2's caller");
        assert!(
            call(bind, "cam3").await.is_err(),
            "an unknown id was accepted"
        );

        // A reload's new source for cam1 takes its callers while the old one finishes.
        let (mut newer, _) = ports.register(bind, &listener(bind, "cam1"));
        let _caller = call(bind, "cam1").await.unwrap();
        handed(&mut newer).await;
        assert!(
            cam1.callers.try_recv().is_err(),
            "the old cam1 got the caller"
        );

        drop((cam1, cam2, newer));
        let closed = tokio::time::timeout(Duration::from_secs(5), serving).await;
        assert!(closed.is_ok(), "the port outlived its last source");
    }
}
