//! One task per sink node: keeps, for every playlist it publishes, its own publishing plan, and
//! carries the segments out in arrival order: store the segment, then the playlist version
//! that lists it, and delete expired segments when their time comes.
//!
//! Playlists are rendered per sink, so a sink that falls behind only delays itself: its
//! backlog (see `backlog`) holds unsent segments in memory, then in its spool on disk, and
//! beyond `spool_limit` drops the oldest, which this task marks with EXT-X-DISCONTINUITY.
//! Senders never wait for a sink. Sink calls are blocking (the plugin contract) and run on the
//! blocking pool, retried with backoff while they fail temporarily (see `perform`).
//!
//! A reload changes a sink in place through its [`SinkSetup`] watch: the next operation (and the
//! next try of one being retried) uses the new instance and settings, so the queue and spool
//! are kept. When the sink now stores somewhere else, every plan forgets the segments it listed
//! (they are not there) and segments already stored are deleted, when due, where they are.
//! Playlists come and go with [`SinkCommand::Plan`] and [`SinkCommand::End`]. Owns the sink
//! instance's use and the plans.

mod perform;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use streamrouter_plugin::{Sink, SinkError};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::backlog::{Backlog, BacklogLimits, DepthGauges, Work, remove_spool, run_intake};
use crate::publish::{
    ObjectHeaders, Operation, PlanSettings, PlaylistPlan, put_playlist, put_segment,
};
use crate::segmenter::Segment;
use crate::status::{NodeState, NodeStatus};
use perform::{Pin, SinkReport, perform};

/// Master playlists change rarely (a new rendition set or measured attributes).
const MASTER_CACHE_CONTROL: &str = "max-age=10";
/// How often a sink catching up from its spool says how far it has come.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// A playlist as a sink knows it: the playlist node's name.
pub type PlaylistId = Arc<str>;

