//! Per-feed SRT metrics for `/metrics`, labelled `source=NAME`: whether a peer is connected, the
//! handshake round-trip time and the receive rate (gauges); received DATA packets, loss reports
//! sent (NAKs), packets recovered by retransmission and packets dropped for good (too late), as
//! counters over every connection of the source. Fed from srt-protocol's statistics, which each
//! connection reports about once a second with totals since it opened; srt-protocol 0.4.4 counts
//! neither lost packets nor a running RTT (`rx_loss_data`, `rx_average_rtt` stay 0), so the loss
//! is shown by its reports and its repair. Owns only those metrics.

use std::time::{Duration, Instant};

use metrics::{Counter, Gauge};
use srt_protocol::statistics::SocketStatistics;

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
    pub(crate) fn new(source: &str) -> Self {
        let label = [("source", source.to_owned())];
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
        }
    }

    /// A connection opened (`rtt` measured by its handshake): its totals start from zero.
    pub(crate) fn connected(&mut self, rtt: Duration) {
        self.seen = Totals::default();
        self.rate_from = (0, Instant::now());
        self.connected.set(1.0);
        self.handshake_rtt.set(rtt.as_secs_f64());
    }

    /// The connection ended.
    pub(crate) fn disconnected(&mut self) {
        self.connected.set(0.0);
        self.bitrate.set(0.0);
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
        self.received
            .increment(now.received.saturating_sub(seen.received));
        self.loss_reports
            .increment(now.loss_reports.saturating_sub(seen.loss_reports));
        self.retransmitted
            .increment(now.retransmitted.saturating_sub(seen.retransmitted));
        self.dropped
            .increment(now.dropped.saturating_sub(seen.dropped));
        self.seen = now;
        let (from_bytes, from_time) = self.rate_from;
        let span = from_time.elapsed();
        if span >= RATE_SPAN {
            let bits = stats.rx_bytes.saturating_sub(from_bytes) as f64 * 8.0;
            self.bitrate.set(bits / span.as_secs_f64());
            self.rate_from = (stats.rx_bytes, Instant::now());
        }
    }
}
