//! `segment_format` and `init_name`: defaults (`.m4s` segments, `NAME-init-{n}.mp4`), what
//! `check` refuses at its key (an unknown format, an init name without `{n}` or clashing with
//! the segment names, `repeat_ts_headers = false` with fMP4), and a changed format restarting
//! the playlist on reload.

use super::super::diff::diff;
use super::{CHAIN, compile, errors_at, graph};
use crate::playlist::SegmentFormat;

fn with_playlist_keys(keys: &str) -> String {
    CHAIN.replace("[playlists.cam]\n", &format!("[playlists.cam]\n{keys}\n"))
}

#[test]
fn fmp4_defaults_to_m4s_segments_and_numbered_inits() {
    let loaded = compile(&with_playlist_keys("segment_format = \"fmp4\""));
    let playlist = &graph(&loaded).playlists["cam"];
    assert_eq!(playlist.segment_format, SegmentFormat::Fmp4);
    assert_eq!(playlist.segment_name.render(3), "cam-00003.m4s");
    assert_eq!(playlist.init_name, "cam-init-{n}.mp4");
    // An explicit name is kept as written.
    let loaded = compile(&with_playlist_keys(
        "segment_format = \"fmp4\"\nsegment_name = \"s/{seq}.mp4\"\ninit_name = \"s/i{n}.mp4\"",
    ));
    let playlist = &graph(&loaded).playlists["cam"];
    assert_eq!(playlist.segment_name.render(3), "s/3.mp4");
    assert_eq!(playlist.init_name, "s/i{n}.mp4");
    // TS stays the default.
    let loaded = compile(CHAIN);
    let playlist = &graph(&loaded).playlists["cam"];
    assert_eq!(playlist.segment_format, SegmentFormat::Ts);
    assert_eq!(playlist.segment_name.render(3), "cam-00003.ts");
}

#[test]
fn check_refuses_bad_formats_and_init_names_at_their_keys() {
    let cases = [
        (
            "segment_format = \"cmaf\"",
            "playlists.cam.segment_format",
            "unknown segment format `cmaf`",
        ),
        (
            "segment_format = \"fmp4\"\ninit_name = \"cam-init.mp4\"",
            "playlists.cam.init_name",
            "must contain `{n}` exactly once (found 0)",
        ),
        (
            "segment_format = \"fmp4\"\ninit_name = \"cam-{n}-{n}.mp4\"",
            "playlists.cam.init_name",
            "exactly once (found 2)",
        ),
        (
            "segment_format = \"fmp4\"\nsegment_name = \"cam-{seq}.m4s\"\ninit_name = \"cam-{n}.m4s\"",
            "playlists.cam.init_name",
            "can name the same objects as segment_name",
        ),
        (
            "segment_format = \"fmp4\"\ninit_name = \"../i-{n}.mp4\"",
            "playlists.cam.init_name",
            "must not contain `..`",
        ),
        (
            "segment_format = \"fmp4\"\nrepeat_ts_headers = false",
            "playlists.cam.repeat_ts_headers",
            "cannot go with segment_format = \"fmp4\"",
        ),
    ];
    for (keys, key, message) in cases {
        let loaded = compile(&with_playlist_keys(keys));
        let errors = errors_at(&loaded);
        assert_eq!(errors.len(), 1, "{keys}: {errors:?}");
        let (line, at, text) = errors[0];
        assert_eq!(at, key, "{keys}: {errors:?}");
        assert!(text.contains(message), "{keys}: {text}");
        // The line of the key in the file (the playlist table is at line 9).
        assert!(line >= 10, "{keys}: line {line}");
    }
}

#[test]
fn a_changed_segment_format_or_init_name_restarts_the_playlist() {
    let old = graph(&compile(CHAIN)).clone();
    let new = graph(&compile(&with_playlist_keys("segment_format = \"fmp4\""))).clone();
    let changes = diff(&old, &new).unwrap();
    let keys = &changes.playlists.changed["cam"];
    assert!(keys.contains(&"segment_format"), "{keys:?}");
    assert!(changes.playlists_restart.contains("cam"));
    let renamed = graph(&compile(&with_playlist_keys(
        "segment_format = \"fmp4\"\ninit_name = \"x-{n}.mp4\"",
    )))
    .clone();
    let changes = diff(&new, &renamed).unwrap();
    assert_eq!(changes.playlists.changed["cam"], ["init_name"]);
    assert!(changes.playlists_restart.contains("cam"));
}
