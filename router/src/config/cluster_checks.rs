//! Checks a `[cluster]` adds to the linked graph: a feed can move to another router, and a
//! source the stream is pushed to (UDP unicast, an SRT listener, a TCP `listen`) only follows
//! it when the senders reach whichever router runs it: a virtual IP or a load balancer in
//! front. Stdin cannot follow at all. Each gets a warning at the key that makes it a push
//! source; pulled sources (http, file, exec, SRT caller and rendezvous, TCP `connect`) and UDP
//! multicast (every router can join the group) need nothing. Warnings only: a cluster may
//! also pin such a feed to one router. Changes nothing.

use super::diagnostics::Diagnostics;
use super::link::Placed;
use super::model::{Severity, SourceKind, SourceNode, SrtMode, TcpMode};

/// What follows "when its feed moves to another router": the senders must find it there.
const PUSHED: &str = "needs a virtual IP or a load balancer in front of the routers, so that \
                      senders reach it on whichever router runs its feed";

/// Warns at each source that cannot follow its feed to another router of the cluster.
pub(super) fn warn_push_sources(sources: &[Placed<SourceNode>], diagnostics: &mut Diagnostics) {
    for source in sources {
        let Some(node) = &source.built.node else {
            continue;
        };
        let (key, message) = match &node.kind {
            SourceKind::Stdin => (
                "type",
                "stdin is this router's own input: in a cluster its feed cannot move to \
                 another router (it is not shared)"
                    .to_owned(),
            ),
            SourceKind::Udp(udp) if udp.group().is_none() => (
                "bind",
                format!("UDP unicast is sent to one router's address: it {PUSHED}"),
            ),
            SourceKind::Srt(srt) if matches!(srt.mode, SrtMode::Listener { .. }) => (
                "bind",
                format!("an SRT listener is called at one router's address: it {PUSHED}"),
            ),
            SourceKind::Tcp(TcpMode::Listen(_)) => (
                "listen",
                format!("a TCP `listen` source is dialled at one router's address: it {PUSHED}"),
            ),
            _ => continue,
        };
        let pos = source.decl.key_pos(key);
        let decl = &source.decl;
        decl.report(diagnostics, Severity::Warning, pos, key, message);
    }
}
