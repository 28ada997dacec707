//! One task per playlist node: names each segment, keeps the playlist's sequence numbers in the
//! state store, dates segments for EXT-X-PROGRAM-DATE-TIME, and hands them to every sink that
//! publishes the playlist (each sink keeps its own plan and pace).
//!
//! Owns naming, numbering and the wall-clock mapping; never touches a sink directly.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::sink_task::{SinkCommand, SinkQueue};
use super::state::SequenceStore;
use crate::media::timestamp::ticks_to_seconds;
use crate::publish::SegmentNamePattern;
use crate::segmenter::Segment;

/// What a segmenter sends its playlists.
#[derive(Debug, Clone)]
pub enum PlaylistInput {
    /// A finished segment.
    Segment(Arc<Segment>),
    /// The feed ended: its source finished, or the daemon is stopping.
    End {
        /// The daemon is stopping (EXT-X-ENDLIST only with `endlist_on_stop`); otherwise the
        /// source itself ended and the playlist always gets EXT-X-ENDLIST.
        stopping: bool,
    },
}

/// A sink publishing this playlist, and the index of this playlist among that sink's plans.
#[derive(Debug, Clone)]
pub struct PlaylistOutput {
    /// The sink's queue.
    pub queue: SinkQueue,
    /// This playlist's plan index in that sink.
    pub index: usize,
}

/// Maps segment PTS to wall-clock time for EXT-X-PROGRAM-DATE-TIME, anchored at the first
/// segment of each timeline so dates advance exactly with media time.
#[derive(Debug, Default)]
struct WallClock {
    anchor: Option<(SystemTime, i64)>,
}

impl WallClock {
    fn start_of(&mut self, segment: &Segment) -> SystemTime {
        if segment.discontinuity || self.anchor.is_none() {
            let started = SystemTime::now()
                .checked_sub(Duration::from_secs_f64(segment.duration().max(0.0)))
                .unwrap_or_else(SystemTime::now);
            self.anchor = Some((started, segment.start_pts));
        }
        match self.anchor {
            Some((time, pts)) => {
                let offset = ticks_to_seconds(segment.start_pts - pts).max(0.0);
                time + Duration::from_secs_f64(offset)
            }
            None => SystemTime::now(),
        }
    }
}

/// Runs until the segmenter's channel closes (after its `End`). `next_sequence` is the first
/// number to use (from the state store).
pub async fn run_playlist(
    name: String,
    endlist_on_stop: bool,
    segment_name: SegmentNamePattern,
    mut next_sequence: u64,
    store: SequenceStore,
    mut inputs: mpsc::Receiver<PlaylistInput>,
    outputs: Vec<PlaylistOutput>,
) {
    let mut clock = WallClock::default();
    while let Some(input) = inputs.recv().await {
        match input {
            PlaylistInput::Segment(segment) => {
                let cut = Instant::now();
                let key = segment_name.render(next_sequence);
                next_sequence += 1;
                // Taken numbers are recorded before anything is published under them.
                if let Err(error) = store.save(next_sequence).await {
                    tracing::warn!(playlist = %name, %error, "cannot save sequence state");
                }
                let wall_clock = clock.start_of(&segment);
                tracing::debug!(playlist = %name, %key, duration = segment.duration(), "segment cut");
                for output in &outputs {
                    output.queue.send(SinkCommand::Segment {
                        playlist: output.index,
                        key: key.clone(),
                        segment: Arc::clone(&segment),
                        wall_clock,
                        cut,
                    });
                }
            }
            PlaylistInput::End { stopping } => {
                let endlist = !stopping || endlist_on_stop;
                for output in &outputs {
                    output.queue.send(SinkCommand::End {
                        playlist: output.index,
                        endlist,
                    });
                }
                tracing::info!(playlist = %name, endlist, "playlist ended");
            }
        }
    }
}
