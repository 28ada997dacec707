//! Publishing plan of one media playlist: for each new segment, the operations every sink must
//! perform, in order — store the segment, store the playlist version that lists it, and expire
//! the segments that left the window after the delay RFC 8216 §6.2.2 requires.
//!
//! Pure: no sink, no clock. The wall-clock time of a segment is passed in. Executors (the
//! synchronous [`super::Publisher`], the daemon's sink tasks) carry the operations out. The
//! daemon keeps one plan per sink and playlist (the sink's own gaps, moves and journal make
//! its listing its own); the settings come from the playlist stage ([`PlanSettings`]), the
//! window's rules from [`MediaPlaylist`].

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use crate::playlist::master::relative_uri;
use crate::playlist::{MediaPlaylist, PlanSettings, PlaylistEntry, PlaylistSnapshot};
use crate::segmenter::Segment;

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
    settings: PlanSettings,
    playlist: MediaPlaylist,
    next_sequence: u64,
    cache_control: String,
    /// The next segment starts an EXT-X-DISCONTINUITY (a new timeline after a restart or an
    /// end).
    discontinuity_next: bool,
    /// Object key of each listed segment by sequence number, oldest first: expiry deletes by
    /// key, whatever `base_url` the entry was listed with.
    keys: VecDeque<(u64, String)>,
}

impl PlaylistPlan {
    /// A plan with no segment yet.
    pub fn new(settings: PlanSettings) -> Self {
        let playlist = MediaPlaylist::new(settings.playlist.clone());
        Self {
            next_sequence: settings.first_sequence,
            cache_control: cache_control_of(&playlist),
            settings,
            playlist,
            discontinuity_next: false,
            keys: VecDeque::new(),
        }
    }

    /// Everything the plan holds, to be kept across a restart (see [`PlanSnapshot`]).
    pub fn snapshot(&self) -> PlanSnapshot {
        PlanSnapshot {
            playlist: self.playlist.snapshot(),
            keys: self.keys.iter().map(|(_, key)| key.clone()).collect(),
            ..self.header()
        }
    }

    /// A [`Self::snapshot`] without the listed entries and their keys.
    pub fn header(&self) -> PlanSnapshot {
        PlanSnapshot {
            settings: self.settings.clone(),
            playlist: self.playlist.header(),
            keys: Vec::new(),
            next_sequence: self.next_sequence,
        }
    }

    /// The listed entries numbered after `after` (every one for `None`), oldest first, with
    /// their object keys. Reads only those: a long recording's older entries are not touched.
    pub fn listed_after(&self, after: Option<u64>) -> Vec<(PlaylistEntry, String)> {
        let mut newer: Vec<_> = (self.playlist.entries().rev())
            .zip(self.keys.iter().rev())
            .take_while(|(entry, _)| after.is_none_or(|after| entry.sequence > after))
            .map(|(entry, (_, key))| (entry.clone(), key.clone()))
            .collect();
        newer.reverse();
        newer
    }

    /// The plan a snapshot was taken of, going on after a restart: its next segment starts an
    /// EXT-X-DISCONTINUITY (a new timeline), its listed segments stay listed. `None` when the
    /// snapshot does not hold together (a key per listed segment).
    pub fn restore(snapshot: PlanSnapshot) -> Option<Self> {
        let PlanSnapshot {
            settings,
            playlist,
            keys,
            next_sequence,
        } = snapshot;
        if keys.len() != playlist.entries.len() {
            return None;
        }
        let keys = (playlist.entries.iter())
            .map(|entry| entry.sequence)
            .zip(keys)
            .collect();
        let playlist = MediaPlaylist::restore(playlist);
        Some(Self {
            cache_control: cache_control_of(&playlist),
            settings,
            playlist,
            next_sequence,
            discontinuity_next: true,
            keys,
        })
    }

