use std::collections::BTreeMap;
use std::sync::Mutex;

use streamrouter_plugin::{ObjectMeta, SinkError};
use tokio::sync::watch;

use super::*;
use crate::playlist::PlaylistConfig;
use crate::publish::SegmentNamePattern;

/// A sink that takes `delay` per segment and remembers what it holds.
struct SlowSink {
    delay: Duration,
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl Sink for SlowSink {
    fn put(&self, key: &str, body: &[u8], meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        if meta.content_type == streamrouter_plugin::SEGMENT_CONTENT_TYPE {
            std::thread::sleep(self.delay);
        }
        self.objects
            .lock()
            .unwrap()
            .insert(key.to_owned(), body.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }
}

fn plan_settings() -> PlanSettings {
    PlanSettings {
        playlist_key: "index.m3u8".into(),
        segment_name: SegmentNamePattern::with_prefix("s"),
        base_url: None,
        first_sequence: 1,
        delete_expired: true,
        program_date_time: false,
        playlist: PlaylistConfig {
            window: 0,
            target_duration: 2.0,
            independent_segments: true,
        },
    }
}

fn segment(fill: u8) -> Arc<Segment> {
    Arc::new(Segment {
        data: vec![fill; 1000],
        start_pts: 0,
        duration_ticks: 180_000,
        discontinuity: false,
        independent: true,
    })
}

/// Sends five 1000-byte segments to a sink that takes 300 ms per segment: the first is
/// being stored while the four others arrive. Returns what the sink holds at the end and
/// the spool files seen while the four waited.
async fn publish_five(backlog: BacklogLimits) -> (BTreeMap<String, Vec<u8>>, usize) {
    let sink = Arc::new(SlowSink {
        delay: Duration::from_millis(300),
        objects: Mutex::new(BTreeMap::new()),
    });
    let (queue, inbox) = sink_queue();
    let spool_dir = backlog.spool_dir.clone();
    let (_setup, receiver) = watch::channel(SinkSetup {
        sink: Arc::clone(&sink) as Arc<dyn Sink>,
        destination: 1,
        limits: SinkLimits {
            backlog,
            delete_grace: Duration::ZERO,
            headers: Arc::default(),
        },
    });
    let task = tokio::spawn(run_sink(
        "slow".into(),
        receiver,
        inbox,
        CancellationToken::new(),
    ));
    let playlist: PlaylistId = Arc::from("p");
    queue.send(SinkCommand::Plan {
        playlist: Arc::clone(&playlist),
        settings: plan_settings(),
    });
    for n in 1..=5u8 {
        if n == 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        queue.send(SinkCommand::Segment {
            playlist: Arc::clone(&playlist),
            key: format!("s-{n:05}.ts"),
            segment: segment(n),
            wall_clock: SystemTime::UNIX_EPOCH,
            cut: Instant::now(),
        });
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let spooled = spool_dir
        .as_ref()
        .map_or(0, |dir| std::fs::read_dir(dir).unwrap().count());
    queue.send(SinkCommand::End {
        playlist,
        endlist: true,
        forget: true,
    });
    drop(queue);
    task.await.unwrap();
    if let Some(dir) = spool_dir {
        assert!(!dir.exists(), "the spool is removed when the sink is done");
    }
    let objects = sink.objects.lock().unwrap().clone();
    // Every stored segment is the one sent under its name, byte for byte.
    for (key, body) in &objects {
        if let Some(n) = key.strip_prefix("s-") {
            let n: u8 = n.trim_end_matches(".ts").parse().unwrap();
            assert_eq!(body, &vec![n; 1000], "{key}");
        }
    }
    (objects, spooled)
}

fn keys(objects: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
    objects.keys().map(String::as_str).collect()
}

fn playlist_text(objects: &BTreeMap<String, Vec<u8>>) -> String {
    String::from_utf8(objects["index.m3u8"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_behind_drops_its_oldest_segments_and_marks_the_gap() {
    let (objects, _) = publish_five(BacklogLimits {
        memory_bytes: 1500,
        spool_limit: 1500,
        spool_dir: None,
    })
    .await;
    assert_eq!(keys(&objects), ["index.m3u8", "s-00001.ts", "s-00005.ts"]);
    let playlist = playlist_text(&objects);
    assert!(
        playlist.contains(
            "s-00001.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ns-00005.ts\n#EXT-X-ENDLIST\n"
        ),
        "{playlist}"
    );
    // Media sequence numbers stay positional: two entries from 1.
    assert!(playlist.contains("#EXT-X-MEDIA-SEQUENCE:1\n"), "{playlist}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_behind_spills_to_its_spool_and_loses_nothing_that_fits() {
    let spool = tempfile::tempdir().unwrap();
    let (objects, spooled) = publish_five(BacklogLimits {
        memory_bytes: 1500,
        spool_limit: 10_000,
        spool_dir: Some(spool.path().join("slow")),
    })
    .await;
    // One waiting segment fits in memory; the next three went to disk.
    assert_eq!(spooled, 3);
    assert_eq!(
        keys(&objects),
        [
            "index.m3u8",
            "s-00001.ts",
            "s-00002.ts",
            "s-00003.ts",
            "s-00004.ts",
            "s-00005.ts"
        ]
    );
    let playlist = playlist_text(&objects);
    assert!(!playlist.contains("DISCONTINUITY"), "{playlist}");
    assert!(
        playlist.ends_with("s-00005.ts\n#EXT-X-ENDLIST\n"),
        "{playlist}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_drops_its_oldest_segments_first() {
    let spool = tempfile::tempdir().unwrap();
    let (objects, spooled) = publish_five(BacklogLimits {
        memory_bytes: 1500,
        spool_limit: 3500,
        spool_dir: Some(spool.path().join("slow")),
    })
    .await;
    // Segment 2 (in memory, the oldest unsent) made room for segment 5.
    assert_eq!(spooled, 3);
    assert_eq!(
        keys(&objects),
        [
            "index.m3u8",
            "s-00001.ts",
            "s-00003.ts",
            "s-00004.ts",
            "s-00005.ts"
        ]
    );
    let playlist = playlist_text(&objects);
    assert!(
        playlist.contains("s-00001.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ns-00003.ts\n"),
        "{playlist}"
    );
}
