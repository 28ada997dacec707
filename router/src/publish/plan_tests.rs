//! Tests of the publishing plan: order, expiry by key, gaps, restore, reload updates.

use super::*;
use crate::playlist::{PlaylistConfig, SegmentNamePattern};

pub(crate) fn settings(window: usize, base_url: Option<&str>) -> PlanSettings {
    PlanSettings {
        dvr: None,
        archive: None,
        playlist_key: "live/index.m3u8".into(),
        segment_format: Default::default(),
        segment_name: SegmentNamePattern::parse("live/s-{seq:03}.ts").unwrap(),
        base_url: base_url.map(str::to_owned),
        first_sequence: 10,
        delete_expired: true,
        program_date_time: false,
        playlist: PlaylistConfig {
            max_duration: None,
            window,
            target_duration: 2.0,
            independent_segments: true,
        },
    }
}

pub(crate) fn segment() -> Segment {
    Segment {
        data: Vec::new(),
        start_pts: 0,
        duration_ticks: 180_000,
        discontinuity: false,
        independent: true,
        encryption: None,
    }
}

#[test]
fn each_segment_is_put_before_the_playlist_that_lists_it() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    let operations = plan.add(&segment(), SystemTime::UNIX_EPOCH);
    assert_eq!(
        operations[0],
        Operation::PutSegment {
            key: "live/s-010.ts".into()
        }
    );
    match &operations[1] {
        Operation::PutPlaylist {
            key,
            text,
            cache_control,
        } => {
            assert_eq!(key, "live/index.m3u8");
            assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:10\n"));
            // Listed relative to the playlist, stored under its key.
            assert!(text.ends_with("\ns-010.ts\n"), "{text}");
            assert_eq!(cache_control, "max-age=1");
        }
        other => panic!("expected the playlist, got {other:?}"),
    }
}

#[test]
fn expiry_names_the_key_not_the_uri() {
    let mut plan = PlaylistPlan::new(settings(3, Some("http://cdn.example.com/")));
    let mut expired = Vec::new();
    for _ in 0..4 {
        for operation in plan.add(&segment(), SystemTime::UNIX_EPOCH) {
            if let Operation::Expire { key, keep_for } = operation {
                expired.push((key, keep_for));
            }
        }
    }
    // Segment 10 was listed in playlists of up to 6 s: kept 2 + 6 s.
    assert_eq!(
        expired,
        vec![("live/s-010.ts".into(), Duration::from_secs(8))]
    );
    let text = plan.playlist().render();
    assert!(
        text.contains("http://cdn.example.com/live/s-013.ts\n"),
        "{text}"
    );
}

