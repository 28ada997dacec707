//! One task per sink node: carries out publishing operations in arrival order, retrying
//! failures with backoff, and deletes expired segments when their time comes.
//!
//! Sink calls are blocking (the plugin contract); they run on the blocking pool so a slow sink
//! never stalls the runtime threads. Owns the sink instance; knows nothing of playlists.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use streamrouter_plugin::{Sink, SinkError, SinkErrorKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::publish::{put_playlist, put_segment};
use crate::segmenter::Segment;

/// Backoff between tries of one operation.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Tries of a failing operation once the daemon is stopping, before it is given up.
const MAX_TRIES_WHILE_STOPPING: u32 = 3;

/// Work for a sink, in the order it must be done.
#[derive(Debug)]
pub enum SinkCommand {
    /// Store a segment.
    PutSegment {
        /// Object key.
        key: String,
        /// The segment (shared with the other sinks of the playlist).
        segment: Arc<Segment>,
    },
    /// Store a playlist version.
    PutPlaylist {
        /// Object key.
        key: String,
        /// m3u8 text.
        text: Arc<str>,
        /// Cache-Control.
        cache_control: Arc<str>,
        /// When the segment this version adds was cut (for the publish latency log).
        segment_cut: Option<Instant>,
    },
    /// Delete `key` after `keep_for` from now.
    Expire {
        /// Object key.
        key: String,
        /// Delay.
        keep_for: Duration,
    },
}

/// Runs until every sender is gone and the queue is drained. Deletions not yet due then are
/// abandoned (the segments stay; a later run cannot know them).
/// A playlist version that lists a segment this sink failed to store is not published (players
/// would get an error for it); later versions are, once that segment left the window.
pub async fn run_sink(
    name: String,
    sink: Arc<dyn Sink>,
    mut commands: mpsc::Receiver<SinkCommand>,
    shutdown: CancellationToken,
) {
    let mut expiring: BinaryHeap<Reverse<(Instant, String)>> = BinaryHeap::new();
    let mut missing: HashSet<String> = HashSet::new();
    loop {
        let next_deadline = expiring.peek().map(|Reverse((at, _))| *at);
        let command = tokio::select! {
            command = commands.recv() => command,
            () = sleep_until(next_deadline) => {
                while let Some(Reverse((at, key))) = expiring.pop() {
                    if at > Instant::now() {
                        expiring.push(Reverse((at, key)));
                        break;
                    }
                    let sink = Arc::clone(&sink);
                    let target = key.clone();
                    perform(&name, &key, &shutdown, move || sink.delete(&target)).await;
                }
                continue;
            }
        };
        let Some(command) = command else {
            if !expiring.is_empty() {
                tracing::info!(sink = %name, pending = expiring.len(), "stopping with expired segments not yet deletable");
            }
            return;
        };
        match command {
            SinkCommand::PutSegment { key, segment } => {
                let sink = Arc::clone(&sink);
                let target = key.clone();
                if perform(&name, &key, &shutdown, move || {
                    put_segment(sink.as_ref(), &target, &segment.data)
                })
                .await
                {
                    tracing::debug!(sink = %name, %key, "segment stored");
                } else {
                    missing.insert(key);
                }
            }
            SinkCommand::PutPlaylist {
                key,
                text,
                cache_control,
                segment_cut,
            } => {
                missing.retain(|segment_key| text.contains(segment_key.as_str()));
                if !missing.is_empty() {
                    tracing::warn!(sink = %name, %key, missing = missing.len(), "playlist version not published: it lists segments this sink could not store");
                    continue;
                }
                let sink = Arc::clone(&sink);
                let target = key.clone();
                let stored = perform(&name, &key, &shutdown, move || {
                    put_playlist(sink.as_ref(), &target, &text, &cache_control)
                })
                .await;
                if stored && let Some(cut) = segment_cut {
                    let latency_ms = cut.elapsed().as_secs_f64() * 1000.0;
                    tracing::debug!(sink = %name, %key, latency_ms, "playlist published");
                }
            }
            SinkCommand::Expire { key, keep_for } => {
                expiring.push(Reverse((Instant::now() + keep_for, key)));
            }
        }
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
