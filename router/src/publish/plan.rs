//! Publishing plan of one media playlist: for each new segment, the operations every sink must
//! perform, in order — store the segment, store the playlist versions that list it (the live
//! window, and the time-shift and archive views of `views` when configured), and expire the
//! segments that left every view after the delay RFC 8216 §6.2.2 requires.
//!
//! Pure: no sink, no clock. The wall-clock time of a segment is passed in, and so is the time
//! archives are retired at. Executors (the synchronous [`super::Publisher`], the daemon's sink
//! tasks) carry the operations out. The daemon keeps one plan per sink and playlist (the sink's
//! own gaps, moves and journal make its listing its own); the settings come from the playlist
//! stage ([`PlanSettings`]), the window's rules from [`MediaPlaylist`]. The views' side of the
//! plan is in `plan_views.rs`.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::plan_inits::ObjectRun;
use super::plan_key_numbers::KeySinkKeys;
use super::views::{Archives, Dvr, ViewsSnapshot};
use crate::playlist::master::relative_uri;
use crate::playlist::{MediaPlaylist, PlanSettings, PlaylistEntry, PlaylistSnapshot};
use crate::segmenter::{Segment, SegmentEncryption};

/// Segments never change once written.
pub const SEGMENT_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// One step for a sink.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Store the segment (whose bytes the caller holds) under `key`.
    PutSegment {
        /// Object key.
        key: String,
    },
    /// Store this playlist version under `key`.
    PutPlaylist {
        /// Object key.
        key: String,
        /// m3u8 text.
        text: String,
        /// Cache-Control for it (no longer than half a target duration).
        cache_control: String,
    },
    /// Delete `key` once `keep_for` has passed since the preceding playlist was stored.
    Expire {
        /// Object key.
        key: String,
        /// Delay before deletion.
        keep_for: Duration,
    },
}

/// The state of one playlist's publication.
#[derive(Debug, Clone)]
pub struct PlaylistPlan {
    pub(super) settings: PlanSettings,
    /// The live window.
    pub(super) playlist: MediaPlaylist,
    pub(super) next_sequence: u64,
    pub(super) cache_control: String,
    /// The next segment starts an EXT-X-DISCONTINUITY (a new timeline after a restart or an
    /// end).
    pub(super) discontinuity_next: bool,
    /// Every segment some view lists, oldest first, with its object key: expiry deletes by
    /// key, whatever `base_url` the entry was listed with. All views list a run of the newest
    /// segments, so the longest of them lists exactly these.
    pub(super) listed: VecDeque<Listed>,
    /// The time-shift view.
    pub(super) dvr: Option<Dvr>,
    /// The archives.
    pub(super) archives: Option<Archives>,
    /// Key of the init segment (fMP4) the next segments need, named in their EXT-X-MAP.
    pub(super) init_key: Option<String>,
    /// The init segments entries name, oldest first (see `plan_inits.rs`).
    pub(super) inits: VecDeque<ObjectRun>,
    /// The key files stored beside the segments that entries name, oldest first (see
    /// `plan_keys.rs`).
    pub(super) key_objects: VecDeque<ObjectRun>,
    /// The key-sink keys entries name (see `plan_key_numbers.rs`).
    pub(super) key_sink_keys: KeySinkKeys,
}

/// A segment some view lists.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    pub(super) sequence: u64,
    pub(super) key: String,
    /// Never stored here: never deleted.
    pub(super) gap: bool,
    /// How long it must stay once no view lists it (RFC 8216 §6.2.2: its duration plus the
    /// longest playlist that listed it), in seconds.
    pub(super) keep_for: f64,
}

impl PlaylistPlan {
    /// A plan with no segment yet.
    pub fn new(settings: PlanSettings) -> Self {
        let playlist = MediaPlaylist::new(settings.playlist.clone());
        let dvr = (settings.dvr.as_ref()).map(|view| Dvr::new(view, &settings.playlist));
        let archives = settings.archive.clone().map(Archives::new);
        Self {
            next_sequence: settings.first_sequence,
            cache_control: cache_control_of(&playlist),
            settings,
            playlist,
            discontinuity_next: false,
            listed: VecDeque::new(),
            dvr,
            archives,
            init_key: None,
            inits: VecDeque::new(),
            key_objects: VecDeque::new(),
            key_sink_keys: KeySinkKeys::default(),
        }
    }