/// Work for a sink, in the order it must be done.
#[derive(Debug)]
pub enum SinkCommand {
    /// Publish playlist `playlist` with these settings from now on: a new plan, or new
    /// settings for the next version of an existing one (a reload; an ended plan goes on).
    Plan {
        /// Which playlist.
        playlist: PlaylistId,
        /// How it is named and written.
        settings: PlanSettings,
    },
    /// Publish a segment of playlist `playlist`.
    Segment {
        /// Which playlist.
        playlist: PlaylistId,
        /// Object key of the segment.
        key: String,
        /// The segment (shared with the other sinks of the playlist).
        segment: Arc<Segment>,
        /// Wall-clock time of its first sample (EXT-X-PROGRAM-DATE-TIME).
        wall_clock: SystemTime,
        /// When it was cut (for the publish latency log).
        cut: Instant,
    },
    /// Publish a master playlist version (after the variant playlists it lists, which were
    /// queued before it).
    Master {
        /// Object key of the master playlist.
        key: String,
        /// Its text.
        text: String,
    },
    /// The playlist's feed ended, or this sink no longer publishes it.
    End {
        /// Which playlist.
        playlist: PlaylistId,
        /// Publish a final version with EXT-X-ENDLIST.
        endlist: bool,
        /// Drop the plan afterwards (the playlist left this sink for good).
        forget: bool,
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

    /// Whether both are the same sink's queue.
    pub fn same_queue(&self, other: &SinkQueue) -> bool {
        self.sender.same_channel(&other.sender)
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

/// What a sink is now; a reload sends a new one.
#[derive(Clone)]
pub struct SinkSetup {
    /// The instance.
    pub sink: Arc<dyn Sink>,
    /// Where it stores: a new value means a new place, where the plans' listed segments are not.
    pub destination: u64,
    /// Its limits and headers.
    pub limits: SinkLimits,
}

/// One expired segment, deleted when due from the sink that stored it.
struct Expiring {
    due: Instant,
    key: String,
    sink: Arc<dyn Sink>,
}

impl PartialEq for Expiring {
    fn eq(&self, other: &Self) -> bool {
        (self.due, &self.key) == (other.due, &other.key)
    }
}

impl Eq for Expiring {}

impl PartialOrd for Expiring {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Expiring {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, &self.key).cmp(&(other.due, &other.key))
    }
}

/// Runs until every sender is gone and the backlog is drained. Commands are taken into the
/// backlog as they arrive (spilling to the spool, dropping the oldest beyond `spool_limit`)
/// while the worker carries them out in order. Deletions not yet due at the end are abandoned
/// (the segments stay).
pub async fn run_sink(
    name: String,
    setup: watch::Receiver<SinkSetup>,
    inbox: SinkInbox,
    shutdown: CancellationToken,
    status: NodeStatus,
) {
    let backlog = Arc::new(Backlog::default());
    let spool_dir = setup.borrow().limits.backlog.spool_dir.clone();
    let depth = DepthGauges::new(&name);
    let intake = run_intake(
        name.clone(),
        inbox.receiver,
        Arc::clone(&backlog),
        setup.clone(),
        depth.clone(),
    );
    let worker = Worker {
        report: SinkReport::new(&name, status.clone()),
        depth,
        name: &name,
        setup,
        backlog: &backlog,
        shutdown: &shutdown,
        plans: BTreeMap::new(),
        expiring: BinaryHeap::new(),
        destination: None,
        masters: BTreeMap::new(),
        masters_to_move: false,
    };
    tokio::join!(intake, worker.run());
    if let Some(dir) = spool_dir {
        remove_spool(dir).await;
    }
    status.set(NodeState::Stopped);
    tracing::info!(sink = %name, "sink stopped");
}

struct Worker<'a> {
    report: SinkReport,
    depth: DepthGauges,
    name: &'a str,
    setup: watch::Receiver<SinkSetup>,
    backlog: &'a Backlog,
    shutdown: &'a CancellationToken,
    plans: BTreeMap<PlaylistId, PlaylistPlan>,
    expiring: BinaryHeap<Reverse<Expiring>>,
    /// The destination the plans' listed segments are at.
    destination: Option<u64>,
    /// The latest version of each master playlist, published again where the sink moves.
    masters: BTreeMap<String, String>,
    /// The sink moved: its masters go to the new place after the next playlist version there.
    masters_to_move: bool,
}

impl Worker<'_> {
    async fn run(mut self) {
        let mut last_progress_log = Instant::now();
        loop {
            let next_deadline = self.expiring.peek().map(|Reverse(e)| e.due);
            let work = tokio::select! {
                work = self.backlog.next() => work,
                () = sleep_until(next_deadline) => {
                    self.delete_due().await;
                    continue;
                }
            };
            self.depth.show(self.backlog);
            let Some(work) = work else {
                if !self.expiring.is_empty() {
                    tracing::info!(sink = %self.name, pending = self.expiring.len(), "stopping with expired segments not yet deletable");
                }
                return;
            };
            self.follow_destination();
            match work {
                Work::Command(SinkCommand::Segment {
                    playlist,
                    key,
                    segment,
                    wall_clock,
                    cut,
                }) => {
                    if self.store_segment(&playlist, &key, &segment).await {
                        let depth = self.backlog.depth();
                        if depth.spooled_bytes > 0
                            && last_progress_log.elapsed() >= PROGRESS_LOG_INTERVAL
                        {
                            last_progress_log = Instant::now();
                            tracing::info!(sink = %self.name, waiting = depth.entries, spooled_bytes = depth.spooled_bytes, memory_bytes = depth.memory_bytes, "sink catching up");
                        }
                        if let Some(plan) = self.plans.get_mut(&playlist) {
                            let operations = plan.add_named(key, &segment, wall_clock);
                            self.carry_out(operations, Some(cut)).await;
                        }
                    }
                }
                Work::Gap { playlist } => {
                    if let Some(plan) = self.plans.get_mut(&playlist) {
                        plan.mark_gap();
                    }
                }
                Work::Command(SinkCommand::Plan { playlist, settings }) => {
                    let operations = match self.plans.get_mut(&playlist) {
                        Some(plan) => plan.update(settings),
                        None => {
                            self.plans.insert(playlist, PlaylistPlan::new(settings));
                            Vec::new()
                        }
                    };
                    self.carry_out(operations, None).await;
                }
                Work::Command(SinkCommand::Master { key, text }) => {
                    self.masters.insert(key.clone(), text.clone());
                    self.put_master(key, text).await;
                }
                Work::Command(SinkCommand::End {
                    playlist,
                    endlist,
                    forget,
                }) => {
                    let operations = match self.plans.get_mut(&playlist) {
                        Some(plan) if endlist => plan.end().into_iter().collect(),
                        _ => Vec::new(),
                    };
                    self.carry_out(operations, None).await;
                    if forget {
                        self.plans.remove(&playlist);
                    }
                }
            }
        }
    }

