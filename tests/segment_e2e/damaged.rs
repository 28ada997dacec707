//! Continuity counters across segments, and damaged or concatenated inputs.

use crate::support::*;

// ------------------------------------------------------------------------------------------
// 2. Continuity counters

#[test]
fn continuity_counters_run_on_across_segments() {
    // The checker itself sees the counters restart where concat.ts's two files were joined.
    let joined = router::read(&router::data("concat.ts"));
    assert!(
        !ts::continuity_errors(&ts::packets(&joined)).is_empty(),
        "continuity checker misses the counter restarts in concat.ts"
    );
    for file in ["h264_aac.ts", "hevc_ac3.ts", "long_gop.ts", "midgop.ts"] {
        let out = segment_4s(file);
        let bytes = out.concatenated();
        let packets = ts::packets(&bytes);
        let errors = ts::continuity_errors(&packets);
        assert!(
            errors.is_empty(),
            "{file}: {} continuity errors in the concatenated segments, e.g. {:?}",
            errors.len(),
            &errors[..errors.len().min(5)]
        );
        // Segments after the first start with PAT/PMT copies: their counters must have run on
        // from the previous segment's, which the walk above checked; make sure there were some.
        assert!(out.segments().len() > 1, "{file}: only one segment");
    }
}

// ------------------------------------------------------------------------------------------
// 3. Damaged inputs

/// Segments a damaged input: it must succeed, end the playlist and start every segment with
/// tables and a keyframe.
fn check_damaged(file: &str, decodes_cleanly: bool) -> Output {
    let out = segment_4s(file);
    assert!(out.playlist.endlist, "{file}: no #EXT-X-ENDLIST");
    assert!(!out.playlist.entries.is_empty(), "{file}: no segment");
    if decodes_cleanly {
        ff::assert_decodes_cleanly(&out.playlist_path);
    }
    for segment in out.segments() {
        assert_starts_with_tables(&segment);
        assert_first_frame_is_key(&segment);
        if decodes_cleanly {
            ff::assert_decodes_cleanly(&segment);
        }
    }
    out
}

#[test]
fn loss_is_segmented_with_full_duration() {
    let out = check_damaged("loss.ts", false);
    let total = out.playlist.total_duration();
    assert!(
        (total - 12.0).abs() <= DURATION_TOLERANCE,
        "loss.ts: EXTINFs {:?} sum to {total:.3} s, expected ~12 s",
        out.playlist.durations()
    );
}

#[test]
fn garbage_is_segmented_and_decodes() {
    let out = check_damaged("garbage.ts", true);
    // The keyframe at 10 s sits right behind junk; resynchronising must keep the clip whole.
    let total = out.playlist.total_duration();
    assert!(
        (total - 12.0).abs() <= DURATION_TOLERANCE,
        "garbage.ts: EXTINFs {:?} sum to {total:.3} s, expected ~12 s",
        out.playlist.durations()
    );
}

#[test]
fn truncated_is_segmented_and_decodes() {
    let out = check_damaged("truncated.ts", true);
    let total = out.playlist.total_duration();
    assert!(
        (7.5..=8.5).contains(&total),
        "truncated.ts holds ~8.2 s of video, EXTINFs {:?} sum to {total:.3} s",
        out.playlist.durations()
    );
}

#[test]
fn concat_marks_the_timestamp_jump_as_discontinuity() {
    let out = segment_4s("concat.ts");
    let playlist = &out.playlist;
    assert!(playlist.endlist, "no #EXT-X-ENDLIST");
    let flags: Vec<bool> = playlist.entries.iter().map(|e| e.discontinuity).collect();
    assert_eq!(
        flags,
        [false, false, true, false],
        "4 segments (4+2 s per part), #EXT-X-DISCONTINUITY before the third only; EXTINFs {:?}",
        playlist.durations()
    );
    // The third segment is the first of the second part: its timestamps are ~1000 s later.
    for (index, segment) in out.segments().iter().enumerate() {
        let first = ff::packets(segment, "v:0")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{}: no video packet", segment.display()));
        let seconds = first.pts.expect("video pts") as f64 / CLOCK_HZ;
        let second_part = index >= 2;
        assert_eq!(
            seconds > 900.0,
            second_part,
            "{}: first video PTS {seconds:.3} s",
            segment.display()
        );
        assert!(
            first.key,
            "{}: does not start with a keyframe",
            segment.display()
        );
        ff::assert_decodes_cleanly(segment);
        assert_starts_with_tables(segment);
        assert_first_frame_is_key(segment);
    }
    let total = playlist.total_duration();
    assert!(
        (total - 12.0).abs() <= DURATION_TOLERANCE,
        "two 6 s parts, EXTINFs {:?} sum to {total:.3} s",
        playlist.durations()
    );
    // ffmpeg's null muxer complains about the DTS step at the discontinuity (it does so for the
    // input too); nothing else may be reported.
    let messages = ff::decode(&out.playlist_path).unwrap_or_else(|e| panic!("{e}"));
    let other: Vec<&str> = messages
        .lines()
        .filter(|l| !l.contains("non monotonically increasing dts"))
        .collect();
    assert!(other.is_empty(), "concat playlist decode errors: {other:?}");
}