    /// Everything the plan holds, to be kept across a restart (see [`PlanSnapshot`]).
    pub fn snapshot(&self) -> PlanSnapshot {
        let mut snapshot = self.header();
        for (entry, key) in self.listed_after(None) {
            snapshot.playlist.entries.push(entry);
            snapshot.keys.push(key);
        }
        snapshot
    }

    /// A [`Self::snapshot`] without the listed entries and their keys.
    pub fn header(&self) -> PlanSnapshot {
        PlanSnapshot {
            settings: self.settings.clone(),
            playlist: self.playlist.header(),
            keys: Vec::new(),
            next_sequence: self.next_sequence,
            views: self.views_header(),
            init_key: self.init_key.clone(),
            inits: self.inits.iter().cloned().collect(),
            key_objects: self.key_objects.iter().cloned().collect(),
            key_sink_keys: self.key_sink_keys.clone(),
        }
    }

    /// The listed entries (of every view) numbered after `after` (every one for `None`),
    /// oldest first, with their object keys. Reads only those: a long recording's older
    /// entries are not touched.
    pub fn listed_after(&self, after: Option<u64>) -> Vec<(PlaylistEntry, String)> {
        let mut newer: Vec<_> = (self.longest_view().entries().rev())
            .zip(self.listed.iter().rev())
            .take_while(|(entry, _)| after.is_none_or(|after| entry.sequence > after))
            .map(|(entry, listed)| (entry.clone(), listed.key.clone()))
            .collect();
        newer.reverse();
        newer
    }

    /// The sequence number of the oldest segment a view lists.
    pub fn first_listed(&self) -> Option<u64> {
        self.listed.front().map(|listed| listed.sequence)
    }

    /// The plan a snapshot was taken of, going on after a restart: its next segment starts an
    /// EXT-X-DISCONTINUITY (a new timeline), its listed segments stay listed. `None` when the
    /// snapshot does not hold together (a key per listed segment).
    pub fn restore(snapshot: PlanSnapshot) -> Option<Self> {
        let PlanSnapshot {
            settings,
            mut playlist,
            keys,
            next_sequence,
            views,
            init_key,
            inits,
            key_objects,
            key_sink_keys,
        } = snapshot;
        if keys.len() != playlist.entries.len() {
            return None;
        }
        let entries = std::mem::take(&mut playlist.entries);
        let listed = (entries.iter().zip(&keys))
            .map(|(entry, key)| Listed {
                sequence: entry.sequence,
                key: key.clone(),
                gap: entry.gap,
                keep_for: 0.0,
            })
            .collect();
        let mut plan = Self {
            cache_control: String::new(),
            playlist: MediaPlaylist::new(settings.playlist.clone()),
            settings,
            next_sequence,
            discontinuity_next: true,
            listed,
            dvr: None,
            archives: None,
            init_key,
            inits: inits.into(),
            key_objects: key_objects.into(),
            key_sink_keys,
        };
        plan.restore_views(playlist, views, &entries, &keys);
        plan.cache_control = cache_control_of(&plan.playlist);
        Some(plan)
    }

    /// New settings from a reload, for the next version (`first_sequence` is ignored: numbering
    /// goes on). A plan that had ended goes on after a discontinuity. When the playlist moves to
    /// another key, the old key gets a final version with EXT-X-ENDLIST, returned here, so
    /// players on it stop rather than stall; so does a time-shift view that moves or goes.
    pub fn update(&mut self, settings: PlanSettings) -> Vec<Operation> {
        let mut operations = Vec::new();
        if settings.playlist_key != self.settings.playlist_key
            && !self.playlist.is_ended()
            && self.playlist.entries().len() > 0
        {
            self.playlist.end();
            operations.push(self.put_live());
        }
        if self.playlist.is_ended() {
            self.playlist.reopen();
            self.discontinuity_next = true;
        }
        if let Some((old, new)) = self.playlist.set_config(settings.playlist.clone()) {
            tracing::warn!(
                old,
                new,
                "target duration raised by a reload: EXT-X-TARGETDURATION changes in a live \
                 playlist (RFC 8216 wants it constant); players may need to reload it"
            );
        }
        self.cache_control = cache_control_of(&self.playlist);
        self.settings = PlanSettings {
            first_sequence: self.settings.first_sequence,
            ..settings
        };
        self.follow_format();
        operations.extend(self.update_views());
        operations
    }

