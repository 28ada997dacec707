//! A sink's journal across runs: a stop with the sink down leaves its work in the journal, and
//! the next run publishes it in order before what follows, with the playlist's entries kept.

use std::sync::atomic::Ordering;

use tokio::sync::watch;

use super::tests::{TestSink, plan_settings, quick_sink};
use super::*;
use crate::config::model::NodeId;
use crate::playlist::PlanSettings;
use crate::publish::journal::{Journal, Record};
use crate::segmenter::Segment;
use crate::status::NodeBoard;
use crate::topology::backlog::BacklogLimits;
use crate::topology::links::sink_queue;
use tokio_util::sync::CancellationToken;

fn settings(window: usize) -> PlanSettings {
    let mut settings = plan_settings();
    settings.playlist.window = window;
    settings
}

fn setup(sink: &Arc<TestSink>) -> SinkSetup {
    SinkSetup {
        sink: Arc::clone(sink) as Arc<dyn Sink>,
        destination: 1,
        limits: SinkLimits {
            backlog: BacklogLimits {
                memory_bytes: 1500,
                spool_limit: 1 << 20,
            },
            delete_grace: Duration::ZERO,
            headers: Arc::default(),
            fence: None,
            plans: None,
        },
    }
}

/// One run of a durable sink over `dir`: sends a plan and segments `numbers` (an ended run
/// sends an End), stops (drain 100 ms of media time) and waits until the task is over.
async fn run_once(
    sink: &Arc<TestSink>,
    dir: &std::path::Path,
    window: usize,
    numbers: std::ops::RangeInclusive<u8>,
) {
    let (_setup, receiver) = watch::channel(setup(sink));
    let (queue, inbox) = sink_queue();
    let stop = CancellationToken::new();
    let start = SinkStart {
        name: "cdn".into(),
        setup: receiver,
        stop: stop.clone(),
        drain: Duration::from_millis(100),
        journal: JournalPlace {
            dir: dir.to_owned(),
            durable: true,
        },
        status: NodeStatus::starting(&NodeBoard::default(), NodeId::sink("cdn")),
        key_floors: Default::default(),
    };
    let task = tokio::spawn(run_sink(start, inbox));
    let playlist: PlaylistId = Arc::from("cam");
    queue.send(SinkCommand::Plan {
        playlist: Arc::clone(&playlist),
        settings: Box::new(settings(window)),
    });
    for n in numbers {
        queue.send(SinkCommand::Segment {
            playlist: Arc::clone(&playlist),
            key: format!("s-{n:05}.ts"),
            segment: Arc::new(Segment {
                data: vec![n; 1000],
                start_pts: i64::from(n) * 180_000,
                duration_ticks: 180_000,
                discontinuity: false,
                independent: true,
                encryption: None,
            }),
            wall_clock: SystemTime::UNIX_EPOCH,
            cut: Instant::now(),
        });
    }
    queue.send(SinkCommand::End {
        playlist,
        endlist: true,
        forget: false,
    });
    drop(queue);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the sink stops within its drain time")
        .unwrap();
}

fn playlist(sink: &TestSink) -> String {
    let objects = sink.objects.lock().unwrap();
    String::from_utf8(objects["index.m3u8"].clone()).unwrap()
}

/// The segment URIs a playlist lists, as an independent parser (m3u8-rs) reads them.
fn uris(text: &str) -> Vec<String> {
    let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
    parsed.segments.into_iter().map(|s| s.uri).collect()
}

