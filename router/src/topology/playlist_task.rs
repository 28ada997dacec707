//! One task per playlist node: turns segments into publishing operations for each sink that
//! publishes the playlist, keeps its sequence numbers in the state store, and ends the playlist.
//!
//! Owns the playlist's plan and wall-clock mapping; never touches a sink directly.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::sink_task::SinkCommand;
use super::state::SequenceStore;
use crate::media::timestamp::ticks_to_seconds;
use crate::publish::{Operation, PlaylistPlan};
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

/// Runs until the segmenter's channel closes (after its `End`).
pub async fn run_playlist(
    name: String,
    endlist_on_stop: bool,
    mut plan: PlaylistPlan,
    store: SequenceStore,
    mut inputs: mpsc::Receiver<PlaylistInput>,
    sinks: Vec<mpsc::Sender<SinkCommand>>,
) {
    let mut clock = WallClock::default();
    while let Some(input) = inputs.recv().await {
        match input {
            PlaylistInput::Segment(segment) => {
                let received = Instant::now();
                let operations = plan.add(&segment, clock.start_of(&segment));
                // Taken numbers are recorded before anything is published under them.
                if let Err(error) = store.save(plan.next_sequence()).await {
                    tracing::warn!(playlist = %name, %error, "cannot save sequence state");
                }
                tracing::debug!(playlist = %name, duration = segment.duration(), "segment published");
                send_all(&sinks, &operations, Some((&segment, received))).await;
            }
            PlaylistInput::End { stopping } => {
                let endlist = !stopping || endlist_on_stop;
                if endlist && let Some(operation) = plan.end() {
                    send_all(&sinks, &[operation], None).await;
                }
                tracing::info!(playlist = %name, endlist, "playlist ended");
            }
        }
    }
}

/// Hands each operation to every sink; `segment` is the segment the operations add and when
/// it reached this playlist.
async fn send_all(
    sinks: &[mpsc::Sender<SinkCommand>],
    operations: &[Operation],
    segment: Option<(&Arc<Segment>, Instant)>,
) {
    for operation in operations {
        for sink in sinks {
            let command = match operation {
                Operation::PutSegment { key } => match segment {
                    Some((segment, _)) => SinkCommand::PutSegment {
                        key: key.clone(),
                        segment: Arc::clone(segment),
                    },
                    None => continue,
                },
                Operation::PutPlaylist {
                    key,
                    text,
                    cache_control,
                } => SinkCommand::PutPlaylist {
                    key: key.clone(),
                    text: Arc::from(text.as_str()),
                    cache_control: Arc::from(cache_control.as_str()),
                    segment_cut: segment.map(|(_, received)| received),
                },
                Operation::Expire { key, keep_for } => SinkCommand::Expire {
                    key: key.clone(),
                    keep_for: *keep_for,
                },
            };
            // A sink that is gone (its task panicked) is skipped; the others go on.
            let _ = sink.send(command).await;
        }
    }
}