    /// The playlist is now published somewhere its listed segments were never stored (its sink
    /// moved): it forgets them (and the archives finished there), and the next version lists
    /// only what is stored there. Numbering goes on. The forgotten segments stay where they
    /// were.
    pub fn rebase(&mut self) {
        self.playlist.clear();
        self.listed.clear();
        if let Some(dvr) = &mut self.dvr {
            dvr.playlist.clear();
        }
        if let Some(archives) = &mut self.archives {
            archives.open = None;
            archives.finished.clear();
        }
        self.rebase_inits();
        self.rebase_key_objects();
        self.abandon_key_numbers();
    }

    /// Whether the playlist has ended (its final version has EXT-X-ENDLIST).
    pub fn is_ended(&self) -> bool {
        self.playlist.is_ended()
    }

    /// The live playlist as planned so far.
    pub fn playlist(&self) -> &MediaPlaylist {
        &self.playlist
    }

    /// The sequence number the next segment will get.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Plans a new segment whose first sample was captured at `wall_clock`, naming it after its
    /// media sequence number.
    pub fn add(&mut self, segment: &Segment, wall_clock: SystemTime) -> Vec<Operation> {
        let key = self.settings.segment_name.render(self.next_sequence);
        self.add_named(key, segment, wall_clock)
    }

    /// Plans a new segment stored under `key` (named by the caller: several plans of one
    /// playlist, one per sink, share the names while each numbers its own entries).
    pub fn add_named(
        &mut self,
        key: String,
        segment: &Segment,
        wall_clock: SystemTime,
    ) -> Vec<Operation> {
        self.add_entry(key, segment, wall_clock, false)
    }

    /// Plans a segment this sink does not hold (dropped from its spool, refused for good): it is
    /// listed under its number and key marked EXT-X-GAP, so that the numbering stays the one of
    /// the other sinks and variants, and players skip it. Nothing is stored or, later, deleted.
    pub fn add_gap(
        &mut self,
        key: String,
        segment: &Segment,
        wall_clock: SystemTime,
    ) -> Vec<Operation> {
        let mut operations = self.add_entry(key, segment, wall_clock, true);
        operations.retain(|operation| !matches!(operation, Operation::PutSegment { .. }));
        operations
    }

    fn add_entry(
        &mut self,
        key: String,
        segment: &Segment,
        wall_clock: SystemTime,
        gap: bool,
    ) -> Vec<Operation> {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.listed.push_back(Listed {
            sequence,
            key: key.clone(),
            gap,
            keep_for: 0.0,
        });
        // Taken whatever the segment says: a pending discontinuity is used up by this entry.
        let pending = std::mem::take(&mut self.discontinuity_next);
        let discontinuity = segment.discontinuity || pending;
        let entry = NewEntry {
            sequence,
            key: &key,
            duration: segment.duration(),
            discontinuity,
            gap,
            wall_clock,
            // A gap is not fetched: it names no key.
            encryption: segment.encryption.as_ref().filter(|_| !gap),
        };
        self.note_key_object(&entry);
        self.note_key_number(&entry, segment.encryption.as_ref());
        let outcome = self
            .playlist
            .push(self.entry_for(&self.settings.playlist_key, &entry));
        if let Some((old, new)) = outcome.target_raised {
            tracing::warn!(
                sequence,
                duration = segment.duration(),
                old,
                new,
                "segment longer than EXT-X-TARGETDURATION: the input's keyframe interval exceeds \
                 the target; raising the declared target (set the encoder's GOP to divide the \
                 target duration)"
            );
        }
        self.note_expired(&outcome.expired);
        let mut operations = vec![Operation::PutSegment { key: key.clone() }, self.put_live()];
        operations.extend(self.add_to_views(&entry));
        operations.extend(self.release());
        operations
    }

    /// The entry `entry` as listed in the playlist stored under `view_key`.
    pub(super) fn entry_for(&self, view_key: &str, entry: &NewEntry<'_>) -> PlaylistEntry {
        let uri = self.uri_for(view_key, entry.key);
        let mut listed =
            PlaylistEntry::new(entry.sequence, uri, entry.duration, entry.discontinuity);
        if entry.gap {
            listed = listed.as_gap();
        }
        if self.settings.program_date_time {
            listed = listed.with_program_date_time(entry.wall_clock);
        }
        if let Some(init) = &self.init_key {
            listed = listed.with_map(self.uri_for(view_key, init));
        }
        self.with_key_for(view_key, entry, listed)
    }

