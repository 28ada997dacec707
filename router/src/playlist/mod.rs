//! Playlist: stage 3 of the data flow. Segments in, m3u8 text and expiry decisions out.
//!
//! Owns the sliding window, media and discontinuity sequence numbers, the declared target
//! duration and m3u8 rendering (RFC 8216, EXT-X-VERSION 3). Pure: no files, no clocks. The
//! caller publishes the text and deletes expired segments when their time comes. Each entry's
//! lines are formatted once, when it is listed (the listing of `render.rs`), so that a version of a
//! long view costs a copy of its text, not a formatting of its whole window.
//!
//! Target duration policy: EXT-X-TARGETDURATION is declared once as the configured target
//! rounded up, and stays constant while every segment fits it (RFC 8216 §4.3.3.1). The segmenter
//! cuts at the first keyframe at or after the target, so segments overrun it only when the
//! input's keyframe interval (GOP) is longer than the target or not a divisor of it. Then the
//! playlist cannot both list the segment and keep the tag constant; it raises the declared value
//! to the segment's rounded duration (it never lowers it) and [`PushOutcome::target_raised`]
//! reports it so the operator can fix the encoder's keyframe interval.

pub mod master;
pub mod naming;
mod render;
pub mod renditions;
pub mod views;

use render::Listing;

pub use naming::SegmentNamePattern;
pub use render::render_media_playlist;

/// How a playlist names and writes things: what the playlist stage hands to every sink's
/// publishing plan ([`crate::publish::PlaylistPlan`]), and what a sink's journal keeps of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// A time-shift view over the same segments.
    #[serde(default)]
    pub dvr: Option<views::DvrView>,
    /// Recordings, one per period.
    #[serde(default)]
    pub archive: Option<views::ArchiveView>,
    /// What the segments are made of (a sink stores fMP4 ones as `video/mp4`, and a plan
    /// of MPEG-TS segments names no init segment).
    #[serde(default)]
    pub segment_format: SegmentFormat,
}

/// What a playlist's segments are made of (`segment_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentFormat {
    /// MPEG-TS, as cut.
    #[default]
    Ts,
    /// fMP4 / CMAF fragments (`.m4s`) after an init segment named in EXT-X-MAP.
    Fmp4,
}

/// How a media playlist behaves.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlaylistConfig {
    /// Segments kept in the playlist; 0 keeps every segment (an event playlist). With
    /// `max_duration`, the fewest segments kept.
    pub window: usize,
    /// Slide by media time (a time-shift view): the oldest segments leave once the newer ones
    /// last at least this many seconds. Such a playlist is live, without PLAYLIST-TYPE.
    #[serde(default)]
    pub max_duration: Option<f64>,
    /// Configured target segment duration in seconds.
    pub target_duration: f64,
    /// Declare EXT-X-INDEPENDENT-SEGMENTS (every segment starts with headers and a keyframe).
    pub independent_segments: bool,
}

/// One segment as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlaylistEntry {
    /// Media sequence number.
    pub sequence: u64,
    /// URI as written in the playlist.
    pub uri: String,
    /// Duration in seconds.
    pub duration: f64,
    /// Preceded by EXT-X-DISCONTINUITY.
    pub discontinuity: bool,
    /// Wall-clock time of its first sample, written as EXT-X-PROGRAM-DATE-TIME.
    pub program_date_time: Option<std::time::SystemTime>,
    /// Marked EXT-X-GAP: the segment is missing where this playlist is published (it keeps its
    /// number, so that variants and sinks stay aligned), and players skip it.
    #[serde(default)]
    pub gap: bool,
    /// URI of the init segment (EXT-X-MAP) of an fMP4 segment; `None` for MPEG-TS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<String>,
    /// Its `#EXT-X-KEY` when it is encrypted (or in the clear after encrypted ones); `None`:
    /// in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<EntryKey>,
    /// Its EXT-X-MAP follows an encrypted entry: `#EXT-X-KEY:METHOD=NONE` comes first, so that
    /// players do not take the init segment (stored in the clear) as encrypted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub map_after_key: bool,
    /// Longest total duration of any playlist version that listed this segment.
    longest_listing: f64,
}

/// An entry's `#EXT-X-KEY` (RFC 8216 §4.3.2.4): every encrypted entry has its own, for its
/// own IV.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EntryKey {
    /// `METHOD=AES-128` with the key at `uri` and an explicit IV.
    Aes128 {
        /// Where players fetch the key.
        uri: String,
        /// The segment's IV.
        iv: [u8; 16],
        /// The key object `uri` names relative to the playlist (stored beside the segments):
        /// each view names it from where it is stored. `None`: `uri` is written as is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        object: Option<String>,
    },
    /// `METHOD=NONE`: in the clear after encrypted entries (a key tag holds until the next).
    None,
}

