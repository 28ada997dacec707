//! Sink task tests with an in-memory sink that can be slowed or taken down: spooling and
//! its limits, gaps for dropped segments, and a sink moved or replaced by a reload.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use streamrouter_plugin::{ObjectMeta, SinkError};
use tokio::sync::watch;

use crate::config::model::NodeId;
use crate::status::NodeBoard;

use super::*;
use crate::playlist::SegmentNamePattern;
use crate::playlist::{PlanSettings, PlaylistConfig};
use crate::segmenter::Segment;
use crate::topology::backlog::BacklogLimits;
use crate::topology::links::sink_queue;
use tokio_util::sync::CancellationToken;

/// A sink whose segment stores wait while it is held (a slow sink, released by the test),
/// refuses everything (temporarily) while `down`, and remembers what it holds.
#[derive(Default)]
pub(super) struct TestSink {
    /// Segment stores wait while this is true.
    held: Mutex<bool>,
    released: Condvar,
    /// Segment stores begun.
    begun: AtomicUsize,
    pub(super) down: AtomicBool,
    pub(super) objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl TestSink {
    /// A sink whose segment stores wait until [`TestSink::release`].
    pub(super) fn held() -> Arc<Self> {
        Arc::new(Self {
            held: Mutex::new(true),
            ..Self::default()
        })
    }

    /// Lets every segment store through, now and from now on.
    pub(super) fn release(&self) {
        *self.held.lock().unwrap() = false;
        self.released.notify_all();
    }

    /// Waits until `count` segment stores have begun.
    async fn begun(&self, count: usize) {
        until(&format!("{count} segment stores begun"), || {
            self.begun.load(Ordering::SeqCst) >= count
        })
        .await;
    }
}

/// Waits (real time: the sink's calls run on the blocking pool) until `check` holds, for at
/// most 10 s.
pub(super) async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "no {what} within 10 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

impl Sink for TestSink {
    fn put(&self, key: &str, body: &[u8], meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(SinkError::temporary(key, "connection refused"));
        }
        if meta.content_type == streamrouter_plugin::SEGMENT_CONTENT_TYPE {
            self.begun.fetch_add(1, Ordering::SeqCst);
            let held = self.held.lock().unwrap();
            drop(self.released.wait_while(held, |held| *held).unwrap());
        }
        self.objects
            .lock()
            .unwrap()
            .insert(key.to_owned(), body.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(SinkError::temporary(key, "connection refused"));
        }
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }
}

/// An event playlist (`window = 0`) of `s-NNNNN.ts` segments with a 2 s target.
pub(super) fn plan_settings() -> PlanSettings {
    PlanSettings {
        dvr: None,
        archive: None,
        playlist_key: "index.m3u8".into(),
        segment_format: Default::default(),
        segment_name: SegmentNamePattern::with_prefix("s"),
        base_url: None,
        first_sequence: 1,
        delete_expired: true,
        program_date_time: false,
        playlist: PlaylistConfig {
            max_duration: None,
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
        encryption: None,
    })
}

/// A sink task's start with a journal in `dir`.
fn start(
    name: &str,
    receiver: watch::Receiver<SinkSetup>,
    dir: &std::path::Path,
    durable: bool,
    stop: CancellationToken,
) -> SinkStart {
    SinkStart {
        name: name.into(),
        setup: receiver,
        stop,
        drain: Duration::from_millis(200),
        journal: JournalPlace {
            dir: dir.join(name),
            durable,
        },
        status: NodeStatus::starting(&NodeBoard::default(), NodeId::sink(name)),
        key_floors: Default::default(),
    }
}

/// The record ids of the segment files in a sink's journal, in order.
fn journal_ids(dir: &std::path::Path) -> Vec<u64> {
    let Ok(files) = std::fs::read_dir(dir.join("segments")) else {
        return Vec::new();
    };
    let names = files.flatten().map(|file| file.file_name());
    let ids = names.filter_map(|name| name.to_str()?.strip_suffix(".ts")?.parse().ok());
    let mut ids: Vec<u64> = ids.collect();
    ids.sort_unstable();
    ids
}

