//! End-to-end tests of `streamrouter segment`: the real binary on the inputs of `tests/data`
//! (see its README), judged by real clients (ffmpeg and ffprobe as subprocesses) and by walking
//! the TS packets of the output.
//!
//! Needs ffmpeg and ffprobe on PATH; every test fails (it is never skipped) without them.

// Helpers outside #[test] functions panic on purpose: a failed check is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::ff::{self, CLOCK_HZ};
use common::m3u8::Playlist;
use common::router::{self, Run};
use common::ts;
use tempfile::TempDir;

/// `--target-duration` of the main checks.
const TARGET: f64 = 4.0;
/// How far the sum of EXTINF may be from the media duration of the input.
const DURATION_TOLERANCE: f64 = 0.050;
/// EXTINF values are written with millisecond precision.
const EXTINF_PRECISION: f64 = 0.0005;

// ------------------------------------------------------------------------------------------
// Running the segmenter

/// One finished `streamrouter segment` run and what it wrote.
struct Output {
    dir: TempDir,
    playlist_path: PathBuf,
    playlist: Playlist,
}

impl Output {
    /// The segment files in playlist order.
    fn segments(&self) -> Vec<PathBuf> {
        self.playlist
            .uris()
            .into_iter()
            .map(|uri| self.dir.path().join(uri))
            .collect()
    }

    /// All segments' bytes, concatenated in playlist order.
    fn concatenated(&self) -> Vec<u8> {
        self.segments()
            .iter()
            .flat_map(|p| router::read(p))
            .collect()
    }
}

/// Segments `input` into a fresh directory with `extra` options; asserts the run succeeded, the
/// playlist (`playlist_name`) exists, every listed segment exists and no temporary file is left.
fn segment_with(input: &Path, extra: &[&str], playlist_name: &str) -> Output {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = router::segment(input, dir.path(), extra);
    run.assert_success();
    finish_output(dir, &run, playlist_name)
}

fn finish_output(dir: TempDir, run: &Run, playlist_name: &str) -> Output {
    let playlist_path = dir.path().join(playlist_name);
    assert!(
        playlist_path.is_file(),
        "`{}` wrote no {playlist_name}; directory holds {:?}",
        run.command,
        router::dir_names(dir.path())
    );
    let playlist = Playlist::parse(&router::read_text(&playlist_path));
    for uri in playlist.uris() {
        assert!(
            dir.path().join(uri).is_file(),
            "playlist lists {uri} but it is not in {:?}",
            router::dir_names(dir.path())
        );
    }
    router::assert_no_temp_files(dir.path());
    Output {
        dir,
        playlist_path,
        playlist,
    }
}

/// `--target-duration 4` on a test input.
fn segment_4s(file: &str) -> Output {
    segment_with(
        &router::data(file),
        &["--target-duration", "4"],
        "index.m3u8",
    )
}

// ------------------------------------------------------------------------------------------
// Checks shared by several tests

/// Asserts that a segment starts with a PAT packet, then a PMT packet of the program that PAT
/// names, then the start of a PES packet of the main stream (first video stream, else first
/// stream); returns the PMT's streams.
fn assert_starts_with_tables(segment: &Path) -> Vec<ts::PmtStream> {
    let bytes = router::read(segment);
    let packets = ts::packets(&bytes);
    let name = segment.display();
    assert!(packets.len() >= 3, "{name}: only {} packets", packets.len());
    let pat = packets[0];
    assert_eq!(
        (pat.pid(), pat.table_id()),
        (ts::PAT_PID, Some(0x00)),
        "{name}: first packet is not a PAT (pid 0, table_id 0x00)"
    );
    let pmt_pids = ts::pat_pmt_pids(pat.section().expect("PAT section"));
    assert_eq!(pmt_pids.len(), 1, "{name}: PAT lists programs {pmt_pids:?}");
    let pmt = packets[1];
    assert_eq!(
        (pmt.pid(), pmt.table_id()),
        (pmt_pids[0], Some(0x02)),
        "{name}: second packet is not the PMT (pid {:#x}, table_id 0x02)",
        pmt_pids[0]
    );
    let streams = ts::pmt_streams(pmt.section().expect("PMT section"));
    let main = ts::main_stream(&streams).unwrap_or_else(|| panic!("{name}: PMT lists no stream"));
    let first = packets[2];
    assert!(
        first.pid() == main.pid && first.starts_pes(),
        "{name}: third packet (pid {:#x}) does not start a PES packet of the main stream {main:?}",
        first.pid()
    );
    streams
}