    /// How the playlist stored under `view_key` names the segment stored under `key`: after
    /// the base URL, or relative to the playlist, so the tree plays wherever it is served
    /// from (`ch01/seg-1.ts` from `ch01/index.m3u8` is `seg-1.ts`).
    pub(super) fn uri_for(&self, view_key: &str, key: &str) -> String {
        match &self.settings.base_url {
            Some(base) => format!("{base}{key}"),
            None => relative_uri(view_key, key),
        }
    }

    /// Segments that left a view: each keeps the longest delay a view asked for.
    pub(super) fn note_expired(&mut self, expired: &[crate::playlist::Expired]) {
        for gone in expired {
            // Listed in sequence order: an archive keeps an hour of them.
            let found = (self.listed).binary_search_by_key(&gone.sequence, |l| l.sequence);
            if let Some(listed) = found.ok().and_then(|index| self.listed.get_mut(index)) {
                listed.keep_for = listed.keep_for.max(gone.keep_for);
            }
        }
    }

    /// Plans the final versions with EXT-X-ENDLIST of the live window and the time-shift view
    /// (nothing if no segment was added). An open archive stays an EVENT: the next start
    /// continues it.
    pub fn end(&mut self) -> Vec<Operation> {
        self.playlist.end();
        let mut operations = Vec::new();
        if self.playlist.entries().len() > 0 {
            operations.push(self.put_live());
        }
        if let Some(dvr) = &mut self.dvr {
            dvr.playlist.end();
            if dvr.playlist.entries().len() > 0 {
                operations.push(put_view(&dvr.key, &dvr.playlist, &self.cache_control));
            }
        }
        operations
    }

    pub(super) fn put_live(&self) -> Operation {
        put_view(
            &self.settings.playlist_key,
            &self.playlist,
            &self.cache_control,
        )
    }
}

/// A segment being added, before each view lists it under its own URI.
pub(super) struct NewEntry<'a> {
    pub(super) sequence: u64,
    pub(super) key: &'a str,
    pub(super) duration: f64,
    pub(super) discontinuity: bool,
    pub(super) gap: bool,
    pub(super) wall_clock: SystemTime,
    /// How it is encrypted (`None` for a gap: never fetched).
    pub(super) encryption: Option<&'a SegmentEncryption>,
}

/// Stores `playlist` under `key`.
pub(super) fn put_view(key: &str, playlist: &MediaPlaylist, cache_control: &str) -> Operation {
    Operation::PutPlaylist {
        key: key.to_owned(),
        text: playlist.render(),
        cache_control: cache_control.to_owned(),
    }
}

/// A [`PlaylistPlan`] as data, kept in a sink's journal so that a restarted daemon goes on
/// with what each sink listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanSnapshot {
    /// How it names and writes things.
    pub settings: PlanSettings,
    /// The live playlist, with every view's listed segments (see [`ViewsSnapshot`]).
    pub playlist: PlaylistSnapshot,
    /// The object key of each listed segment, in the same order.
    pub keys: Vec<String>,
    /// The number the next segment gets.
    pub next_sequence: u64,
    /// The time-shift and archive views.
    #[serde(default)]
    pub views: ViewsSnapshot,
    /// The init segment (fMP4) the next segments name; a journal from before fMP4 has none.
    #[serde(default)]
    pub init_key: Option<String>,
    /// The init segments the listed entries name (see `plan_inits.rs`).
    #[serde(default)]
    pub inits: Vec<ObjectRun>,
    /// The key files stored beside the segments that the listed entries name (see
    /// `plan_keys.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_objects: Vec<ObjectRun>,
    /// The key-sink keys the listed entries name (see `plan_key_numbers.rs`).
    #[serde(default, skip_serializing_if = "KeySinkKeys::is_empty")]
    pub key_sink_keys: KeySinkKeys,
}

/// A player must not cache a live playlist longer than half a target duration.
pub(super) fn cache_control_of(playlist: &MediaPlaylist) -> String {
    format!("max-age={}", (playlist.target_duration() / 2).max(1))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
pub(super) mod tests;
