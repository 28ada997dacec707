//! The `srt` source: MPEG-TS over SRT (srt-tokio; see `docs/srt-stack.md`) as listener, caller
//! or rendezvous, with an optional AES passphrase; and its checked values ([`SrtSource`],
//! [`SrtMode`], [`SrtPassphrase`], [`KeyLength`]), which compile makes and the model holds.
//!
//! Caller and rendezvous connect, pump the connection's messages and connect again with backoff,
//! each new connection announced with `Restarted`; every connection's statistics feed the
//! source's metrics and `/status` entry (`srt_stats`). Listeners share one socket per port
//! (`srt_listen`), which routes each caller by stream id to the source's [`SrtRoute`]. Owns the SRT connections; must not
//! parse the bytes, and never logs a passphrase (it is a [`Secret`]).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use srt_tokio::SrtSocket;

use super::Stop;
use super::backoff::Backoff;
use super::emit::Emitter;
use super::pump::NETWORK_IDLE;
use super::srt_listen::{self, SrtRoute};
use super::srt_stats::SrtMetrics;
use crate::config::model::Secret;
use crate::status::NodeStatus;

/// Default `latency`, as libsrt's.
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(120);

/// The UDP receive buffer of every SRT socket, as a `udp` source's: srt-protocol's default
/// (64 KiB) holds 3 ms of 100 feeds x 2 Mbit/s on one port, and what the kernel drops there
/// comes back as retransmissions that overflow it further (bench/srt.sh measured 8-21 % lost).
pub(crate) const RECV_BUFFER: u64 = 4 * 1024 * 1024;

/// Sets the receive buffer on a socket's options.
pub(crate) fn with_recv_buffer(options: &mut srt_protocol::options::SocketOptions) {
    options.connect.udp_recv_buffer_size = srt_protocol::options::ByteCount(RECV_BUFFER);
}

/// A checked `srt` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtSource {
    /// `mode` with its addresses.
    pub mode: SrtMode,
    /// `stream_id`: a listener accepts only callers sending it; a caller sends it.
    pub stream_id: Option<String>,
    /// `passphrase`: AES on when set.
    pub passphrase: Option<SrtPassphrase>,
    /// `pbkeylen`: the key length a caller or rendezvous peer asks for (AES-128 when not
    /// written). A listener answers with the caller's; with `pbkeylen` written it refuses a
    /// caller asking for another.
    pub pbkeylen: Option<KeyLength>,
    /// `latency`: the receiver's buffering delay.
    pub latency: Duration,
}

/// How the connection is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrtMode {
    /// `mode = "listener"`: callers connect to `bind`.
    Listener {
        /// `bind`.
        bind: SocketAddr,
    },
    /// `mode = "caller"`: dial `connect` (`host:port`, resolved at each connect).
    Caller {
        /// `connect`.
        connect: String,
    },
    /// `mode = "rendezvous"`: both sides dial each other from `bind` to `connect`.
    Rendezvous {
        /// `bind`.
        bind: SocketAddr,
        /// `connect`.
        connect: String,
    },
}

/// An SRT passphrase: 10 to 79 characters (libsrt's rule), never shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtPassphrase(Secret);

/// Why a passphrase is refused (its text is never quoted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an SRT passphrase has 10 to 79 characters (bytes), this one has {0}")]
pub struct PassphraseLength(pub usize);

impl SrtPassphrase {
    /// Checks the length.
    pub fn new(text: &str) -> Result<Self, PassphraseLength> {
        let length = text.len();
        if (10..=79).contains(&length) {
            Ok(Self(Secret::new(text)))
        } else {
            Err(PassphraseLength(length))
        }
    }

    /// The value, for the SRT handshake only.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// `pbkeylen`: the AES key length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyLength {
    /// 16 (AES-128), the default.
    #[default]
    Aes128,
    /// 24 (AES-192).
    Aes192,
    /// 32 (AES-256).
    Aes256,
}

impl KeyLength {
    /// From the number of bytes written; `None` for anything but 16, 24, 32.
    pub fn from_bytes(bytes: i64) -> Option<Self> {
        match bytes {
            16 => Some(Self::Aes128),
            24 => Some(Self::Aes192),
            32 => Some(Self::Aes256),
            _ => None,
        }
    }

