//! Tests of the plan's init segments: the EXT-X-MAP of each entry, expiry once no entry names
//! an init (never the current one, never while a finished archive lists it), the runs kept in
//! the snapshot, and a snapshot from before fMP4 still opening.

use std::time::SystemTime;

use super::plan::tests::{segment, settings as ts_settings};
use super::plan::{Operation, PlaylistPlan};
use crate::playlist::{PlanSettings, SegmentFormat, SegmentNamePattern};

/// The TS plan tests' settings, as fMP4 from sequence number 1.
fn settings(window: usize) -> PlanSettings {
    PlanSettings {
        segment_format: SegmentFormat::Fmp4,
        segment_name: SegmentNamePattern::parse("live/s-{seq:03}.m4s").unwrap(),
        first_sequence: 1,
        ..ts_settings(window, None)
    }
}

/// Adds a segment; the keys it expires.
fn add(plan: &mut PlaylistPlan) -> Vec<String> {
    let operations = plan.add(&segment(), SystemTime::UNIX_EPOCH);
    (operations.into_iter())
        .filter_map(|operation| match operation {
            Operation::Expire { key, .. } => Some(key),
            _ => None,
        })
        .collect()
}

#[test]
fn an_init_expires_with_the_last_entry_naming_it_and_the_current_one_never() {
    let mut plan = PlaylistPlan::new(settings(3));
    plan.set_init_key("live/init-0.mp4".into());
    for _ in 0..4 {
        add(&mut plan);
    }
    plan.set_init_key("live/init-1.mp4".into());
    // Segments 5, 6, 7 name init 1; 2, 3, 4 (init 0) leave one by one.
    assert_eq!(add(&mut plan), ["live/s-002.m4s"]);
    assert_eq!(add(&mut plan), ["live/s-003.m4s"]);
    let text = plan.playlist().render();
    assert!(text.contains("#EXT-X-MAP:URI=\"init-0.mp4\""), "{text}");
    assert!(text.contains("#EXT-X-MAP:URI=\"init-1.mp4\""), "{text}");
    assert!(text.contains("#EXT-X-VERSION:7"), "{text}");
    // Segment 4 leaves: nothing names init 0 any more.
    assert_eq!(add(&mut plan), ["live/s-004.m4s", "live/init-0.mp4"]);
    for _ in 0..5 {
        let expired = add(&mut plan);
        assert!(
            !expired.iter().any(|key| key.contains("init")),
            "{expired:?}"
        );
    }
}

#[test]
fn the_runs_survive_the_snapshot_and_an_old_snapshot_still_opens() {
    let mut plan = PlaylistPlan::new(settings(3));
    plan.set_init_key("live/init-0.mp4".into());
    add(&mut plan);
    add(&mut plan);
    plan.set_init_key("live/init-1.mp4".into());
    add(&mut plan);
    let snapshot = plan.snapshot();
    assert_eq!(snapshot.init_key.as_deref(), Some("live/init-1.mp4"));
    assert_eq!(snapshot.inits.len(), 2);
    let json = serde_json::to_string(&snapshot).unwrap();
    let mut restored = PlaylistPlan::restore(serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(restored.init_key(), Some("live/init-1.mp4"));
    // Going on: the next segments name init 1; init 0 goes with segment 2.
    assert_eq!(add(&mut restored), ["live/s-001.m4s"]);
    assert_eq!(add(&mut restored), ["live/s-002.m4s", "live/init-0.mp4"]);
    let text = restored.playlist().render();
    assert!(text.contains("#EXT-X-MAP:URI=\"init-1.mp4\""), "{text}");

    // A journal written before fMP4: no init fields at all.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let object = value.as_object_mut().unwrap();
    object.remove("init_key");
    object.remove("inits");
    object["settings"]
        .as_object_mut()
        .unwrap()
        .remove("segment_format");
    let old: super::plan::PlanSnapshot = serde_json::from_value(value).unwrap();
    let restored = PlaylistPlan::restore(old).unwrap();
    assert_eq!(restored.init_key(), None);
    assert!(!restored.is_fmp4());
}

#[test]
fn back_to_ts_names_no_init_and_the_last_one_expires_when_unlisted() {
    let mut plan = PlaylistPlan::new(settings(3));
    plan.set_init_key("live/init-0.mp4".into());
    add(&mut plan);
    let mut ts = settings(3);
    ts.segment_format = SegmentFormat::Ts;
    plan.update(ts);
    assert_eq!(plan.init_key(), None);
    add(&mut plan);
    add(&mut plan);
    assert_eq!(add(&mut plan), ["live/s-001.m4s", "live/init-0.mp4"]);
    let text = plan.playlist().render();
    assert!(!text.contains("EXT-X-MAP"), "{text}");
}
