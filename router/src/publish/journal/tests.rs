//! Journal tests on a temporary directory: queued work, plans and deletions survive a reopen;
//! damaged records, segment files and databases are reported and set aside, never trusted.

use std::time::{Duration, SystemTime};

use super::*;
use crate::playlist::PlanSettings;
use crate::playlist::PlaylistConfig;
use crate::playlist::SegmentNamePattern;
use crate::publish::plan::PlaylistPlan;
use crate::segmenter::Segment;

fn settings() -> PlanSettings {
    PlanSettings {
        dvr: None,
        archive: None,
        playlist_key: "live/index.m3u8".into(),
        segment_format: Default::default(),
        segment_name: SegmentNamePattern::parse("live/s-{seq:03}.ts").unwrap(),
        base_url: None,
        first_sequence: 1,
        delete_expired: true,
        program_date_time: true,
        playlist: PlaylistConfig {
            max_duration: None,
            window: 3,
            target_duration: 2.0,
            independent_segments: true,
        },
    }
}

fn segment_record(key: &str, data: &[u8]) -> Record {
    Record::Segment {
        playlist: "cam".into(),
        key: key.into(),
        info: SegmentInfo {
            start_pts: 0,
            duration_ticks: 180_000,
            discontinuity: false,
            independent: true,
            encryption: None,
        },
        wall_clock: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        len: data.len() as u64,
        crc: crc32(data),
    }
}

/// Plans segments `ids` (2 s each from `start`) and journals each as the sink task does: queued,
/// then completed with the plan's change. Returns the last entry persisted.
fn journal_segments(
    journal: &Journal,
    plan: &mut PlaylistPlan,
    mut persisted: Option<u64>,
    start: SystemTime,
    ids: std::ops::Range<u64>,
) -> Option<u64> {
    for id in ids {
        plan.add(&segment(), start + Duration::from_secs(2 * id));
        let change = PlanChange::of("cam", plan, persisted);
        persisted = change.persisted_after(persisted);
        journal
            .append(id, &segment_record("x", b""), Some(b""))
            .unwrap();
        let done = Completion {
            plan: Some(change),
            ..Completion::default()
        };
        journal.complete(id, done).unwrap();
    }
    persisted
}

fn segment() -> Segment {
    SegmentInfo {
        start_pts: 0,
        duration_ticks: 180_000,
        discontinuity: false,
        independent: true,
        encryption: None,
    }
    .with_data(Vec::new())
}

#[test]
fn queued_work_survives_a_reopen_in_order_with_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, recovered) = Journal::open(dir.path(), true).unwrap();
        assert!(recovered.queue.is_empty());
        assert_eq!(recovered.next_id, 0);
        let plan = Record::Plan {
            playlist: "cam".into(),
            settings: Box::new(settings()),
        };
        journal.append(0, &plan, None).unwrap();
        journal
            .append(1, &segment_record("live/s-001.ts", b"one"), Some(b"one"))
            .unwrap();
        journal
            .append(2, &segment_record("live/s-002.ts", b"two"), Some(b"two"))
            .unwrap();
        journal.complete(0, Completion::default()).unwrap();
        // Dropped without completing the rest: what a crash leaves.
    }
    let (journal, recovered) = Journal::open(dir.path(), true).unwrap();
    let ids: Vec<u64> = recovered.queue.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(recovered.next_id, 3);
    assert_eq!(recovered.queued_segments(), 2);
    let Record::Segment { len, crc, .. } = &recovered.queue[1].1 else {
        panic!("a segment record: {:?}", recovered.queue[1]);
    };
    assert_eq!(journal.read_segment(2, *len, *crc).unwrap(), b"two");
}

#[test]
fn a_damaged_or_missing_segment_file_is_reported_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path(), false).unwrap();
    journal
        .append(7, &segment_record("a.ts", b"payload"), Some(b"payload"))
        .unwrap();
    let file = dir.path().join("segments").join(format!("{:016}.ts", 7));
    std::fs::write(&file, b"paylo").unwrap();
    let crc = crc32(b"payload");
    let error = journal.read_segment(7, 7, crc).unwrap_err();
    assert!(
        matches!(
            error,
            JournalError::Damaged {
                found: 5,
                len: 7,
                ..
            }
        ),
        "{error}"
    );
    std::fs::remove_file(&file).unwrap();
    assert!(matches!(
        journal.read_segment(7, 7, crc),
        Err(JournalError::Io { .. })
    ));
}

