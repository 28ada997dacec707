//! fMP4 of H.264 + AAC inputs (B-frames, long and irregular GOPs, audio only, PTS wrap, a
//! resolution change) and the inputs fMP4 refuses.

use std::process::{Command, Stdio};

use super::*;

fn check_av(file: &str) {
    let source = router::data(file);
    let out = segment_fmp4(file);
    let playlist = &out.playlist;
    assert_eq!(
        playlist.version,
        Some(7),
        "{file}: EXT-X-VERSION with EXT-X-MAP"
    );
    assert!(
        playlist.independent_segments,
        "{file}: EXT-X-INDEPENDENT-SEGMENTS"
    );
    assert!(playlist.endlist, "{file}: EXT-X-ENDLIST");
    let init = first_map(&out);
    assert_eq!(init, "segment-init-0.mp4", "{file}: default init name");
    assert!(
        playlist.uris().iter().all(|u| u.ends_with(".m4s")),
        "{file}: segment names {:?}",
        playlist.uris()
    );

    // Decoded frames identical and in order, presented at the same times with the same key
    // frames, video and audio.
    for kind in ["v", "a"] {
        assert_eq!(
            frame_hashes(&out.playlist_path, kind),
            frame_hashes(&source, kind),
            "{file}: decoded {kind} frames of the fMP4 playlist vs the source"
        );
        assert_eq!(
            presentation(&out.playlist_path, kind),
            presentation(&source, kind),
            "{file}: {kind} presentation times and key frames vs the source"
        );
    }

    // Every fragment, read after its init segment, starts with a key frame and decodes alone.
    for segment in out.segments() {
        let alone = joined(&out, &init, &segment);
        let frames = presentation(&alone, "v");
        assert_eq!(
            frames.first().map(|f| f.1.as_str()),
            Some("1"),
            "{file}: first frame of {} is not a key frame",
            segment.display()
        );
        ff::assert_decodes_cleanly(&alone);
    }

    // The boxes, as ffmpeg's mov demuxer walks them.
    let first = out.segments().into_iter().next().expect("a segment");
    let boxes = box_trace(&joined(&out, &init, &first));
    let pair = |k: &str, p: &str| (k.to_owned(), p.to_owned());
    for expected in [
        pair("ftyp", "root"),
        pair("moov", "root"),
        pair("mvhd", "moov"),
        pair("mvex", "moov"),
        pair("trex", "mvex"),
        pair("trak", "moov"),
        pair("tkhd", "trak"),
        pair("mdhd", "mdia"),
        pair("hdlr", "mdia"),
        pair("stsd", "stbl"),
        pair("avcC", "stsd"),
        pair("esds", "stsd"),
        pair("vmhd", "minf"),
        pair("smhd", "minf"),
        pair("moof", "root"),
        pair("mfhd", "moof"),
        pair("traf", "moof"),
        pair("tfhd", "traf"),
        pair("tfdt", "traf"),
        pair("trun", "traf"),
        pair("mdat", "root"),
    ] {
        assert!(
            boxes.contains(&expected),
            "{file}: no {expected:?} in {boxes:?}"
        );
    }
    let top: Vec<&str> = boxes
        .iter()
        .filter(|(_, parent)| parent == "root")
        .map(|(kind, _)| kind.as_str())
        .collect();
    assert_eq!(
        top,
        ["ftyp", "moov", "moof", "mdat"],
        "{file}: top-level boxes"
    );
    assert_eq!(
        boxes.iter().filter(|b| b.0 == "traf").count(),
        2,
        "{file}: one traf per track"
    );
}

#[test]
fn h264_aac_with_b_frames_gives_the_same_decoded_frames() {
    check_av("h264_aac.ts");
}

#[test]
fn long_gop_gives_the_same_decoded_frames() {
    check_av("long_gop.ts");
}

#[test]
fn irregular_gop_gives_the_same_decoded_frames() {
    check_av("irregular_gop.ts");
}

