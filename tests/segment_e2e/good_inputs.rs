//! Clean inputs of every codec: decoding, cut points, durations, packet content.

use crate::support::*;

// ------------------------------------------------------------------------------------------
// 1. Good inputs

/// A clean input and what segmenting it at 4 s must give.
pub(crate) struct Case {
    file: &'static str,
    /// Has a video stream (else the cuts are on audio).
    video: bool,
    /// EXT-X-TARGETDURATION by the policy of router/src/playlist/mod.rs: 4, raised to the
    /// longest rounded segment when a GOP overruns it.
    target_duration: u64,
    /// The input's video keyframes, seconds after its first one (tests/data/README.md).
    keyframes: &'static [f64],
    /// Expected segment start times, seconds after the input's first keyframe: the first
    /// keyframe at or after (previous start + target) (video inputs only).
    starts: &'static [f64],
}

pub(crate) fn check_good_input(case: &Case) {
    let input = router::data(case.file);
    let out = segment_4s(case.file);
    let playlist = &out.playlist;
    let segments = out.segments();
    let name = case.file;
    assert!(playlist.endlist, "{name}: no #EXT-X-ENDLIST");
    assert_eq!(playlist.version, Some(3), "{name}: EXT-X-VERSION");
    assert_eq!(playlist.media_sequence, Some(1), "{name}: media sequence");
    assert_eq!(
        playlist.playlist_type.as_deref(),
        Some("EVENT"),
        "{name}: a file keeps every segment: an EVENT playlist"
    );
    assert!(!segments.is_empty(), "{name}: no segment");
    assert_eq!(
        ff::codec_names(&out.playlist_path),
        ff::codec_names(&input),
        "{name}: streams of the playlist vs the input"
    );
    assert!(
        playlist.independent_segments,
        "{name}: #EXT-X-INDEPENDENT-SEGMENTS missing with repeated headers"
    );

    // (a) the playlist plays through a real HLS demuxer and decoders without a single error.
    ff::assert_decodes_cleanly(&out.playlist_path);

    // (b) every segment decodes alone; (c) it starts with PAT, PMT and a keyframe.
    for segment in &segments {
        ff::assert_decodes_cleanly(segment);
        let streams = assert_starts_with_tables(segment);
        assert_eq!(
            streams.iter().any(ts::PmtStream::is_video),
            case.video,
            "{}: video stream in PMT",
            segment.display()
        );
        if case.video {
            assert_first_frame_is_key(segment);
        }
    }

    // (f) every EXTINF fits the declared target duration, which follows the policy.
    let declared = playlist.target_duration.expect("EXT-X-TARGETDURATION");
    let longest = playlist
        .durations()
        .iter()
        .map(|d| d.round() as u64)
        .max()
        .unwrap_or(0);
    for entry in &playlist.entries {
        assert!(
            entry.duration.round() as u64 <= declared,
            "{name}: {} has EXTINF {} > EXT-X-TARGETDURATION {declared}",
            entry.uri,
            entry.duration
        );
    }
    assert_eq!(
        declared,
        longest.max(TARGET as u64),
        "{name}: EXT-X-TARGETDURATION must be the target (4) raised to the longest rounded \
         EXTINF ({:?})",
        playlist.durations()
    );
    assert_eq!(
        declared, case.target_duration,
        "{name}: EXT-X-TARGETDURATION"
    );

    let in_audio = ff::packets(&input, "a:0");
    let out_audio = ff::packets(&out.playlist_path, "a:0");
    if case.video {
        check_video(case, &input, &out, &in_audio, &out_audio);
    } else {
        // Audio is the main stream: every audio packet is a random access point, so all of it
        // is kept. (d) for this input: aac_only_extinf_sum_matches_the_audio.
        assert_same_packets(
            &format!("{name}: audio of the playlist"),
            &out_audio,
            &in_audio,
        );
    }
}