#[test]
fn a_plan_is_kept_entry_by_entry_and_restored_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = PlaylistPlan::new(settings());
    let mut persisted = None;
    {
        let (journal, _) = Journal::open(dir.path(), true).unwrap();
        for id in 0..5 {
            let operations = plan.add(&segment(), SystemTime::UNIX_EPOCH);
            let change = PlanChange::of("cam", &plan, persisted);
            // Only the new entry is written each time.
            assert_eq!(change.added.len(), 1);
            persisted = change.persisted_after(persisted);
            let deletions = operations
                .iter()
                .filter_map(|operation| match operation {
                    crate::publish::Operation::Expire { key, .. } => {
                        Some((key.clone(), SystemTime::UNIX_EPOCH))
                    }
                    _ => None,
                })
                .collect();
            journal
                .append(id, &segment_record("x", b""), Some(b""))
                .unwrap();
            let done = Completion {
                plan: Some(change),
                deletions,
                ..Completion::default()
            };
            journal.complete(id, done).unwrap();
        }
        journal.deleted("live/s-001.ts").unwrap();
    }
    let (_, recovered) = Journal::open(dir.path(), true).unwrap();
    assert!(recovered.queue.is_empty());
    let snapshot = recovered.plans.get("cam").unwrap();
    assert_eq!(snapshot, &plan.snapshot());
    let restored = PlaylistPlan::restore(snapshot.clone()).unwrap();
    assert_eq!(restored.playlist().render(), plan.playlist().render());
    let pending: Vec<&str> = recovered
        .deletions
        .iter()
        .map(|(key, _)| key.as_str())
        .collect();
    assert_eq!(pending, ["live/s-002.ts"]);
    // Segment files of completed items are gone.
    assert_eq!(
        std::fs::read_dir(dir.path().join("segments"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_forgotten_plan_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = PlaylistPlan::new(settings());
    plan.add(&segment(), SystemTime::UNIX_EPOCH);
    let (journal, _) = Journal::open(dir.path(), false).unwrap();
    journal
        .append(0, &segment_record("x", b""), Some(b""))
        .unwrap();
    let change = PlanChange::of("cam", &plan, None);
    let done = Completion {
        plan: Some(change),
        ..Completion::default()
    };
    journal.complete(0, done).unwrap();
    let end = Record::End {
        playlist: "cam".into(),
        endlist: true,
        forget: true,
    };
    journal.append(1, &end, None).unwrap();
    let done = Completion {
        forget: Some("cam".into()),
        ..Completion::default()
    };
    journal.complete(1, done).unwrap();
    drop(journal);
    let (_, recovered) = Journal::open(dir.path(), false).unwrap();
    assert!(recovered.plans.is_empty());
}

#[test]
fn an_unreadable_database_is_moved_aside_and_a_new_one_started() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("journal.redb"), b"not a database at all").unwrap();
    let (journal, recovered) = Journal::open(dir.path(), true).unwrap();
    assert!(recovered.queue.is_empty());
    journal
        .append(0, &segment_record("x", b"x"), Some(b"x"))
        .unwrap();
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("journal-unreadable-")
        })
        .count();
    assert_eq!(aside, 1);
}

#[test]
fn segment_files_without_a_record_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = Journal::open(dir.path(), true).unwrap();
        journal
            .append(3, &segment_record("x", b"x"), Some(b"x"))
            .unwrap();
    }
    // A crash between writing a file and committing its record.
    let stray = dir.path().join("segments").join(format!("{:016}.ts", 4));
    std::fs::write(&stray, b"half").unwrap();
    let (_, recovered) = Journal::open(dir.path(), true).unwrap();
    assert_eq!(recovered.queue.len(), 1);
    assert!(!stray.exists());
    assert!(
        dir.path()
            .join("segments")
            .join(format!("{:016}.ts", 3))
            .exists()
    );
}