    /// New settings from a reload, for the next version (`first_sequence` is ignored: numbering
    /// goes on). A plan that had ended goes on after a discontinuity. When the playlist moves to
    /// another key, the old key gets a final version with EXT-X-ENDLIST, returned here, so
    /// players on it stop rather than stall.
    pub fn update(&mut self, settings: PlanSettings) -> Vec<Operation> {
        let mut operations = Vec::new();
        if settings.playlist_key != self.settings.playlist_key
            && !self.playlist.is_ended()
            && let Some(last) = self.end()
        {
            operations.push(last);
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
        operations
    }

    /// The playlist is now published somewhere its listed segments were never stored (its sink
    /// moved): it forgets them, and the next version lists only what is stored there. Numbering
    /// goes on. The forgotten segments stay where they were.
    pub fn rebase(&mut self) {
        self.playlist.clear();
        self.keys.clear();
    }

    /// Whether the playlist has ended (its final version has EXT-X-ENDLIST).
    pub fn is_ended(&self) -> bool {
        self.playlist.is_ended()
    }

    /// The playlist as planned so far.
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
        // Without a base URL the segment is listed relative to the playlist, so the tree plays
        // wherever it is served from (`ch01/seg-1.ts` from `ch01/index.m3u8` is `seg-1.ts`).
        let uri = match &self.settings.base_url {
            Some(base) => format!("{base}{key}"),
            None => relative_uri(&self.settings.playlist_key, &key),
        };
        self.keys.push_back((sequence, key.clone()));
        let discontinuity = segment.discontinuity || std::mem::take(&mut self.discontinuity_next);
        let mut entry = PlaylistEntry::new(sequence, uri, segment.duration(), discontinuity);
        if gap {
            entry = entry.as_gap();
        }
        if self.settings.program_date_time {
            entry = entry.with_program_date_time(wall_clock);
        }
        let outcome = self.playlist.push(entry);
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
        let mut operations = vec![Operation::PutSegment { key }, self.put_playlist()];
        for expired in outcome.expired {
            let Some(key) = self.take_key(expired.sequence) else {
                continue;
            };
            if self.settings.delete_expired && !expired.gap {
                operations.push(Operation::Expire {
                    key,
                    keep_for: Duration::from_secs_f64(expired.keep_for.max(0.0)),
                });
            }
        }
        operations
    }

    /// The key of the listed segment `sequence`, which leaves the window.
    fn take_key(&mut self, sequence: u64) -> Option<String> {
        while let Some((listed, _)) = self.keys.front()
            && *listed < sequence
        {
            self.keys.pop_front();
        }
        match self.keys.front() {
            Some((listed, _)) if *listed == sequence => self.keys.pop_front().map(|(_, key)| key),
            _ => None,
        }
    }

    /// Plans the final playlist version with EXT-X-ENDLIST (nothing if no segment was added).
    pub fn end(&mut self) -> Option<Operation> {
        self.playlist.end();
        (self.playlist.entries().len() > 0).then(|| self.put_playlist())
    }

    fn put_playlist(&self) -> Operation {
        Operation::PutPlaylist {
            key: self.settings.playlist_key.clone(),
            text: self.playlist.render(),
            cache_control: self.cache_control.clone(),
        }
    }
}

/// A [`PlaylistPlan`] as data, kept in a sink's journal so that a restarted daemon goes on
/// with what each sink listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanSnapshot {
    /// How it names and writes things.
    pub settings: PlanSettings,
    /// The playlist, with its listed segments.
    pub playlist: PlaylistSnapshot,
    /// The object key of each listed segment, in the same order.
    pub keys: Vec<String>,
    /// The number the next segment gets.
    pub next_sequence: u64,
}

