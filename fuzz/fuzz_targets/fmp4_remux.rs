//! Segments of arbitrary bytes remuxed to fMP4 by one feed's remuxer (issue 17): an error for
//! anything that is not a usable TS segment, never a panic. The input is cut into up to four
//! "segments" at 0xFF 0xFF 0xFF 0xFF markers (so one run carries state across segments: DTS
//! unwrapping, durations, init changes); a segment starting with 0xD1 marks a discontinuity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamrouter::media::fmp4::Remuxer;

const MARKER: [u8; 4] = [0xFF; 4];

fuzz_target!(|data: &[u8]| {
    let mut remuxer = Remuxer::new();
    let mut rest = data;
    for _ in 0..4 {
        let end = (rest.windows(4).position(|w| w == MARKER)).unwrap_or(rest.len());
        let (segment, after) = rest.split_at(end);
        let discontinuity = segment.first() == Some(&0xD1);
        let next_dts = segment.get(1..6).map(|b| {
            b.iter()
                .fold(0u64, |dts, byte| (dts << 8) | u64::from(*byte))
                & ((1 << 33) - 1)
        });
        let _ = remuxer.remux(segment, discontinuity, next_dts);
        if after.len() < 4 {
            break;
        }
        rest = &after[4..];
    }
});