#[test]
fn a_dropped_segment_stays_queued_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path(), false).unwrap();
    let record = segment_record("live/s-001.ts", b"bytes");
    journal.append(0, &record, Some(b"bytes")).unwrap();
    journal.replace(0, &record.clone().into_gap()).unwrap();
    drop(journal);
    let (_, recovered) = Journal::open(dir.path(), false).unwrap();
    assert!(
        matches!(&recovered.queue[..], [(0, Record::Gap { key, .. })] if key == "live/s-001.ts")
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("segments"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_plan_with_views_comes_back_from_the_journal_as_it_was() {
    use crate::playlist::views::{ArchiveNamePattern, ArchiveView, DvrView};
    let mut with_views = settings();
    with_views.dvr = Some(DvrView {
        file_name: "live/dvr.m3u8".into(),
        duration: Duration::from_secs(10),
    });
    with_views.archive = Some(ArchiveView {
        every: Duration::from_secs(20),
        name: ArchiveNamePattern::parse("live/archive/{start:%Y%m%dT%H%M%SZ}.m3u8").unwrap(),
        retain: Some(Duration::from_secs(3600)),
    });
    let dir = tempfile::tempdir().unwrap();
    let mut plan = PlaylistPlan::new(with_views);
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    {
        let (journal, _) = Journal::open(dir.path(), true).unwrap();
        // 60 s of 2 s segments: two archives finished, one open, the time-shift view sliding.
        journal_segments(&journal, &mut plan, None, start, 0..30);
    }
    let (_, mut recovered) = Journal::open(dir.path(), true).unwrap();
    let snapshot = recovered.plans.remove("cam").unwrap();
    // Only what some view lists is kept: the open archive reaches back furthest.
    let open_from = plan.first_listed().unwrap();
    assert_eq!(snapshot.playlist.entries[0].sequence, open_from);
    let original = plan.snapshot();
    assert_eq!(
        (&snapshot.views, &snapshot.keys),
        (&original.views, &original.keys)
    );
    let sequences = |s: &PlanSnapshot| -> Vec<u64> {
        s.playlist
            .entries
            .iter()
            .map(|entry| entry.sequence)
            .collect()
    };
    assert_eq!(sequences(&snapshot), sequences(&original));
    let mut restored = PlaylistPlan::restore(snapshot).unwrap();
    assert_eq!(
        restored.finished_archives().collect::<Vec<_>>(),
        plan.finished_archives().collect::<Vec<_>>()
    );
    // Both go on alike (after the restart's discontinuity).
    let next = start + Duration::from_secs(60);
    let texts = |operations: Vec<crate::publish::Operation>| -> Vec<(String, String)> {
        (operations.into_iter())
            .filter_map(|operation| match operation {
                crate::publish::Operation::PutPlaylist { key, text, .. } => Some((key, text)),
                _ => None,
            })
            .collect()
    };
    let went_on = texts(restored.add(&segment(), next));
    let original = texts(plan.add(&segment(), next));
    // Live, time-shift, the finished archive and the next period's.
    assert_eq!(went_on.len(), 4, "{went_on:?}");
    for ((key, text), (original_key, original_text)) in went_on.iter().zip(&original) {
        assert_eq!(key, original_key);
        assert_eq!(text.replace("#EXT-X-DISCONTINUITY\n", ""), *original_text);
    }
}

#[test]
fn archives_are_listed_from_the_journal_by_its_holder_and_read_only_once_it_is_closed() {
    use crate::playlist::views::{ArchiveNamePattern, ArchiveView};
    let dir = tempfile::tempdir().unwrap();
    let mut archived = settings();
    archived.archive = Some(ArchiveView {
        every: Duration::from_secs(6),
        name: ArchiveNamePattern::parse("archive/{start:%H%M%S}.m3u8").unwrap(),
        retain: Some(Duration::from_secs(60)),
    });
    let mut plan = PlaylistPlan::new(archived);
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_004);
    let (journal, _) = Journal::open(dir.path(), true).unwrap();
    // 2 s segments from 22:13:24 (a period start): 24, 26, 28 in the period to :30, then 30, 32.
    journal_segments(&journal, &mut plan, None, start, 0..5);
    let held = journal.archives("web").unwrap();
    // The holder's journal cannot be opened by another reader meanwhile.
    assert!(matches!(
        read_archives(dir.path(), "web"),
        Err(JournalError::Busy { .. })
    ));
    drop(journal);
    let read = read_archives(dir.path(), "web").unwrap();
    assert_eq!(read, held);
    let summary: Vec<_> = (read.iter())
        .map(|r| (r.key.as_str(), r.finished, r.segments, r.first, r.last))
        .collect();
    assert_eq!(
        summary,
        [
            ("archive/221324.m3u8", true, 3, Some(1), Some(3)),
            ("archive/221330.m3u8", false, 2, Some(4), Some(5)),
        ]
    );
    assert_eq!(read[0].start, "2023-11-14T22:13:24Z");
    assert_eq!(read[0].end.as_deref(), Some("2023-11-14T22:13:30Z"));
    assert_eq!(read[0].expires.as_deref(), Some("2023-11-14T22:14:30Z"));
    assert!((read[0].duration - 6.0).abs() < 1e-9);
    assert!((read[1].duration - 4.0).abs() < 1e-9);
    assert_eq!(read[1].end.as_deref(), Some("2023-11-14T22:13:36Z"));
    assert_eq!(read[1].expires, None);
    // No journal at all: nothing recorded.
    assert_eq!(read_archives(&dir.path().join("none"), "web").unwrap(), []);
}

#[test]
fn a_held_journal_is_waited_for_then_reported_busy_never_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (held, _) = Journal::open(dir.path(), true).unwrap();
    let wait = Duration::from_millis(200);
    let error = Journal::open_waiting(dir.path(), true, wait).err().unwrap();
    assert!(matches!(error, JournalError::Busy { .. }), "{error}");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(names.len(), 2, "journal.redb and segments/ only: {names:?}");
    // Let go while another waits: it gets the journal.
    let releasing = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
    });
    let opened = Journal::open_waiting(dir.path(), true, Duration::from_secs(5));
    releasing.join().unwrap();
    assert!(opened.is_ok(), "{:?}", opened.err());
}
