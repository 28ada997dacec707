//! One task per segmenter node: frames and cuts the bytes of its source, hands finished
//! segments to its playlists, and ends them when the source ends or the daemon stops.
//!
//! A reload attaches and detaches playlists through the task's own channel, in order with the
//! source's bytes, and replaces a changed segmenter with a new task: the old one finishes what
//! it has and hands its playlists over without ending them; the new one starts after it, with a
//! discontinuity. A panic restarts the task in place (see `heal`): its channels and playlists
//! are kept, and the next segment starts a discontinuity. Owns the framer and segmenter state
//! of one feed; pure CPU work between channel reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use metrics::{Counter, Gauge};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::heal::{NodeTask, Restart};
use super::links::{PlaylistId, PlaylistInput, SegmenterInput};
use crate::media::framing::TsFramer;
use crate::segmenter::{Segment, Segmenter, SegmenterConfig};
use crate::source::SourceEvent;
use crate::status::{NodeState, NodeStatus};

/// How the task's playlists are left when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaving {
    /// Ended: the source ended or the daemon stops.
    End,
    /// Handed over to the task that replaces this one.
    HandOver,
    /// Ended as removed.
    Removed,
    /// Removed here, going on at another router of the cluster.
    MovedAway,
}

/// How a segmenter task starts.
pub struct SegmenterStart {
    /// Node name.
    pub name: String,
    /// Cutting settings.
    pub config: SegmenterConfig,
    /// The playlists it cuts for.
    pub playlists: BTreeMap<PlaylistId, mpsc::Sender<PlaylistInput>>,
    /// The task this one replaces: it finishes first, and this one's first segment starts a
    /// discontinuity.
    pub predecessor: Option<JoinHandle<()>>,
    /// Its entry on the status board.
    pub status: NodeStatus,
}

/// The feed's counters, labelled with the segmenter's name (`feed`).
struct FeedMetrics {
    bytes_in: Counter,
    packets_in: Counter,
    sync_losses: Counter,
    continuity_errors: Counter,
    segments: Counter,
    last_duration: Gauge,
    /// Counts already added from the framer's and segmenter's totals.
    counted: (u64, u64, u64),
}

impl FeedMetrics {
    fn new(feed: &str) -> Self {
        let label = [("feed", feed.to_owned())];
        Self {
            bytes_in: metrics::counter!("streamrouter_feed_bytes_in_total", &label),
            packets_in: metrics::counter!("streamrouter_feed_packets_in_total", &label),
            sync_losses: metrics::counter!("streamrouter_feed_sync_losses_total", &label),
            continuity_errors: metrics::counter!("streamrouter_feed_cc_errors_total", &label),
            segments: metrics::counter!("streamrouter_feed_segments_total", &label),
            last_duration: metrics::gauge!(
                "streamrouter_feed_last_segment_duration_seconds",
                &label
            ),
            counted: (0, 0, 0),
        }
    }

    /// Adds what the framer and segmenter counted since the last call, and the new segments.
    fn update(&mut self, framer: &TsFramer, segmenter: &Segmenter, segments: &[Segment]) {
        let (packets, sync_losses, continuity_errors) = (
            segmenter.stats().packets,
            framer.stats().sync_losses,
            segmenter.stats().continuity_errors,
        );
        self.packets_in
            .increment(packets.saturating_sub(self.counted.0));
        self.sync_losses
            .increment(sync_losses.saturating_sub(self.counted.1));
        self.continuity_errors
            .increment(continuity_errors.saturating_sub(self.counted.2));
        self.counted = (packets, sync_losses, continuity_errors);
        if let Some(last) = segments.last() {
            self.segments.increment(segments.len() as u64);
            self.last_duration.set(last.duration());
        }
    }
}

/// A segmenter node's task, restarted in place after a panic (see `heal`): its channels, its
/// playlists and how it will leave them survive; a run's framer and open segment do not, and
/// the run after a panic starts with a discontinuity.
pub struct SegmenterTask {
    name: String,
    config: SegmenterConfig,
    playlists: BTreeMap<PlaylistId, mpsc::Sender<PlaylistInput>>,
    predecessor: Option<JoinHandle<()>>,
    status: NodeStatus,
    inputs: mpsc::Receiver<SegmenterInput>,
    shutdown: CancellationToken,
    leaving: Leaving,
}

