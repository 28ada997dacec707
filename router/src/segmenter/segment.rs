//! Segments as they are built: the open one receiving packets and the closing one that still
//! takes the tails of audio PES packets which began before the cut.
//!
//! Owns byte accumulation and per-segment timing. Must not decide where cuts happen.

use std::collections::HashSet;

use crate::media::timestamp::ticks_to_seconds;

/// A finished segment, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The TS bytes.
    pub data: Vec<u8>,
    /// PTS of its first access point on the feed's timeline (90 kHz ticks, unwrapped).
    pub start_pts: i64,
    /// Measured duration in 90 kHz ticks.
    pub duration_ticks: i64,
    /// Starts a new timeline (new encoder, timestamp jump, table change): the playlist marks it
    /// with EXT-X-DISCONTINUITY.
    pub discontinuity: bool,
    /// Starts with PAT, PMT and a random access point, so it decodes alone.
    pub independent: bool,
    /// How its bytes are encrypted; `None`: in the clear. The segmenter always cuts in the
    /// clear; the playlist stage encrypts.
    pub encryption: Option<SegmentEncryption>,
}

/// How a segment's bytes are encrypted (HLS `METHOD=AES-128`): what its playlist entry's
/// `#EXT-X-KEY` says and which key object must be stored before a playlist names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentEncryption {
    /// The key's number (`{key}` in `key_name` and `key_uri`).
    pub key_number: u64,
    /// The AES-128-CBC IV, written explicitly in `#EXT-X-KEY`.
    pub iv: [u8; 16],
    /// The URI players fetch the key from, written as is; `None`: the key object's, relative to
    /// each playlist that lists the segment (it is stored beside the segments).
    pub key_uri: Option<String>,
    /// The key object every sink of the playlist stores before the first segment needing it;
    /// `None` when a key sink holds the key (stored there before the segment was handed on).
    pub key_object: Option<KeyObject>,
}

/// A key file: its object name and its 16 bytes (which `Debug` never shows).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyObject {
    /// Object key.
    pub name: String,
    /// The key, raw: what players fetch.
    pub bytes: [u8; 16],
}

impl std::fmt::Debug for KeyObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyObject")
            .field("name", &self.name)
            .field("bytes", &"<redacted>")
            .finish()
    }
}

impl Segment {
    /// Duration in seconds.
    pub fn duration(&self) -> f64 {
        ticks_to_seconds(self.duration_ticks)
    }

    /// The same cut as other bytes (its fMP4 fragment), starting a new timeline when
    /// `discontinuity`.
    pub fn remuxed_as(&self, data: Vec<u8>, discontinuity: bool) -> Segment {
        Segment {
            data,
            start_pts: self.start_pts,
            duration_ticks: self.duration_ticks,
            discontinuity,
            independent: self.independent,
            encryption: None,
        }
    }
}

/// The segment receiving packets.
#[derive(Debug)]
pub(crate) struct OpenSegment {
    pub data: Vec<u8>,
    pub start_pts: i64,
    /// Latest presentation end seen: max PTS plus one frame.
    pub end_pts: i64,
    pub discontinuity: bool,
    pub independent: bool,
}

impl OpenSegment {
    /// A segment starting at `start_pts`, filling `buffer` (expected empty).
    pub fn new(start_pts: i64, discontinuity: bool, independent: bool, buffer: Vec<u8>) -> Self {
        Self {
            data: buffer,
            start_pts,
            end_pts: start_pts,
            discontinuity,
            independent,
        }
    }

    /// Notes a presentation interval of the main stream.
    pub fn extend_to(&mut self, end_pts: i64) {
        self.end_pts = self.end_pts.max(end_pts);
    }

    /// Finishes the segment; `end_pts` is where the next one starts, or the measured end.
    pub fn finish(self, end_pts: i64) -> Segment {
        Segment {
            duration_ticks: (end_pts - self.start_pts).max(0),
            data: self.data,
            start_pts: self.start_pts,
            discontinuity: self.discontinuity,
            independent: self.independent,
            encryption: None,
        }
    }
}

/// A segment already cut that still takes continuation packets of PES packets begun before the
/// cut, so audio frames are not split between segments.
#[derive(Debug)]
pub(crate) struct ClosingSegment {
    pub segment: Segment,
    /// PIDs whose PES was still open at the cut.
    pub waiting: HashSet<u16>,
    /// Packets of the feed seen since the cut; the tail is abandoned past a limit.
    pub packets_since_cut: u32,
}