/// Asserts that the first frame ffprobe decodes from a segment alone is a keyframe.
fn assert_first_frame_is_key(segment: &Path) {
    let frames = ff::video_frames(segment);
    let first = frames
        .first()
        .unwrap_or_else(|| panic!("{}: no video frame decoded", segment.display()));
    assert!(
        first.key_frame,
        "{}: first decoded video frame is not a keyframe (pict_type {})",
        segment.display(),
        first.pict_type
    );
}

/// Asserts `got` is exactly `want`, by packet content (size and MD5), with a short message.
fn assert_same_packets(what: &str, got: &[ff::Packet], want: &[ff::Packet]) {
    let differ = got
        .iter()
        .zip(want)
        .position(|(g, w)| g.content() != w.content());
    assert!(
        got.len() == want.len() && differ.is_none(),
        "{what}: {} packets, expected {}; first difference at packet {differ:?}",
        got.len(),
        want.len()
    );
}

/// Difference `a - b` of two raw 33-bit timestamps, taken as the shortest way round.
fn ticks_between(a: i64, b: i64) -> i64 {
    (a - b + ff::PTS_MODULUS / 2).rem_euclid(ff::PTS_MODULUS) - ff::PTS_MODULUS / 2
}

// ------------------------------------------------------------------------------------------
// 0. The clients

#[test]
fn ffmpeg_and_ffprobe_are_installed() {
    // Every check of the output goes through them: without them this suite must fail, loudly.
    ff::require_tools();
}

// ------------------------------------------------------------------------------------------
// 1. Good inputs