#[test]
fn a_gap_keeps_its_number_and_is_never_stored_or_deleted() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    plan.add_named("live/s-010.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
    // s-011 was dropped at this sink.
    let operations = plan.add_gap("live/s-011.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
    assert!(matches!(
        operations.as_slice(),
        [Operation::PutPlaylist { .. }]
    ));
    plan.add_named("live/s-012.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
    let text = plan.playlist().render();
    assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:8\n"), "{text}");
    assert!(
        text.ends_with(
            "\ns-010.ts\n#EXT-X-GAP\n#EXTINF:2.000,\ns-011.ts\n#EXTINF:2.000,\ns-012.ts\n"
        ),
        "{text}"
    );
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:10\n"), "{text}");
    // s-010 leaves the window and is deleted; the gap leaves it and nothing is deleted.
    let first = plan.add_named("live/s-013.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
    assert_eq!(expired_keys(&first), ["live/s-010.ts"]);
    let second = plan.add_named("live/s-014.ts".into(), &segment(), SystemTime::UNIX_EPOCH);
    assert!(expired_keys(&second).is_empty());
    let text = plan.playlist().render();
    assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n"), "{text}");
}

#[test]
fn a_restored_plan_lists_what_it_listed_and_goes_on_after_a_discontinuity() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    for _ in 0..4 {
        plan.add(&segment(), SystemTime::UNIX_EPOCH);
    }
    plan.end();
    let text = serde_json::to_string(&plan.snapshot()).unwrap();
    let mut restored = PlaylistPlan::restore(serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(restored.playlist().render(), plan.playlist().render());
    restored.update(settings(3, None));
    let operations = restored.add(&segment(), SystemTime::UNIX_EPOCH);
    // The window is full at once, numbering goes on, and expiry still names keys.
    assert_eq!(expired_keys(&operations), ["live/s-011.ts"]);
    let text = restored.playlist().render();
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:12\n"), "{text}");
    assert!(
        text.ends_with("s-013.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ns-014.ts\n"),
        "{text}"
    );
    assert!(!text.contains("ENDLIST"), "{text}");
}

#[test]
fn end_adds_endlist_only_after_a_segment() {
    let mut empty = PlaylistPlan::new(settings(3, None));
    assert!(empty.end().is_empty());
    let mut plan = PlaylistPlan::new(settings(3, None));
    plan.add(&segment(), SystemTime::UNIX_EPOCH);
    match plan.end().as_slice() {
        [Operation::PutPlaylist { text, .. }] => {
            assert!(text.ends_with("#EXT-X-ENDLIST\n"))
        }
        other => panic!("expected the final playlist, got {other:?}"),
    }
}

fn expired_keys(operations: &[Operation]) -> Vec<String> {
    operations
        .iter()
        .filter_map(|operation| match operation {
            Operation::Expire { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_smaller_window_applies_to_the_next_version_and_expires_by_key() {
    let mut plan = PlaylistPlan::new(settings(5, Some("http://old.example/")));
    for _ in 0..4 {
        plan.add(&segment(), SystemTime::UNIX_EPOCH);
    }
    plan.update(settings(2, Some("https://new.example/")));
    let operations = plan.add(&segment(), SystemTime::UNIX_EPOCH);
    // Listed with the old base URL, deleted by their keys all the same.
    assert_eq!(
        expired_keys(&operations),
        ["live/s-010.ts", "live/s-011.ts", "live/s-012.ts"]
    );
    let text = plan.playlist().render();
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:13\n"), "{text}");
    assert!(
        text.contains("http://old.example/live/s-013.ts\n"),
        "{text}"
    );
    assert!(
        text.ends_with("https://new.example/live/s-014.ts\n"),
        "{text}"
    );
}

#[test]
fn a_moved_playlist_ends_at_its_old_key_and_goes_on_at_the_new_one() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    plan.add(&segment(), SystemTime::UNIX_EPOCH);
    let mut moved = settings(3, None);
    moved.playlist_key = "live/other.m3u8".into();
    match plan.update(moved).as_slice() {
        [Operation::PutPlaylist { key, text, .. }] => {
            assert_eq!(key, "live/index.m3u8");
            assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
        }
        other => panic!("expected the old key's final version, got {other:?}"),
    }
    let operations = plan.add(&segment(), SystemTime::UNIX_EPOCH);
    match &operations[1] {
        Operation::PutPlaylist { key, text, .. } => {
            assert_eq!(key, "live/other.m3u8");
            assert!(!text.contains("ENDLIST"), "{text}");
            // Numbering goes on, after a discontinuity.
            assert!(
                text.ends_with("#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ns-011.ts\n"),
                "{text}"
            );
        }
        other => panic!("expected the playlist, got {other:?}"),
    }
}

#[test]
fn an_ended_plan_reopens_after_a_discontinuity() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    plan.add(&segment(), SystemTime::UNIX_EPOCH);
    plan.end();
    assert!(plan.update(settings(3, None)).is_empty());
    assert!(!plan.is_ended());
    plan.add(&segment(), SystemTime::UNIX_EPOCH);
    let text = plan.playlist().render();
    assert!(!text.contains("ENDLIST"), "{text}");
    assert!(text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
}

#[test]
fn a_rebased_plan_lists_only_what_follows_and_never_lowers_its_target() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    plan.add(&segment(), SystemTime::UNIX_EPOCH);
    plan.add(&segment(), SystemTime::UNIX_EPOCH);
    plan.rebase();
    let mut shorter = settings(3, None);
    shorter.playlist.target_duration = 1.0;
    plan.update(shorter);
    let operations = plan.add(&segment(), SystemTime::UNIX_EPOCH);
    assert!(expired_keys(&operations).is_empty());
    let text = plan.playlist().render();
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:12\n"), "{text}");
    assert!(text.contains("#EXT-X-TARGETDURATION:2\n"), "{text}");
    assert_eq!(plan.playlist().entries().len(), 1);
}
