//! Sources: stage 1 of the data flow. Bytes in from stdin, a file, UDP, TCP, HTTP, SRT or a
//! child process, out as [`SourceEvent`]s on a channel.
//!
//! Owns sockets, files and child processes, reconnection and backoff, and real-time pacing of
//! files; and the checked values the kinds run on ([`HttpUrl`], [`UdpSource`],
//! [`ExecCommand`], [`SrtSource`]): compile makes them, by the rules and with the words of their kind's file,
//! and the model holds them, so a source never fails on its settings. Must not parse beyond what pacing needs (PCR) and must not know about segments:
//! framing and cutting happen downstream.
//!
//! The one entry point is [`run_source`], on a [`SourceRun`]: the node's settings with what the
//! topology hands it (its status entry; an SRT listener's place on its shared port, whose task
//! the topology spawns: sources spawn nothing). Each kind lives in its own file (`stdin`, `file`,
//! `udp`, `tcp`, `http`, `exec`, `srt` with its shared listeners `srt_listen` and metrics `srt_stats`); they share the event sender with its "Restarted before the
//! next data" bookkeeping (`emit`), the retry delays (`backoff`), the byte pump for
//! stream-like inputs (`pump`) and PCR pacing of files (`pacing`).

mod backoff;
mod emit;
mod exec;
mod file;
mod http;
mod pacing;
mod pump;
mod srt;
mod srt_listen;
#[cfg(test)]
mod srt_protocol_tests;
mod srt_stats;
mod stdin;
mod tcp;
#[cfg(test)]
mod testutil;
mod udp;

use bytes::Bytes;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use crate::config::model::{SourceKind, SourceNode, TcpMode};
use crate::status::NodeStatus;

pub use exec::{CommandError, ExecCommand};
pub use http::{HttpUrl, HttpUrlError};
pub use srt::{
    DEFAULT_LATENCY as SRT_DEFAULT_LATENCY, KeyLength, PassphraseLength, SrtMode, SrtPassphrase,
    SrtSource,
};
/// The feed id an SRT caller's stream id names (`r` of `#!::r=ID,...`, else the whole id); public
/// for the `srt_handshake` fuzz target.
pub use srt_listen::feed_id as srt_feed_id;
pub use srt_listen::{PortTask as SrtPortTask, SrtPorts, SrtRoute};
pub use udp::{MulticastError, UdpSource};

/// What a source tells the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceEvent {
    /// The next bytes of the stream, in order.
    Data(Bytes),
    /// The stream was interrupted and starts again (reconnect, restart, loop): what follows is a
    /// new timeline.
    Restarted {
        /// Why, for logs.
        reason: String,
        /// The source meant it (a file starting over), rather than recovering from a failure.
        planned: bool,
    },
}

/// Why a source stops for good. Every loop in the kinds ends with one of these, carried up with
/// `?` as the error side of a `Result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `shutdown` was cancelled.
    Shutdown,
    /// The receiver of the events is gone.
    Closed,
    /// The input ended for good (stdin or a file without loop at EOF).
    Ended,
    /// A configuration-like failure that retrying cannot fix (already logged at error).
    Invalid,
}

/// A source ready to run, again after a panic: its settings, its status entry, and for an SRT
/// listener its route on its port.
pub struct SourceRun {
    node: SourceNode,
    status: NodeStatus,
    srt_route: Option<SrtRoute>,
}

impl SourceRun {
    /// Source `node` reporting to `status`. An SRT listener registers on its port in `ports`;
    /// when the port is new its task comes back, for the caller to spawn.
    pub fn new(
        node: SourceNode,
        status: NodeStatus,
        ports: &SrtPorts,
    ) -> (Self, Option<SrtPortTask>) {
        let (srt_route, port_task) = match &node.kind {
            SourceKind::Srt(
                srt @ SrtSource {
                    mode: SrtMode::Listener { bind },
                    ..
                },
            ) => {
                let (route, task) = ports.register(*bind, srt);
                (Some(route), task)
            }
            _ => (None, None),
        };
        let run = Self {
            node,
            status,
            srt_route,
        };
        (run, port_task)
    }
}

/// Runs the source until `shutdown` is cancelled or the source ends for good (a file without
/// loop at EOF, stdin at EOF). Sends every chunk as SourceEvent::Data in order; after any
/// interruption it recovers by itself (reconnect/redial/restart with exponential backoff,
/// 0.5 s doubling to 30 s max less a jitter, reset after a healthy period) and sends
/// SourceEvent::Restarted before the first chunk of the new stream. Returns when done; never panics; errors are
/// logged (tracing, at warn for interruptions, info for state changes), not returned, except
/// configuration-like failures that make retrying pointless (e.g. bind address in use is NOT
/// that — retry it; a missing file IS retried too, with backoff, since it may appear).
///
/// Chunks are at most 64 KiB (UDP: the datagrams that arrived together, batched up to about
/// 32 KiB). `Restarted` is only sent when data was delivered before it, so a stream that never
/// produced a byte is not announced as restarted.
pub async fn run_source(
    run: &mut SourceRun,
    events: Sender<SourceEvent>,
    shutdown: CancellationToken,
) {
    // The caller runs this in the source node's span.
    {
        let mut out = emit::Emitter::new(events, shutdown);
        let stop = match &run.node.kind {
            SourceKind::Stdin => stdin::run(&mut out).await,
            SourceKind::File {
                path,
                realtime,
                looped,
            } => file::run(path, *realtime, *looped, &mut out).await,
            SourceKind::Udp(udp) => udp::run(*udp, &mut out).await,
            SourceKind::Tcp(TcpMode::Listen(addr)) => tcp::listen(*addr, &mut out).await,
            SourceKind::Tcp(TcpMode::Connect(addr)) => tcp::connect(*addr, &mut out).await,
            SourceKind::Http { url } => http::run(url.url(), &mut out).await,
            SourceKind::Exec { command } => exec::run(command, &mut out).await,
            SourceKind::Srt(srt) => {
                srt::run(srt, run.srt_route.as_mut(), &run.status, &mut out).await
            }
        };
        match stop {
            Stop::Shutdown => tracing::info!("source stopped"),
            Stop::Closed => tracing::debug!("event receiver gone; source stopped"),
            Stop::Ended => tracing::info!("source ended"),
            Stop::Invalid => tracing::info!("source gave up"),
        }
    }
}
