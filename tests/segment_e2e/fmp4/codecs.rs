//! fMP4 of the codecs past H.264 + AAC: HEVC (tests/data/hevc_ac3.ts, and a resolution change
//! made here with x265), AC-3, E-AC-3, MPEG-1 layer II and MPEG-1/2 layer III audio (clips made
//! here with ffmpeg into a temporary directory: tests/data has no MP2 input fMP4 can carry,
//! its mpeg2_mp2.ts having MPEG-2 video).

use std::process::{Command, Stdio};

use super::*;

/// Runs ffmpeg with `args` (inputs, codecs), writing MPEG-TS to `path`.
fn make(path: &Path, args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .args(["-f", "mpegts"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "making {}", path.display());
}

/// Six seconds of test picture (25 fps, 320x240) and tone.
const AV: [&str; 10] = [
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=320x240:rate=25",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    "-t",
    "6",
];

/// Presentation times as numbers, for audio whose frame length is not a whole number of
/// 90 kHz ticks (the TS rounds every PTS, the fMP4 counts samples): equal within 0.1 ms.
fn times(path: &Path, kind: &str) -> Vec<(f64, String)> {
    presentation(path, kind)
        .into_iter()
        .map(|(t, key)| (t.parse().expect("pts_time"), key))
        .collect()
}

fn assert_same_times(ours: &Path, source: &Path, kind: &str, what: &str) {
    let (a, b) = (times(ours, kind), times(source, kind));
    assert_eq!(a.len(), b.len(), "{what}: {kind} frame count");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x.0 - y.0).abs() < 1e-4 && x.1 == y.1,
            "{what}: {kind} frame {i}: {x:?} vs the source's {y:?}"
        );
    }
}

/// The common checks: decoded frames (hashes) and presentation times equal the source's,
/// every fragment read after its init starts with a key frame (when there is video) and
/// decodes cleanly, and ffmpeg's mov demuxer finds the sample entries `tags` with their
/// configuration `boxes`. `audio_decoder`: input options choosing the audio decoder for both
/// sides.
fn check(
    what: &str,
    source: &Path,
    out: &Output,
    (tags, boxes): (&[&str], &[&str]),
    audio_decoder: &[&str],
) {
    let video = !presentation(source, "v").is_empty();
    let kinds: &[&str] = if video { &["v", "a"] } else { &["a"] };
    for &kind in kinds {
        let options = if kind == "a" { audio_decoder } else { &[] };
        assert_eq!(
            frame_hashes_with(&out.playlist_path, kind, options),
            frame_hashes_with(source, kind, options),
            "{what}: decoded {kind} frames of the fMP4 playlist vs the source"
        );
        assert_same_times(&out.playlist_path, source, kind, what);
    }
    let init = first_map(out);
    for segment in out.segments() {
        let alone = joined(out, &init, &segment);
        if video {
            assert_eq!(
                presentation(&alone, "v").first().map(|f| f.1.as_str()),
                Some("1"),
                "{what}: first frame of {} is not a key frame",
                segment.display()
            );
        }
        ff::assert_decodes_cleanly(&alone);
    }
    let first = out.segments().into_iter().next().expect("a segment");
    let first = joined(out, &init, &first);
    let found: Vec<String> = ff::probe(&first, &["-show_entries", "stream=codec_tag_string"])
        .into_iter()
        .filter_map(|s| s.fields.get("codec_tag_string").cloned())
        .collect();
    assert_eq!(found, tags, "{what}: sample entries");
    let trace = box_trace(&first);
    for expected in boxes {
        assert!(
            trace.iter().any(|(kind, _)| kind == expected),
            "{what}: no {expected} box in {trace:?}"
        );
    }
}

#[test]
fn hevc_and_ac3_give_the_same_decoded_frames() {
    let source = router::data("hevc_ac3.ts");
    let out = segment_fmp4("hevc_ac3.ts");
    assert_eq!(
        ff::codec_names(&out.playlist_path),
        ff::codec_names(&source)
    );
    check(
        "hevc_ac3",
        &source,
        &out,
        (&["hvc1", "ac-3"], &["hvcC", "dac3"]),
        &[],
    );
}

#[test]
fn eac3_gives_the_same_decoded_frames() {
    let work = tempfile::tempdir().expect("temporary directory");
    let source = work.path().join("h264_eac3.ts");
    let mut args = AV.to_vec();
    args.extend(["-c:v", "libx264", "-g", "25", "-bf", "2", "-c:a", "eac3"]);
    make(&source, &args);
    let out = segment_with(&source, &["--format", "fmp4"], "index.m3u8");
    check(
        "h264_eac3",
        &source,
        &out,
        (&["avc1", "ec-3"], &["avcC", "dec3"]),
        &[],
    );
}

#[test]
fn mp2_audio_gives_the_same_decoded_frames() {
    // ffmpeg's mov demuxer reads object type 0x6B as "mp3" (its own MP4 muxer writes MP2 so,
    // and reads it back the same way) and picks its float decoder, where the TS gets the
    // fixed-point MP2 one: the samples are the same bits only through the same decoder.
    let work = tempfile::tempdir().expect("temporary directory");
    let source = work.path().join("h264_mp2.ts");
    let mut args = AV.to_vec();
    args.extend(["-c:v", "libx264", "-g", "25", "-bf", "2", "-c:a", "mp2"]);
    make(&source, &args);
    let out = segment_with(&source, &["--format", "fmp4"], "index.m3u8");
    check(
        "h264_mp2",
        &source,
        &out,
        (&["avc1", "mp4a"], &["avcC", "esds"]),
        &["-c:a", "mp2"],
    );
}

#[test]
fn mp3_only_at_mpeg1_and_mpeg2_rates_gives_the_same_decoded_frames() {
    // 44.1 kHz is MPEG-1 layer III (1152 samples a frame), 22.05 kHz MPEG-2 (576).
    for rate in ["44100", "22050"] {
        let work = tempfile::tempdir().expect("temporary directory");
        let source = work.path().join(format!("mp3_{rate}.ts"));
        let tone = format!("sine=frequency=440:sample_rate={rate}");
        make(
            &source,
            &["-f", "lavfi", "-i", &tone, "-t", "6", "-c:a", "libmp3lame"],
        );
        let out = segment_with(&source, &["--format", "fmp4"], "index.m3u8");
        check(
            &format!("mp3 {rate} Hz"),
            &source,
            &out,
            (&["mp4a"], &["esds"]),
            &[],
        );
    }
}

/// Encodes 4 s of `picture` at `size` with x265 (B-frames, a key frame a second) and AC-3,
/// starting at `offset` seconds.
fn encode_hevc(path: &Path, picture: &str, size: &str, offset: &str) {
    let video = format!("{picture}=size={size}:rate=25");
    make(
        path,
        &[
            "-f",
            "lavfi",
            "-i",
            &video,
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "4",
            "-c:v",
            "libx265",
            "-x265-params",
            "keyint=25:min-keyint=25:bframes=2:log-level=error",
            "-c:a",
            "ac3",
            "-output_ts_offset",
            offset,
        ],
    );
}

#[test]
fn an_hevc_resolution_change_gets_a_new_init_map_and_discontinuity() {
    resolution_change_with(encode_hevc);
}
