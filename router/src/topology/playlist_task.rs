//! One task per playlist node: names each segment, keeps the playlist's sequence numbers in the
//! state store, dates segments for EXT-X-PROGRAM-DATE-TIME, and hands them to every sink that
//! publishes the playlist (each sink keeps its own plan and pace).
//!
//! A reload talks to it through the same channel as its segmenter: new settings go to every
//! sink's plan for the next version; new outputs get the plan, dropped ones a final version.
//! Owns naming, numbering and the wall-clock mapping; never touches a sink directly.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::master_task::{MasterInput, MasterQueue};
use super::sink_task::{PlaylistId, SinkCommand, SinkQueue};
use super::state::SequenceStore;
use crate::media::timestamp::ticks_to_seconds;
use crate::playlist::renditions::{Cut, RenditionClock};
use crate::publish::PlanSettings;
use crate::segmenter::Segment;
use crate::status::{NodeState, NodeStatus};

/// What a playlist task is sent: segments by its segmenter, settings and outputs by a reload.
#[derive(Debug, Clone)]
pub enum PlaylistInput {
    /// A finished segment.
    Segment(Arc<Segment>),
    /// The feed ended; the task publishes its end and stops.
    End {
        /// The daemon is stopping (EXT-X-ENDLIST only with `endlist_on_stop`); otherwise the
        /// source itself ended or the playlist was removed, and it always gets EXT-X-ENDLIST.
        stopping: bool,
        /// The playlist was removed: its sinks drop its plan.
        removed: bool,
    },
    /// New settings from a reload, for the next version at every sink.
    Settings(PlaylistSettings),
    /// The sinks publishing this playlist from now on, by sink name.
    Outputs(BTreeMap<String, SinkQueue>),
}

/// How a playlist is published.
#[derive(Debug, Clone)]
pub struct PlaylistSettings {
    /// Every sink's plan (its `first_sequence` is set by the task).
    pub plan: PlanSettings,
    /// EXT-X-ENDLIST when the daemon stops.
    pub endlist_on_stop: bool,
    /// The masters this playlist is a variant of: numbering shared with the other variants,
    /// and every numbered segment reported.
    pub renditions: Option<RenditionLink>,
}

/// A variant's ties to its masters.
#[derive(Debug, Clone)]
pub struct RenditionLink {
    /// The numbering shared by the variants (of the first master that lists this playlist).
    pub clock: Arc<Mutex<RenditionClock>>,
    /// The PTS grid's cell, in 90 kHz ticks (the segmenters' common target duration).
    pub cell_ticks: i64,
    /// Each master and this playlist's index among its variants.
    pub masters: Vec<(MasterQueue, usize)>,
}

/// Slack for a keyframe a little before its cell's start (half a frame at 25 fps).
const CELL_SLACK_TICKS: i64 = 1800;

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

/// How a playlist task starts.
pub struct PlaylistStart {
    /// Node name.
    pub name: PlaylistId,
    /// How it is published.
    pub settings: PlaylistSettings,
    /// The first number to use.
    pub first_sequence: u64,
    /// An earlier incarnation published before, from another timeline: the first segment
    /// starts a discontinuity.
    pub resumed: bool,
    /// Where its numbers are kept.
    pub store: SequenceStore,
    /// The sinks publishing it.
    pub outputs: BTreeMap<String, SinkQueue>,
    /// Its entry on the status board.
    pub status: NodeStatus,
}

/// Runs until its segmenter ends the feed or every sender is gone (a reload restarts the
/// playlist or the daemon stops); returns the next sequence number, for the next incarnation.
pub async fn run_playlist(start: PlaylistStart, mut inputs: mpsc::Receiver<PlaylistInput>) -> u64 {
    let PlaylistStart {
        name,
        mut settings,
        first_sequence: mut next_sequence,
        resumed,
        store,
        mut outputs,
        status,
    } = start;
    let plan = |settings: &PlaylistSettings, next_sequence: u64| SinkCommand::Plan {
        playlist: Arc::clone(&name),
        settings: PlanSettings {
            first_sequence: next_sequence,
            ..settings.plan.clone()
        },
    };
    // Sinks learn of the playlist with its first segment, whose number a master's other
    // variants may decide.
    let mut planned = false;
    let mut clock = WallClock::default();
    let mut discontinuity = resumed;
    let mut fresh = !resumed;
    while let Some(input) = inputs.recv().await {
        match input {
            PlaylistInput::Segment(mut segment) => {
                if std::mem::take(&mut discontinuity) && !segment.discontinuity {
                    let mut marked = Segment::clone(&segment);
                    marked.discontinuity = true;
                    segment = Arc::new(marked);
                }
                let cut = Instant::now();
                if let Some(link) = &settings.renditions {
                    let cell =
                        (segment.start_pts + CELL_SLACK_TICKS).div_euclid(link.cell_ticks.max(1));
                    let at = Cut {
                        cell,
                        own_next: next_sequence,
                        fresh,
                        discontinuity: segment.discontinuity,
                    };
                    next_sequence = link
                        .clock
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .number(at);
                }
                fresh = false;
                if !planned {
                    planned = true;
                    status.set(NodeState::Live);
                    for queue in outputs.values() {
                        queue.send(plan(&settings, next_sequence));
                    }
                }
                let sequence = next_sequence;
                let key = settings.plan.segment_name.render(sequence);
                next_sequence += 1;
                // Taken numbers are recorded before anything is published under them.
                if let Err(error) = store.save(next_sequence).await {
                    tracing::warn!(playlist = %name, %error, "cannot save sequence state");
                }
                let wall_clock = clock.start_of(&segment);
                tracing::debug!(playlist = %name, %key, duration = segment.duration(), "segment cut");
                for queue in outputs.values() {
                    queue.send(SinkCommand::Segment {
                        playlist: Arc::clone(&name),
                        key: key.clone(),
                        segment: Arc::clone(&segment),
                        wall_clock,
                        cut,
                    });
                }
                if let Some(link) = &settings.renditions {
                    for (master, variant) in &link.masters {
                        master.send(MasterInput::Segment {
                            variant: *variant,
                            sequence,
                            segment: Arc::clone(&segment),
                        });
                    }
                }
            }
            PlaylistInput::End { stopping, removed } => {
                let endlist = !stopping || settings.endlist_on_stop;
                for queue in outputs.values() {
                    queue.send(SinkCommand::End {
                        playlist: Arc::clone(&name),
                        endlist,
                        forget: removed,
                    });
                }
                tracing::info!(playlist = %name, endlist, removed, "playlist ended");
                status.set(NodeState::Stopped);
                return next_sequence;
            }
            PlaylistInput::Settings(new) => {
                settings = new;
                for queue in outputs.values().filter(|_| planned) {
                    queue.send(plan(&settings, next_sequence));
                }
                tracing::info!(playlist = %name, "new settings apply to the next version");
            }
            PlaylistInput::Outputs(new) => {
                for (sink, queue) in &outputs {
                    if !new.get(sink).is_some_and(|kept| kept.same_queue(queue)) {
                        queue.send(SinkCommand::End {
                            playlist: Arc::clone(&name),
                            endlist: true,
                            forget: true,
                        });
                        tracing::info!(playlist = %name, %sink, "no longer published there: final version sent");
                    }
                }
                for (sink, queue) in &new {
                    if planned && !outputs.get(sink).is_some_and(|old| old.same_queue(queue)) {
                        queue.send(plan(&settings, next_sequence));
                        tracing::info!(playlist = %name, %sink, "now published there too");
                    }
                }
                outputs = new;
            }
        }
    }
    status.set(NodeState::Stopped);
    next_sequence
}
