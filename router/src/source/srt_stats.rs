//! Per-feed SRT metrics for `/metrics`, labelled `source=NAME`: whether a peer is connected, the
//! handshake round-trip time and the receive rate (gauges); received DATA packets, loss reports
//! sent (NAKs), packets recovered by retransmission and packets dropped for good (too late), as
//! counters over every connection of the source. Fed from srt-protocol's statistics, which each
//! connection reports about once a second with totals since it opened; srt-protocol 0.4.4 counts
//! neither lost packets nor a running RTT (`rx_loss_data`, `rx_average_rtt` stay 0), so the loss
//! is shown by its reports and its repair. The same figures, with the peer's address, go to the
//! source's entry on the status board (`/status`). Owns only those metrics and that entry's
//! `srt` part.

use std::time::{Duration, Instant};

use metrics::{Counter, Gauge};
use srt_protocol::statistics::SocketStatistics;

use crate::status::{NodeStatus, SrtLinkReport};

/// The metrics of one SRT source.
pub(crate) struct SrtMetrics {
    handshake_rtt: Gauge,
    bitrate: Gauge,
    connected: Gauge,
    received: Counter,
    loss_reports: Counter,
    retransmitted: Counter,
    dropped: Counter,
    /// The current connection's totals already counted.
    seen: Totals,
    /// Where the receive rate is measured from: received bytes, and when (our clock: srt-tokio
    /// 0.4.4 reports `elapsed_time` as 0).
    rate_from: (u64, Instant),
    /// What `/status` shows, pushed to `status` at each change.
    link: SrtLinkReport,
    status: NodeStatus,
}

/// The shortest span the receive rate is measured over.
const RATE_SPAN: Duration = Duration::from_secs(1);

#[derive(Default, Clone, Copy)]
struct Totals {
    received: u64,
    loss_reports: u64,
    retransmitted: u64,
    dropped: u64,
}

impl SrtMetrics {
    pub(crate) fn new(status: NodeStatus) -> Self {
        let label = [("source", status.node().name().to_owned())];
        Self {
            handshake_rtt: metrics::gauge!("streamrouter_srt_handshake_rtt_seconds", &label),
            bitrate: metrics::gauge!("streamrouter_srt_receive_bits_per_second", &label),
            connected: metrics::gauge!("streamrouter_srt_connected", &label),
            received: metrics::counter!("streamrouter_srt_packets_received_total", &label),
            loss_reports: metrics::counter!("streamrouter_srt_loss_reports_total", &label),
            retransmitted: metrics::counter!(
                "streamrouter_srt_packets_retransmitted_total",
                &label
            ),
            dropped: metrics::counter!("streamrouter_srt_packets_dropped_total", &label),
            seen: Totals::default(),
            rate_from: (0, Instant::now()),
            link: SrtLinkReport::default(),
            status,
        }
    }

    /// Nothing connected yet: the entry shows zeros rather than nothing.
    pub(crate) fn waiting(&mut self) {
        self.status.srt_link(self.link.clone());
    }

    /// A connection from `peer` opened (`rtt` measured by its handshake): its totals start from
    /// zero.
    pub(crate) fn connected(&mut self, peer: std::net::SocketAddr, rtt: Duration) {
        self.seen = Totals::default();
        self.rate_from = (0, Instant::now());
        self.connected.set(1.0);
        self.handshake_rtt.set(rtt.as_secs_f64());
        self.link.peer = Some(peer.to_string());
        self.link.connections += 1;
        self.link.handshake_rtt_us = Some(u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX));
        self.status.srt_link(self.link.clone());
    }

    /// The connection ended.
    pub(crate) fn disconnected(&mut self) {
        self.connected.set(0.0);
        self.bitrate.set(0.0);
        self.link.peer = None;
        self.link.receive_bits_per_second = 0;
        self.status.srt_link(self.link.clone());
    }

    /// A statistics report of the current connection.
    pub(crate) fn report(&mut self, stats: &SocketStatistics) {
        let now = Totals {
            received: stats.rx_data,
            loss_reports: stats.tx_nak,
            retransmitted: stats.rx_retransmit_data,
            dropped: stats.rx_dropped_data,
        };
        let seen = self.seen;
        let link = &mut self.link;
        let new = |now: u64, seen: u64, counter: &Counter, total: &mut u64| {
            let new = now.saturating_sub(seen);
            counter.increment(new);
            *total += new;
        };
        new(
            now.received,
            seen.received,
            &self.received,
            &mut link.packets_received,
        );
        let (reports, reports_seen) = (now.loss_reports, seen.loss_reports);
        new(
            reports,
            reports_seen,
            &self.loss_reports,
            &mut link.loss_reports,
        );
        let (resent, resent_seen) = (now.retransmitted, seen.retransmitted);
        new(
            resent,
            resent_seen,
            &self.retransmitted,
            &mut link.packets_retransmitted,
        );
        new(
            now.dropped,
            seen.dropped,
            &self.dropped,
            &mut link.packets_dropped,
        );
        self.seen = now;
        let (from_bytes, from_time) = self.rate_from;
        let span = from_time.elapsed();
        if span >= RATE_SPAN {
            let bits = stats.rx_bytes.saturating_sub(from_bytes) as f64 * 8.0;
            let rate = bits / span.as_secs_f64();
            self.bitrate.set(rate);
            link.receive_bits_per_second = rate as u64;
            self.rate_from = (stats.rx_bytes, Instant::now());
        }
        self.status.srt_link(self.link.clone());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use srt_protocol::statistics::SocketStatistics;

    use super::SrtMetrics;
    use crate::config::model::NodeId;
    use crate::status::{NodeBoard, NodeStatus, SrtLinkReport};

    fn totals(received: u64, naks: u64, retransmitted: u64, dropped: u64) -> SocketStatistics {
        let mut stats = SocketStatistics::default();
        stats.rx_data = received;
        stats.tx_nak = naks;
        stats.rx_retransmit_data = retransmitted;
        stats.rx_dropped_data = dropped;
        stats
    }

    #[test]
    fn the_status_entry_shows_the_peer_and_totals_over_connections() {
        let board = NodeBoard::default();
        let status = NodeStatus::starting(&board, NodeId::source("cam1"));
        let link = || board.snapshot()[0].srt.clone();
        let mut metrics = SrtMetrics::new(status);
        assert_eq!(link(), None);
        metrics.waiting();
        assert_eq!(link(), Some(SrtLinkReport::default()));

        let peer = "127.0.0.1:5000".parse().unwrap();
        metrics.connected(peer, Duration::from_micros(1500));
        metrics.report(&totals(10, 1, 1, 0));
        metrics.report(&totals(25, 2, 2, 1));
        let first = link().unwrap();
        assert_eq!(first.peer.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(first.handshake_rtt_us, Some(1500));
        let counts = |l: &SrtLinkReport| {
            let resent = l.packets_retransmitted;
            (
                l.packets_received,
                l.loss_reports,
                resent,
                l.packets_dropped,
            )
        };
        assert_eq!(counts(&first), (25, 2, 2, 1));

        // A new connection's totals start again from zero; the entry adds them up.
        metrics.disconnected();
        assert_eq!(link().unwrap().peer, None);
        metrics.connected("127.0.0.1:6000".parse().unwrap(), Duration::ZERO);
        metrics.report(&totals(5, 0, 0, 0));
        let second = link().unwrap();
        assert_eq!((second.connections, counts(&second)), (2, (30, 2, 2, 1)));
        assert_eq!(second.peer.as_deref(), Some("127.0.0.1:6000"));
    }
}
