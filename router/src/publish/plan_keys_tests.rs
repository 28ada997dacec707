//! Tests of the plan's key files: each encrypted entry's `#EXT-X-KEY` (a key stored beside the
//! segments named relative to each view, a key URI written as is), expiry once no entry of any
//! view names a key (never the current one, never while the time-shift view lists it), the
//! runs kept in the snapshot, and gaps naming no key.

use std::time::{Duration, SystemTime};

use super::encryption::iv_for;
use super::plan::tests::{segment, settings};
use super::plan::{Operation, PlaylistPlan};
use crate::playlist::views::DvrView;
use crate::segmenter::{KeyObject, Segment, SegmentEncryption};

/// A segment encrypted with key `number`, stored beside the segments (`beside`) or at a URI.
fn sealed(number: u64, sequence: u64, beside: bool) -> Segment {
    let name = format!("live/keys/k-{number}.key");
    Segment {
        encryption: Some(SegmentEncryption {
            key_number: number,
            iv: iv_for(sequence),
            key_uri: (!beside).then(|| format!("https://keys.example.com/{number}.key")),
            key_object: beside.then_some(KeyObject {
                name,
                bytes: [number as u8; 16],
            }),
        }),
        ..segment()
    }
}

/// Adds `segment`; the keys it expires.
fn add(plan: &mut PlaylistPlan, segment: &Segment) -> Vec<String> {
    let operations = plan.add(segment, SystemTime::UNIX_EPOCH);
    (operations.into_iter())
        .filter_map(|operation| match operation {
            Operation::Expire { key, .. } => Some(key),
            _ => None,
        })
        .collect()
}

/// Adds segments 10, 11, … encrypted with a new key every two, beside them or at a URI; the
/// keys each one expires.
fn add_rotating(plan: &mut PlaylistPlan, count: u64, beside: bool) -> Vec<Vec<String>> {
    (0..count)
        .map(|index| add(plan, &sealed(index / 2, 10 + index, beside)))
        .collect()
}

#[test]
fn a_key_beside_the_segments_is_named_relative_to_the_playlist_and_expires_with_its_last_one() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    let expired = add_rotating(&mut plan, 8, true);
    let text = plan.playlist().render();
    assert!(
        text.contains(
            "#EXT-X-KEY:METHOD=AES-128,URI=\"keys/k-2.key\",IV=0x0000000000000000000000000000000F\n\
             #EXTINF:2.000,\ns-015.ts\n"
        ),
        "{text}"
    );
    assert!(text.contains("URI=\"keys/k-3.key\""), "{text}");
    // Window 3: segment 10 leaves with the 4th segment, 11 (the last of key 0) with the 5th,
    // and key 0 with it; key 1 with segment 13 (the 7th). The current key never.
    assert_eq!(expired[3], ["live/s-010.ts"]);
    assert_eq!(expired[4], ["live/s-011.ts", "live/keys/k-0.key"]);
    assert_eq!(expired[5], ["live/s-012.ts"]);
    assert_eq!(expired[6], ["live/s-013.ts", "live/keys/k-1.key"]);
    assert_eq!(expired[7], ["live/s-014.ts"]);
}

#[test]
fn a_key_uri_is_written_as_is_and_nothing_of_it_is_deleted() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    let expired = add_rotating(&mut plan, 8, false);
    let text = plan.playlist().render();
    assert!(
        text.contains(
            "URI=\"https://keys.example.com/3.key\",IV=0x00000000000000000000000000000011\n"
        ),
        "{text}"
    );
    assert!(
        expired.iter().flatten().all(|key| key.ends_with(".ts")),
        "{expired:?}"
    );
}

#[test]
fn a_key_the_time_shift_view_still_lists_stays_and_the_view_names_it_from_its_own_place() {
    let mut settings = settings(3, None);
    settings.dvr = Some(DvrView {
        file_name: "dvr/cam.m3u8".into(),
        duration: Duration::from_secs(10),
    });
    let mut plan = PlaylistPlan::new(settings);
    let expired = add_rotating(&mut plan, 8, true);
    // The view lists 5 segments of 2 s: key 0 (segments 10, 11) goes when 11 leaves it, with
    // the 7th segment; key 1 with the 9th.
    let keys: Vec<&String> = expired
        .iter()
        .flatten()
        .filter(|k| k.ends_with(".key"))
        .collect();
    assert_eq!(keys, ["live/keys/k-0.key"], "{expired:?}");
    assert!(
        expired[6].contains(&"live/keys/k-0.key".to_owned()),
        "{expired:?}"
    );
    let operations = plan.add(&sealed(4, 18, true), SystemTime::UNIX_EPOCH);
    let dvr = (operations.iter()).find_map(|operation| match operation {
        Operation::PutPlaylist { key, text, .. } if key == "dvr/cam.m3u8" => Some(text),
        _ => None,
    });
    let dvr = dvr.expect("a time-shift version");
    assert!(dvr.contains("URI=\"../live/keys/k-2.key\""), "{dvr}");
    assert!(dvr.contains("URI=\"../live/keys/k-4.key\""), "{dvr}");
    assert!(!dvr.contains("URI=\"keys/"), "{dvr}");
}

#[test]
fn the_runs_survive_the_snapshot_and_a_gap_names_no_key() {
    let mut plan = PlaylistPlan::new(settings(3, None));
    add_rotating(&mut plan, 3, true);
    let json = serde_json::to_string(&plan.snapshot()).unwrap();
    let mut restored = PlaylistPlan::restore(serde_json::from_str(&json).unwrap()).unwrap();
    // Key 1 (segments 12, 13) goes on after the restart; key 0 goes with segment 11.
    assert_eq!(add(&mut restored, &sealed(1, 13, true)), ["live/s-010.ts"]);
    assert_eq!(
        add(&mut restored, &sealed(2, 14, true)),
        ["live/s-011.ts", "live/keys/k-0.key"]
    );
    let operations = restored.add_gap(
        "live/s-015.ts".into(),
        &sealed(2, 15, true),
        SystemTime::UNIX_EPOCH,
    );
    let text = match operations
        .iter()
        .find(|o| matches!(o, Operation::PutPlaylist { .. }))
    {
        Some(Operation::PutPlaylist { text, .. }) => text.clone(),
        _ => panic!("no playlist in {operations:?}"),
    };
    assert!(
        text.ends_with("#EXT-X-KEY:METHOD=NONE\n#EXT-X-GAP\n#EXTINF:2.000,\ns-015.ts\n"),
        "{text}"
    );
}
