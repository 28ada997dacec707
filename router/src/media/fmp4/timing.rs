//! Timing: 33-bit PTS/DTS of one segment → a fragment's base decode time, sample durations and
//! composition offsets, with the state kept from one segment to the next.
//!
//! Owns the rules: decode times are unwrapped onto a 64-bit timeline across segments
//! ([`super::super::timestamp::Unwrapper`]); a video sample lasts until the next DTS, the last
//! one until the next segment's first DTS when known, else as long as the one before (this
//! segment's, or the previous segment's); composition offset = PTS − DTS (signed). Audio runs in
//! its sample rate: the base comes from the PTS, kept continuous with the previous fragment
//! when within a frame of it (frame lengths per codec: [`super::audio`]).
//!
//! After a discontinuity the source's timestamps start over (an encoder restart, a looped
//! file), but a feed's fMP4 timeline does not go back: the new timestamps are shifted (one shift
//! for every track, keeping them in sync) so the new timeline starts where the previous
//! fragments ended. GStreamer's hlsdemux2 stalls on a `tfdt` that jumps back at an
//! EXT-X-DISCONTINUITY; hls.js and ffmpeg play either.

use super::super::timestamp::{Unwrapper, pts_delta};

/// Fallback frame duration (90 kHz) when a segment holds a single frame and nothing came before.
const DEFAULT_FRAME_TICKS: u32 = 3_000;

/// The timing of one video fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoTiming {
    /// `tfdt` (90 kHz).
    pub base: u64,
    /// Per-sample durations.
    pub durations: Vec<u32>,
    /// Per-sample PTS − DTS.
    pub offsets: Vec<i32>,
}

/// Decode-time state of the video track across segments.
#[derive(Debug, Clone, Default)]
pub struct VideoClock {
    timeline: Unwrapper,
    last_duration: Option<u32>,
    /// Added to the unwrapped timestamps (90 kHz): see the module doc.
    shift: i64,
}

impl VideoClock {
    /// Starts a new timeline (after a discontinuity), its timestamps moved by `shift` ticks.
    pub fn restart(&mut self, shift: i64) {
        self.timeline.reset();
        self.shift = shift;
    }

    /// Timing of samples with raw `(pts, dts)` in decode order; `next_dts` is the raw first
    /// DTS of the following segment, when known. `None` when the timeline is negative (a
    /// decode time before zero cannot be written).
    pub fn time(&mut self, stamps: &[(u64, u64)], next_dts: Option<u64>) -> Option<VideoTiming> {
        let dts: Vec<i64> = stamps
            .iter()
            .map(|&(_, dts)| self.timeline.unwrap(dts) + self.shift)
            .collect();
        let base = u64::try_from(*dts.first()?).ok()?;
        let mut durations: Vec<u32> = dts
            .windows(2)
            .map(|w| u32::try_from(w[1] - w[0]).unwrap_or(0))
            .collect();
        let last = next_dts
            .zip(stamps.last())
            .and_then(|(next, &(_, last))| u32::try_from(pts_delta(last, next)).ok())
            .filter(|&d| d > 0)
            .or(durations.last().copied().filter(|&d| d > 0))
            .or(self.last_duration)
            .unwrap_or(DEFAULT_FRAME_TICKS);
        durations.push(last);
        self.last_duration = Some(last);
        let offsets = stamps
            .iter()
            .map(|&(pts, dts)| i32::try_from(pts_delta(dts, pts)).unwrap_or(0))
            .collect();
        Some(VideoTiming {
            base,
            durations,
            offsets,
        })
    }
}

/// Decode-time state of an audio track across segments.
#[derive(Debug, Clone, Default)]
pub struct AudioClock {
    timeline: Unwrapper,
    /// Where the previous fragment ended, in samples.
    next_base: Option<u64>,
    /// Added to the unwrapped timestamps (90 kHz): see the module doc.
    shift: i64,
}

impl AudioClock {
    /// Starts a new timeline (after a discontinuity), its timestamps moved by `shift` ticks.
    pub fn restart(&mut self, shift: i64) {
        self.timeline.reset();
        self.next_base = None;
        self.shift = shift;
    }

