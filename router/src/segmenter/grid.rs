//! The PTS grid aligned segmenters cut on, shared by the renditions of one program: its cells
//! are `target_duration` long, and its phase is where the video renditions' keyframes fall.
//!
//! The first video rendition to see a keyframe sets the phase (its PTS modulo the cell); every
//! other rendition, an audio-only one in particular, cuts on that phase, so all of them start
//! segment N at the same PTS. Until a phase is known, cells start at PTS 0. Owns the phase; no
//! clock, no I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Not set yet.
const UNKNOWN: i64 = i64::MIN;
/// How early an audio cut (or any segment start, when numbering) may fall before a cell's start
/// and still count for that cell: 100 ms.
pub const AUDIO_GRID_SLACK: i64 = 9_000;

/// The phase of a shared grid (90 kHz ticks, within one cell).
#[derive(Debug, Clone)]
pub struct GridPhase(Arc<AtomicI64>);

impl Default for GridPhase {
    fn default() -> Self {
        Self(Arc::new(AtomicI64::new(UNKNOWN)))
    }
}

impl PartialEq for GridPhase {
    /// The same grid, not the same value.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl GridPhase {
    /// The phase, once a video rendition set it.
    pub fn get(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|phase| *phase != UNKNOWN)
    }

    /// A video rendition's keyframe at `pts` on a grid of `cell_ticks`: sets the phase unless
    /// another did first. Returns the phase in force.
    pub fn offer(&self, pts: i64, cell_ticks: i64) -> i64 {
        let phase = pts.rem_euclid(cell_ticks.max(1));
        match self
            .0
            .compare_exchange(UNKNOWN, phase, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => phase,
            Err(set) => set,
        }
    }

    /// The cell of `pts` on a grid of `cell_ticks`, with `slack` ticks of tolerance for a
    /// keyframe a little early.
    pub fn cell(&self, pts: i64, cell_ticks: i64, slack: i64) -> i64 {
        let phase = self.get().unwrap_or(0);
        (pts - phase + slack).div_euclid(cell_ticks.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_video_keyframe_sets_the_phase_for_everyone() {
        let grid = GridPhase::default();
        assert_eq!(grid.get(), None);
        assert_eq!(grid.cell(180_000, 180_000, 0), 1);
        assert_eq!(grid.offer(133_200, 180_000), 133_200);
        // A rendition that joined a GOP later keeps the first phase.
        assert_eq!(grid.offer(313_200 + 90_000, 180_000), 133_200);
        assert_eq!(grid.cell(313_200, 180_000, 1800), 1);
        assert_eq!(grid.cell(313_199 - 1800, 180_000, 1800), 0);
        assert_eq!(grid.clone(), grid);
        assert_ne!(GridPhase::default(), grid);
    }
}