/// A clean input and what segmenting it at 4 s must give.
struct Case {
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

fn check_good_input(case: &Case) {
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

fn check_video(
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
fn h264_aac_segments_are_valid() {
    check_good_input(&Case {
        file: "h264_aac.ts",
        video: true,
        target_duration: 4,
        keyframes: &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0],
        starts: &[0.0, 4.0, 8.0],
    });
}

#[test]
fn hevc_ac3_segments_are_valid() {
    check_good_input(&Case {
        file: "hevc_ac3.ts",
        video: true,
        target_duration: 4,
        keyframes: &[0.0, 2.0, 4.0, 6.0, 8.0],
        starts: &[0.0, 4.0, 8.0],
    });
}

#[test]
fn mpeg2_mp2_segments_are_valid() {
    check_good_input(&Case {
        file: "mpeg2_mp2.ts",
        video: true,
        target_duration: 4,
        keyframes: &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        starts: &[0.0, 4.0, 8.0],
    });
}

#[test]
fn aac_only_segments_are_valid() {
    check_good_input(&Case {
        file: "aac_only.ts",
        video: false,
        target_duration: 4,
        keyframes: &[],
        starts: &[],
    });
}

#[test]
fn aac_only_extinf_sum_matches_the_audio() {
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
fn irregular_gop_cuts_at_first_keyframe_after_target() {
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
fn long_gop_raises_target_duration() {
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
fn ptswrap_segments_are_valid() {
    check_good_input(&Case {
        file: "ptswrap.ts",
        video: true,
        target_duration: 4,
        keyframes: &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0],
        starts: &[0.0, 4.0, 8.0],
    });
}

#[test]
fn midgop_start_is_dropped_up_to_first_keyframe() {
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
fn ptswrap_durations_survive_the_wrap() {
    let out = segment_4s("ptswrap.ts");
    let durations = out.playlist.durations();
    assert_eq!(durations.len(), 3, "EXTINFs {durations:?}");
    assert!(
        durations.iter().all(|d| (d - 4.0).abs() < 0.001),
        "the 33-bit wrap ~7.02 s in must not disturb durations: EXTINFs {durations:?}"
    );
}

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

// ------------------------------------------------------------------------------------------
// 4. Raw cut

/// Byte offset of the TS packet that starts the input's first video keyframe (ffprobe's pos).
fn first_keyframe_offset(input: &Path) -> usize {
    let sections = ff::probe(
        input,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pos,flags",
        ],
    );
    let key = sections
        .iter()
        .find(|s| s.name == "PACKET" && s.fields.get("flags").is_some_and(|f| f.starts_with('K')))
        .unwrap_or_else(|| panic!("{}: no keyframe", input.display()));
    key.fields
        .get("pos")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{}: keyframe without pos: {key:?}", input.display()))
}

#[test]
fn no_repeat_headers_is_the_raw_cut() {
    for file in ["h264_aac.ts", "hevc_ac3.ts", "midgop.ts", "concat.ts"] {
        let input = router::data(file);
        let out = segment_with(
            &input,
            &["--target-duration", "4", "--no-repeat-headers"],
            "index.m3u8",
        );
        assert!(out.playlist.endlist, "{file}: no #EXT-X-ENDLIST");
        assert!(
            !out.playlist.independent_segments,
            "{file}: #EXT-X-INDEPENDENT-SEGMENTS without repeated headers"
        );
        let bytes = router::read(&input);
        let from = first_keyframe_offset(&input);
        let cut = out.concatenated();
        assert!(
            cut == bytes[from..],
            "{file}: the segments ({} bytes) are not the input from its first keyframe packet at \
             byte {from} on ({} bytes)",
            cut.len(),
            bytes.len() - from
        );
        let segments = out.segments();
        assert!(segments.len() >= 3, "{file}: {} segments", segments.len());
        for segment in &segments[1..] {
            let data = router::read(segment);
            let first = ts::packets(&data)[0];
            assert!(
                first.pid() != ts::PAT_PID && first.starts_pes(),
                "{}: a raw cut must start with the keyframe's PES packet, not pid {:#x}",
                segment.display(),
                first.pid()
            );
        }
        // Read in order, the segments are a valid stream.
        if file != "concat.ts" {
            ff::assert_decodes_cleanly(&out.playlist_path);
        }
    }
}

#[test]
fn no_repeat_headers_drops_only_true_duplicates() {
    // loss.ts has corrupted continuity counters. ISO/IEC 13818-1 §2.4.3.3: a duplicate packet
    // repeats every byte of the previous packet of its PID (PCR excepted); a packet with a
    // repeated counter but other bytes is a continuity error and carries data. The raw cut may
    // drop the former only.
    let input = router::data("loss.ts");
    let out = segment_with(
        &input,
        &["--target-duration", "4", "--no-repeat-headers"],
        "index.m3u8",
    );
    let bytes = router::read(&input);
    let from = first_keyframe_offset(&input);
    let mut expected = Vec::new();
    let mut offsets = Vec::new();
    let mut previous: std::collections::HashMap<u16, ts::Packet<'_>> =
        std::collections::HashMap::new();
    let mut duplicates = 0;
    let start = from - from % ts::PACKET_SIZE;
    for (index, packet) in ts::packets(&bytes[start..]).into_iter().enumerate() {
        if packet.has_payload() {
            if previous
                .get(&packet.pid())
                .is_some_and(|p| p.is_duplicated_by(&packet))
            {
                duplicates += 1;
                continue;
            }
            previous.insert(packet.pid(), packet);
        }
        expected.extend_from_slice(packet.0);
        offsets.push(start + index * ts::PACKET_SIZE);
    }
    let cut = out.concatenated();
    if cut != expected {
        let got = ts::packets(&cut);
        let want = ts::packets(&expected);
        let at = got
            .iter()
            .zip(&want)
            .position(|(g, w)| g != w)
            .unwrap_or(got.len().min(want.len()));
        let detail = want.get(at).map_or_else(
            || "the output has extra packets at its end".to_owned(),
            |missing| {
                let offset = offsets[at];
                let before = ts::packets(&bytes[start..offset])
                    .into_iter()
                    .rev()
                    .find(|p| p.pid() == missing.pid() && p.has_payload());
                format!(
                    "the input packet at byte {offset} (pid {:#x}, counter {}) is missing; the \
                     previous packet of its PID has counter {:?} and {} bytes",
                    missing.pid(),
                    missing.continuity_counter(),
                    before.map(|p| p.continuity_counter()),
                    if before.is_some_and(|p| p.is_duplicated_by(missing)) {
                        "the same"
                    } else {
                        "other"
                    }
                )
            },
        );
        panic!(
            "loss.ts raw cut: {} packets, expected {} (the input from byte {from} less \
             {duplicates} true duplicates); {detail}",
            got.len(),
            want.len(),
        );
    }
}

// ------------------------------------------------------------------------------------------
// 5. Sliding window

#[test]
fn window_keeps_last_segments_and_deletes_the_rest_after_expiry() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = router::data("h264_aac.ts");
    // Keyframes every 2 s and a 1 s target: six 2 s segments, the last three kept.
    let mut running = router::spawn_segment(
        &input,
        dir.path(),
        &["--window", "3", "--target-duration", "1"],
    );
    // The whole input is segmented in milliseconds; the process then keeps the expired
    // segments for their duration plus the longest playlist that listed them (2 + 6 s).
    let playlist_path = dir.path().join("index.m3u8");
    let deadline = Instant::now() + Duration::from_secs(5);
    let ended = loop {
        let text = std::fs::read_to_string(&playlist_path).unwrap_or_default();
        if text.contains("#EXT-X-ENDLIST") {
            break true;
        }
        if !running.is_running() || Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(ended, "no final playlist within 5 s");
    let early: Vec<String> = router::dir_names(dir.path())
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(
        running.is_running(),
        "streamrouter exited right after the final playlist: expired segments were not kept"
    );
    let run = running.finish();
    run.assert_success();
    assert_eq!(
        early,
        [
            "index.m3u8",
            "segment-00001.ts",
            "segment-00002.ts",
            "segment-00003.ts",
            "segment-00004.ts",
            "segment-00005.ts",
            "segment-00006.ts"
        ],
        "segments that left the window must stay available for a while (RFC 8216 §6.2.2)"
    );
    assert!(
        run.elapsed >= Duration::from_secs_f64(7.5),
        "streamrouter exited after {:?}; segment 3 left the window when segment 6 was listed \
         and must stay 2 s + 6 s",
        run.elapsed
    );
    assert_eq!(
        router::dir_names(dir.path()),
        [
            "index.m3u8",
            "segment-00004.ts",
            "segment-00005.ts",
            "segment-00006.ts"
        ],
        "after exit only the window's segments may remain (and no temporary file)"
    );
    let out = finish_output(dir, &run, "index.m3u8");
    let playlist = &out.playlist;
    assert_eq!(playlist.media_sequence, Some(4), "EXT-X-MEDIA-SEQUENCE");
    assert_eq!(
        playlist.discontinuity_sequence, None,
        "no discontinuity left the window"
    );
    assert_eq!(
        playlist.uris(),
        ["segment-00004.ts", "segment-00005.ts", "segment-00006.ts"]
    );
    assert!(
        playlist.durations().iter().all(|d| (d - 2.0).abs() < 0.001),
        "EXTINFs {:?}, expected 2 s each",
        playlist.durations()
    );
    assert!(playlist.endlist, "no #EXT-X-ENDLIST");
    assert_eq!(
        playlist.playlist_type, None,
        "a sliding window cannot be an EVENT playlist"
    );
    ff::assert_decodes_cleanly(&out.playlist_path);
}

#[test]
fn window_shorter_than_three_is_rejected() {
    let input = router::data("h264_aac.ts");
    for window in ["1", "2"] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let out = dir.path().join("out");
        let run = router::segment(&input, &out, &["--window", window]);
        run.assert_failure();
        assert!(
            run.stderr.contains("RFC 8216"),
            "--window {window}: error should cite RFC 8216, stderr:\n{}",
            run.stderr
        );
        assert!(
            !out.join("index.m3u8").exists(),
            "--window {window}: a playlist was written although the options were rejected"
        );
    }
}

// ------------------------------------------------------------------------------------------
// 6. Standard input

#[test]
fn stdin_is_segmented_like_the_file() {
    let input = router::data("h264_aac.ts");
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = router::segment_stdin(router::read(&input), dir.path(), &[]);
    run.assert_success();
    let piped = finish_output(dir, &run, "index.m3u8");
    let playlist = &piped.playlist;
    assert!(playlist.endlist, "no #EXT-X-ENDLIST at the end of the pipe");
    assert_eq!(
        playlist.playlist_type, None,
        "stdin defaults to a live window, not an EVENT playlist"
    );
    assert_eq!(playlist.media_sequence, Some(1));
    assert_eq!(
        playlist.uris(),
        ["segment-00001.ts", "segment-00002.ts", "segment-00003.ts"],
        "default target 4 s on 12 s with keyframes every 2 s"
    );
    // Same cuts and bytes as from the file.
    let from_file = segment_with(&input, &[], "index.m3u8");
    assert_eq!(playlist.durations(), from_file.playlist.durations());
    for (a, b) in piped.segments().iter().zip(from_file.segments()) {
        assert!(
            router::read(a) == router::read(&b),
            "{} differs from the same segment cut from the file",
            a.display()
        );
    }
    ff::assert_decodes_cleanly(&piped.playlist_path);
}

#[test]
fn stdin_default_window_is_six() {
    // mpeg2_mp2.ts: I-frames every second, 10 s → ten 1 s segments; the last six stay listed.
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = router::segment_stdin(
        router::read(&router::data("mpeg2_mp2.ts")),
        dir.path(),
        &["--target-duration", "1"],
    );
    run.assert_success();
    let out = finish_output(dir, &run, "index.m3u8");
    let playlist = &out.playlist;
    assert!(playlist.endlist, "no #EXT-X-ENDLIST");
    assert_eq!(playlist.media_sequence, Some(5), "EXT-X-MEDIA-SEQUENCE");
    let expected: Vec<String> = (5..=10).map(|n| format!("segment-{n:05}.ts")).collect();
    assert_eq!(playlist.uris(), expected);
    let mut files = vec!["index.m3u8".to_owned()];
    files.extend(expected);
    assert_eq!(
        router::dir_names(out.dir.path()),
        files,
        "segments 1-4 must be deleted by exit"
    );
}

#[test]
fn stdin_with_start_number_name_and_playlist() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = router::segment_stdin(
        router::read(&router::data("h264_aac.ts")),
        dir.path(),
        &[
            "--start-number",
            "100",
            "--name",
            "live",
            "--playlist",
            "live.m3u8",
        ],
    );
    run.assert_success();
    let out = finish_output(dir, &run, "live.m3u8");
    assert_eq!(
        out.playlist.media_sequence,
        Some(100),
        "EXT-X-MEDIA-SEQUENCE"
    );
    assert_eq!(
        out.playlist.uris(),
        ["live-00100.ts", "live-00101.ts", "live-00102.ts"]
    );
    assert_eq!(
        router::dir_names(out.dir.path()),
        [
            "live-00100.ts",
            "live-00101.ts",
            "live-00102.ts",
            "live.m3u8"
        ],
        "no index.m3u8 or segment-*.ts with --name/--playlist"
    );
    assert!(out.playlist.endlist, "no #EXT-X-ENDLIST");
    ff::assert_decodes_cleanly(&out.playlist_path);
}

// ------------------------------------------------------------------------------------------
// 7. Bad inputs

#[test]
fn not_ts_is_rejected() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = router::segment(&router::data("not_ts.bin"), dir.path(), &[]);
    run.assert_failure();
    assert!(
        run.stderr.contains("not an MPEG transport stream"),
        "stderr should say the input is not an MPEG transport stream:\n{}",
        run.stderr
    );
    let written: Vec<String> = router::dir_names(dir.path());
    assert!(
        written.is_empty(),
        "nothing may be published for a non-TS input, found {written:?}"
    );
}

#[test]
fn missing_input_is_reported_with_its_path() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("no-such-input.ts");
    let out = dir.path().join("out");
    let run = router::segment(&missing, &out, &[]);
    run.assert_failure();
    assert!(
        run.stderr.contains(&*missing.to_string_lossy()),
        "stderr should name {}:\n{}",
        missing.display(),
        run.stderr
    );
}

