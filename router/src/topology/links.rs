//! What the stage tasks send each other, and the playlist's identity they share: each task's
//! input and the queue that carries it. Defined here, apart from every task, so that no task
//! imports from the one it feeds (source → segmenter → playlist → master → sink) nor from the
//! one that feeds it; `apply` makes the channels and hands them out.
//!
//! Plain types only: no task logic.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::playlist::PlanSettings;
use crate::playlist::renditions::RenditionClock;
use crate::publish::archive_master::ArchiveMasterVersion;
use crate::segmenter::{GridPhase, Segment};
use crate::source::SourceEvent;

/// A playlist as the tasks name it: the playlist node's name.
pub type PlaylistId = Arc<str>;

/// What a segmenter task is sent: its source's events, and a reload's changes.
#[derive(Debug)]
pub enum SegmenterInput {
    /// The source's next event.
    Event(SourceEvent),
    /// The source ended, or this segmenter no longer reads it: finish and stop.
    InputEnded,
    /// Also cut for this playlist from now on.
    Attach(PlaylistId, mpsc::Sender<PlaylistInput>),
    /// No longer cut for this playlist; send it `then` after the segments it already has.
    Detach {
        /// Which playlist.
        playlist: PlaylistId,
        /// Its last input from this segmenter (the end of a removed playlist).
        then: Option<PlaylistInput>,
    },
    /// A new task takes over: at the end, hand the playlists over instead of ending them.
    Retire,
    /// The segmenter was removed: at the end, its playlists end as removed (without
    /// EXT-X-ENDLIST when `handover`: the feed goes on at another router of the cluster).
    Remove {
        /// The feed moves to another router.
        handover: bool,
    },
}

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
        /// Its feed moves to another router of the cluster, which goes on with it: no
        /// EXT-X-ENDLIST.
        handover: bool,
    },
    /// New settings from a reload, for the next version at every sink.
    Settings(Box<PlaylistSettings>),
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
    /// fMP4 segments: the init segments' name pattern (`init_name`, with `{n}`); `None`:
    /// MPEG-TS.
    pub init_name: Option<String>,
    /// AES-128 encryption of its segments (`[playlists.NAME.encryption]`).
    pub encryption: Option<crate::config::model::PlaylistEncryption>,
}

/// A variant's ties to its masters.
#[derive(Debug, Clone)]
pub struct RenditionLink {
    /// The numbering shared by the variants (of the first master that lists this playlist).
    pub clock: Arc<Mutex<RenditionClock>>,
    /// The PTS grid's cell, in 90 kHz ticks (the segmenters' common target duration).
    pub cell_ticks: i64,
    /// The grid's phase, shared with the segmenters.
    pub grid: GridPhase,
    /// Each master and this playlist's index among its variants.
    pub masters: Vec<(MasterQueue, usize)>,
}

/// What a master task is sent.
#[derive(Debug)]
pub enum MasterInput {
    /// A variant numbered a segment and handed it to its sinks.
    Segment {
        /// The variant's index in the master.
        variant: usize,
        /// Its media sequence number.
        sequence: u64,
        /// The segment.
        segment: Arc<Segment>,
        /// Wall-clock time of its first sample, as its sinks date it (its archive period).
        wall_clock: SystemTime,
    },
    /// The sinks publishing the master from now on, by sink name.
    Outputs(BTreeMap<String, SinkQueue>),
}

/// The sending side of a master task's channel: never waits.
#[derive(Debug, Clone)]
pub struct MasterQueue {
    sender: mpsc::UnboundedSender<MasterInput>,
}

impl MasterQueue {
    /// Sends; a master whose task is gone is skipped silently.
    pub fn send(&self, input: MasterInput) {
        let _ = self.sender.send(input);
    }
}

/// A new channel to a master task.
pub fn master_queue() -> (MasterQueue, mpsc::UnboundedReceiver<MasterInput>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (MasterQueue { sender }, receiver)
}

