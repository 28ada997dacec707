//! Tests of the plan's views: the time-shift view slides by media time, archives are cut at
//! UTC-aligned periods and finished as VOD, retention deletes whole archives, and no segment
//! is deleted while a published playlist lists it — checked by replaying every operation
//! against the playlists as a player would see them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::playlist::views::{ArchiveNamePattern, ArchiveView, DvrView};
use crate::playlist::{PlanSettings, PlaylistConfig, SegmentNamePattern};
use crate::publish::plan::{Operation, PlaylistPlan};
use crate::segmenter::Segment;

/// 2 s segments, a live window of 3.
fn settings(dvr: Option<u64>, archive: Option<(u64, u64)>) -> PlanSettings {
    PlanSettings {
        playlist_key: "cam.m3u8".into(),
        segment_format: Default::default(),
        segment_name: SegmentNamePattern::parse("seg/cam-{seq:05}.ts").unwrap(),
        base_url: None,
        first_sequence: 1,
        delete_expired: true,
        program_date_time: true,
        playlist: PlaylistConfig {
            window: 3,
            max_duration: None,
            target_duration: 2.0,
            independent_segments: true,
        },
        dvr: dvr.map(|seconds| DvrView {
            file_name: "cam-dvr.m3u8".into(),
            duration: Duration::from_secs(seconds),
        }),
        archive: archive.map(|(every, retain)| ArchiveView {
            every: Duration::from_secs(every),
            name: ArchiveNamePattern::parse("archive/{start:%Y%m%dT%H%M%SZ}.m3u8").unwrap(),
            retain: Some(Duration::from_secs(retain)),
        }),
    }
}

fn segment(discontinuity: bool) -> Segment {
    Segment {
        data: Vec::new(),
        start_pts: 0,
        duration_ticks: 180_000,
        discontinuity,
        independent: true,
        encryption: None,
    }
}

/// A day boundary, so periods of 20 s start at it.
fn midnight() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(20_000 * 86_400)
}

/// What a player sees: the latest version of every playlist, and the segments stored.
#[derive(Default)]
struct Store {
    playlists: BTreeMap<String, String>,
    segments: BTreeSet<String>,
    deleted: Vec<String>,
}

