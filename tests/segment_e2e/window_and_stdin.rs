//! The sliding window and its deletions; standard input and naming options.

use crate::support::*;

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