#[test]
fn bad_arguments_are_rejected() {
    let input = router::data("h264_aac.ts");
    let input = input.to_string_lossy();
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().to_string_lossy();
    for (args, says) in [
        (vec!["--target-duration", "0"], "--target-duration"),
        (vec!["--playlist", "a/b.m3u8"], "--playlist"),
        (vec!["--name", ".."], "--name"),
    ] {
        let mut all = vec!["segment", &*input, "--out", &*out];
        all.extend(&args);
        let run = router::streamrouter(&all);
        run.assert_failure();
        assert!(
            run.stderr.contains(says),
            "{args:?}: stderr should mention {says}:\n{}",
            run.stderr
        );
    }
    assert!(
        router::dir_names(dir.path()).is_empty(),
        "rejected options must not publish anything"
    );
}

// ------------------------------------------------------------------------------------------
// 8. Temporary files

#[test]
fn no_temporary_files_are_left() {
    // Every run above checks its directory too; this one covers all inputs at once, including
    // the damaged ones and the raw cut.
    for file in [
        "h264_aac.ts",
        "aac_only.ts",
        "concat.ts",
        "loss.ts",
        "garbage.ts",
        "truncated.ts",
    ] {
        for extra in [
            &["--target-duration", "2"][..],
            &["--no-repeat-headers"][..],
        ] {
            let out = segment_with(&router::data(file), extra, "index.m3u8");
            let names = router::dir_names(out.dir.path());
            let listed = out.playlist.uris().len();
            assert_eq!(
                names.len(),
                listed + 1,
                "{file} {extra:?}: {names:?} holds more than the playlist and its {listed} \
                 segments"
            );
        }
    }
}
