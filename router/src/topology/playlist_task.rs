//! One task per playlist node: names each segment, keeps the playlist's sequence numbers in the
//! state store, dates segments for EXT-X-PROGRAM-DATE-TIME, and hands them to every sink that
//! publishes the playlist (each sink keeps its own plan and pace: the window is rendered per
//! sink, from what that sink holds; see `sink_task`).
//!
//! A reload talks to it through the same channel as its segmenter: new settings go to every
//! sink's plan for the next version; new outputs get the plan, dropped ones a final version.
//! A panic restarts the task in place (see `heal`): numbering goes on, after a discontinuity.
//! Owns naming, numbering and the wall-clock mapping; never touches a sink directly. An fMP4
//! playlist remuxes each segment first (`fmp4_stage`) and queues a new init segment to every
//! sink before the first segment naming it; a sink added later gets the current init after its
//! plan. An encrypted playlist encrypts each segment (after the fMP4 stage) with the key its
//! `encrypt_stage` gives, and publishes nothing it could not encrypt; with a key sink, after
//! each segment and when its sinks change, it deletes there the keys no sink names any more
//! (`key_reaper`). Masters get the cut
//! MPEG-TS segment (their CODECS are read from it; BANDWIDTH then
//! counts TS bytes, a little above the fragments').

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::encrypt_stage::EncryptStage;
use super::fmp4_stage::{Converted, Fmp4Stage};
use super::heal::{NodeTask, Restart};
use super::key_floors::KeyFloors;
use super::links::{
    MasterInput, PlaylistId, PlaylistInput, PlaylistSettings, SinkCommand, SinkQueue,
};
use super::seams::wall_now;
use super::state::SequenceStore;
use crate::media::timestamp::ticks_to_seconds;
use crate::playlist::PlanSettings;
use crate::playlist::renditions::Cut;
use crate::segmenter::Segment;
use crate::status::{NodeState, NodeStatus};

/// Slack for a segment starting a little before its cell's start (an audio-only variant's
/// first segment starts with the audio, before the video's first keyframe).
const CELL_SLACK_TICKS: i64 = crate::segmenter::AUDIO_GRID_SLACK;

/// Maps segment PTS to wall-clock time for EXT-X-PROGRAM-DATE-TIME, anchored at the first
/// segment of each timeline so dates advance exactly with media time.
#[derive(Debug, Default)]
struct WallClock {
    anchor: Option<(SystemTime, i64)>,
}

impl WallClock {
    fn start_of(&mut self, segment: &Segment) -> SystemTime {
        if segment.discontinuity || self.anchor.is_none() {
            let now = wall_now();
            let started = now
                .checked_sub(Duration::from_secs_f64(segment.duration().max(0.0)))
                .unwrap_or(now);
            self.anchor = Some((started, segment.start_pts));
        }
        match self.anchor {
            Some((time, pts)) => {
                let offset = ticks_to_seconds(segment.start_pts - pts).max(0.0);
                time + Duration::from_secs_f64(offset)
            }
            None => wall_now(),
        }
    }
}

/// How a playlist task starts.
pub struct PlaylistStart {
    /// Node name.
    pub name: PlaylistId,
    /// How it is published.
    pub settings: PlaylistSettings,
    /// The incarnation this one replaces: it ends first, and numbering goes on from its last
    /// number (or from the store, if it gave none); the first segment starts a discontinuity,
    /// since it published from another timeline.
    pub predecessor: Option<JoinHandle<Option<u64>>>,
    /// Where its numbers are kept.
    pub store: SequenceStore,
    /// The sinks publishing it.
    pub outputs: BTreeMap<String, SinkQueue>,
    /// The sink storing its keys (`key_sink`), when it is encrypted and has one.
    pub key_sink: Option<SinkQueue>,
    /// The key-sink keys its sinks still name (see `key_floors`).
    pub key_floors: KeyFloors,
    /// Its entry on the status board.
    pub status: NodeStatus,
}

/// A playlist node's task, restarted in place after a panic (see `heal`): its channel, settings,
/// outputs and numbering survive; the run after a panic starts with a discontinuity, numbering
/// on.
pub struct PlaylistTask {
    name: PlaylistId,
    settings: PlaylistSettings,
    predecessor: Option<JoinHandle<Option<u64>>>,
    /// The next number to use, once known (the first run learns it).
    next_sequence: Option<u64>,
    store: SequenceStore,
    outputs: BTreeMap<String, SinkQueue>,
    status: NodeStatus,
    inputs: mpsc::Receiver<PlaylistInput>,
    /// Sinks learn of the playlist with its first segment, whose number a master's other
    /// variants may decide.
    planned: bool,
    /// Nothing numbered yet in this incarnation (a master's variant may start at any number).
    fresh: bool,
    /// The remuxer of an fMP4 playlist, and its current init segment.
    fmp4: Option<Fmp4Stage>,
    init: Option<(String, Arc<Vec<u8>>)>,
    /// The encryption of an encrypted playlist.
    encrypt: Option<EncryptStage>,
}

