//! Carrying out one sink call: on the blocking pool (the plugin contract makes sink calls
//! blocking), retried with exponential backoff while it fails temporarily, with the sink a
//! reload put in place by the time of each try.
//!
//! Owns the retry policy; knows nothing of plans or playlists.

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram};

use streamrouter_plugin::{Sink, SinkError, SinkErrorKind};
use tokio::sync::watch;

use super::SinkSetup;
use crate::backoff::{Backoff, Schedule};
use crate::cluster::{Admission, Fence};
use crate::publish::ObjectHeaders;
use crate::status::{NodeState, NodeStatus};

/// What a sink's operations report: its state on the status board and its metrics.
#[derive(Debug, Clone)]
pub struct SinkReport {
    /// Its entry on the board.
    pub status: NodeStatus,
    /// Tries that failed and were tried again.
    pub retries: Counter,
    /// Operations given up.
    pub failures: Counter,
    /// Time of each successful store.
    pub upload_seconds: Histogram,
}

impl SinkReport {
    /// The report of sink `name`, starting.
    pub fn new(name: &str, status: NodeStatus) -> Self {
        let label = [("sink", name.to_owned())];
        Self {
            status,
            retries: metrics::counter!("streamrouter_sink_retries_total", &label),
            failures: metrics::counter!("streamrouter_sink_failures_total", &label),
            upload_seconds: metrics::histogram!("streamrouter_sink_upload_seconds", &label),
        }
    }
}

/// Backoff between tries of one operation: 250 ms doubling to 5 s (never starting over: an
/// operation runs until it succeeds or is given up).
const SCHEDULE: Schedule = Schedule {
    first: Duration::from_millis(250),
    max: Duration::from_secs(5),
    healthy: Duration::MAX,
};

/// Which sink an operation may use.
pub enum Pin {
    /// The current one, wherever it stores (a segment).
    Any,
    /// The current one while it stores at this destination; given up once it moves (a playlist
    /// rendered for the segments there).
    Destination(u64),
    /// This one, even if a reload replaced it (deleting what it stored).
    Sink(Arc<dyn Sink>),
}

/// Runs a blocking sink call until it succeeds; returns the destination it succeeded at, or
/// `None` when it was given up. Temporary failures (network, server down) are retried with
/// exponential backoff until they succeed, so an outage delays publishing but loses nothing,
/// and a reload that fixes the sink takes effect at once. At a stop the caller drops this
/// future once its drain time is over; the operation then stays in the journal. Permanent
/// failures are given up at once.
pub async fn perform<F>(
    sink_name: &str,
    key: &str,
    setup: &watch::Receiver<SinkSetup>,
    report: &SinkReport,
    pin: Pin,
    epoch: Option<u64>,
    operation: F,
) -> Option<u64>
where
    F: Fn(&dyn Sink, &ObjectHeaders) -> Result<(), SinkError> + Send + Sync + 'static,
{
    let operation = Arc::new(operation);
    let mut changes = setup.clone();
    let mut backoff = Backoff::new(SCHEDULE);
    // In a cluster: the epoch the caller checked ownership under (else the current one).
    let fence = setup.borrow().limits.fence.clone();
    let epoch = epoch.or_else(|| fence.as_ref().map(Fence::epoch));
    for attempt in 1u64.. {
        if let (Some(fence), Some(epoch)) = (&fence, epoch)
            && !wait_at_fence(fence, epoch, sink_name, key).await
        {
            return None;
        }
        let (sink, headers, destination) = {
            let current = changes.borrow_and_update();
            let sink = match &pin {
                Pin::Sink(sink) => Arc::clone(sink),
                Pin::Destination(wanted) if *wanted != current.destination => {
                    tracing::debug!(sink = %sink_name, %key, "sink moved: this version is not published there");
                    return None;
                }
                Pin::Any | Pin::Destination(_) => Arc::clone(&current.sink),
            };
            (
                sink,
                Arc::clone(&current.limits.headers),
                current.destination,
            )
        };
        let storing = !matches!(pin, Pin::Sink(_));
        let call = Arc::clone(&operation);
        let started = Instant::now();
        let gate = fence.clone().zip(epoch);
        let result = tokio::task::spawn_blocking(move || {
            // Checked again on the blocking thread, just before the write.
            if let Some((fence, epoch)) = &gate
                && fence.admit(*epoch) != Admission::Open
            {
                return Err(SinkError::temporary(
                    "",
                    "the cluster lease may have expired".to_owned(),
                ));
            }
            call(sink.as_ref(), &headers)
        })
        .await;
        let error = match result {
            Ok(Ok(())) => {
                if storing {
                    report
                        .upload_seconds
                        .record(started.elapsed().as_secs_f64());
                }
                report.status.set(NodeState::Live);
                if attempt > 1 {
                    tracing::info!(sink = %sink_name, %key, attempt, "sink recovered");
                }
                return Some(destination);
            }
            Ok(Err(error)) => error,
            Err(join_error) => {
                SinkError::temporary(key, format!("sink call panicked: {join_error}"))
            }
        };
        report.status.fail(NodeState::Retrying, error.to_string());
        if error.kind == SinkErrorKind::Permanent {
            report.failures.increment(1);
            tracing::error!(sink = %sink_name, %key, %error, attempt, "giving up on this object");
            return None;
        }
        report.retries.increment(1);
        if attempt == 1 || attempt % 10 == 0 {
            tracing::warn!(sink = %sink_name, %key, %error, attempt, "sink operation failed; retrying");
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.next_delay()) => {}
            // A reload replaced the sink: try the new one now.
            Ok(()) = changes.changed() => {}
        }
    }
    None
}

/// Waits while the fence says the lease may have expired; `false` when the lease the write
/// began under is lost (the write is given up: the feed is another router's now).
async fn wait_at_fence(fence: &Fence, epoch: u64, sink_name: &str, key: &str) -> bool {
    let mut changes = fence.subscribe();
    let mut logged = false;
    loop {
        match fence.admit(epoch) {
            Admission::Open => return true,
            Admission::Abandon => {
                tracing::info!(sink = %sink_name, %key, "cluster: lease lost; this write is given up");
                return false;
            }
            Admission::Wait => {
                if !logged {
                    logged = true;
                    tracing::debug!(sink = %sink_name, %key, "cluster: waiting for the lease to be renewed");
                }
                // The deadline passes without a change: look again now and then too.
                let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
            }
        }
    }
}
