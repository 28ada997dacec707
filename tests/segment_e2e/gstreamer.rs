//! GStreamer (`playbin3` → `hlsdemux2`, over HTTP) plays what `segment` writes, TS and fMP4:
//! every video frame it decodes equals, byte for byte, what ffmpeg decodes from the source
//! TS, and its audio has exactly the source's samples (within one LSB: the two convert the
//! decoder's float samples to 16 bits with different rounding).

use crate::common::gst::{self, HttpFiles};
use crate::support::*;

/// Plays `file` segmented in `format` with GStreamer and compares with the source.
fn plays_like_the_source(file: &str, format: &str, has_video: bool) {
    let source = router::data(file);
    let out = segment_with(&source, &["--format", format], "index.m3u8");
    let server = HttpFiles::serve(out.dir.path());
    let scratch = tempfile::tempdir().expect("scratch directory");
    let played = gst::play(&server.url("index.m3u8"), scratch.path());

    if has_video {
        let want = gst::ffmpeg_decoded(&source, "v");
        let frame = frame_bytes(&source);
        assert_eq!(
            played.video.len() % frame,
            0,
            "{file} ({format}): GStreamer wrote a partial frame"
        );
        let (got_frames, want_frames) = (played.video.len() / frame, want.len() / frame);
        let first_difference = played
            .video
            .chunks(frame)
            .zip(want.chunks(frame))
            .position(|(a, b)| a != b);
        assert!(
            got_frames == want_frames && first_difference.is_none(),
            "{file} ({format}): GStreamer decoded {got_frames} frames, the source has \
             {want_frames}; first differing frame {first_difference:?}\n{}",
            played.log
        );
    } else {
        assert!(
            played.video.is_empty(),
            "{file} ({format}): video from an audio-only input"
        );
    }

    let want = gst::ffmpeg_decoded(&source, "a");
    assert_eq!(
        played.audio.len(),
        want.len(),
        "{file} ({format}): GStreamer decoded {} audio bytes, ffmpeg {} from the source",
        played.audio.len(),
        want.len()
    );
    let worst = played
        .audio
        .chunks_exact(2)
        .zip(want.chunks_exact(2))
        .map(|(a, b)| {
            (i32::from(i16::from_le_bytes([a[0], a[1]]))
                - i32::from(i16::from_le_bytes([b[0], b[1]])))
            .abs()
        })
        .max()
        .unwrap_or(0);
    assert!(
        worst <= 1,
        "{file} ({format}): audio samples differ from the source's by up to {worst}"
    );
}

/// Bytes of one I420 frame of the source's video.
fn frame_bytes(source: &Path) -> usize {
    let sections = ff::probe(
        source,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
        ],
    );
    let stream = sections
        .iter()
        .find(|section| section.name == "STREAM")
        .expect("a video stream");
    let dimension = |key: &str| -> usize {
        stream
            .fields
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("ffprobe gave no {key} for {}", source.display()))
    };
    let (width, height) = (dimension("width"), dimension("height"));
    width * height + 2 * (width.div_ceil(2) * height.div_ceil(2))
}

#[test]
fn gstreamer_plays_fmp4_h264_aac_like_the_source() {
    plays_like_the_source("h264_aac.ts", "fmp4", true);
}

#[test]
fn gstreamer_plays_fmp4_audio_only_like_the_source() {
    plays_like_the_source("aac_only.ts", "fmp4", false);
}

#[test]
fn gstreamer_plays_ts_h264_aac_like_the_source() {
    plays_like_the_source("h264_aac.ts", "ts", true);
}

#[test]
fn gstreamer_plays_fmp4_across_a_pts_wrap_like_the_source() {
    plays_like_the_source("ptswrap.ts", "fmp4", true);
}
