//! `streamrouter segment --encrypt`: AES-128 segments with their keys beside them, judged by
//! the `openssl` tool (each segment decrypts, with the key and IV its `#EXT-X-KEY` names, to
//! MPEG-TS; none is readable as it is) and by ffmpeg reading the playlist (the decoded video
//! and audio frames are exactly the source's).

use crate::common::aes::{is_transport_stream, keyed_segments, openssl_decrypt};
use crate::support::*;

/// ffmpeg reads the key files beside the playlist (local files with a `.key` extension).
const KEY_FILES: [&str; 2] = ["-allowed_extensions", "ALL"];

#[test]
fn encrypted_segments_decrypt_to_their_cut_and_decode_frame_for_frame() {
    let source = router::data("h264_aac.ts");
    let extra = ["--target-duration", "2", "--encrypt", "--rotate-every", "2"];
    let out = segment_with(&source, &extra, "index.m3u8");
    let text = router::read_text(&out.playlist_path);
    let keyed = keyed_segments(&text);
    assert_eq!(keyed.len(), 6, "{text}");
    let mut key_uris: Vec<&str> = keyed.iter().map(|k| k.key_uri.as_str()).collect();
    key_uris.dedup();
    assert_eq!(
        key_uris,
        ["segment-0000.key", "segment-0001.key", "segment-0002.key"]
    );
    let mut clear = Vec::new();
    for (index, segment) in keyed.iter().enumerate() {
        assert_eq!(
            segment.iv_hex,
            format!("{:032X}", index + 1),
            "the IV is the sequence"
        );
        let stored = router::read(&out.dir.path().join(&segment.uri));
        assert!(
            !is_transport_stream(&stored),
            "{} in the clear",
            segment.uri
        );
        let key = router::read(&out.dir.path().join(&segment.key_uri));
        assert_eq!(key.len(), 16);
        let decrypted = openssl_decrypt(&stored, &key, &segment.iv_hex);
        assert!(is_transport_stream(&decrypted), "{}", segment.uri);
        clear.extend(decrypted);
    }
    // The decrypted segments are the cut a run without --encrypt writes.
    let plain = segment_with(&source, &["--target-duration", "2"], "index.m3u8");
    assert_eq!(clear, plain.concatenated());
    for kind in ["v", "a"] {
        let played = ff::frame_hashes_with(&out.playlist_path, kind, &KEY_FILES);
        assert_eq!(played, ff::frame_hashes(&source, kind), "{kind} frames");
    }
}

#[test]
fn encrypted_fmp4_fragments_decode_and_expired_keys_go_with_their_segments() {
    let source = router::data("h264_aac.ts");
    let extra = [
        "--target-duration",
        "2",
        "--format",
        "fmp4",
        "--encrypt",
        "--rotate-every",
        "1",
        "--window",
        "3",
    ];
    let out = segment_with(&source, &extra, "index.m3u8");
    let text = router::read_text(&out.playlist_path);
    // The init segment is in the clear, declared before any key.
    let map = text.find("#EXT-X-MAP").expect("a map");
    assert!(
        text.find("#EXT-X-KEY").is_some_and(|key| key > map),
        "{text}"
    );
    let keyed = keyed_segments(&text);
    assert_eq!(keyed.len(), 3, "{text}");
    let mut names = router::dir_names(out.dir.path());
    names.retain(|name| name.ends_with(".key"));
    let named: Vec<&str> = keyed.iter().map(|k| k.key_uri.as_str()).collect();
    assert_eq!(names, named, "only the keys of listed segments are left");
    let played = ff::frame_hashes_with(&out.playlist_path, "v", &KEY_FILES);
    let source_frames = ff::frame_hashes(&source, "v");
    assert!(
        source_frames.ends_with(&played) && played.len() >= 3 * 50,
        "{} frames played",
        played.len()
    );
}

#[test]
fn encryption_options_that_cannot_work_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let source = router::data("h264_aac.ts");
    let run = router::segment(&source, dir.path(), &["--rotate-every", "2"]);
    run.assert_failure();
    assert!(run.stderr.contains("--encrypt"), "{}", run.stderr);
    let fixed = [
        "--encrypt",
        "--rotate-every",
        "2",
        "--key-uri",
        "https://k.example.com/k",
    ];
    let run = router::segment(&source, dir.path(), &fixed);
    run.assert_failure();
    assert!(run.stderr.contains("{key}"), "{}", run.stderr);
}

#[test]
fn a_new_init_segment_mid_stream_is_declared_in_the_clear_between_encrypted_fragments() {
    let work = tempfile::tempdir().unwrap();
    let source = crate::reconfigure::resolution_change(work.path());
    let extra = ["--format", "fmp4", "--target-duration", "1", "--encrypt"];
    let out = segment_with(&source, &extra, "index.m3u8");
    let text = router::read_text(&out.playlist_path);
    // The init segments are stored in the clear: the second one follows METHOD=NONE, and the
    // fragment after it has its own key line again.
    assert!(
        text.contains("#EXT-X-KEY:METHOD=NONE\n#EXT-X-MAP:URI=\"segment-init-1.mp4\"\n"),
        "{text}"
    );
    let keyed = keyed_segments(&text);
    assert_eq!(keyed.len(), out.playlist.uris().len());
    for kind in ["v", "a"] {
        let played = ff::frame_hashes_with(&out.playlist_path, kind, &KEY_FILES);
        assert_eq!(played, ff::frame_hashes(&source, kind), "{kind} frames");
    }
}