pub(crate) fn check_video(
    case: &Case,
    input: &Path,
    out: &Output,
    in_audio: &[ff::Packet],
    out_audio: &[ff::Packet],
) {
    let name = case.file;
    let playlist = &out.playlist;
    let in_video = ff::packets(input, "v:0");
    let first_key = in_video
        .iter()
        .position(|p| p.key)
        .unwrap_or_else(|| panic!("{name}: ffprobe finds no video keyframe in the input"));
    let in_video = &in_video[first_key..];
    let frame_ticks = in_video[0]
        .duration
        .filter(|&d| d > 0)
        .unwrap_or_else(|| panic!("{name}: no video frame duration"));
    let frame = frame_ticks as f64 / CLOCK_HZ;

    // (e) the playlist's video is exactly the input's from the first keyframe on.
    let out_video = ff::packets(&out.playlist_path, "v:0");
    assert_same_packets(
        &format!("{name}: video of the playlist vs the input's from its first keyframe"),
        &out_video,
        in_video,
    );
    // … and its audio a contiguous run of the input's that ends where the input ends and starts
    // around the first keyframe.
    assert!(!out_audio.is_empty(), "{name}: no audio in the playlist");
    assert!(
        out_audio.len() <= in_audio.len(),
        "{name}: more audio packets out than in"
    );
    assert_same_packets(
        &format!("{name}: audio of the playlist vs the end of the input's"),
        out_audio,
        &in_audio[in_audio.len() - out_audio.len()..],
    );
    let lead = ticks_between(
        out_audio[0].pts.expect("audio pts"),
        in_video[0].pts.expect("video pts"),
    ) as f64
        / CLOCK_HZ;
    assert!(
        lead.abs() <= 0.5,
        "{name}: playlist audio starts {lead:.3} s from the first keyframe"
    );

    // (d) the playlist lasts as long as the input's video from the first keyframe on.
    let media: i64 = in_video.iter().map(|p| p.duration.unwrap_or(0)).sum();
    let media = media as f64 / CLOCK_HZ;
    let total = playlist.total_duration();
    assert!(
        (total - media).abs() <= DURATION_TOLERANCE,
        "{name}: EXTINFs {:?} sum to {total:.3} s, input video from the first keyframe lasts \
         {media:.3} s ({} frames)",
        playlist.durations(),
        in_video.len()
    );

    // (g) cuts are at the first keyframe at or after the target, on the input's keyframes.
    let pts = ff::unwrap_timestamps(in_video.iter().map(|p| p.pts.expect("video pts")));
    let keyframes: Vec<i64> = in_video
        .iter()
        .zip(&pts)
        .filter(|(p, _)| p.key)
        .map(|(_, t)| *t)
        .collect();
    let origin = keyframes[0];
    let seconds = |t: i64| (t - origin) as f64 / CLOCK_HZ;
    let keyframe_times: Vec<f64> = keyframes.iter().map(|&t| seconds(t)).collect();
    assert!(
        keyframe_times.len() == case.keyframes.len()
            && keyframe_times
                .iter()
                .zip(case.keyframes)
                .all(|(a, b)| (a - b).abs() < 0.001),
        "{name}: ffprobe finds keyframes at {keyframe_times:?} s, the input has them at {:?}",
        case.keyframes
    );
    let target_ticks = (TARGET * CLOCK_HZ) as i64;
    let mut starts = vec![origin];
    for &k in &keyframes {
        if k - starts[starts.len() - 1] >= target_ticks - frame_ticks / 2 {
            starts.push(k);
        }
    }
    let start_times: Vec<f64> = starts.iter().map(|&t| seconds(t)).collect();
    assert!(
        start_times.len() == case.starts.len()
            && start_times
                .iter()
                .zip(case.starts)
                .all(|(a, b)| (a - b).abs() < 0.001),
        "{name}: keyframes at {keyframe_times:?} s give cuts at {start_times:?}, expected {:?}",
        case.starts
    );
    let segments = out.segments();
    assert_eq!(
        segments.len(),
        starts.len(),
        "{name}: {} segments, expected cuts at {start_times:?} s",
        segments.len()
    );
    let durations = playlist.durations();
    let mut elapsed = 0.0;
    for (index, (segment, &start)) in segments.iter().zip(&starts).enumerate() {
        let first = ff::packets(segment, "v:0")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{}: no video packet", segment.display()));
        let first_pts = first.pts.expect("video pts");
        assert!(
            first.key && ff::same_timestamp(first_pts, start),
            "{}: starts with video packet {first:?}, expected the keyframe at {:.3} s",
            segment.display(),
            seconds(start)
        );
        assert!(
            (elapsed - seconds(start)).abs() <= EXTINF_PRECISION * (index as f64 + 1.0),
            "{name}: EXTINFs {durations:?} put segment {} at {elapsed:.3} s, its keyframe is at \
             {:.3} s",
            index + 1,
            seconds(start)
        );
        elapsed += durations[index];
        if index + 1 < segments.len() {
            assert!(
                durations[index] >= TARGET - frame / 2.0 - EXTINF_PRECISION,
                "{name}: segment {} lasts {} s, shorter than the target {TARGET} s minus half a \
                 frame",
                index + 1,
                durations[index]
            );
        }
    }
}

