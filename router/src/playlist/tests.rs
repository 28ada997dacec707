//! Media playlist tests: window, sequence numbers, target duration and the rendered text
//! against golden files in `testdata/`.

use super::*;

fn live(window: usize) -> MediaPlaylist {
    MediaPlaylist::new(PlaylistConfig {
        max_duration: None,
        window,
        target_duration: 4.0,
        independent_segments: true,
    })
}

fn entry(sequence: u64, duration: f64, discontinuity: bool) -> PlaylistEntry {
    PlaylistEntry::new(
        sequence,
        format!("segment-{sequence:05}.ts"),
        duration,
        discontinuity,
    )
}

fn golden(name: &str) -> String {
    let path = format!(
        "{}/src/playlist/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn event_playlist_keeps_everything_and_ends() {
    let mut playlist = live(0);
    for (seq, d) in [(1, 4.0), (2, 4.004), (3, 2.5)] {
        assert!(playlist.push(entry(seq, d, false)).expired.is_empty());
    }
    playlist.end();
    assert_eq!(playlist.render(), golden("event_ended.m3u8"));
}

#[test]
fn sliding_window_counts_sequence_and_discontinuities() {
    let mut playlist = live(3);
    let mut expired = Vec::new();
    for seq in 1..=6 {
        let outcome = playlist.push(entry(seq, 4.0, seq == 2 || seq == 5));
        expired.extend(outcome.expired);
    }
    assert_eq!(
        expired.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(playlist.media_sequence(), Some(4));
    // Segment 2 carried a discontinuity and left the window.
    assert_eq!(playlist.discontinuity_sequence(), 1);
    assert_eq!(playlist.render(), golden("live_window.m3u8"));
}

#[test]
fn expired_segments_stay_for_their_duration_plus_the_longest_listing() {
    let mut playlist = live(2);
    playlist.push(entry(1, 4.0, false));
    playlist.push(entry(2, 6.0, false));
    let outcome = playlist.push(entry(3, 5.0, false));
    // Segment 1 was listed in playlists of 4 s and 10 s.
    assert_eq!(outcome.expired.len(), 1);
    assert_eq!(outcome.expired[0].uri, "segment-00001.ts");
    assert!((outcome.expired[0].keep_for - 14.0).abs() < 1e-9);
}

#[test]
fn target_duration_is_constant_while_segments_fit() {
    let mut playlist = live(0);
    for (seq, d) in [(1, 4.0), (2, 4.499), (3, 3.2)] {
        assert_eq!(playlist.push(entry(seq, d, false)).target_raised, None);
    }
    assert_eq!(playlist.target_duration(), 4);
}

#[test]
fn overrunning_segment_raises_the_target_once_and_never_lowers_it() {
    let mut playlist = live(0);
    playlist.push(entry(1, 4.0, false));
    assert_eq!(
        playlist.push(entry(2, 6.0, false)).target_raised,
        Some((4, 6))
    );
    assert_eq!(playlist.push(entry(3, 4.0, false)).target_raised, None);
    assert_eq!(playlist.target_duration(), 6);
    // Every EXTINF rounded to the nearest integer stays within the declared value.
    for e in playlist.entries() {
        assert!(e.duration.round() as u64 <= playlist.target_duration());
    }
}

#[test]
fn declared_target_rounds_up() {
    assert_eq!(declared_target(4.0), 4);
    assert_eq!(declared_target(2.5), 3);
    assert_eq!(declared_target(0.2), 1);
    assert_eq!(declared_target(6.0004), 6);
}

#[test]
fn durations_are_written_with_millisecond_precision() {
    let mut playlist = live(0);
    playlist.push(entry(7, 3.999_66, false));
    let text = playlist.render();
    assert!(
        text.contains("#EXTINF:4.000,\nsegment-00007.ts\n"),
        "{text}"
    );
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:7\n"), "{text}");
}

#[test]
fn program_date_time_is_written_in_utc_with_milliseconds() {
    let mut playlist = live(0);
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_795_000_000_123);
    playlist.push(entry(1, 4.0, false).with_program_date_time(time));
    let text = playlist.render();
    assert!(
        text.contains("#EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:40.123Z\n#EXTINF:4.000,\n"),
        "{text}"
    );
}

#[test]
fn a_time_shift_view_slides_by_media_time_and_keeps_its_fewest() {
    let mut dvr = MediaPlaylist::new(PlaylistConfig {
        max_duration: Some(20.0),
        window: 3,
        target_duration: 2.0,
        independent_segments: true,
    });
    let mut expired = Vec::new();
    for seq in 0..20 {
        for gone in dvr.push(entry(seq, 2.0, false)).expired {
            expired.push(gone.sequence);
        }
        let listed = dvr.duration();
        assert!(listed <= 22.0, "{listed} s listed after {seq}");
        assert!(seq < 10 || listed >= 20.0, "{listed} s listed after {seq}");
    }
    assert_eq!(expired, (0..10).collect::<Vec<_>>());
    let text = dvr.render();
    assert!(!text.contains("PLAYLIST-TYPE"), "a live view: {text}");
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:10\n"), "{text}");
    // Segments longer than the duration: the fewest (the window) stay listed.
    for seq in 20..24 {
        dvr.push(entry(seq, 30.0, false));
    }
    assert_eq!(dvr.entries().len(), 3);
}

#[test]
fn a_finished_recording_is_vod_and_survives_a_snapshot() {
    let mut archive = live(0);
    archive.push(entry(1, 4.0, false));
    assert!(archive.render().contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"));
    archive.finish_as_vod();
    let text = archive.render();
    assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"), "{text}");
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    let restored = MediaPlaylist::restore(archive.snapshot());
    assert_eq!(restored.render(), text);
    // A snapshot from before recordings existed reads as not finished.
    let mut old = serde_json::to_value(archive.snapshot()).unwrap();
    old.as_object_mut().unwrap().remove("vod");
    let config = old["config"].as_object_mut().unwrap();
    config.remove("max_duration");
    let read: PlaylistSnapshot = serde_json::from_value(old).unwrap();
    assert!(!read.vod && read.config.max_duration.is_none());
}

/// A random entry: durations with and without a millisecond part, some over the target,
/// discontinuities, gaps and date-times now and then, URIs of varying length.
fn random_entry(rng: &mut fastrand::Rng, sequence: u64) -> PlaylistEntry {
    let duration = match rng.u8(0..4) {
        0 => 2.0,
        1 => f64::from(rng.u32(100..9_000)) / 1000.0,
        2 => rng.f64() * 6.0,
        _ => 4.004,
    };
    let uri = match rng.u8(0..3) {
        0 => format!("seg/cam-{sequence:05}.ts"),
        1 => format!(
            "https://cdn.example/{}/s{sequence}.ts",
            "x".repeat(rng.usize(0..40))
        ),
        _ => format!("{sequence}.ts"),
    };
    let mut entry = PlaylistEntry::new(sequence, uri, duration, rng.u8(0..8) == 0);
    if rng.u8(0..10) == 0 {
        entry = entry.as_gap();
    }
    if rng.bool() {
        let millis = 1_795_000_000_000 + sequence * 2_000 + rng.u64(0..1_000);
        entry = entry.with_program_date_time(std::time::UNIX_EPOCH + Duration::from_millis(millis));
    }
    entry
}

fn random_config(rng: &mut fastrand::Rng) -> PlaylistConfig {
    PlaylistConfig {
        window: rng.usize(0..8),
        max_duration: rng.bool().then(|| f64::from(rng.u32(1..60))),
        target_duration: f64::from(rng.u32(1..8)),
        independent_segments: rng.bool(),
    }
}

use std::time::Duration;

#[test]
fn the_kept_text_renders_as_formatting_every_entry_again() {
    for seed in 0..200 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut playlist = MediaPlaylist::new(random_config(&mut rng));
        let mut sequence = rng.u64(0..1_000);
        for step in 0..300 {
            match rng.u8(0..100) {
                0..80 => {
                    playlist.push(random_entry(&mut rng, sequence));
                    sequence += 1;
                }
                80..88 => {
                    playlist.set_config(random_config(&mut rng));
                }
                88..91 => playlist.clear(),
                91..95 => playlist = MediaPlaylist::restore(playlist.snapshot()),
                95..97 => playlist.end(),
                97..98 => playlist.finish_as_vod(),
                _ => playlist.reopen(),
            }
            let text = playlist.render();
            assert_eq!(
                text,
                playlist.render_from_scratch(),
                "seed {seed}, step {step}"
            );
            assert_eq!(text, playlist.clone().render(), "seed {seed}, step {step}");
        }
    }
}

#[test]
fn a_long_time_shift_view_renders_as_from_scratch_while_it_slides() {
    // The issue-16 shape: 2 h by media time, 2 s segments with date-times, a gap and a
    // discontinuity passing through the window.
    let mut dvr = MediaPlaylist::new(PlaylistConfig {
        max_duration: Some(7200.0),
        window: 6,
        target_duration: 2.0,
        independent_segments: true,
    });
    let start = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    for seq in 0..4_000u64 {
        let mut next = entry(seq, 2.0, seq == 100)
            .with_program_date_time(start + Duration::from_secs(2 * seq));
        if seq == 50 {
            next = next.as_gap();
        }
        dvr.push(next);
        if seq % 97 == 0 || (3_640..3_660).contains(&seq) {
            assert_eq!(dvr.render(), dvr.render_from_scratch(), "after {seq}");
        }
    }
    assert_eq!(dvr.entries().len(), 3_600);
    let text = dvr.render();
    assert!(
        text.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n"),
        "the gap left"
    );
    assert!(
        text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"),
        "the discontinuity left"
    );
}

#[test]
fn init_segments_are_mapped_where_they_change_and_before_the_first_entry() {
    let mut playlist = live(3);
    let fmp4 = |seq: u64, init: &str, discontinuity: bool| {
        PlaylistEntry::new(seq, format!("s-{seq}.m4s"), 4.0, discontinuity)
            .with_map(init.to_owned())
    };
    playlist.push(fmp4(1, "init-0.mp4", false));
    playlist.push(fmp4(2, "init-0.mp4", false));
    playlist.push(fmp4(3, "init-1.mp4", true));
    let text = playlist.render();
    assert!(text.contains("#EXT-X-VERSION:7\n"), "{text}");
    assert!(
        text.contains(
            "#EXT-X-MAP:URI=\"init-0.mp4\"\n#EXTINF:4.000,\ns-1.m4s\n#EXTINF:4.000,\ns-2.m4s\n\
             #EXT-X-MAP:URI=\"init-1.mp4\"\n#EXT-X-DISCONTINUITY\n#EXTINF:4.000,\ns-3.m4s\n"
        ),
        "{text}"
    );
    assert_eq!(text, playlist.render_from_scratch());
    // The first entry leaves: the next one (same init, no map of its own) gets it in front.
    playlist.push(fmp4(4, "init-1.mp4", false));
    let text = playlist.render();
    assert!(
        text.contains(
            "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init-0.mp4\"\n#EXTINF:4.000,\ns-2.m4s\n"
        ),
        "{text}"
    );
    assert_eq!(text, playlist.render_from_scratch());
    assert_eq!(text.matches("#EXT-X-MAP").count(), 2, "{text}");
    // MPEG-TS entries keep version 3 and no map.
    let mut ts = live(3);
    ts.push(entry(1, 4.0, false));
    assert!(ts.render().contains("#EXT-X-VERSION:3\n"));
    assert!(!ts.render().contains("EXT-X-MAP"));
}

#[test]
fn encrypted_entries_carry_their_own_key_line_and_clear_ones_after_them_say_none() {
    use crate::publish::encryption::iv_for;
    let mut playlist = live(3);
    let sealed = |seq: u64, key: u64| {
        let uri = format!("https://k.example.com/{key:04}.key");
        entry(seq, 4.0, false).with_key(uri, iv_for(seq), None)
    };
    playlist.push(sealed(1, 0));
    playlist.push(sealed(2, 1));
    playlist.push(entry(3, 4.0, true));
    let text = playlist.render();
    assert!(
        text.contains(
            "#EXT-X-KEY:METHOD=AES-128,URI=\"https://k.example.com/0000.key\",\
             IV=0x00000000000000000000000000000001\n#EXTINF:4.000,\nsegment-00001.ts\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("0001.key\",IV=0x00000000000000000000000000000002\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "#EXT-X-DISCONTINUITY\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:4.000,\nsegment-00003.ts"
        ),
        "{text}"
    );
    assert_eq!(text.matches("#EXT-X-KEY").count(), 3, "{text}");
    assert_eq!(text, playlist.render_from_scratch());
    // The encrypted ones leave the window: the clear one alone needs no key line in front,
    // and what was kept rendered still equals a rendering from scratch.
    playlist.push(entry(4, 4.0, false));
    playlist.push(entry(5, 4.0, false));
    let text = playlist.render();
    assert_eq!(text, playlist.render_from_scratch());
    assert!(!text.contains("AES-128"), "{text}");
}

#[test]
fn a_new_init_segment_after_encrypted_entries_is_declared_in_the_clear() {
    use crate::publish::encryption::iv_for;
    let mut playlist = live(4);
    let sealed = |seq: u64, map: &str| {
        let uri = format!("keys/{seq}.key");
        let mut listed = entry(seq, 4.0, false).with_key(uri, iv_for(seq), None);
        listed.map = Some(map.to_owned());
        listed
    };
    playlist.push(sealed(1, "init-0.mp4"));
    playlist.push(sealed(2, "init-0.mp4"));
    playlist.push(sealed(3, "init-1.mp4"));
    let text = playlist.render();
    // The first map comes before any key; the second is preceded by METHOD=NONE, then the
    // entry's own key applies to its segment.
    assert!(
        text.contains(
            "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init-0.mp4\"\n#EXT-X-KEY:METHOD=AES-128"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "segment-00002.ts\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-MAP:URI=\"init-1.mp4\"\n\
             #EXT-X-KEY:METHOD=AES-128,URI=\"keys/3.key\""
        ),
        "{text}"
    );
    assert_eq!(text, playlist.render_from_scratch());
    // Its predecessors leave: what was kept rendered still equals a rendering from scratch.
    for seq in 4..8 {
        playlist.push(sealed(seq, "init-1.mp4"));
        assert_eq!(playlist.render(), playlist.render_from_scratch());
    }
}