impl PlaylistEntry {
    /// A segment to add to a playlist.
    pub fn new(sequence: u64, uri: String, duration: f64, discontinuity: bool) -> Self {
        Self {
            sequence,
            uri,
            duration: round_to_millis(duration),
            discontinuity,
            program_date_time: None,
            gap: false,
            map: None,
            key: None,
            map_after_key: false,
            longest_listing: 0.0,
        }
    }

    /// The same entry marked EXT-X-GAP.
    pub fn as_gap(mut self) -> Self {
        self.gap = true;
        self
    }

    /// The same entry, known to have been listed in a playlist lasting at least `seconds`
    /// (what its deletion must wait for, RFC 8216 §6.2.2).
    pub fn listed_for_at_least(mut self, seconds: f64) -> Self {
        self.longest_listing = self.longest_listing.max(seconds);
        self
    }

    /// The same entry, encrypted with the key at `uri` and `iv` (AES-128); `object` is the key
    /// object `uri` names relative to the playlist, if it does.
    pub fn with_key(mut self, uri: String, iv: [u8; 16], object: Option<String>) -> Self {
        self.key = Some(EntryKey::Aes128 { uri, iv, object });
        self
    }

    /// The same entry naming the init segment at `uri` (EXT-X-MAP).
    pub fn with_map(mut self, uri: String) -> Self {
        self.map = Some(uri);
        self
    }

    /// The same entry with an EXT-X-PROGRAM-DATE-TIME.
    pub fn with_program_date_time(mut self, time: std::time::SystemTime) -> Self {
        self.program_date_time = Some(time);
        self
    }
}

/// A segment that left the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Expired {
    /// Its URI.
    pub uri: String,
    /// Its media sequence number.
    pub sequence: u64,
    /// It was listed as a gap (never stored): there is nothing to delete.
    pub gap: bool,
    /// Seconds it must stay available after the playlist without it is published: its own
    /// duration plus the longest playlist that listed it (RFC 8216 §6.2.2).
    pub keep_for: f64,
}

/// What adding a segment changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PushOutcome {
    /// Segments that left the window.
    pub expired: Vec<Expired>,
    /// The declared target duration was raised (old, new) because a segment overran it.
    pub target_raised: Option<(u64, u64)>,
}

/// A media playlist: the window of segments and the numbers that describe it.
#[derive(Debug, Clone)]
pub struct MediaPlaylist {
    config: PlaylistConfig,
    /// The listed segments and their rendered lines.
    entries: Listing,
    discontinuity_sequence: u64,
    target_duration: u64,
    ended: bool,
    /// Ended as a finished recording: `#EXT-X-PLAYLIST-TYPE:VOD`.
    vod: bool,
}

impl MediaPlaylist {
    /// An empty playlist.
    pub fn new(config: PlaylistConfig) -> Self {
        let target_duration = declared_target(config.target_duration);
        Self {
            config,
            entries: Listing::default(),
            discontinuity_sequence: 0,
            target_duration,
            ended: false,
            vod: false,
        }
    }

    /// Appends a segment and slides the window.
    pub fn push(&mut self, entry: PlaylistEntry) -> PushOutcome {
        let mut outcome = PushOutcome::default();
        let needed = entry.duration.round() as u64;
        if needed > self.target_duration {
            outcome.target_raised = Some((self.target_duration, needed));
            self.target_duration = needed;
        }
        self.entries.push_back(entry);
        // The listed duration, summed at most once per state of the window (a time-shift view
        // lists thousands of segments).
        let mut listed = None;
        while self.leaves_first(&mut listed) {
            if let Some(gone) = self.entries.pop_front() {
                if gone.discontinuity {
                    self.discontinuity_sequence += 1;
                }
                outcome.expired.push(Expired {
                    keep_for: gone.duration + gone.longest_listing,
                    uri: gone.uri,
                    sequence: gone.sequence,
                    gap: gone.gap,
                });
            }
            listed = None;
        }
        let listed = listed.unwrap_or_else(|| self.duration());
        self.entries.raise_longest_listing(listed);
        outcome
    }

    /// Whether the oldest listed segment leaves the window now; `listed` keeps the listed
    /// duration once it is summed.
    fn leaves_first(&self, listed: &mut Option<f64>) -> bool {
        let (count, window) = (self.entries.len(), self.config.window);
        match self.config.max_duration {
            Some(longest) => {
                let first = self.entries.front().map_or(0.0, |entry| entry.duration);
                count > window.max(1)
                    && *listed.get_or_insert_with(|| self.duration()) - first >= longest
            }
            None => window > 0 && count > window,
        }
    }

