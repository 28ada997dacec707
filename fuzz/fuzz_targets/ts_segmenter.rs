//! Bytes from a live input, in chunks of the sizes the input gives, through the framer and the
//! segmenter (PAT/PMT, PES timing and keyframe detection behind it): nothing may panic, and
//! every segment is made of whole packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamrouter::media::PACKET_SIZE;
use streamrouter::media::framing::TsFramer;
use streamrouter::segmenter::{Segmenter, SegmenterConfig};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, so reads split packets anywhere.
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1) * 7;
    let mut framer = TsFramer::new();
    let mut segmenter = Segmenter::new(SegmenterConfig {
        target_duration: 0.5,
        ..SegmenterConfig::default()
    });
    let mut segments = Vec::new();
    for piece in data.chunks(chunk) {
        framer.push(piece, |packet| segmenter.push(packet, &mut segments));
    }
    framer.finish(|packet| segmenter.push(packet, &mut segments));
    segmenter.finish(&mut segments);
    for segment in &segments {
        assert_eq!(segment.data.len() % PACKET_SIZE, 0);
    }
});
