//! One task per sink node: keeps, for every playlist it publishes, its own publishing plan, and
//! carries the segments out in arrival order: store the segment, then the playlist version
//! that lists it, and delete expired segments when their time comes.
//!
//! Playlists are rendered per sink, so a sink that falls behind only delays itself: its
//! backlog (see `backlog`) holds unsent segments in memory, then in its spool on disk, and
//! beyond `spool_limit` drops the oldest, which this task marks with EXT-X-DISCONTINUITY.
//! Senders never wait for a sink. Sink calls are blocking (the plugin contract) and run on the
//! blocking pool, retried with backoff while they fail temporarily. Owns the sink instance and
//! the plans.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use streamrouter_plugin::{Sink, SinkError, SinkErrorKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::backlog::{Backlog, BacklogLimits, Work, remove_spool, run_intake};
use crate::publish::{ObjectHeaders, Operation, PlaylistPlan, put_playlist, put_segment};
use crate::segmenter::Segment;

/// Backoff between tries of one operation.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// How often a sink catching up from its spool says how far it has come.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Tries of a failing operation once the daemon is stopping, before it is given up.
const MAX_TRIES_WHILE_STOPPING: u32 = 3;

/// Work for a sink, in the order it must be done.
#[derive(Debug)]
pub enum SinkCommand {
    /// Publish a segment of playlist `playlist` (an index into the sink's plans).
    Segment {
        /// Which of the sink's playlists.
        playlist: usize,
        /// Object key of the segment.
        key: String,
        /// The segment (shared with the other sinks of the playlist).
        segment: Arc<Segment>,
        /// Wall-clock time of its first sample (EXT-X-PROGRAM-DATE-TIME).
        wall_clock: SystemTime,
        /// When it was cut (for the publish latency log).
        cut: Instant,
    },
    /// The playlist's feed ended.
    End {
        /// Which of the sink's playlists.
        playlist: usize,
        /// Publish a final version with EXT-X-ENDLIST.
        endlist: bool,
    },
}

/// The sending side of a sink's queue: never waits.
#[derive(Debug, Clone)]
pub struct SinkQueue {
    sender: mpsc::UnboundedSender<SinkCommand>,
}

impl SinkQueue {
    /// Queues a command; a sink whose task is gone is skipped silently.
    pub fn send(&self, command: SinkCommand) {
        let _ = self.sender.send(command);
    }
}

/// A sink's task inputs: its queue's receiving side.
pub struct SinkInbox {
    receiver: mpsc::UnboundedReceiver<SinkCommand>,
}

/// A new queue.
pub fn sink_queue() -> (SinkQueue, SinkInbox) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (SinkQueue { sender }, SinkInbox { receiver })
}

/// How far a sink may fall behind, how long expired segments linger, which headers it stores.
#[derive(Debug, Clone)]
pub struct SinkLimits {
    /// Unsent segments held in memory, then spilled to the spool, then dropped.
    pub backlog: BacklogLimits,
    /// Extra time before an expired segment is deleted (`delete_grace`).
    pub delete_grace: Duration,
    /// Content-Type and Cache-Control of the objects.
    pub headers: Arc<ObjectHeaders>,
}

/// Runs until every sender is gone and the backlog is drained. Commands are taken into the
/// backlog as they arrive (spilling to the spool, dropping the oldest beyond `spool_limit`)
/// while the worker carries them out in order. Deletions not yet due at the end are abandoned
/// (the segments stay).
pub async fn run_sink(
    name: String,
    sink: Arc<dyn Sink>,
    plans: Vec<PlaylistPlan>,
    inbox: SinkInbox,
    limits: SinkLimits,
    shutdown: CancellationToken,
) {
    let backlog = Arc::new(Backlog::default());
    let spool_dir = limits.backlog.spool_dir.clone();
    let intake = run_intake(
        name.clone(),
        inbox.receiver,
        Arc::clone(&backlog),
        limits.backlog.clone(),
    );
    let worker = run_worker(&name, sink, plans, &backlog, &limits, &shutdown);
    tokio::join!(intake, worker);
    if let Some(dir) = spool_dir {
        remove_spool(dir).await;
    }
}