impl PlaylistTask {
    /// The task of `start`, reading `inputs`.
    pub fn new(start: PlaylistStart, inputs: mpsc::Receiver<PlaylistInput>) -> Self {
        let PlaylistStart {
            name,
            settings,
            predecessor,
            store,
            outputs,
            key_sink,
            key_floors,
            status,
        } = start;
        let fmp4 = (settings.init_name.clone()).map(|init_name| Fmp4Stage::new(&name, init_name));
        let encrypt = (settings.encryption.clone()).map(|encryption| {
            EncryptStage::new(Arc::clone(&name), encryption, key_sink, key_floors)
        });
        Self {
            encrypt,
            fresh: predecessor.is_none(),
            fmp4,
            init: None,
            name,
            settings,
            predecessor,
            next_sequence: None,
            store,
            outputs,
            status,
            inputs,
            planned: false,
        }
    }

    /// The next number: after the predecessor's last, or the stored one.
    async fn next_sequence(&mut self) -> u64 {
        if let Some(next) = self.next_sequence {
            return next;
        }
        let next = match &mut self.predecessor {
            Some(task) => match task.await {
                Ok(Some(next)) => next,
                _ => self.store.load().await,
            },
            None => self.store.load().await,
        };
        self.predecessor = None;
        self.next_sequence = Some(next);
        next
    }

    /// The current init segment, for a sink.
    fn init_command(&self) -> SinkCommand {
        let (key, data) = self.init.clone().unwrap_or_default();
        SinkCommand::Init {
            playlist: Arc::clone(&self.name),
            key,
            data,
        }
    }

    fn plan(&self, next_sequence: u64) -> SinkCommand {
        SinkCommand::Plan {
            playlist: Arc::clone(&self.name),
            settings: Box::new(PlanSettings {
                first_sequence: next_sequence,
                ..self.settings.plan.clone()
            }),
        }
    }

    /// Numbers `segment` and hands it to every sink and master. The number is taken (in the
    /// task and in the store) before anything is published under it, and the sinks and
    /// masters are given it at once, with nothing to wait for in between: a panic never
    /// leaves them numbering apart from the task.
    /// Whether it was published (an fMP4 playlist skips a segment it cannot remux).
    async fn publish(&mut self, cut_segment: Arc<Segment>, clock: &mut WallClock) -> bool {
        // Masters read the cut; otherwise the playlist's stage may take its buffer (encryption
        // in place).
        let for_masters = (self.settings.renditions.as_ref()).map(|_| Arc::clone(&cut_segment));
        let (segment, init) = match &mut self.fmp4 {
            None => (cut_segment, None),
            Some(stage) => match stage.convert(&cut_segment, &self.store, &self.status).await {
                Some(Converted { init, segment }) => (segment, init),
                None => return false,
            },
        };
        if let Some(stage) = &mut self.encrypt
            && !stage.ready(&self.store, &self.status).await
        {
            return false;
        }
        let cut = Instant::now();
        let own_next = self.next_sequence().await;
        let mut sequence = own_next;
        if let Some(link) = &self.settings.renditions {
            let cell = link
                .grid
                .cell(segment.start_pts, link.cell_ticks, CELL_SLACK_TICKS);
            let at = Cut {
                cell,
                own_next,
                fresh: self.fresh,
                discontinuity: segment.discontinuity,
            };
            sequence = link
                .clock
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .number(at);
        }
        let segment = match &mut self.encrypt {
            Some(stage) => match stage.seal(segment, sequence).await {
                Some(sealed) => Arc::new(sealed),
                None => return false,
            },
            None => segment,
        };
        let key = self.settings.plan.segment_name.render(sequence);
        // Taken numbers are recorded before anything is published under them.
        if let Err(error) = self.store.save(sequence + 1).await {
            tracing::warn!(playlist = %self.name, %error, "cannot save sequence state");
        }
        self.next_sequence = Some(sequence + 1);
        self.fresh = false;
        if !self.planned {
            self.planned = true;
            for queue in self.outputs.values() {
                queue.send(self.plan(sequence));
            }
        }
        if let Some(init) = init {
            self.init = Some(init);
            for queue in self.outputs.values() {
                queue.send(self.init_command());
            }
        }
        let wall_clock = clock.start_of(&segment);
        tracing::debug!(playlist = %self.name, %key, duration = segment.duration(), "segment cut");
        for queue in self.outputs.values() {
            queue.send(SinkCommand::Segment {
                playlist: Arc::clone(&self.name),
                key: key.clone(),
                segment: Arc::clone(&segment),
                wall_clock,
                cut,
            });
        }
        if let (Some(link), Some(cut_segment)) = (&self.settings.renditions, &for_masters) {
            for (master, variant) in &link.masters {
                master.send(MasterInput::Segment {
                    variant: *variant,
                    sequence,
                    segment: Arc::clone(cut_segment),
                    wall_clock,
                });
            }
        }
        self.reap_keys().await;
        true
    }
}