/// Sends five 1000-byte segments to a held sink: the first is being stored while the four
/// others arrive. Once the fifth is in the journal and the journal holds `spooled` segment
/// files (what the limits leave there while the four wait), the sink is released. Returns
/// what the sink holds at the end.
async fn publish_five(backlog: BacklogLimits, spooled: usize) -> BTreeMap<String, Vec<u8>> {
    let sink = TestSink::held();
    let (queue, inbox) = sink_queue();
    let journal = tempfile::tempdir().unwrap();
    let (_setup, receiver) = watch::channel(SinkSetup {
        sink: Arc::clone(&sink) as Arc<dyn Sink>,
        destination: 1,
        limits: SinkLimits {
            backlog,
            delete_grace: Duration::ZERO,
            headers: Arc::default(),
            fence: None,
            plans: None,
        },
    });
    let stop = CancellationToken::new();
    let slow = start("slow", receiver, journal.path(), false, stop);
    let task = tokio::spawn(run_sink(slow, inbox));
    let playlist: PlaylistId = Arc::from("p");
    queue.send(SinkCommand::Plan {
        playlist: Arc::clone(&playlist),
        settings: Box::new(plan_settings()),
    });
    for n in 1..=5u8 {
        if n == 2 {
            sink.begun(1).await;
        }
        queue.send(SinkCommand::Segment {
            playlist: Arc::clone(&playlist),
            key: format!("s-{n:05}.ts"),
            segment: segment(n),
            wall_clock: SystemTime::UNIX_EPOCH,
            cut: Instant::now(),
        });
    }
    // Segment 1 (being stored) keeps its file, so the fifth is in when their ids are 4 apart.
    let dir = journal.path().join("slow");
    until(
        &format!("{spooled} segment files, the fifth among them"),
        || {
            let ids = journal_ids(&dir);
            ids.len() == spooled && ids.first().zip(ids.last()).is_some_and(|(a, b)| b - a == 4)
        },
    )
    .await;
    sink.release();
    queue.send(SinkCommand::End {
        playlist,
        endlist: true,
        forget: true,
    });
    drop(queue);
    task.await.unwrap();
    assert!(
        !journal.path().join("slow").exists(),
        "a journal outside state_dir is removed when the sink is done"
    );
    let objects = sink.objects.lock().unwrap().clone();
    // Every stored segment is the one sent under its name, byte for byte.
    for (key, body) in &objects {
        if let Some(n) = key.strip_prefix("s-") {
            let n: u8 = n.trim_end_matches(".ts").parse().unwrap();
            assert_eq!(body, &vec![n; 1000], "{key}");
        }
    }
    objects
}

fn keys(objects: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
    objects.keys().map(String::as_str).collect()
}

