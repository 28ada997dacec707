//! A codec configuration change inside what would be one segment (an encoder switching
//! resolution at a keyframe, timestamps continuous): the segmenter cuts at that keyframe and
//! marks the new segment as a discontinuity, in TS and in fMP4 (where it also gets a new init
//! segment), so no segment mixes two configurations; decoded frames stay the source's.

use super::fmp4::{encode, frame_hashes};
use crate::support::*;

/// 4 s at 320x240 then 4 s at 640x360, timestamps continuous (the second starts where the
/// first ends), keyframes every second.
pub(crate) fn resolution_change(dir: &Path) -> PathBuf {
    let (a, b) = (dir.join("a.ts"), dir.join("b.ts"));
    encode(&a, "testsrc2", "320x240", "0");
    // 4.12 s: the first DTS of the second encode (B-frames: two frames before its PTS) after
    // the last one of the first.
    encode(&b, "testsrc", "640x360", "4.12");
    let source = dir.join("ab.ts");
    let mut bytes = router::read(&a);
    bytes.extend(router::read(&b));
    std::fs::write(&source, bytes).expect("write input");
    source
}

fn width(path: &Path) -> Option<String> {
    ff::probe(
        path,
        &["-select_streams", "v", "-show_entries", "stream=width"],
    )
    .into_iter()
    .find_map(|s| s.fields.get("width").cloned())
}

fn check(format: &str) {
    let work = tempfile::tempdir().expect("temporary directory");
    let source = resolution_change(work.path());
    // A target far longer than the input: without the change it would be one segment.
    let out = segment_with(
        &source,
        &["--format", format, "--target-duration", "20"],
        "index.m3u8",
    );
    let text = router::read_text(&out.playlist_path);
    let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).expect("a media playlist");
    let flags: Vec<bool> = parsed.segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, [false, true], "{format}: cut at the change:\n{text}");
    ff::assert_decodes_cleanly(&out.playlist_path);
    for kind in ["v", "a"] {
        assert_eq!(
            frame_hashes(&out.playlist_path, kind),
            frame_hashes(&source, kind),
            "{format}: decoded {kind} frames vs the source"
        );
    }
    if format == "ts" {
        let widths: Vec<Option<String>> = out.segments().iter().map(|s| width(s)).collect();
        assert_eq!(
            widths,
            [Some("320".to_owned()), Some("640".to_owned())],
            "ts segment widths"
        );
    } else {
        let maps: Vec<Option<String>> = (parsed.segments.iter())
            .map(|s| s.map.as_ref().map(|m| m.uri.clone()))
            .collect();
        assert_eq!(
            maps,
            [
                Some("segment-init-0.mp4".to_owned()),
                Some("segment-init-1.mp4".to_owned())
            ],
            "a new EXT-X-MAP at the change:\n{text}"
        );
        for (init, want) in [("segment-init-0.mp4", "320"), ("segment-init-1.mp4", "640")] {
            assert_eq!(
                width(&out.dir.path().join(init)).as_deref(),
                Some(want),
                "{init} describes the video it precedes"
            );
        }
    }
}

#[test]
fn a_resolution_change_mid_segment_starts_a_new_ts_segment() {
    check("ts");
}

#[test]
fn a_resolution_change_mid_segment_starts_a_new_fmp4_segment_and_init() {
    check("fmp4");
}