    /// The number of bytes.
    pub fn bytes(self) -> u16 {
        match self {
            Self::Aes128 => 16,
            Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }
}

/// Runs the source whose entry is `status` until shutdown; a listener takes its callers from
/// `route` (its place on its port).
pub(crate) async fn run(
    source: &SrtSource,
    route: Option<&mut SrtRoute>,
    status: &NodeStatus,
    out: &mut Emitter,
) -> Stop {
    let mut metrics = SrtMetrics::new(status.clone());
    let metrics = &mut metrics;
    match (&source.mode, route) {
        (SrtMode::Listener { .. }, Some(route)) => {
            srt_listen::run(route, source, out, metrics).await
        }
        (SrtMode::Listener { bind }, None) => {
            // `SourceRun::new` registers every listener: not reached.
            tracing::error!(%bind, "SRT listener without its port");
            Stop::Invalid
        }
        (SrtMode::Caller { connect }, _) => dial(None, connect, source, out, metrics).await,
        (SrtMode::Rendezvous { bind, connect }, _) => {
            dial(Some(*bind), connect, source, out, metrics).await
        }
    }
}

/// Caller (`bind` none) or rendezvous: connects, pumps, connects again with backoff.
async fn dial(
    bind: Option<SocketAddr>,
    connect: &str,
    source: &SrtSource,
    out: &mut Emitter,
    metrics: &mut SrtMetrics,
) -> Stop {
    let shutdown = out.shutdown().clone();
    let mut backoff = Backoff::default();
    metrics.waiting();
    let what = if bind.is_some() {
        "rendezvous"
    } else {
        "caller"
    };
    loop {
        let connected = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Stop::Shutdown,
            connected = connect_once(bind, connect, source) => connected,
        };
        match connected {
            Ok((socket, peer)) => {
                tracing::info!(%peer, mode = what, "SRT connected");
                backoff.up();
                match pump(socket, peer, out, metrics).await {
                    Ok(end) => end.log(&peer),
                    Err(stop) => return stop,
                }
                out.new_stream("SRT reconnected");
            }
            Err(error) => {
                tracing::warn!(peer = connect, mode = what, %error, "SRT connect failed; will retry")
            }
        }
        if let Err(stop) = backoff.wait(&shutdown).await {
            return stop;
        }
    }
}

async fn connect_once(
    bind: Option<SocketAddr>,
    connect: &str,
    source: &SrtSource,
) -> std::io::Result<(SrtSocket, SocketAddr)> {
    let peer = tokio::net::lookup_host(connect)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?;
    let mut builder = (SrtSocket::builder().set(with_recv_buffer)).latency(source.latency);
    if let Some(passphrase) = &source.passphrase {
        let key_length = source.pbkeylen.unwrap_or_default();
        builder = builder.encryption(key_length.bytes(), passphrase.expose());
    }
    let socket = match bind {
        Some(bind) => builder.local(bind).rendezvous(peer).await?,
        None => builder.call(peer, source.stream_id.as_deref()).await?,
    };
    Ok((socket, peer))
}

/// How a pumped connection ended.
pub(crate) enum SrtEnd {
    /// The peer closed.
    Closed(u64),
    /// A receive error.
    Failed(u64, std::io::Error),
    /// Nothing arrived for this long.
    Idle(u64, Duration),
}

impl SrtEnd {
    pub(crate) fn log(&self, peer: &SocketAddr) {
        match self {
            Self::Closed(bytes) => tracing::info!(%peer, bytes, "SRT connection closed"),
            Self::Failed(bytes, error) => {
                tracing::warn!(%peer, bytes, %error, "SRT connection failed");
            }
            Self::Idle(bytes, silence) => {
                tracing::warn!(%peer, bytes, ?silence, "SRT connection silent; dropped");
            }
        }
    }
}

/// Sends every message of `socket` (connected to `peer`) as data until it ends, feeding its
/// statistics to `metrics`.
pub(crate) async fn pump(
    mut socket: SrtSocket,
    peer: SocketAddr,
    out: &mut Emitter,
    metrics: &mut SrtMetrics,
) -> Result<SrtEnd, Stop> {
    let shutdown = out.shutdown().clone();
    let mut statistics = socket.statistics().clone();
    let mut reporting = true;
    let mut bytes = 0u64;
    metrics.connected(peer, socket.settings().rtt);
    let end = loop {
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => break Err(Stop::Shutdown),
            report = statistics.next(), if reporting => {
                match report {
                    Some(report) => metrics.report(&report),
                    None => reporting = false,
                }
                continue;
            }
            next = tokio::time::timeout(NETWORK_IDLE, socket.next()) => next,
        };
        match next {
            Ok(Some(Ok((_, data)))) => {
                bytes += data.len() as u64;
                if let Err(stop) = out.data(data).await {
                    break Err(stop);
                }
            }
            Ok(Some(Err(error))) => break Ok(SrtEnd::Failed(bytes, error)),
            Ok(None) => break Ok(SrtEnd::Closed(bytes)),
            Err(_) => break Ok(SrtEnd::Idle(bytes, NETWORK_IDLE)),
        }
    };
    metrics.disconnected();
    end
}