impl NodeTask for PlaylistTask {
    type Output = u64;

    /// Runs until its segmenter ends the feed or every sender is gone (a reload restarts the
    /// playlist or the daemon stops); returns the next sequence number, for the next
    /// incarnation.
    async fn run(&mut self, restart: Option<Restart>) -> u64 {
        let mut clock = WallClock::default();
        let resumed = self.predecessor.is_some();
        // Nothing is done before the predecessor has ended.
        self.next_sequence().await;
        if let Some(stage) = &mut self.encrypt {
            stage.prepare(&self.store, &self.status).await;
        }
        // In a cluster a playlist starting here may go on from another router.
        let mut discontinuity = resumed || restart.is_some() || self.store.is_shared();
        if restart.is_some() {
            tracing::info!(playlist = %self.name, "restarted after a panic: the next segment starts a discontinuity");
        }
        let mut live = false;
        while let Some(input) = self.inputs.recv().await {
            match input {
                PlaylistInput::Segment(mut segment) => {
                    if std::mem::take(&mut discontinuity) && !segment.discontinuity {
                        let mut marked = Segment::clone(&segment);
                        marked.discontinuity = true;
                        segment = Arc::new(marked);
                    }
                    if self.publish(segment, &mut clock).await && !live {
                        live = true;
                        self.status.set(NodeState::Live);
                    }
                }
                PlaylistInput::End {
                    stopping,
                    removed,
                    handover,
                } => {
                    let endlist = !handover && (!stopping || self.settings.endlist_on_stop);
                    for queue in self.outputs.values() {
                        queue.send(SinkCommand::End {
                            playlist: Arc::clone(&self.name),
                            endlist,
                            forget: removed,
                        });
                    }
                    tracing::info!(playlist = %self.name, endlist, removed, "playlist ended");
                    self.status.set(NodeState::Stopped);
                    return self.next_sequence().await;
                }
                PlaylistInput::Settings(new) => {
                    self.settings = *new;
                    if self.planned {
                        let next = self.next_sequence().await;
                        for queue in self.outputs.values() {
                            queue.send(self.plan(next));
                        }
                    }
                    tracing::info!(playlist = %self.name, "new settings apply to the next version");
                }
                PlaylistInput::Outputs(new) => self.set_outputs(new).await,
            }
        }
        self.status.set(NodeState::Stopped);
        self.next_sequence().await
    }
}

impl PlaylistTask {
    /// With a key sink: deletes there the keys no sink names any more (kept when the playlist
    /// keeps expired segments).
    async fn reap_keys(&mut self) {
        if let Some(stage) = &mut self.encrypt
            && self.settings.plan.delete_expired
        {
            stage.reap(&self.outputs, &self.store).await;
        }
    }

    /// The sinks publishing the playlist from now on: those left get a final version, new
    /// ones the plan.
    async fn set_outputs(&mut self, new: BTreeMap<String, SinkQueue>) {
        let name = &self.name;
        for (sink, queue) in &self.outputs {
            if !new.get(sink).is_some_and(|kept| kept.same_queue(queue)) {
                queue.send(SinkCommand::End {
                    playlist: Arc::clone(name),
                    endlist: true,
                    forget: true,
                });
                tracing::info!(playlist = %name, %sink, "no longer published there: final version sent");
                if let Some(stage) = &mut self.encrypt {
                    stage.sink_left(sink, &self.store).await;
                }
            }
        }
        if self.planned {
            let next = self.next_sequence().await;
            for (sink, queue) in &new {
                if !self
                    .outputs
                    .get(sink)
                    .is_some_and(|old| old.same_queue(queue))
                {
                    queue.send(self.plan(next));
                    if self.init.is_some() {
                        queue.send(self.init_command());
                    }
                    tracing::info!(playlist = %self.name, %sink, "now published there too");
                }
            }
        }
        self.outputs = new;
        self.reap_keys().await;
    }
}