/// `uri` as written in the playlist stored under `playlist`, as a key.
fn resolve(playlist: &str, uri: &str) -> String {
    let mut parts: Vec<&str> = playlist.split('/').collect();
    parts.pop();
    for part in uri.split('/') {
        match part {
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

impl Store {
    /// Carries `operations` out (deletions at once: the strictest case), checking that no
    /// listed segment is deleted and that nothing is deleted twice.
    fn apply(&mut self, operations: Vec<Operation>) {
        for operation in operations {
            match operation {
                Operation::PutSegment { key } => {
                    self.segments.insert(key);
                }
                Operation::PutPlaylist { key, text, .. } => {
                    for uri in text.lines().filter(|line| !line.starts_with('#')) {
                        let listed = resolve(&key, uri);
                        assert!(
                            self.segments.contains(&listed),
                            "{key} lists {listed}, not stored"
                        );
                    }
                    self.playlists.insert(key, text);
                }
                Operation::Expire { key, .. } => {
                    assert!(!self.deleted.contains(&key), "{key} deleted twice");
                    if self.playlists.remove(&key).is_none() {
                        assert!(self.segments.remove(&key), "{key} deleted, never stored");
                        let listing = self.playlists.iter().find(|(playlist, text)| {
                            (text.lines()).any(|uri| resolve(playlist, uri) == key)
                        });
                        assert!(
                            listing.is_none(),
                            "{key} deleted while {listing:?} lists it"
                        );
                    }
                    self.deleted.push(key);
                }
            }
        }
    }

    fn listed(&self, playlist: &str) -> Vec<String> {
        let text = &self.playlists[playlist];
        let uris = text.lines().filter(|line| !line.starts_with('#'));
        uris.map(|uri| resolve(playlist, uri)).collect()
    }
}

fn at(seconds: u64) -> SystemTime {
    midnight() + Duration::from_secs(seconds)
}

/// The key of the archive of the period starting at `seconds`.
fn archive(seconds: u64) -> String {
    let view = settings(None, Some((20, 20))).archive.unwrap();
    view.name.render(at(seconds))
}

#[test]
fn the_time_shift_view_slides_by_media_time_and_segments_go_when_it_drops_them() {
    let mut plan = PlaylistPlan::new(settings(Some(20), None));
    let mut store = Store::default();
    for n in 0..30 {
        store.apply(plan.add(&segment(false), at(2 * n)));
        let dvr = store.listed("cam-dvr.m3u8");
        assert_eq!(store.listed("cam.m3u8").len(), (n as usize + 1).min(3));
        assert!(n < 10 || (10..=11).contains(&dvr.len()), "{dvr:?}");
    }
    let dvr_text = &store.playlists["cam-dvr.m3u8"];
    assert!(!dvr_text.contains("PLAYLIST-TYPE"), "{dvr_text}");
    assert!(dvr_text.contains("\nseg/cam-00030.ts\n"), "{dvr_text}");
    // Everything older than the time-shift window is gone; nothing it lists is.
    assert_eq!(store.segments.len(), store.listed("cam-dvr.m3u8").len());
    assert_eq!(
        store.deleted.first().map(String::as_str),
        Some("seg/cam-00001.ts")
    );
    let ended = plan.end();
    let keys: Vec<&str> = (ended.iter())
        .filter_map(|operation| match operation {
            Operation::PutPlaylist { key, text, .. } if text.ends_with("#EXT-X-ENDLIST\n") => {
                Some(key.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(keys, ["cam.m3u8", "cam-dvr.m3u8"]);
}

#[test]
fn archives_follow_utc_periods_finish_as_vod_and_go_whole_after_their_retention() {
    let mut plan = PlaylistPlan::new(settings(Some(10), Some((20, 20))));
    let mut store = Store::default();
    // 50 s of 2 s segments starting 4 s into a period: [0, 20) is cut short, two more follow.
    for n in 0..23 {
        store.apply(plan.add(&segment(false), at(4 + 2 * n)));
    }
    let (first, second, third) = (&archive(0), &archive(20), &archive(40));
    assert_eq!(first, "archive/20241004T000000Z.m3u8");
    for (name, vod, segments) in [(first, true, 8), (second, true, 10), (third, false, 5)] {
        let text = &store.playlists[name.as_str()];
        let kind = if vod { "VOD" } else { "EVENT" };
        assert!(
            text.contains(&format!("#EXT-X-PLAYLIST-TYPE:{kind}\n")),
            "{text}"
        );
        assert_eq!(text.ends_with("#EXT-X-ENDLIST\n"), vod, "{text}");
        assert!(
            text.contains("\n../seg/cam-"),
            "listed relative to the archive: {text}"
        );
        assert_eq!(store.listed(name).len(), segments, "{text}");
    }
    // Back to back: the second continues the first's numbers.
    assert_eq!(store.listed(first).last().unwrap(), "seg/cam-00008.ts");
    assert_eq!(store.listed(second)[0], "seg/cam-00009.ts");
    // Held by their archives, no segment was deleted though they left the live views.
    assert!(store.deleted.is_empty(), "{:?}", store.deleted);
    assert_eq!(plan.finished_archives().count(), 2);

    // The first period ended at 20 s: retained until 40 s.
    assert_eq!(plan.next_retirement(), Some(at(40)));
    store.apply(plan.retire(at(39)));
    assert!(store.deleted.is_empty());
    store.apply(plan.retire(at(40)));
    assert!(!store.playlists.contains_key(first.as_str()));
    assert_eq!(&store.deleted[0], first, "the playlist goes first");
    assert_eq!(store.deleted.len(), 1 + 8);
    assert_eq!(plan.next_retirement(), Some(at(60)));
    // The second one's newest segments are still in the time-shift view when it goes: they
    // are deleted once they leave it.
    store.apply(plan.retire(at(60)));
    assert!(!store.playlists.contains_key(second.as_str()));
    let dvr = store.listed("cam-dvr.m3u8");
    for n in 0..10 {
        store.apply(plan.add(&segment(false), at(50 + 2 * n)));
    }
    let stored_from_second = (9..=18).map(|n| format!("seg/cam-{n:05}.ts"));
    for key in stored_from_second {
        assert!(
            !store.segments.contains(&key) || dvr.contains(&key),
            "{key} left over"
        );
    }
}

#[test]
fn a_restart_continues_the_open_archive_after_a_discontinuity_or_finishes_it() {
    let mut plan = PlaylistPlan::new(settings(Some(10), Some((20, 3600))));
    let mut store = Store::default();
    for n in 0..5 {
        store.apply(plan.add(&segment(false), at(2 * n)));
    }
    let json = serde_json::to_string(&plan.snapshot()).unwrap();
    let mut restored = PlaylistPlan::restore(serde_json::from_str(&json).unwrap()).unwrap();
    let before = store.playlists.clone();
    // Same period: the archive goes on, the next entry after a discontinuity, numbers go on.
    restored.update(settings(Some(10), Some((20, 3600))));
    store.apply(restored.add(&segment(false), at(12)));
    let open = &archive(0);
    let text = &store.playlists[open];
    assert!(
        text.starts_with(
            before[open]
                .trim_end_matches('\n')
                .split("#EXTINF")
                .next()
                .unwrap()
        )
    );
    assert!(text.ends_with("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2024-10-04T00:00:12.000Z\n#EXTINF:2.000,\n../seg/cam-00006.ts\n"), "{text}");
    assert_eq!(store.listed(open).len(), 6);
    assert_eq!(store.listed("cam-dvr.m3u8").len(), 5);
    // Another restart, past the period: the first segment finishes the archive.
    let json = serde_json::to_string(&restored.snapshot()).unwrap();
    let mut again = PlaylistPlan::restore(serde_json::from_str(&json).unwrap()).unwrap();
    store.apply(again.add(&segment(false), at(70)));
    let text = &store.playlists[open];
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    let next = &archive(60);
    assert_eq!(store.listed(next), ["seg/cam-00007.ts"]);
    assert_eq!(again.finished_archives().count(), 1);
}

#[test]
fn a_reload_adds_a_time_shift_view_from_the_live_window_and_removing_archives_keeps_them() {
    let mut plan = PlaylistPlan::new(settings(None, Some((20, 3600))));
    let mut store = Store::default();
    for n in 0..5 {
        store.apply(plan.add(&segment(false), at(2 * n)));
    }
    store.apply(plan.update(settings(Some(30), None)));
    let open = &archive(0);
    assert!(store.playlists[open].contains("#EXT-X-PLAYLIST-TYPE:VOD\n"));
    store.apply(plan.add(&segment(false), at(10)));
    assert_eq!(
        store.listed("cam-dvr.m3u8").len(),
        4,
        "the live window and the new one"
    );
    for n in 6..40 {
        store.apply(plan.add(&segment(false), at(2 * n)));
    }
    // No new archive; the recording made stays, with its segments, until its retention.
    assert_eq!(
        store
            .playlists
            .keys()
            .filter(|k| k.starts_with("archive/"))
            .count(),
        1
    );
    assert_eq!(store.listed(open).len(), 5);
    assert_eq!(plan.next_retirement(), Some(at(3620)));
    store.apply(plan.retire(at(3620)));
    assert!(!store.playlists.contains_key(open));
    for key in (1..=5).map(|n| format!("seg/cam-{n:05}.ts")) {
        assert!(!store.segments.contains(&key), "{key} left over");
    }
}