#[tokio::test(start_paused = true)]
async fn what_a_stop_left_unsent_is_published_by_the_next_run_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let sink = quick_sink();
    // Run 1: segments 1 and 2 go out, then the sink goes down while 3 and 4 wait.
    run_once(&sink, dir.path(), 0, 1..=2).await;
    sink.down.store(true, Ordering::SeqCst);
    run_once(&sink, dir.path(), 0, 3..=4).await;
    {
        let objects = sink.objects.lock().unwrap();
        assert!(!objects.contains_key("s-00003.ts"));
    }
    let (_, held) = Journal::open(dir.path(), true).unwrap();
    assert_eq!(held.queued_segments(), 2, "3 and 4 wait in the journal");
    drop(held);
    // Run 3: the sink is back; 3 and 4 go out first, then 5, in one playlist.
    sink.down.store(false, Ordering::SeqCst);
    run_once(&sink, dir.path(), 0, 5..=5).await;
    let objects = sink.objects.lock().unwrap().clone();
    for n in 1..=5u8 {
        assert_eq!(
            objects[&format!("s-{n:05}.ts")],
            vec![n; 1000],
            "segment {n}"
        );
    }
    let text = playlist(&sink);
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:1\n"), "{text}");
    let uris = uris(&text);
    assert_eq!(
        uris,
        [
            "s-00001.ts",
            "s-00002.ts",
            "s-00003.ts",
            "s-00004.ts",
            "s-00005.ts"
        ]
    );
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    // Each run is a new timeline.
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 2, "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_restarted_window_is_full_at_once_and_what_left_it_is_deleted_later() {
    let dir = tempfile::tempdir().unwrap();
    let sink = quick_sink();
    run_once(&sink, dir.path(), 3, 1..=4).await;
    // Segment 1 left the window; its deletion (due 2 + 6 s later) is pending at the stop.
    assert!(sink.objects.lock().unwrap().contains_key("s-00001.ts"));
    let (_, held) = Journal::open(dir.path(), true).unwrap();
    assert_eq!(held.deletions.len(), 1);
    drop(held);
    run_once(&sink, dir.path(), 3, 5..=5).await;
    let text = playlist(&sink);
    let uris = uris(&text);
    assert_eq!(uris, ["s-00003.ts", "s-00004.ts", "s-00005.ts"]);
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:3\n"), "{text}");
    let (_, held) = Journal::open(dir.path(), true).unwrap();
    assert_eq!(held.deletions.len(), 2, "1 and 2 are still due later");
}

/// Starts a durable key sink `keys` over `dir`; its queue and task.
fn start_key_sink(
    sink: &Arc<TestSink>,
    dir: &std::path::Path,
) -> (
    crate::topology::links::SinkQueue,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let (setup_sender, receiver) = watch::channel(setup(sink));
    let (queue, inbox) = sink_queue();
    let stop = CancellationToken::new();
    let start = SinkStart {
        name: "keys".into(),
        setup: receiver,
        stop: stop.clone(),
        drain: Duration::from_millis(100),
        journal: JournalPlace {
            dir: dir.to_owned(),
            durable: true,
        },
        status: NodeStatus::starting(&NodeBoard::default(), NodeId::sink("keys")),
        key_floors: Default::default(),
    };
    let task = tokio::spawn(async move {
        run_sink(start, inbox).await;
        drop(setup_sender);
    });
    (queue, stop, task)
}

#[tokio::test(start_paused = true)]
async fn a_key_deletion_is_journaled_and_carried_out_by_the_next_run_after_its_hold() {
    let dir = tempfile::tempdir().unwrap();
    let sink = quick_sink();
    sink.objects
        .lock()
        .unwrap()
        .insert("k-1.key".into(), vec![1; 16]);
    // Run 1: the sink is down; the deletion waits in the queue behind a plan's master.
    sink.down.store(true, Ordering::SeqCst);
    let (queue, stop, task) = start_key_sink(&sink, dir.path());
    queue.send(SinkCommand::Master {
        key: "master.m3u8".into(),
        text: "#EXTM3U\n".into(),
    });
    queue.send(SinkCommand::DeleteKey {
        playlist: Arc::from("cam"),
        name: "k-1.key".into(),
        keep_for: Duration::from_secs(30),
    });
    drop(queue);
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.cancel();
    task.await.unwrap();
    let (_, held) = Journal::open(dir.path(), true).unwrap();
    assert!(
        (held.queue.iter()).any(|(_, record)| matches!(record, Record::DeleteKey { .. })),
        "{:?}",
        held.queue
    );
    drop(held);
    // Run 2: the sink is back; the key stays for its hold, then goes.
    sink.down.store(false, Ordering::SeqCst);
    let (queue, stop, task) = start_key_sink(&sink, dir.path());
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(sink.objects.lock().unwrap().contains_key("k-1.key"));
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert!(!sink.objects.lock().unwrap().contains_key("k-1.key"));
    drop(queue);
    stop.cancel();
    task.await.unwrap();
}