    /// Marks the stream as ended: the next rendering carries EXT-X-ENDLIST.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Ends the playlist as a finished recording: EXT-X-ENDLIST and `PLAYLIST-TYPE:VOD`.
    pub fn finish_as_vod(&mut self) {
        self.ended = true;
        self.vod = true;
    }

    /// Whether it was finished as a recording.
    pub fn is_vod(&self) -> bool {
        self.vod
    }

    /// The stream goes on after an end (a reload restarted its feed): the next rendering has no
    /// EXT-X-ENDLIST again.
    pub fn reopen(&mut self) {
        self.ended = false;
        self.vod = false;
    }

    /// New settings for the next version: a smaller window drops the oldest segments at the next
    /// push (reported as expired then). The declared target duration is only ever raised, never
    /// lowered (RFC 8216 §6.2.1: it must not change; shorter segments still fit the old value).
    pub fn set_config(&mut self, config: PlaylistConfig) -> Option<(u64, u64)> {
        let wanted = declared_target(config.target_duration);
        self.config = config;
        (wanted > self.target_duration).then(|| {
            let raised = (self.target_duration, wanted);
            self.target_duration = wanted;
            raised
        })
    }

    /// Forgets every listed segment (they are not where the playlist is now published); the
    /// declared target duration stays.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.discontinuity_sequence = 0;
    }

    /// Whether the stream has ended.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Segments currently listed, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &PlaylistEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Media sequence number of the first listed segment.
    pub fn media_sequence(&self) -> Option<u64> {
        self.entries.front().map(|e| e.sequence)
    }

    /// Discontinuity sequence number of the first listed segment.
    pub fn discontinuity_sequence(&self) -> u64 {
        self.discontinuity_sequence
    }

    /// EXT-X-TARGETDURATION as declared.
    pub fn target_duration(&self) -> u64 {
        self.target_duration
    }

    /// Total duration of the listed segments in seconds.
    pub fn duration(&self) -> f64 {
        self.entries.iter().map(|e| e.duration).sum()
    }

    /// The configuration.
    pub fn config(&self) -> &PlaylistConfig {
        &self.config
    }

    /// Everything the playlist holds, to be kept across a restart.
    pub fn snapshot(&self) -> PlaylistSnapshot {
        PlaylistSnapshot {
            entries: self.entries.iter().cloned().collect(),
            ..self.header()
        }
    }

    /// A [`Self::snapshot`] without the entries: what describes the playlist besides them.
    pub fn header(&self) -> PlaylistSnapshot {
        PlaylistSnapshot {
            config: self.config.clone(),
            entries: Vec::new(),
            discontinuity_sequence: self.discontinuity_sequence,
            target_duration: self.target_duration,
            ended: self.ended,
            vod: self.vod,
        }
    }

    /// The playlist a snapshot was taken of.
    pub fn restore(snapshot: PlaylistSnapshot) -> Self {
        Self {
            config: snapshot.config,
            entries: Listing::from_entries(snapshot.entries),
            discontinuity_sequence: snapshot.discontinuity_sequence,
            target_duration: snapshot.target_duration,
            ended: snapshot.ended,
            vod: snapshot.vod,
        }
    }

    /// The m3u8 text of the current version.
    pub fn render(&self) -> String {
        render_media_playlist(self)
    }

    /// [`Self::render`] formatting every listed entry again instead of using their kept lines:
    /// the same text, at a cost that grows with the window. For tests and benchmarks only.
    #[doc(hidden)]
    pub fn render_from_scratch(&self) -> String {
        render::render_from_scratch(self)
    }

    /// Bytes allocated for the kept lines of the listed entries. For benchmarks.
    #[doc(hidden)]
    pub fn rendered_capacity(&self) -> usize {
        self.entries.text_capacity()
    }
}

/// A [`MediaPlaylist`] as data: what [`MediaPlaylist::restore`] makes it again from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlaylistSnapshot {
    /// Its settings.
    pub config: PlaylistConfig,
    /// The listed segments, oldest first.
    pub entries: Vec<PlaylistEntry>,
    /// Discontinuity sequence number of the first listed segment.
    pub discontinuity_sequence: u64,
    /// EXT-X-TARGETDURATION as declared.
    pub target_duration: u64,
    /// Ended with EXT-X-ENDLIST.
    pub ended: bool,
    /// Finished as a recording (`PLAYLIST-TYPE:VOD`).
    #[serde(default)]
    pub vod: bool,
}

/// The declared EXT-X-TARGETDURATION for a configured target: rounded up, at least 1.
pub fn declared_target(target_duration: f64) -> u64 {
    (round_to_millis(target_duration).ceil() as u64).max(1)
}

fn round_to_millis(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests;