impl SegmenterTask {
    /// The task of `start`, reading `inputs`.
    pub fn new(
        start: SegmenterStart,
        inputs: mpsc::Receiver<SegmenterInput>,
        shutdown: CancellationToken,
    ) -> Self {
        let SegmenterStart {
            name,
            config,
            playlists,
            predecessor,
            status,
        } = start;
        Self {
            name,
            config,
            playlists,
            predecessor,
            status,
            inputs,
            shutdown,
            leaving: Leaving::End,
        }
    }
}

impl NodeTask for SegmenterTask {
    type Output = ();

    /// Runs until its input ends (or its channel closes).
    async fn run(&mut self, restart: Option<Restart>) {
        let name = self.name.as_str();
        let mut metrics = FeedMetrics::new(name);
        let mut discontinuity = false;
        if let Some(predecessor) = &mut self.predecessor {
            let _ = predecessor.await;
            self.predecessor = None;
            discontinuity = true;
            tracing::info!(segmenter = %name, "restarted by a reload: the next segment starts a discontinuity");
        }
        if restart.is_some() {
            discontinuity = true;
            tracing::info!(segmenter = %name, "restarted after a panic: the next segment starts a discontinuity");
        }
        let mut framer = TsFramer::new();
        let mut segmenter = Segmenter::new(self.config.clone());
        let mut segments: Vec<Segment> = Vec::new();
        let mut live = false;
        while let Some(input) = self.inputs.recv().await {
            match input {
                SegmenterInput::Event(SourceEvent::Data(bytes)) => {
                    metrics.bytes_in.increment(bytes.len() as u64);
                    framer.push(&bytes, |packet| segmenter.push(packet, &mut segments));
                }
                SegmenterInput::Event(SourceEvent::Restarted { reason, .. }) => {
                    framer.finish(|packet| segmenter.push(packet, &mut segments));
                    framer = TsFramer::new();
                    segmenter.restart_input(&mut segments);
                    tracing::info!(segmenter = %name, %reason, "input restarted: next segment starts a discontinuity");
                }
                SegmenterInput::InputEnded => break,
                SegmenterInput::Attach(playlist, sender) => {
                    self.playlists.insert(playlist, sender);
                }
                SegmenterInput::Detach { playlist, then } => {
                    if let (Some(sender), Some(then)) = (self.playlists.remove(&playlist), then) {
                        let _ = sender.send(then).await;
                    }
                }
                SegmenterInput::Retire => self.leaving = Leaving::HandOver,
                SegmenterInput::Remove { handover } => {
                    self.leaving = match handover {
                        true => Leaving::MovedAway,
                        false => Leaving::Removed,
                    };
                }
            }
            metrics.update(&framer, &segmenter, &segments);
            if !segments.is_empty() {
                self.status.segment_cut();
            }
            if !segments.is_empty() && !live {
                live = true;
                self.status.set(NodeState::Live);
                tracing::info!(segmenter = %name, "live: first segment cut");
            }
            deliver(&self.playlists, &mut segments, &mut discontinuity).await;
        }
        framer.finish(|packet| segmenter.push(packet, &mut segments));
        segmenter.finish(&mut segments);
        metrics.update(&framer, &segmenter, &segments);
        deliver(&self.playlists, &mut segments, &mut discontinuity).await;
        self.status.set(NodeState::Stopped);
        let stopping = self.shutdown.is_cancelled();
        if self.leaving != Leaving::HandOver {
            for playlist in self.playlists.values() {
                let end = PlaylistInput::End {
                    stopping,
                    removed: matches!(self.leaving, Leaving::Removed | Leaving::MovedAway),
                    handover: self.leaving == Leaving::MovedAway,
                };
                let _ = playlist.send(end).await;
            }
        }
        log_damage(name, &framer, &segmenter);
    }
}

async fn deliver(
    playlists: &BTreeMap<PlaylistId, mpsc::Sender<PlaylistInput>>,
    segments: &mut Vec<Segment>,
    discontinuity: &mut bool,
) {
    for mut segment in segments.drain(..) {
        segment.discontinuity |= std::mem::take(discontinuity);
        let segment = Arc::new(segment);
        for playlist in playlists.values() {
            let _ = playlist
                .send(PlaylistInput::Segment(Arc::clone(&segment)))
                .await;
        }
    }
}

fn log_damage(name: &str, framer: &TsFramer, segmenter: &Segmenter) {
    let f = framer.stats();
    let s = segmenter.stats();
    tracing::info!(
        segmenter = %name,
        segments = s.segments,
        sync_losses = f.sync_losses,
        skipped_bytes = f.skipped_bytes,
        continuity_errors = s.continuity_errors,
        discontinuities = s.discontinuities,
        "segmenter stopped"
    );
}
