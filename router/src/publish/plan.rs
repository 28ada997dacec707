//! Publishing plan of one media playlist: for each new segment, the operations every sink must
//! perform, in order — store the segment, store the playlist version that lists it, and expire
//! the segments that left the window after the delay RFC 8216 §6.2.2 requires.
//!
//! Pure: no sink, no clock. The wall-clock time of a segment is passed in. Executors (the
//! synchronous [`super::Publisher`], the daemon's sink tasks) carry the operations out.

use std::time::{Duration, SystemTime};

use super::naming::SegmentNamePattern;
use crate::playlist::{MediaPlaylist, PlaylistConfig, PlaylistEntry};
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

/// How a playlist names and writes things.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSettings {
    /// Object key of the playlist.
    pub playlist_key: String,
    /// Segment key pattern.
    pub segment_name: SegmentNamePattern,
    /// Prefix written before segment keys in the playlist.
    pub base_url: Option<String>,
    /// Media sequence number of the first segment.
    pub first_sequence: u64,
    /// Expire segments that leave the window.
    pub delete_expired: bool,
    /// Write EXT-X-PROGRAM-DATE-TIME.
    pub program_date_time: bool,
    /// Window, target and independence of the playlist.
    pub playlist: PlaylistConfig,
}

/// The state of one playlist's publication.
#[derive(Debug, Clone)]
pub struct PlaylistPlan {
    settings: PlanSettings,
    playlist: MediaPlaylist,
    next_sequence: u64,
    cache_control: String,
    gap: bool,
}

impl PlaylistPlan {
    /// A plan with no segment yet.
    pub fn new(settings: PlanSettings) -> Self {
        let playlist = MediaPlaylist::new(settings.playlist.clone());
        // A player must not cache a live playlist longer than half a target duration.
        let half_target = (playlist.target_duration() / 2).max(1);
        Self {
            next_sequence: settings.first_sequence,
            settings,
            playlist,
            cache_control: format!("max-age={half_target}"),
            gap: false,
        }
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
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let uri = match &self.settings.base_url {
            Some(base) => format!("{base}{key}"),
            None => key.clone(),
        };
        let discontinuity = segment.discontinuity || std::mem::take(&mut self.gap);
        let mut entry = PlaylistEntry::new(sequence, uri, segment.duration(), discontinuity);
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
        if self.settings.delete_expired {
            let base = self.settings.base_url.as_deref().unwrap_or("");
            operations.extend(
                outcome
                    .expired
                    .into_iter()
                    .map(|expired| Operation::Expire {
                        key: expired.uri[base.len().min(expired.uri.len())..].to_owned(),
                        keep_for: Duration::from_secs_f64(expired.keep_for.max(0.0)),
                    }),
            );
        }
        operations
    }

    /// A segment will never be listed (it was dropped or could not be stored): the next one
    /// added starts with EXT-X-DISCONTINUITY, since the media between them is missing.
    pub fn mark_gap(&mut self) {
        self.gap = true;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(window: usize, base_url: Option<&str>) -> PlanSettings {
        PlanSettings {
            playlist_key: "live/index.m3u8".into(),
            segment_name: SegmentNamePattern::parse("live/s-{seq:03}.ts").unwrap(),
            base_url: base_url.map(str::to_owned),
            first_sequence: 10,
            delete_expired: true,
            program_date_time: false,
            playlist: PlaylistConfig {
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
                assert!(text.ends_with("live/s-010.ts\n"));
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
    fn a_gap_numbers_on_and_marks_a_discontinuity() {
        let mut plan = PlaylistPlan::new(settings(0, None));
        plan.add_named("live/s-010.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
        plan.mark_gap(); // s-011 was dropped
        plan.add_named("live/s-012.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
        let text = plan.playlist().render();
        assert!(
            text.ends_with("live/s-010.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nlive/s-012.ts\n"),
            "{text}"
        );
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:10\n"), "{text}");
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
}
