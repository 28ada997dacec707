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
