//! One-shot publisher tests on a recording sink: write order (segment before the playlist
//! that lists it) and deletion timing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::playlist::SegmentNamePattern;

/// An in-memory sink that records every operation in order.
#[derive(Clone, Default)]
struct RecordingSink {
    log: Arc<Mutex<Vec<String>>>,
    objects: Arc<Mutex<std::collections::BTreeMap<String, Vec<u8>>>>,
}

impl Sink for RecordingSink {
    fn put(&self, key: &str, body: &[u8], meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("put {key} {}", meta.content_type));
        self.objects
            .lock()
            .unwrap()
            .insert(key.to_owned(), body.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        self.log.lock().unwrap().push(format!("delete {key}"));
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }
}

fn segment(seconds: f64) -> Segment {
    Segment {
        data: vec![0x47; 188],
        start_pts: 0,
        duration_ticks: (seconds * 90_000.0) as i64,
        discontinuity: false,
        independent: true,
        encryption: None,
    }
}

fn publisher(sink: RecordingSink, window: usize) -> Publisher<RecordingSink> {
    Publisher::new(
        sink,
        PlanSettings {
            dvr: None,
            archive: None,
            playlist_key: "index.m3u8".into(),
            segment_format: Default::default(),
            segment_name: SegmentNamePattern::with_prefix("seg"),
            base_url: None,
            first_sequence: 1,
            delete_expired: true,
            program_date_time: false,
            playlist: crate::playlist::PlaylistConfig {
                max_duration: None,
                window,
                target_duration: 1.0,
                independent_segments: true,
            },
        },
    )
}

#[test]
fn segment_is_stored_before_the_playlist_that_lists_it() {
    let sink = RecordingSink::default();
    let mut publisher = publisher(sink.clone(), 0);
    let now = Instant::now();
    publisher.publish(&segment(1.0), now).unwrap();
    publisher.publish(&segment(1.0), now).unwrap();
    publisher.end().unwrap();
    let log = sink.log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![
            "put seg-00001.ts video/mp2t",
            "put index.m3u8 application/vnd.apple.mpegurl",
            "put seg-00002.ts video/mp2t",
            "put index.m3u8 application/vnd.apple.mpegurl",
            "put index.m3u8 application/vnd.apple.mpegurl",
        ]
    );
    let objects = sink.objects.lock().unwrap();
    let playlist = String::from_utf8(objects["index.m3u8"].clone()).unwrap();
    assert!(
        playlist.ends_with("seg-00002.ts\n#EXT-X-ENDLIST\n"),
        "{playlist}"
    );
}

#[test]
fn expired_segments_are_deleted_only_when_due() {
    let sink = RecordingSink::default();
    let mut publisher = publisher(sink.clone(), 3);
    let start = Instant::now();
    for _ in 0..4 {
        publisher.publish(&segment(1.0), start).unwrap();
    }
    // Segment 1 left the window; it was listed in playlists of up to 3 s, so it stays 1 + 3 s.
    assert_eq!(publisher.pending_deletions(), 1);
    assert_eq!(publisher.delete_due(start).unwrap(), 0);
    assert_eq!(
        publisher
            .delete_due(start + Duration::from_millis(3900))
            .unwrap(),
        0
    );
    let due = publisher.next_deletion().unwrap();
    assert!(due >= start + Duration::from_secs(4));
    assert_eq!(publisher.delete_due(due).unwrap(), 1);
    assert!(!sink.objects.lock().unwrap().contains_key("seg-00001.ts"));
    assert!(sink.objects.lock().unwrap().contains_key("seg-00002.ts"));
}