/// A player must not cache a live playlist longer than half a target duration.
fn cache_control_of(playlist: &MediaPlaylist) -> String {
    format!("max-age={}", (playlist.target_duration() / 2).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playlist::{PlaylistConfig, SegmentNamePattern};

    fn settings(window: usize, base_url: Option<&str>) -> PlanSettings {
        PlanSettings {
            playlist_key: "live/index.m3u8".into(),
            segment_name: SegmentNamePattern::parse("live/s-{seq:03}.ts").unwrap(),
            base_url: base_url.map(str::to_owned),
            first_sequence: 10,
            delete_expired: true,
            program_date_time: false,
            playlist: PlaylistConfig {
                max_duration: None,
                window,
                target_duration: 2.0,
                independent_segments: true,
            },
        }
    }

    fn segment() -> Segment {
        Segment {
            data: Vec::new(),
            start_pts: 0,
            duration_ticks: 180_000,
            discontinuity: false,
            independent: true,
        }
    }

    #[test]
    fn each_segment_is_put_before_the_playlist_that_lists_it() {
        let mut plan = PlaylistPlan::new(settings(3, None));
        let operations = plan.add(&segment(), SystemTime::UNIX_EPOCH);
        assert_eq!(
            operations[0],
            Operation::PutSegment {
                key: "live/s-010.ts".into()
            }
        );
        match &operations[1] {
            Operation::PutPlaylist {
                key,
                text,
                cache_control,
            } => {
                assert_eq!(key, "live/index.m3u8");
                assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:10\n"));
                // Listed relative to the playlist, stored under its key.
                assert!(text.ends_with("\ns-010.ts\n"), "{text}");
                assert_eq!(cache_control, "max-age=1");
            }
            other => panic!("expected the playlist, got {other:?}"),
        }
    }

    #[test]
    fn expiry_names_the_key_not_the_uri() {
        let mut plan = PlaylistPlan::new(settings(3, Some("http://cdn.example.com/")));
        let mut expired = Vec::new();
        for _ in 0..4 {
            for operation in plan.add(&segment(), SystemTime::UNIX_EPOCH) {
                if let Operation::Expire { key, keep_for } = operation {
                    expired.push((key, keep_for));
                }
            }
        }
        // Segment 10 was listed in playlists of up to 6 s: kept 2 + 6 s.
        assert_eq!(
            expired,
            vec![("live/s-010.ts".into(), Duration::from_secs(8))]
        );
        let text = plan.playlist().render();
        assert!(
            text.contains("http://cdn.example.com/live/s-013.ts\n"),
            "{text}"
        );
    }

    #[test]
    fn a_gap_keeps_its_number_and_is_never_stored_or_deleted() {
        let mut plan = PlaylistPlan::new(settings(3, None));
        plan.add_named("live/s-010.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
        // s-011 was dropped at this sink.
        let operations = plan.add_gap("live/s-011.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
        assert!(matches!(
            operations.as_slice(),
            [Operation::PutPlaylist { .. }]
        ));
        plan.add_named("live/s-012.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
        let text = plan.playlist().render();
        assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:8\n"), "{text}");
        assert!(
            text.ends_with(
                "\ns-010.ts\n#EXT-X-GAP\n#EXTINF:2.000,\ns-011.ts\n#EXTINF:2.000,\ns-012.ts\n"
            ),
            "{text}"
        );
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:10\n"), "{text}");
        // s-010 leaves the window and is deleted; the gap leaves it and nothing is deleted.
        let first = plan.add_named("live/s-013.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
        assert_eq!(expired_keys(&first), ["live/s-010.ts"]);
        let second = plan.add_named("live/s-014.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
        assert!(expired_keys(&second).is_empty());
        let text = plan.playlist().render();
        assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n"), "{text}");
    }

    #[test]
    fn a_restored_plan_lists_what_it_listed_and_goes_on_after_a_discontinuity() {
        let mut plan = PlaylistPlan::new(settings(3, None));
        for _ in 0..4 {
            plan.add(&segment(), SystemTime::UNIX_EPOCH);
        }
        plan.end();
        let text = serde_json::to_string(&plan.snapshot()).unwrap();
        let mut restored = PlaylistPlan::restore(serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(restored.playlist().render(), plan.playlist().render());
        restored.update(settings(3, None));
        let operations = restored.add(&segment(), SystemTime::UNIX_EPOCH);
        // The window is full at once, numbering goes on, and expiry still names keys.
        assert_eq!(expired_keys(&operations), ["live/s-011.ts"]);
        let text = restored.playlist().render();
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:12\n"), "{text}");
        assert!(
            text.ends_with("s-013.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ns-014.ts\n"),
            "{text}"
        );
        assert!(!text.contains("ENDLIST"), "{text}");
    }

    #[test]
    fn end_adds_endlist_only_after_a_segment() {
        let mut empty = PlaylistPlan::new(settings(3, None));
        assert_eq!(empty.end(), None);
        let mut plan = PlaylistPlan::new(settings(3, None));
        plan.add(&segment(), SystemTime::UNIX_EPOCH);
        match plan.end() {
            Some(Operation::PutPlaylist { text, .. }) => {
                assert!(text.ends_with("#EXT-X-ENDLIST\n"))
            }
            other => panic!("expected the final playlist, got {other:?}"),
        }
    }

    fn expired_keys(operations: &[Operation]) -> Vec<String> {
        operations
            .iter()
            .filter_map(|operation| match operation {
                Operation::Expire { key, .. } => Some(key.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_smaller_window_applies_to_the_next_version_and_expires_by_key() {
        let mut plan = PlaylistPlan::new(settings(5, Some("http://old.example/")));
        for _ in 0..4 {
            plan.add(&segment(), SystemTime::UNIX_EPOCH);
        }
        plan.update(settings(2, Some("https://new.example/")));
        let operations = plan.add(&segment(), SystemTime::UNIX_EPOCH);
        // Listed with the old base URL, deleted by their keys all the same.
        assert_eq!(
            expired_keys(&operations),
            ["live/s-010.ts", "live/s-011.ts", "live/s-012.ts"]
        );
        let text = plan.playlist().render();
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:13\n"), "{text}");
        assert!(
            text.contains("http://old.example/live/s-013.ts\n"),
            "{text}"
        );
        assert!(
            text.ends_with("https://new.example/live/s-014.ts\n"),
            "{text}"
        );
    }

    #[test]
    fn a_moved_playlist_ends_at_its_old_key_and_goes_on_at_the_new_one() {
        let mut plan = PlaylistPlan::new(settings(3, None));
        plan.add(&segment(), SystemTime::UNIX_EPOCH);
        let mut moved = settings(3, None);
        moved.playlist_key = "live/other.m3u8".into();
        match plan.update(moved).as_slice() {
            [Operation::PutPlaylist { key, text, .. }] => {
                assert_eq!(key, "live/index.m3u8");
                assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
            }
            other => panic!("expected the old key's final version, got {other:?}"),
        }
        let operations = plan.add(&segment(), SystemTime::UNIX_EPOCH);
        match &operations[1] {
            Operation::PutPlaylist { key, text, .. } => {
                assert_eq!(key, "live/other.m3u8");
                assert!(!text.contains("ENDLIST"), "{text}");
                // Numbering goes on, after a discontinuity.
                assert!(
                    text.ends_with("#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ns-011.ts\n"),
                    "{text}"
                );
            }
            other => panic!("expected the playlist, got {other:?}"),
        }
    }

    #[test]
    fn an_ended_plan_reopens_after_a_discontinuity() {
        let mut plan = PlaylistPlan::new(settings(3, None));
        plan.add(&segment(), SystemTime::UNIX_EPOCH);
        plan.end();
        assert!(plan.update(settings(3, None)).is_empty());
        assert!(!plan.is_ended());
        plan.add(&segment(), SystemTime::UNIX_EPOCH);
        let text = plan.playlist().render();
        assert!(!text.contains("ENDLIST"), "{text}");
        assert!(text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
    }

    #[test]
    fn a_rebased_plan_lists_only_what_follows_and_never_lowers_its_target() {
        let mut plan = PlaylistPlan::new(settings(3, None));
        plan.add(&segment(), SystemTime::UNIX_EPOCH);
        plan.add(&segment(), SystemTime::UNIX_EPOCH);
        plan.rebase();
        let mut shorter = settings(3, None);
        shorter.playlist.target_duration = 1.0;
        plan.update(shorter);
        let operations = plan.add(&segment(), SystemTime::UNIX_EPOCH);
        assert!(expired_keys(&operations).is_empty());
        let text = plan.playlist().render();
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:12\n"), "{text}");
        assert!(text.contains("#EXT-X-TARGETDURATION:2\n"), "{text}");
        assert_eq!(plan.playlist().entries().len(), 1);
    }
}