fn playlist_text(objects: &BTreeMap<String, Vec<u8>>) -> String {
    String::from_utf8(objects["index.m3u8"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_behind_drops_its_oldest_segments_and_lists_them_as_gaps() {
    // Only 1 (being stored) and 5 keep their files.
    let limits = BacklogLimits {
        memory_bytes: 1500,
        spool_limit: 1500,
    };
    let objects = publish_five(limits, 2).await;
    assert_eq!(keys(&objects), ["index.m3u8", "s-00001.ts", "s-00005.ts"]);
    let playlist = playlist_text(&objects);
    let gap = |n: u8| format!("#EXT-X-GAP\n#EXTINF:2.000,\ns-{n:05}.ts\n");
    let expected = format!(
        "s-00001.ts\n{}{}{}#EXTINF:2.000,\ns-00005.ts\n#EXT-X-ENDLIST\n",
        gap(2),
        gap(3),
        gap(4)
    );
    assert!(playlist.ends_with(&expected), "{playlist}");
    // Every segment keeps its number: the other sinks and variants number alike.
    assert!(playlist.contains("#EXT-X-MEDIA-SEQUENCE:1\n"), "{playlist}");
    assert!(playlist.contains("#EXT-X-VERSION:8\n"), "{playlist}");
    assert!(!playlist.contains("DISCONTINUITY"), "{playlist}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_behind_keeps_every_waiting_segment_in_its_journal() {
    // The one being stored and the four waiting are on disk (one is also held in memory).
    let limits = BacklogLimits {
        memory_bytes: 1500,
        spool_limit: 10_000,
    };
    let objects = publish_five(limits, 5).await;
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
    // Segment 2 (in memory, the oldest unsent) made room for segment 5; its file went (1,
    // being stored, keeps its own until it is done).
    let limits = BacklogLimits {
        memory_bytes: 1500,
        spool_limit: 3500,
    };
    let objects = publish_five(limits, 4).await;
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
        playlist.contains(
            "s-00001.ts\n#EXT-X-GAP\n#EXTINF:2.000,\ns-00002.ts\n#EXTINF:2.000,\ns-00003.ts\n"
        ),
        "{playlist}"
    );
}

fn setup(sink: &Arc<TestSink>, destination: u64) -> SinkSetup {
    SinkSetup {
        sink: Arc::clone(sink) as Arc<dyn Sink>,
        destination,
        limits: SinkLimits {
            backlog: BacklogLimits {
                memory_bytes: 1 << 20,
                spool_limit: 1 << 20,
            },
            delete_grace: Duration::ZERO,
            headers: Arc::default(),
            fence: None,
            plans: None,
        },
    }
}

/// A sink that stores at once.
pub(super) fn quick_sink() -> Arc<TestSink> {
    Arc::new(TestSink::default())
}

/// A reload moves the sink while segment 1 is being stored and 2 and 3 wait: the waiting ones
/// go to the new place, whose playlist lists only what is stored there. The old place keeps
/// segment 1; the version listing it, rendered for the old place, is not published anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_sink_takes_the_queue_and_lists_only_what_it_stored() {
    let (old, new) = (TestSink::held(), quick_sink());
    let (setup_sender, receiver) = watch::channel(setup(&old, 1));
    let (queue, inbox) = sink_queue();
    let journal = tempfile::tempdir().unwrap();
    let moving = start(
        "moving",
        receiver,
        journal.path(),
        false,
        CancellationToken::new(),
    );
    let task = tokio::spawn(run_sink(moving, inbox));
    let playlist: PlaylistId = Arc::from("p");
    queue.send(SinkCommand::Plan {
        playlist: Arc::clone(&playlist),
        settings: Box::new(plan_settings()),
    });
    for n in 1..=3u8 {
        queue.send(SinkCommand::Segment {
            playlist: Arc::clone(&playlist),
            key: format!("s-{n:05}.ts"),
            segment: segment(n),
            wall_clock: SystemTime::UNIX_EPOCH,
            cut: Instant::now(),
        });
    }
    old.begun(1).await;
    setup_sender.send_replace(setup(&new, 2));
    old.release();
    queue.send(SinkCommand::End {
        playlist,
        endlist: true,
        forget: true,
    });
    drop(queue);
    task.await.unwrap();
    let old = old.objects.lock().unwrap().clone();
    let new = new.objects.lock().unwrap().clone();
    assert_eq!(keys(&old), ["s-00001.ts"]);
    assert_eq!(keys(&new), ["index.m3u8", "s-00002.ts", "s-00003.ts"]);
    let listed = playlist_text(&new);
    assert!(!listed.contains("s-00001.ts"), "{listed}");
    assert!(listed.contains("#EXT-X-MEDIA-SEQUENCE:2\n"), "{listed}");
    assert!(
        listed.ends_with("s-00002.ts\n#EXTINF:2.000,\ns-00003.ts\n#EXT-X-ENDLIST\n"),
        "{listed}"
    );
}

/// A reload that changes only the sink's credentials keeps the plan: the next version lists
/// the earlier segments too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_replaced_in_place_keeps_its_playlist() {
    let sink = quick_sink();
    let (setup_sender, receiver) = watch::channel(setup(&sink, 1));
    let (queue, inbox) = sink_queue();
    let journal = tempfile::tempdir().unwrap();
    let same = start(
        "same",
        receiver,
        journal.path(),
        false,
        CancellationToken::new(),
    );
    let task = tokio::spawn(run_sink(same, inbox));
    let playlist: PlaylistId = Arc::from("p");
    queue.send(SinkCommand::Plan {
        playlist: Arc::clone(&playlist),
        settings: Box::new(plan_settings()),
    });
    for n in 1..=2u8 {
        if n == 2 {
            // Segment 1 and the version listing it are out.
            until("segment 1's playlist", || {
                sink.objects.lock().unwrap().contains_key("index.m3u8")
            })
            .await;
            setup_sender.send_replace(setup(&sink, 1));
        }
        queue.send(SinkCommand::Segment {
            playlist: Arc::clone(&playlist),
            key: format!("s-{n:05}.ts"),
            segment: segment(n),
            wall_clock: SystemTime::UNIX_EPOCH,
            cut: Instant::now(),
        });
    }
    drop(queue);
    task.await.unwrap();
    let objects = sink.objects.lock().unwrap().clone();
    let listed = playlist_text(&objects);
    assert!(listed.contains("s-00001.ts\n"), "{listed}");
    assert!(listed.ends_with("s-00002.ts\n"), "{listed}");
}