#[test]
fn aac_only_has_no_video_track() {
    let source = router::data("aac_only.ts");
    let out = segment_fmp4("aac_only.ts");
    assert_eq!(out.playlist.version, Some(7));
    assert_eq!(
        frame_hashes(&out.playlist_path, "a"),
        frame_hashes(&source, "a"),
        "decoded audio frames vs the source"
    );
    assert_eq!(
        presentation(&out.playlist_path, "a"),
        presentation(&source, "a"),
        "audio presentation times vs the source"
    );
    let init = first_map(&out);
    let first = out.segments().into_iter().next().expect("a segment");
    let boxes = box_trace(&joined(&out, &init, &first));
    assert_eq!(
        boxes.iter().filter(|b| b.0 == "trak").count(),
        1,
        "{boxes:?}"
    );
    assert!(!boxes.iter().any(|b| b.0 == "avcC"), "{boxes:?}");
    assert_eq!(
        ff::codec_names(&out.playlist_path),
        ff::codec_names(&source)
    );
}

#[test]
fn pts_wrap_keeps_frames_and_timing() {
    // The fMP4 timeline is unwrapped (it keeps increasing past 2^33), the source's as ffprobe
    // shows it wraps: the decoded frames match, and every frame sits at the same distance from
    // the first one.
    let source = router::data("ptswrap.ts");
    let out = segment_fmp4("ptswrap.ts");
    for kind in ["v", "a"] {
        assert_eq!(
            frame_hashes(&out.playlist_path, kind),
            frame_hashes(&source, kind),
            "decoded {kind} frames vs the source"
        );
        let relative = |path: &Path| -> Vec<i64> {
            let times: Vec<f64> = presentation(path, kind)
                .iter()
                .map(|(t, _)| t.parse::<f64>().expect("pts_time"))
                .collect();
            let ticks: Vec<i64> = times
                .iter()
                .map(|t| (t * CLOCK_HZ).round() as i64)
                .collect();
            let unwrapped = ff::unwrap_timestamps(ticks);
            unwrapped.iter().map(|t| t - unwrapped[0]).collect()
        };
        let ours = relative(&out.playlist_path);
        let theirs = relative(&source);
        assert_eq!(ours.len(), theirs.len());
        assert!(
            ours.iter().zip(&theirs).all(|(a, b)| (a - b).abs() <= 1),
            "{kind}: frame times relative to the first differ"
        );
    }
}

#[test]
fn codecs_without_fmp4_support_fail_clearly() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = router::segment(
        &router::data("mpeg2_mp2.ts"),
        dir.path(),
        &["--format", "fmp4"],
    );
    run.assert_failure();
    assert!(
        run.stderr.contains("cannot write fMP4")
            && run
                .stderr
                .contains("video must be H.264 or HEVC (not MPEG-1/2 video)"),
        "stderr: {}",
        run.stderr
    );
}

#[test]
fn the_raw_cut_is_for_ts_only() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = router::segment(
        &router::data("h264_aac.ts"),
        dir.path(),
        &["--format", "fmp4", "--no-repeat-headers"],
    );
    run.assert_failure();
    assert!(
        run.stderr.contains("--no-repeat-headers"),
        "stderr: {}",
        run.stderr
    );
}

/// Encodes `seconds` of a lavfi test source at `size` with x264 (B-frames) and AAC, starting at
/// `offset` seconds, into `path`.
pub(crate) fn encode(path: &Path, source: &str, size: &str, offset: &str) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("{source}=size={size}:rate=25"))
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "4",
        ])
        .args(["-c:v", "libx264", "-g", "25", "-bf", "2", "-c:a", "aac"])
        .args(["-output_ts_offset", offset, "-f", "mpegts"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "encoding {}", path.display());
}

#[test]
fn a_resolution_change_gets_a_new_init_map_and_discontinuity() {
    resolution_change_with(encode);
}
