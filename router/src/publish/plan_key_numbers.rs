//! The publishing plan's keys held by a key sink (`key_sink`): which key number each planned
//! segment's `#EXT-X-KEY` names, so that the sink can say which is the oldest key any entry of
//! any of its views (live window, time-shift view, open or finished archive) still names, or
//! will name ([`KeyFloor`]). The playlist deletes a key at the key sink only once every sink
//! publishing it is past that key (see `topology::key_reaper`).
//!
//! A number's run starts at the first segment planned with it and lasts until the next run
//! (another key, or segments that name no key-sink key: in the clear, gaps, keys stored
//! beside). Runs are kept in the plan's snapshot like the key objects' (`plan_keys.rs`).
//!
//! Why the floor also covers what the sink has not listed yet: key numbers only go up along
//! the segments' order (each new key takes the next number of the playlist's counter, kept in
//! `state_dir`), and every sink gets the segments in that order. A sink behind (its backlog or
//! spool holds segments it has not listed) therefore only holds segments whose keys are at
//! least the key of the last segment it planned; the floor is never above that one, even when
//! that segment was a gap (which names no key). Pure, like the rest of the plan.

use std::collections::VecDeque;
use std::time::Duration;

use super::plan::{NewEntry, PlaylistPlan};
use super::plan_inits::{ObjectRun, expire_runs, start_run};
use crate::segmenter::SegmentEncryption;

/// What a plan knows of its key-sink keys, kept in its snapshot as is.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeySinkKeys {
    /// The keys entries name, oldest first.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    runs: VecDeque<ObjectRun<u64>>,
    /// The key of the last segment planned (a gap's too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last: Option<u64>,
    /// How long the keys left behind last are kept.
    #[serde(default)]
    hold: Duration,
    /// Keys kept for good for where the sink stored before it moved, from–to inclusive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    abandoned: Vec<(u64, u64)>,
}

impl KeySinkKeys {
    /// Whether it knows nothing (a playlist without a key sink).
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.last.is_none() && self.abandoned.is_empty()
    }
}

/// What a sink's plan says of the keys at the key sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFloor {
    /// No entry of any view names a key numbered below it, and no segment the sink will list
    /// later will (keys only go up).
    pub oldest: u64,
    /// How long a key must still be kept after it fell below the floor (RFC 8216 §6.2.2: the
    /// segment's duration plus the longest playlist that listed it).
    pub hold: Duration,
    /// Keys kept for good, from–to inclusive: those named where the sink stored before it
    /// moved (its playlist there stays as it was).
    pub kept: Vec<(u64, u64)>,
}

/// The key-sink key number `encryption` names, if any.
fn key_sink_number(encryption: Option<&SegmentEncryption>) -> Option<u64> {
    encryption
        .filter(|encryption| encryption.key_object.is_none())
        .map(|encryption| encryption.key_number)
}

impl PlaylistPlan {
    /// Segment `entry` (of `planned`'s encryption, a gap's too) is planned: its key-sink key
    /// starts a run when it is another one than the last.
    pub(super) fn note_key_number(
        &mut self,
        entry: &NewEntry<'_>,
        planned: Option<&SegmentEncryption>,
    ) {
        let keys = &mut self.key_sink_keys;
        if let Some(number) = key_sink_number(planned) {
            keys.last = Some(number);
        }
        start_run(
            &mut keys.runs,
            key_sink_number(entry.encryption),
            entry.sequence,
        );
    }

    /// Drops the runs of the segments before `oldest_named` (the oldest entry any view names);
    /// the keys they named are to be kept `keep_for` from now.
    pub(super) fn expire_key_numbers(&mut self, oldest_named: u64, keep_for: Duration) {
        let runs = &mut self.key_sink_keys.runs;
        let before = runs.front().and_then(|run| run.key);
        // The keys no entry names any more are the key sink's to delete, not this plan's.
        expire_runs(runs, None, oldest_named);
        if before.is_some() && runs.front().and_then(|run| run.key) != before {
            self.key_sink_keys.hold = keep_for;
        }
    }

    /// The oldest key-sink key this plan's views name or its later segments will; `None` when
    /// it never planned a segment encrypted with a key-sink key.
    pub fn key_floor(&self) -> Option<KeyFloor> {
        let keys = &self.key_sink_keys;
        let named = (keys.runs.iter()).filter_map(|run| run.key).min();
        let oldest = [named, keys.last].into_iter().flatten().min()?;
        Some(KeyFloor {
            oldest,
            hold: keys.hold,
            kept: keys.abandoned.clone(),
        })
    }

    /// The plan now publishes elsewhere (its sink moved): the keys its playlists at the old
    /// place name are kept for good, up to the last one planned.
    pub(super) fn abandon_key_numbers(&mut self) {
        let (Some(floor), Some(last)) = (self.key_floor(), self.key_sink_keys.last) else {
            return;
        };
        let abandoned = &mut self.key_sink_keys.abandoned;
        if !(abandoned.iter()).any(|(from, to)| *from <= floor.oldest && last <= *to) {
            abandoned.push((floor.oldest, last));
        }
    }
}
