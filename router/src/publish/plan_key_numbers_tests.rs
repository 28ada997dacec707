//! Tests of the plan's key-sink keys: the floor follows the oldest key any view names, never
//! passes the key of the last segment planned (a gap's too), waits for the time-shift view,
//! and survives the snapshot.

use std::time::{Duration, SystemTime};

use super::encryption::iv_for;
use super::plan::PlaylistPlan;
use super::plan::tests::{segment, settings};
use crate::playlist::views::DvrView;
use crate::segmenter::{Segment, SegmentEncryption};

/// A segment encrypted with key-sink key `number`.
fn at_key_sink(number: u64, sequence: u64) -> Segment {
    Segment {
        encryption: Some(SegmentEncryption {
            key_number: number,
            iv: iv_for(sequence),
            key_uri: Some(format!("https://keys.example.com/{number}.key")),
            key_object: None,
        }),
        ..segment()
    }
}

/// Adds segments 10, 11, … (a new key every two); the floor after each.
fn floors(plan: &mut PlaylistPlan, count: u64) -> Vec<u64> {
    (0..count)
        .map(|index| {
            plan.add(&at_key_sink(index / 2, 10 + index), SystemTime::UNIX_EPOCH);
            plan.key_floor().unwrap().oldest
        })
        .collect()
}

#[test]
fn the_floor_is_the_oldest_key_the_window_names() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    assert_eq!(plan.key_floor(), None, "no key-sink key planned yet");
    // Window 3: key 0 (segments 10, 11) is named until 11 leaves, with the 5th segment.
    assert_eq!(floors(&mut plan, 8), [0, 0, 0, 0, 1, 1, 2, 2]);
    let hold = plan.key_floor().unwrap().hold;
    assert!(hold >= Duration::from_secs(2), "{hold:?}");
}

#[test]
fn the_time_shift_view_holds_the_floor_back() {
    let mut settings = settings(3, None);
    settings.dvr = Some(DvrView {
        file_name: "dvr/cam.m3u8".into(),
        duration: Duration::from_secs(10),
    });
    let mut plan = PlaylistPlan::new(settings);
    // The view lists 5 segments of 2 s: key 0 until the 7th segment.
    assert_eq!(floors(&mut plan, 8), [0, 0, 0, 0, 0, 0, 1, 1]);
}

#[test]
fn gaps_never_raise_the_floor_past_the_last_key_and_it_survives_the_snapshot() {
    let mut plan = PlaylistPlan::new(settings(2, None));
    floors(&mut plan, 4);
    // Only gaps from now on (a sink whose spool dropped them): they name no key, but the
    // segments after them use key 1 or later.
    for sequence in 14..20 {
        let key = format!("live/s-{sequence:03}.ts");
        plan.add_gap(key, &at_key_sink(1, sequence), SystemTime::UNIX_EPOCH);
    }
    assert_eq!(plan.key_floor().unwrap().oldest, 1);
    let json = serde_json::to_string(&plan.snapshot()).unwrap();
    let restored = PlaylistPlan::restore(serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(restored.key_floor(), plan.key_floor());
    // Keys stored beside the segments are none of the key sink's.
    let mut beside = PlaylistPlan::new(settings(2, None));
    let mut sealed = at_key_sink(0, 10);
    if let Some(encryption) = &mut sealed.encryption {
        encryption.key_object = Some(crate::segmenter::KeyObject {
            name: "k.key".into(),
            bytes: [0; 16],
        });
    }
    beside.add(&sealed, SystemTime::UNIX_EPOCH);
    assert_eq!(beside.key_floor(), None);
}

#[test]
fn a_sink_that_moved_keeps_the_keys_its_old_place_names_for_good() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    floors(&mut plan, 4);
    plan.rebase();
    let floor = plan.key_floor().unwrap();
    assert_eq!(floor.kept, [(0, 1)]);
    // The old listing no longer holds the floor back, and a second move keeps no more.
    plan.add(&at_key_sink(2, 14), SystemTime::UNIX_EPOCH);
    assert_eq!(plan.key_floor().unwrap().oldest, 2);
    let json = serde_json::to_string(&plan.snapshot()).unwrap();
    let restored = PlaylistPlan::restore(serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(restored.key_floor().unwrap().kept, [(0, 1)]);
}
