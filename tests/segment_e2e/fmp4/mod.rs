//! `streamrouter segment --format fmp4`: CMAF fragments and init segments, judged by ffmpeg
//! (decoded frames and presentation times against the source TS), ffprobe (the first frame of
//! every fragment read after its init segment is a key frame) and ffprobe's box trace (the box
//! structure, read by ffmpeg's mov demuxer, not by mp4-atom).
//!
//! This file: the helpers. `h264` (H.264 + AAC inputs, errors), `codecs` (HEVC, AC-3, E-AC-3,
//! MPEG audio), `damaged` (the damaged inputs against the TS output of the same input).

use std::process::{Command, Stdio};

use crate::support::*;

mod codecs;
mod damaged;
mod h264;

pub(crate) use h264::encode;

/// Segments `file` from tests/data at 4 s in fMP4.
pub(super) fn segment_fmp4(file: &str) -> Output {
    segment_with(&router::data(file), &["--format", "fmp4"], "index.m3u8")
}

pub(super) use crate::common::ff::{frame_hashes, frame_hashes_with};

/// `(pts_time, key_frame)` of every decoded frame of stream `kind`, as ffprobe reports them.
pub(super) fn presentation(path: &Path, kind: &str) -> Vec<(String, String)> {
    ff::probe(
        path,
        &[
            "-select_streams",
            kind,
            "-show_entries",
            "frame=pts_time,key_frame",
        ],
    )
    .into_iter()
    .filter(|s| s.name == "FRAME")
    .map(|s| {
        let get = |k: &str| s.fields.get(k).cloned().unwrap_or_default();
        (get("pts_time"), get("key_frame"))
    })
    .collect()
}

/// `type:'xxxx' parent:'yyyy'` pairs of ffprobe's box trace of `path`, in file order.
pub(super) fn box_trace(path: &Path) -> Vec<(String, String)> {
    let output = Command::new("ffprobe")
        .args(["-v", "trace", "-hide_banner"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| {
            let kind = line.split("type:'").nth(1)?.get(..4)?;
            let parent = line.split("parent:'").nth(1)?.split('\'').next()?;
            Some((kind.to_owned(), parent.to_owned()))
        })
        .collect()
}

/// The init segment the playlist's first EXT-X-MAP names, read with m3u8-rs.
pub(super) fn first_map(out: &Output) -> String {
    let text = router::read_text(&out.playlist_path);
    let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).expect("a media playlist");
    let first = parsed.segments.first().expect("a segment");
    first
        .map
        .as_ref()
        .expect("EXT-X-MAP before the first segment")
        .uri
        .clone()
}

/// Init segment followed by `fragment`, as a player reads them, in a file of its own.
pub(super) fn joined(out: &Output, init: &str, fragment: &Path) -> PathBuf {
    let mut bytes = router::read(&out.dir.path().join(init));
    bytes.extend(router::read(fragment));
    let name = format!(
        "joined-{}.mp4",
        fragment.file_stem().and_then(|s| s.to_str()).unwrap_or("x")
    );
    let path = out.dir.path().join(name);
    std::fs::write(&path, bytes).expect("write joined file");
    path
}

/// The checks of a 320x240 → 640x360 change in `out` (segmented from `source`): two EXT-X-MAP,
/// init-0 then init-1 after a discontinuity; the decoded frames are the source's (the parameter
/// sets stay in band too, so ffmpeg, which keeps the first init's configuration, decodes across
/// the change); every fragment after the init its EXT-X-MAP names starts with a key frame of the
/// right size.
pub(super) fn check_resolution_change(out: &Output, source: &Path) {
    let text = router::read_text(&out.playlist_path);
    let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).expect("a media playlist");
    let maps: Vec<(usize, String, bool)> = (parsed.segments.iter().enumerate())
        .filter_map(|(i, s)| Some((i, s.map.as_ref()?.uri.clone(), s.discontinuity)))
        .collect();
    assert_eq!(maps.len(), 2, "two EXT-X-MAP:\n{text}");
    assert_eq!(
        (maps[0].1.as_str(), maps[0].2),
        ("segment-init-0.mp4", false)
    );
    assert_eq!(
        (maps[1].1.as_str(), maps[1].2),
        ("segment-init-1.mp4", true),
        "{text}"
    );
    ff::assert_decodes_cleanly(&out.playlist_path);
    for kind in ["v", "a"] {
        assert_eq!(
            frame_hashes(&out.playlist_path, kind),
            frame_hashes(source, kind),
            "decoded {kind} frames vs the source"
        );
    }
    let mut init = String::new();
    for (i, segment) in parsed.segments.iter().enumerate() {
        if let Some(map) = &segment.map {
            init = map.uri.clone();
        }
        let alone = joined(out, &init, &out.dir.path().join(&segment.uri));
        assert_eq!(
            presentation(&alone, "v").first().map(|f| f.1.clone()),
            Some("1".to_owned()),
            "segment {i}: first frame is not a key frame"
        );
        let width = ff::probe(
            &alone,
            &["-select_streams", "v", "-show_entries", "stream=width"],
        )
        .into_iter()
        .find_map(|s| s.fields.get("width").cloned());
        let expected = if i < maps[1].0 { "320" } else { "640" };
        assert_eq!(width.as_deref(), Some(expected), "segment {i} width");
    }
}

/// Two encodes by `encode` (320x240, then 640x360 with timestamps from 10 s) concatenated,
/// segmented at 2 s as fMP4, then [`check_resolution_change`].
pub(super) fn resolution_change_with(encode: fn(&Path, &str, &str, &str)) {
    let work = tempfile::tempdir().expect("temporary directory");
    let (a, b) = (work.path().join("a.ts"), work.path().join("b.ts"));
    encode(&a, "testsrc2", "320x240", "0");
    encode(&b, "testsrc", "640x360", "10");
    let source = work.path().join("ab.ts");
    let mut bytes = router::read(&a);
    bytes.extend(router::read(&b));
    std::fs::write(&source, bytes).expect("write input");

    let out = segment_with(
        &source,
        &["--format", "fmp4", "--target-duration", "2"],
        "index.m3u8",
    );
    check_resolution_change(&out, &source);
}
