//! Shared numbering of renditions: the variants of one master playlist give segment N the same
//! media sequence number when they cut it at the same PTS, whichever variant started first or
//! joined late.
//!
//! Aligned segmenters cut at the first keyframe of each cell of the PTS grid (PTS / target
//! duration), so a segment is known by its cell. The first variant to number a segment anchors
//! the grid to its number; the others number by cell from that anchor. A variant's numbers must
//! still go up by exactly one per segment (RFC 8216 numbers segments by position), so a variant
//! that skipped a cell (a keyframe missing at the boundary) keeps its own count and is reported
//! misaligned by the master. Pure: no clock, no I/O; the playlist tasks share one behind a lock.

/// The anchor of a master's numbering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenditionClock {
    anchor: Option<(i64, u64)>,
}

/// What a variant is about to number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// The segment's cell on the PTS grid.
    pub cell: i64,
    /// The number the variant would give it on its own (one more than its last).
    pub own_next: u64,
    /// The variant has numbered nothing yet in this run: it may start at any number.
    pub fresh: bool,
    /// The segment starts a new timeline (a restarted or looping source): its cells are not
    /// comparable with the ones before.
    pub discontinuity: bool,
}

impl RenditionClock {
    /// The number of the segment `cut`.
    pub fn number(&mut self, cut: Cut) -> u64 {
        let Some((cell, sequence)) = self.anchor else {
            self.anchor = Some((cut.cell, cut.own_next));
            return cut.own_next;
        };
        let mapped = i128::from(sequence) + i128::from(cut.cell) - i128::from(cell);
        if mapped == i128::from(cut.own_next) {
            return cut.own_next;
        }
        if cut.fresh && mapped > i128::from(cut.own_next) {
            // Joining late: take the number the others gave (or will give) this cell.
            return u64::try_from(mapped).unwrap_or(cut.own_next);
        }
        if cut.discontinuity {
            // The first variant on a new timeline anchors it; the others follow in step.
            self.anchor = Some((cut.cell, cut.own_next));
        }
        cut.own_next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(cell: i64, own_next: u64) -> Cut {
        Cut {
            cell,
            own_next,
            fresh: false,
            discontinuity: false,
        }
    }

    #[test]
    fn variants_in_step_share_numbers() {
        let mut clock = RenditionClock::default();
        assert_eq!(clock.number(cut(100, 7)), 7);
        assert_eq!(clock.number(cut(100, 7)), 7);
        assert_eq!(clock.number(cut(101, 8)), 8);
    }

    #[test]
    fn a_late_variant_takes_the_number_of_its_cell() {
        let mut clock = RenditionClock::default();
        clock.number(cut(100, 7));
        let late = Cut {
            fresh: true,
            ..cut(104, 1)
        };
        assert_eq!(clock.number(late), 11);
    }

    #[test]
    fn a_variant_that_skipped_a_cell_keeps_counting_by_one() {
        let mut clock = RenditionClock::default();
        clock.number(cut(100, 7));
        // Its keyframe at cell 101 was missing: its next segment is cell 102 but number 8.
        assert_eq!(clock.number(cut(102, 8)), 8);
    }

    #[test]
    fn a_new_timeline_re_anchors_the_group() {
        let mut clock = RenditionClock::default();
        clock.number(cut(100, 7));
        let looped = Cut {
            discontinuity: true,
            ..cut(3, 9)
        };
        assert_eq!(clock.number(looped), 9);
        // The other variant loops at the same place and is in step again.
        assert_eq!(clock.number(looped), 9);
        assert_eq!(clock.number(cut(4, 10)), 10);
    }
}
