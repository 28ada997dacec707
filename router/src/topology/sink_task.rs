//! One task per sink node: keeps, for every playlist it publishes, its own publishing plan, and
//! carries the segments out in arrival order: store the segment, then the playlist version
//! that lists it, and delete expired segments when their time comes.
//!
//! Playlists are rendered per sink, so a sink that falls behind can drop its oldest unsent
//! segments (its queue is bounded in bytes) and mark the gap with EXT-X-DISCONTINUITY without
//! touching any other sink. Senders never wait for a sink. Sink calls are blocking (the plugin
//! contract) and run on the blocking pool. Owns the sink instance and the plans.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use streamrouter_plugin::{Sink, SinkError, SinkErrorKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::publish::{ObjectHeaders, Operation, PlaylistPlan, put_playlist, put_segment};
use crate::segmenter::Segment;

/// Backoff between tries of one operation.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
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

/// The sending side of a sink's queue: never waits; counts queued segment bytes so the sink
/// can drop its oldest segments when it falls too far behind.
#[derive(Debug, Clone)]
pub struct SinkQueue {
    sender: mpsc::UnboundedSender<SinkCommand>,
    queued_bytes: Arc<AtomicUsize>,
}

impl SinkQueue {
    /// Queues a command; a sink whose task is gone is skipped silently.
    pub fn send(&self, command: SinkCommand) {
        if let SinkCommand::Segment { segment, .. } = &command {
            self.queued_bytes
                .fetch_add(segment.data.len(), Ordering::Relaxed);
        }
        let _ = self.sender.send(command);
    }
}

/// A sink's task inputs: its queue's receiving side.
pub struct SinkInbox {
    receiver: mpsc::UnboundedReceiver<SinkCommand>,
    queued_bytes: Arc<AtomicUsize>,
}

/// A new queue.
pub fn sink_queue() -> (SinkQueue, SinkInbox) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    (
        SinkQueue {
            sender,
            queued_bytes: Arc::clone(&queued_bytes),
        },
        SinkInbox {
            receiver,
            queued_bytes,
        },
    )
}

/// How far a sink may fall behind, how long expired segments linger, which headers it stores.
#[derive(Debug, Clone)]
pub struct SinkLimits {
    /// Segment bytes that may wait before the oldest unsent ones are dropped.
    pub max_queued_bytes: usize,
    /// Extra time before an expired segment is deleted (`delete_grace`).
    pub delete_grace: Duration,
    /// Content-Type and Cache-Control of the objects.
    pub headers: Arc<ObjectHeaders>,
}

/// Runs until every sender is gone and the queue is drained. When more than `max_queued_bytes`
/// of segments wait, the oldest are dropped (logged loudly) and the playlist marks the gap.
/// Deletions not yet due at the end are abandoned (the segments stay).
pub async fn run_sink(
    name: String,
    sink: Arc<dyn Sink>,
    mut plans: Vec<PlaylistPlan>,
    mut inbox: SinkInbox,
    limits: SinkLimits,
    shutdown: CancellationToken,
) {
    let mut expiring: BinaryHeap<Reverse<(Instant, String)>> = BinaryHeap::new();
    loop {
        let next_deadline = expiring.peek().map(|Reverse((at, _))| *at);
        let command = tokio::select! {
            command = inbox.receiver.recv() => command,
            () = sleep_until(next_deadline) => {
                delete_due(&name, &sink, &mut expiring, &shutdown).await;
                continue;
            }
        };
        let Some(command) = command else {
            if !expiring.is_empty() {
                tracing::info!(sink = %name, pending = expiring.len(), "stopping with expired segments not yet deletable");
            }
            return;
        };
        let (operations, cut) = match command {
            SinkCommand::Segment {
                playlist,
                key,
                segment,
                wall_clock,
                cut,
            } => {
                let queued = inbox
                    .queued_bytes
                    .fetch_sub(segment.data.len(), Ordering::Relaxed)
                    .saturating_sub(segment.data.len());
                let Some(plan) = plans.get_mut(playlist) else {
                    continue;
                };
                if queued > limits.max_queued_bytes {
                    tracing::error!(sink = %name, %key, queued_bytes = queued, "sink far behind: dropping its oldest unsent segment; the playlist marks the gap with a discontinuity");
                    plan.mark_gap();
                    continue;
                }
                let target = key.clone();
                let (stored_sink, data) = (Arc::clone(&sink), Arc::clone(&segment));
                let headers = Arc::clone(&limits.headers);
                let stored = perform(&name, &key, &shutdown, move || {
                    put_segment(stored_sink.as_ref(), &target, &data.data, &headers)
                })
                .await;
                if !stored {
                    plan.mark_gap();
                    continue;
                }
                tracing::debug!(sink = %name, %key, "segment stored");
                let operations = plan.add_named(key, &segment, wall_clock);
                (operations, Some(cut))
            }
            SinkCommand::End { playlist, endlist } => {
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
                    let stored = perform(&name, &key, &shutdown, move || {
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

    fn segment() -> Arc<Segment> {
        Arc::new(Segment {
            data: vec![0x47; 1000],
            start_pts: 0,
            duration_ticks: 180_000,
            discontinuity: false,
            independent: true,
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sink_behind_drops_its_oldest_segments_and_marks_the_gap() {
        let sink = Arc::new(SlowSink {
            delay: Duration::from_millis(300),
            objects: Mutex::new(BTreeMap::new()),
        });
        let (queue, inbox) = sink_queue();
        let task = tokio::spawn(run_sink(
            "slow".into(),
            Arc::clone(&sink) as Arc<dyn Sink>,
            vec![plan()],
            inbox,
            SinkLimits {
                max_queued_bytes: 1500,
                delete_grace: Duration::ZERO,
                headers: Arc::default(),
            },
            CancellationToken::new(),
        ));
        // While the first segment is being stored, four more arrive (4000 bytes > 1500).
        for n in 1..=5 {
            if n == 2 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            queue.send(SinkCommand::Segment {
                playlist: 0,
                key: format!("s-{n:05}.ts"),
                segment: segment(),
                wall_clock: SystemTime::UNIX_EPOCH,
                cut: Instant::now(),
            });
        }
        queue.send(SinkCommand::End {
            playlist: 0,
            endlist: true,
        });
        drop(queue);
        task.await.unwrap();
        let objects = sink.objects.lock().unwrap();
        let stored: Vec<&str> = objects.keys().map(String::as_str).collect();
        assert_eq!(
            stored,
            ["index.m3u8", "s-00001.ts", "s-00004.ts", "s-00005.ts"]
        );
        let playlist = String::from_utf8(objects["index.m3u8"].clone()).unwrap();
        assert!(
            playlist.contains(
                "s-00001.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ns-00004.ts\n#EXTINF:2.000,\ns-00005.ts\n#EXT-X-ENDLIST\n"
            ),
            "{playlist}"
        );
        // Media sequence numbers stay positional: three entries from 1.
        assert!(playlist.contains("#EXT-X-MEDIA-SEQUENCE:1\n"), "{playlist}");
    }
}