    /// `tfdt` in samples for a fragment whose first frame has raw PTS `pts`, at `rate` Hz with
    /// frames of `frame_samples`: the previous fragment's end when within a frame of the PTS.
    /// `None` when the timeline is negative. Call [`Self::set_end`] with the fragment's end.
    pub fn base(&mut self, pts: u64, rate: u32, frame_samples: u32) -> Option<u64> {
        let ticks = u64::try_from(self.timeline.unwrap(pts) + self.shift).ok()?;
        let measured = (u128::from(ticks) * u128::from(rate) + 45_000) / 90_000;
        let measured = u64::try_from(measured).ok()?;
        Some(match self.next_base {
            Some(expected) if expected.abs_diff(measured) < u64::from(frame_samples) => expected,
            _ => measured,
        })
    }

    /// Where the fragment just built ends, in samples.
    pub fn set_end(&mut self, end: u64) {
        self.next_base = Some(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::timestamp::PTS_MODULO;

    #[test]
    fn durations_from_dts_deltas_and_the_next_segment() {
        let mut clock = VideoClock::default();
        // I P B B with B-frames: DTS 0, 3000, 6000, 9000; PTS 3000, 12000, 6000, 9000.
        let stamps = [(3000, 0), (12000, 3000), (6000, 6000), (9000, 9000)];
        let t = clock.time(&stamps, Some(12_600)).expect("timing");
        assert_eq!(t.base, 0);
        assert_eq!(t.durations, vec![3000, 3000, 3000, 3600]);
        assert_eq!(t.offsets, vec![3000, 9000, 0, 0]);
    }

    #[test]
    fn last_duration_falls_back_to_the_previous_delta() {
        let mut clock = VideoClock::default();
        let t = clock.time(&[(0, 0), (3003, 3003)], None).expect("timing");
        assert_eq!(t.durations, vec![3003, 3003]);
        // A single frame: the previous segment's last duration.
        let t = clock.time(&[(6006, 6006)], None).expect("timing");
        assert_eq!(t.durations, vec![3003]);
    }

    #[test]
    fn negative_composition_offsets_are_kept() {
        let mut clock = VideoClock::default();
        let t = clock
            .time(&[(900, 1800), (4500, 4500)], None)
            .expect("timing");
        assert_eq!(t.offsets, vec![-900, 0]);
    }

    #[test]
    fn decode_time_keeps_increasing_across_the_wrap() {
        let mut clock = VideoClock::default();
        let start = PTS_MODULO - 3000;
        let t = clock
            .time(&[(start, start)], Some(0))
            .expect("first segment");
        assert_eq!((t.base, t.durations.clone()), (start, vec![3000]));
        let t = clock.time(&[(0, 0), (3000, 3000)], None).expect("second");
        assert_eq!(t.base, PTS_MODULO);
        assert_eq!(t.durations, vec![3000, 3000]);
    }

    #[test]
    fn a_restart_moves_both_clocks_by_the_same_shift() {
        let (mut video, mut audio) = (VideoClock::default(), AudioClock::default());
        video.time(&[(900_000, 900_000)], None).expect("first");
        // The source starts over at 0; the feed's timeline goes on at 903_000.
        video.restart(903_000);
        audio.restart(903_000);
        let t = video.time(&[(3000, 0), (6000, 3000)], None).expect("after");
        assert_eq!(t.base, 903_000);
        // Audio PTS 0 at 48 kHz on the shifted timeline.
        assert_eq!(audio.base(0, 48_000, 1024), Some(903_000 * 48_000 / 90_000));
    }

    #[test]
    fn audio_base_is_continuous_within_a_frame() {
        let mut clock = AudioClock::default();
        // 48 kHz: 1024 samples = 1920 ticks.
        assert_eq!(clock.base(90_000, 48_000, 1024), Some(48_000));
        clock.set_end(48_000 + 10_240);
        // The next PTS is 1 tick off the exact end: the exact end is kept.
        assert_eq!(
            clock.base(90_000 + 19_201, 48_000, 1024),
            Some(48_000 + 10_240)
        );
        // A jump of more than a frame is followed.
        assert_eq!(clock.base(900_000, 48_000, 1024), Some(480_000));
    }
}