#[test]
pub(crate) fn h264_aac_segments_are_valid() {
    check_good_input(&Case {
        file: "h264_aac.ts",
        video: true,
        target_duration: 4,
        keyframes: &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0],
        starts: &[0.0, 4.0, 8.0],
    });
}

#[test]
pub(crate) fn hevc_ac3_segments_are_valid() {
    check_good_input(&Case {
        file: "hevc_ac3.ts",
        video: true,
        target_duration: 4,
        keyframes: &[0.0, 2.0, 4.0, 6.0, 8.0],
        starts: &[0.0, 4.0, 8.0],
    });
}

#[test]
pub(crate) fn mpeg2_mp2_segments_are_valid() {
    check_good_input(&Case {
        file: "mpeg2_mp2.ts",
        video: true,
        target_duration: 4,
        keyframes: &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        starts: &[0.0, 4.0, 8.0],
    });
}

#[test]
pub(crate) fn aac_only_segments_are_valid() {
    check_good_input(&Case {
        file: "aac_only.ts",
        video: false,
        target_duration: 4,
        keyframes: &[],
        starts: &[],
    });
}

#[test]
pub(crate) fn aac_only_extinf_sum_matches_the_audio() {
    // (d) for the audio-only input: cuts are on audio PES starts, and the playlist must last as
    // long as the audio (AAC frames of 1024 samples at 48 kHz, 1920 ticks each).
    let input = router::data("aac_only.ts");
    let out = segment_4s("aac_only.ts");
    let audio = ff::packets(&input, "a:0");
    let media: i64 = audio.iter().map(|p| p.duration.unwrap_or(0)).sum();
    let media = media as f64 / CLOCK_HZ;
    let total = out.playlist.total_duration();
    let last = out.segments().pop().expect("a segment");
    let in_last: i64 = ff::packets(&last, "a:0")
        .iter()
        .map(|p| p.duration.unwrap_or(0))
        .sum();
    assert!(
        (total - media).abs() <= DURATION_TOLERANCE,
        "aac_only.ts: EXTINFs {:?} sum to {total:.3} s, but the input holds {media:.3} s of audio \
         ({} packets); the last segment holds {:.3} s of audio",
        out.playlist.durations(),
        audio.len(),
        in_last as f64 / CLOCK_HZ
    );
}

#[test]
pub(crate) fn irregular_gop_cuts_at_first_keyframe_after_target() {
    // Keyframes at 0 1.32 4.12 5 8.72 10.2: cuts at 0, 4.12 and 8.72 (4.6 s > 4: raised to 5).
    check_good_input(&Case {
        file: "irregular_gop.ts",
        video: true,
        target_duration: 5,
        keyframes: &[0.0, 1.32, 4.12, 5.0, 8.72, 10.2],
        starts: &[0.0, 4.12, 8.72],
    });
}

#[test]
pub(crate) fn long_gop_raises_target_duration() {
    // Keyframes every 6 s: every cut overruns the 4 s target.
    check_good_input(&Case {
        file: "long_gop.ts",
        video: true,
        target_duration: 6,
        keyframes: &[0.0, 6.0, 12.0],
        starts: &[0.0, 6.0, 12.0],
    });
}

#[test]
pub(crate) fn ptswrap_segments_are_valid() {
    check_good_input(&Case {
        file: "ptswrap.ts",
        video: true,
        target_duration: 4,
        keyframes: &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0],
        starts: &[0.0, 4.0, 8.0],
    });
}

#[test]
pub(crate) fn midgop_start_is_dropped_up_to_first_keyframe() {
    // The input starts ~1 s into a GOP: output starts at the keyframe at 2 s of the original.
    check_good_input(&Case {
        file: "midgop.ts",
        video: true,
        target_duration: 4,
        keyframes: &[0.0, 2.0, 4.0, 6.0, 8.0],
        starts: &[0.0, 4.0, 8.0],
    });
}

#[test]
pub(crate) fn ptswrap_durations_survive_the_wrap() {
    let out = segment_4s("ptswrap.ts");
    let durations = out.playlist.durations();
    assert_eq!(durations.len(), 3, "EXTINFs {durations:?}");
    assert!(
        durations.iter().all(|d| (d - 4.0).abs() < 0.001),
        "the 33-bit wrap ~7.02 s in must not disturb durations: EXTINFs {durations:?}"
    );
}
