//! What a journal keeps and gives back: the queue's records (a segment's timing without its
//! bytes, playlist settings, master versions, ends, gaps), the change completing an item makes
//! (a plan's new entries, scheduled deletions, a master), and what an open recovers. Plain data,
//! serialised as JSON rows by the journal.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::super::archive_master::{ArchiveMasterRecord, ArchiveMasterVersion};
use super::super::plan::{PlanSnapshot, PlaylistPlan};
use crate::playlist::{PlanSettings, PlaylistEntry};
use crate::segmenter::{Segment, SegmentEncryption};

/// The timing and flags of a segment, without its bytes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentInfo {
    /// PTS of its first sample (90 kHz).
    pub start_pts: i64,
    /// Duration in 90 kHz ticks.
    pub duration_ticks: i64,
    /// Starts an EXT-X-DISCONTINUITY.
    pub discontinuity: bool,
    /// Starts with headers and a keyframe.
    pub independent: bool,
    /// How its bytes are encrypted (with the key object to store first, when the sinks store
    /// keys): the journal is under `state_dir`, where keys live anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<SegmentEncryption>,
}

impl SegmentInfo {
    /// The timing and flags of `segment`.
    pub fn of(segment: &Segment) -> Self {
        Self {
            start_pts: segment.start_pts,
            duration_ticks: segment.duration_ticks,
            discontinuity: segment.discontinuity,
            independent: segment.independent,
            encryption: segment.encryption.clone(),
        }
    }

    /// A segment with these and `data`.
    pub fn with_data(self, data: Vec<u8>) -> Segment {
        Segment {
            data,
            start_pts: self.start_pts,
            duration_ticks: self.duration_ticks,
            discontinuity: self.discontinuity,
            independent: self.independent,
            encryption: self.encryption,
        }
    }
}

/// One item of a sink's work, as kept in the queue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Record {
    /// Publish `playlist` with these settings from now on.
    Plan {
        /// The playlist node.
        playlist: String,
        /// Its settings.
        settings: Box<PlanSettings>,
    },
    /// Store a segment (its bytes are in the segment file of the record's id), then list it.
    Segment {
        /// The playlist node.
        playlist: String,
        /// Object key.
        key: String,
        /// Timing and flags.
        info: SegmentInfo,
        /// Wall-clock time of its first sample.
        wall_clock: SystemTime,
        /// Bytes in the file.
        len: u64,
        /// CRC-32 of the bytes.
        crc: u32,
    },
    /// A segment this sink will not hold (dropped from its spool, or its file was lost): list
    /// it as EXT-X-GAP.
    Gap {
        /// The playlist node.
        playlist: String,
        /// Object key.
        key: String,
        /// Timing and flags.
        info: SegmentInfo,
        /// Wall-clock time of its first sample.
        wall_clock: SystemTime,
    },
    /// Store an fMP4 init segment (its bytes are in the segment file of the record's id); the
    /// playlist's next segments name it.
    Init {
        /// The playlist node.
        playlist: String,
        /// Object key.
        key: String,
        /// Bytes in the file.
        len: u64,
        /// CRC-32 of the bytes.
        crc: u32,
    },
    /// Publish a master playlist version.
    Master {
        /// Object key.
        key: String,
        /// Its text.
        text: String,
    },
    /// Publish a period's archive master.
    ArchiveMaster(ArchiveMasterVersion),
    /// Delete a key file (this sink is the playlist's key sink) once `keep_for` has passed.
    DeleteKey {
        /// The playlist node.
        playlist: String,
        /// Object key of the key file.
        key: String,
        /// How long it is kept first.
        keep_for: std::time::Duration,
    },
    /// The playlist ended here.
    End {
        /// The playlist node.
        playlist: String,
        /// With a final EXT-X-ENDLIST version.
        endlist: bool,
        /// The plan is dropped afterwards.
        forget: bool,
    },
}

impl Record {
    /// The gap a segment record becomes when its bytes are given up.
    pub fn into_gap(self) -> Self {
        match self {
            Record::Segment {
                playlist,
                key,
                info,
                wall_clock,
                ..
            } => Record::Gap {
                playlist,
                key,
                info,
                wall_clock,
            },
            other => other,
        }
    }
}

/// A plan's change, as the sink's worker completes an item: the plan without its entries, the
/// entries listed since the last change, and the first entry still listed (those before it are
/// forgotten; `None`: none is listed).
#[derive(Debug, Clone)]
pub struct PlanChange {
    /// The playlist node.
    pub playlist: String,
    /// The plan, its entries and keys left out.
    pub header: PlanSnapshot,
    /// Entries listed since the last change, with their object keys.
    pub added: Vec<(PlaylistEntry, String)>,
    /// The sequence number of the first listed entry.
    pub first_listed: Option<u64>,
}

impl PlanChange {
    /// The change of `plan` (of playlist `playlist`), whose entries up to `persisted` (a
    /// sequence number) the journal holds already.
    pub fn of(playlist: &str, plan: &PlaylistPlan, persisted: Option<u64>) -> Self {
        Self {
            playlist: playlist.to_owned(),
            header: plan.header(),
            added: plan.listed_after(persisted),
            first_listed: plan.first_listed(),
        }
    }

    /// The last sequence number kept once this change is committed.
    pub fn persisted_after(&self, before: Option<u64>) -> Option<u64> {
        self.added
            .last()
            .map(|(entry, _)| entry.sequence)
            .max(before)
    }
}

/// What completing an item changes besides removing it from the queue.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    /// The plan it changed.
    pub plan: Option<PlanChange>,
    /// A plan dropped (its playlist left the sink).
    pub forget: Option<String>,
    /// Expired segments whose deletion it scheduled, with when it is due.
    pub deletions: Vec<(String, SystemTime)>,
    /// A master version it published.
    pub master: Option<(String, String)>,
    /// An archive master it published.
    pub archive_master: Option<(String, ArchiveMasterRecord)>,
    /// Archive masters whose deletion it scheduled (their deletions are in `deletions`).
    pub archive_masters_gone: Vec<String>,
}

/// What a journal held when it was opened.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Queued work, oldest first.
    pub queue: Vec<(u64, Record)>,
    /// Each playlist's plan, with its entries.
    pub plans: BTreeMap<String, PlanSnapshot>,
    /// Pending deletions and when they are due.
    pub deletions: Vec<(String, SystemTime)>,
    /// The latest version of each master playlist.
    pub masters: BTreeMap<String, String>,
    /// The archive masters published and not yet deleted.
    pub archive_masters: BTreeMap<String, ArchiveMasterRecord>,
    /// The id to give the next record.
    pub next_id: u64,
    /// Records and rows that could not be read and were dropped.
    pub skipped: usize,
}

impl Recovered {
    /// Segments (and gaps) still queued.
    pub fn queued_segments(&self) -> usize {
        (self.queue.iter())
            .filter(|(_, record)| matches!(record, Record::Segment { .. } | Record::Gap { .. }))
            .count()
    }
}