    /// A reload moved the sink: the plans' listed segments are not where it stores now.
    fn follow_destination(&mut self) {
        let destination = self.setup.borrow().destination;
        if self
            .destination
            .replace(destination)
            .is_some_and(|d| d != destination)
        {
            for plan in self.plans.values_mut() {
                plan.rebase();
            }
            self.masters_to_move = !self.masters.is_empty();
            tracing::info!(sink = %self.name, playlists = self.plans.len(), "sink moved: its playlists start again with the next segment stored there");
        }
    }

    /// Stores a segment; false when it could not be (the plan marks the gap).
    async fn store_segment(
        &mut self,
        playlist: &PlaylistId,
        key: &str,
        segment: &Arc<Segment>,
    ) -> bool {
        if !self.plans.contains_key(playlist) {
            return false;
        }
        let (target, data) = (key.to_owned(), Arc::clone(segment));
        let stored = self
            .perform(key, Pin::Any, move |sink, headers| {
                put_segment(sink, &target, &data.data, headers)
            })
            .await;
        if let Some(destination) = stored {
            tracing::debug!(sink = %self.name, %key, "segment stored");
            // Stored by a sink a reload put in place during the tries: list it there.
            if self.destination != Some(destination) {
                self.follow_destination();
            }
            return true;
        }
        if let Some(plan) = self.plans.get_mut(playlist) {
            plan.mark_gap();
        }
        if self.shutdown.is_cancelled() {
            give_up(self.name, self.backlog).await;
        }
        false
    }

    async fn carry_out(&mut self, operations: Vec<Operation>, cut: Option<Instant>) {
        for operation in operations {
            match operation {
                // Stored before the plan listed it.
                Operation::PutSegment { .. } => {}
                Operation::PutPlaylist {
                    key,
                    text,
                    cache_control,
                } => {
                    let stored = self.store_playlist(&key, text, cache_control).await;
                    if stored && let Some(cut) = cut {
                        let latency_ms = cut.elapsed().as_secs_f64() * 1000.0;
                        tracing::debug!(sink = %self.name, %key, latency_ms, "playlist published");
                    }
                    if stored && std::mem::take(&mut self.masters_to_move) {
                        for (key, text) in self.masters.clone() {
                            self.put_master(key, text).await;
                        }
                    }
                }
                Operation::Expire { key, keep_for } => {
                    let (sink, grace) = {
                        let setup = self.setup.borrow();
                        (Arc::clone(&setup.sink), setup.limits.delete_grace)
                    };
                    let due = Instant::now() + keep_for + grace;
                    self.expiring.push(Reverse(Expiring { due, key, sink }));
                }
            }
        }
    }

    /// Stores a master playlist version at the current destination.
    async fn put_master(&mut self, key: String, text: String) {
        let cache_control = MASTER_CACHE_CONTROL.to_owned();
        if self.store_playlist(&key, text, cache_control).await {
            tracing::info!(sink = %self.name, %key, "master playlist published");
        }
    }

    /// Stores a playlist version, rendered for the segments at the current destination: it is
    /// never published elsewhere (given up if the sink moves meanwhile).
    async fn store_playlist(&self, key: &str, text: String, cache_control: String) -> bool {
        let target = key.to_owned();
        let pin = Pin::Destination(self.destination.unwrap_or_default());
        let stored = self
            .perform(key, pin, move |sink, headers| {
                put_playlist(sink, &target, &text, &cache_control, headers)
            })
            .await;
        stored.is_some()
    }

    /// [`perform`] with this sink's name, stop, setup and report.
    async fn perform<F>(&self, key: &str, pin: Pin, operation: F) -> Option<u64>
    where
        F: Fn(&dyn Sink, &ObjectHeaders) -> Result<(), SinkError> + Send + Sync + 'static,
    {
        let (name, setup, report) = (self.name, &self.setup, &self.report);
        perform(name, key, self.shutdown, setup, report, pin, operation).await
    }

    async fn delete_due(&mut self) {
        while let Some(Reverse(expiring)) = self.expiring.pop() {
            if expiring.due > Instant::now() {
                self.expiring.push(Reverse(expiring));
                break;
            }
            let Expiring { key, sink, .. } = expiring;
            let target = key.clone();
            let pin = Pin::Sink(sink);
            self.perform(&key, pin, move |sink, _| sink.delete(&target))
                .await;
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

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