async fn run_worker(
    name: &str,
    sink: Arc<dyn Sink>,
    mut plans: Vec<PlaylistPlan>,
    backlog: &Backlog,
    limits: &SinkLimits,
    shutdown: &CancellationToken,
) {
    let mut expiring: BinaryHeap<Reverse<(Instant, String)>> = BinaryHeap::new();
    let mut last_progress_log = Instant::now();
    loop {
        let next_deadline = expiring.peek().map(|Reverse((at, _))| *at);
        let work = tokio::select! {
            work = backlog.next() => work,
            () = sleep_until(next_deadline) => {
                delete_due(name, &sink, &mut expiring, shutdown).await;
                continue;
            }
        };
        let Some(work) = work else {
            if !expiring.is_empty() {
                tracing::info!(sink = %name, pending = expiring.len(), "stopping with expired segments not yet deletable");
            }
            return;
        };
        let (operations, cut) = match work {
            Work::Command(SinkCommand::Segment {
                playlist,
                key,
                segment,
                wall_clock,
                cut,
            }) => {
                let Some(plan) = plans.get_mut(playlist) else {
                    continue;
                };
                let target = key.clone();
                let (stored_sink, data) = (Arc::clone(&sink), Arc::clone(&segment));
                let headers = Arc::clone(&limits.headers);
                let stored = perform(name, &key, shutdown, move || {
                    put_segment(stored_sink.as_ref(), &target, &data.data, &headers)
                })
                .await;
                if !stored {
                    plan.mark_gap();
                    if shutdown.is_cancelled() {
                        give_up(name, backlog).await;
                    }
                    continue;
                }
                tracing::debug!(sink = %name, %key, "segment stored");
                let depth = backlog.depth();
                if depth.spooled_bytes > 0 && last_progress_log.elapsed() >= PROGRESS_LOG_INTERVAL {
                    last_progress_log = Instant::now();
                    tracing::info!(sink = %name, waiting = depth.entries, spooled_bytes = depth.spooled_bytes, memory_bytes = depth.memory_bytes, "sink catching up");
                }
                let operations = plan.add_named(key, &segment, wall_clock);
                (operations, Some(cut))
            }
            Work::Gap { playlist } => {
                if let Some(plan) = plans.get_mut(playlist) {
                    plan.mark_gap();
                }
                continue;
            }
            Work::Command(SinkCommand::End { playlist, endlist }) => {
                let Some(plan) = plans.get_mut(playlist) else {
                    continue;
                };
                let operations = if endlist {
                    plan.end().into_iter().collect()
                } else {
                    Vec::new()
                };
                (operations, None)
            }
        };
        for operation in operations {
            match operation {
                // Stored above, before the plan listed it.
                Operation::PutSegment { .. } => {}
                Operation::PutPlaylist {
                    key,
                    text,
                    cache_control,
                } => {
                    let (target, playlist_sink) = (key.clone(), Arc::clone(&sink));
                    let headers = Arc::clone(&limits.headers);
                    let stored = perform(name, &key, shutdown, move || {
                        put_playlist(
                            playlist_sink.as_ref(),
                            &target,
                            &text,
                            &cache_control,
                            &headers,
                        )
                    })
                    .await;
                    if stored && let Some(cut) = cut {
                        let latency_ms = cut.elapsed().as_secs_f64() * 1000.0;
                        tracing::debug!(sink = %name, %key, latency_ms, "playlist published");
                    }
                }
                Operation::Expire { key, keep_for } => {
                    let due = Instant::now() + keep_for + limits.delete_grace;
                    expiring.push(Reverse((due, key)));
                }
            }
        }
    }
}

/// The daemon is stopping and the sink still fails: what waits cannot be published.
async fn give_up(name: &str, backlog: &Backlog) {
    let dropped = backlog.discard().await;
    if dropped > 0 {
        tracing::error!(sink = %name, dropped, "sink unreachable while stopping: unsent segments are lost");
    }
}

async fn delete_due(
    name: &str,
    sink: &Arc<dyn Sink>,
    expiring: &mut BinaryHeap<Reverse<(Instant, String)>>,
    shutdown: &CancellationToken,
) {
    while let Some(Reverse((at, key))) = expiring.pop() {
        if at > Instant::now() {
            expiring.push(Reverse((at, key)));
            break;
        }
        let (target, deleting) = (key.clone(), Arc::clone(sink));
        perform(name, &key, shutdown, move || deleting.delete(&target)).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Runs a blocking sink call on the blocking pool and returns whether it finally succeeded.
/// Temporary failures (network, server down) are retried with exponential backoff for as long
/// as the daemon runs, so an outage delays publishing but loses nothing; once the daemon is
/// stopping, a few more tries are made. Permanent failures are given up at once.
async fn perform<F>(sink_name: &str, key: &str, shutdown: &CancellationToken, operation: F) -> bool
where
    F: Fn() -> Result<(), SinkError> + Send + Sync + 'static,
{
    let operation = Arc::new(operation);
    let mut delay = FIRST_RETRY;
    let mut tries_while_stopping = 0;
    for attempt in 1u64.. {
        let call = Arc::clone(&operation);
        let result = tokio::task::spawn_blocking(move || call()).await;
        let error = match result {
            Ok(Ok(())) => {
                if attempt > 1 {
                    tracing::info!(sink = sink_name, %key, attempt, "sink recovered");
                }
                return true;
            }
            Ok(Err(error)) => error,
            Err(join_error) => {
                SinkError::temporary(key, format!("sink call panicked: {join_error}"))
            }
        };
        if shutdown.is_cancelled() {
            tries_while_stopping += 1;
        }
        if error.kind == SinkErrorKind::Permanent || tries_while_stopping > MAX_TRIES_WHILE_STOPPING
        {
            tracing::error!(sink = sink_name, %key, %error, attempt, "giving up on this object");
            return false;
        }
        if attempt == 1 || attempt % 10 == 0 {
            tracing::warn!(sink = sink_name, %key, %error, attempt, "sink operation failed; retrying");
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.cancelled(), if tries_while_stopping == 0 => {}
        }
        delay = (delay * 2).min(MAX_RETRY_DELAY);
    }
    false
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use streamrouter_plugin::ObjectMeta;

    use super::*;
    use crate::playlist::PlaylistConfig;
    use crate::publish::{PlanSettings, SegmentNamePattern};

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

    fn plan() -> PlaylistPlan {
        PlaylistPlan::new(PlanSettings {
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
        })
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
        let task = tokio::spawn(run_sink(
            "slow".into(),
            Arc::clone(&sink) as Arc<dyn Sink>,
            vec![plan()],
            inbox,
            SinkLimits {
                backlog,
                delete_grace: Duration::ZERO,
                headers: Arc::default(),
            },
            CancellationToken::new(),
        ));
        for n in 1..=5u8 {
            if n == 2 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            queue.send(SinkCommand::Segment {
                playlist: 0,
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
            playlist: 0,
            endlist: true,
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
}