/// Work for a sink, in the order it must be done.
#[derive(Debug)]
pub enum SinkCommand {
    /// Publish playlist `playlist` with these settings from now on: a new plan, or new
    /// settings for the next version of an existing one (a reload; an ended plan goes on).
    Plan {
        /// Which playlist.
        playlist: PlaylistId,
        /// How it is named and written.
        settings: Box<PlanSettings>,
    },
    /// Publish a segment of playlist `playlist`.
    Segment {
        /// Which playlist.
        playlist: PlaylistId,
        /// Object key of the segment.
        key: String,
        /// The segment (shared with the other sinks of the playlist).
        segment: Arc<Segment>,
        /// Wall-clock time of its first sample (EXT-X-PROGRAM-DATE-TIME).
        wall_clock: SystemTime,
        /// When it was cut (for the publish latency log).
        cut: Instant,
    },
    /// Store an fMP4 init segment of playlist `playlist`; its next segments name it (it is
    /// queued before them, and journaled like a segment).
    Init {
        /// Which playlist.
        playlist: PlaylistId,
        /// Object key of the init segment.
        key: String,
        /// Its bytes (shared with the other sinks of the playlist).
        data: Arc<Vec<u8>>,
    },
    /// Store an AES-128 key file at this sink (a playlist's `key_sink`) and say whether it
    /// was stored: the playlist encrypts with the key only then. Never journaled (a restarted
    /// playlist makes a new key).
    Key(KeyDelivery),
    /// Answer once everything sent before is done (a feed handed over has been published).
    /// Never journaled.
    Barrier(tokio::sync::oneshot::Sender<()>),
    /// Delete a playlist's AES-128 key file at this sink (its `key_sink`) once `keep_for` and
    /// the sink's `delete_grace` have passed: no sink publishing the playlist names it any
    /// more. Journaled, so a restart still deletes it.
    DeleteKey {
        /// The playlist whose key it is.
        playlist: PlaylistId,
        /// Object key of the key file.
        name: String,
        /// How long it is kept first.
        keep_for: std::time::Duration,
    },
    /// Publish a master playlist version (after the variant playlists it lists, which were
    /// queued before it).
    Master {
        /// Object key of the master playlist.
        key: String,
        /// Its text.
        text: String,
    },
    /// Publish a period's archive master (after the variants' first segments of the period,
    /// which were queued before it), listing the archives this sink holds for it.
    ArchiveMaster(ArchiveMasterVersion),
    /// The playlist's feed ended, or this sink no longer publishes it.
    End {
        /// Which playlist.
        playlist: PlaylistId,
        /// Publish a final version with EXT-X-ENDLIST.
        endlist: bool,
        /// Drop the plan afterwards (the playlist left this sink for good).
        forget: bool,
    },
}

/// A key file for a key sink, and who waits for it to be stored.
pub struct KeyDelivery {
    /// The playlist whose key it is.
    pub playlist: PlaylistId,
    /// Object key of the key file.
    pub name: String,
    /// The key, raw (never in `Debug`).
    pub bytes: [u8; 16],
    /// Told whether it was stored (false: refused for good).
    pub stored: tokio::sync::oneshot::Sender<bool>,
}

impl std::fmt::Debug for KeyDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyDelivery")
            .field("playlist", &self.playlist)
            .field("name", &self.name)
            .field("bytes", &"<redacted>")
            .finish()
    }
}

/// The sending side of a sink's queue: never waits.
#[derive(Debug, Clone)]
pub struct SinkQueue {
    sender: mpsc::UnboundedSender<SinkCommand>,
}

impl SinkQueue {
    /// Queues a command; a sink whose task is gone is skipped silently.
    pub fn send(&self, command: SinkCommand) {
        let _ = self.sender.send(command);
    }

    /// Whether both are the same sink's queue.
    pub fn same_queue(&self, other: &SinkQueue) -> bool {
        self.sender.same_channel(&other.sender)
    }
}

/// A sink's task inputs: its queue's receiving side.
pub struct SinkInbox {
    pub(super) receiver: mpsc::UnboundedReceiver<SinkCommand>,
}

/// A new queue.
pub fn sink_queue() -> (SinkQueue, SinkInbox) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (SinkQueue { sender }, SinkInbox { receiver })
}
