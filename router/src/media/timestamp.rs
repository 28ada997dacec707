//! 90 kHz MPEG timestamps: 33-bit wrap-around arithmetic and unwrapping onto a 64-bit timeline.
//!
//! Owns only arithmetic; knows nothing of packets or segments.

/// Ticks per second of PTS/DTS.
pub const CLOCK_HZ: i64 = 90_000;
/// PTS/DTS wrap at 2^33 ticks (about 26.5 hours).
pub const PTS_MODULO: u64 = 1 << 33;

/// The signed difference `later - earlier` between two 33-bit timestamps, taking the shorter way
/// round the 2^33 circle. The result lies in (-2^32, 2^32].
pub fn pts_delta(earlier: u64, later: u64) -> i64 {
    let forward = later.wrapping_sub(earlier) & (PTS_MODULO - 1);
    if forward > PTS_MODULO / 2 {
        forward as i64 - PTS_MODULO as i64
    } else {
        forward as i64
    }
}

/// Seconds for a tick count.
pub fn ticks_to_seconds(ticks: i64) -> f64 {
    ticks as f64 / CLOCK_HZ as f64
}

/// Maps raw 33-bit timestamps of one stream onto a continuous 64-bit timeline, so a stream that
/// crosses 2^33 keeps increasing instead of jumping back to zero.
#[derive(Debug, Default, Clone)]
pub struct Unwrapper {
    last: Option<(u64, i64)>,
}

impl Unwrapper {
    /// Places `raw` on the timeline relative to the previous timestamp seen.
    pub fn unwrap(&mut self, raw: u64) -> i64 {
        let raw = raw & (PTS_MODULO - 1);
        let unwrapped = match self.last {
            None => raw as i64,
            Some((last_raw, last_unwrapped)) => last_unwrapped + pts_delta(last_raw, raw),
        };
        self.last = Some((raw, unwrapped));
        unwrapped
    }

    /// Forgets the history, e.g. after a discontinuity; the next timestamp starts afresh.
    pub fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_is_signed_and_short_way_round() {
        assert_eq!(pts_delta(1000, 4600), 3600);
        assert_eq!(pts_delta(4600, 1000), -3600);
        assert_eq!(pts_delta(PTS_MODULO - 1800, 1800), 3600);
        assert_eq!(pts_delta(1800, PTS_MODULO - 1800), -3600);
    }

    #[test]
    fn unwrapper_keeps_increasing_across_the_wrap() {
        let mut timeline = Unwrapper::default();
        let start = PTS_MODULO - 2 * 3600;
        let seen: Vec<i64> = [start, start + 3600, 0, 3600]
            .into_iter()
            .map(|raw| timeline.unwrap(raw))
            .collect();
        let base = start as i64;
        assert_eq!(seen, vec![base, base + 3600, base + 7200, base + 10800]);
    }

    #[test]
    fn unwrapper_reset_starts_a_new_timeline() {
        let mut timeline = Unwrapper::default();
        timeline.unwrap(90_000);
        timeline.reset();
        assert_eq!(timeline.unwrap(5), 5);
    }
}
