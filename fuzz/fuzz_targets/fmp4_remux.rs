//! Segments of arbitrary bytes remuxed to fMP4 by one feed's remuxer (issue 17): an error for
//! anything that is not a usable TS segment, never a panic. The input is cut into up to four
//! "segments" at `--cut--` markers (so one run carries state across segments: DTS unwrapping,
//! durations, init changes); a segment starting with 0xD1 marks a discontinuity. The marker was
//! four 0xFF bytes until the corpus got whole segments: TS stuffing is 0xFF runs, so every
//! segment fell apart into packet pieces that never reached a codec.
//!
//! The HEVC path reads SPSs with scuffle-h265, which panics on some malformed ones; the remuxer
//! catches that (`media::stream_info::hevc`). libFuzzer's panic hook would abort on the caught
//! panic too, so, as in the `stream_info` target, the default hook is replaced by a silent one:
//! a panic that escapes `remux` still aborts, through libfuzzer-sys's own catch.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use streamrouter::media::fmp4::Remuxer;

const MARKER: &[u8; 7] = b"--cut--";

static DEFAULT_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    DEFAULT_HOOK.call_once(|| {
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
    });
    let mut remuxer = Remuxer::new();
    let mut rest = data;
    for _ in 0..4 {
        let end = (rest.windows(MARKER.len()).position(|w| w == MARKER)).unwrap_or(rest.len());
        let (segment, after) = rest.split_at(end);
        let discontinuity = segment.first() == Some(&0xD1);
        let next_dts = segment.get(1..6).map(|b| {
            b.iter()
                .fold(0u64, |dts, byte| (dts << 8) | u64::from(*byte))
                & ((1 << 33) - 1)
        });
        let _ = remuxer.remux(segment, discontinuity, next_dts);
        if after.len() < MARKER.len() {
            break;
        }
        rest = &after[MARKER.len()..];
    }
});
