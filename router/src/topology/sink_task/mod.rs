//! One task per sink node: keeps, for every playlist it publishes, its own publishing plan, and
//! carries the segments out in arrival order: store the segment, then the playlist version
//! that lists it, and delete expired segments when their time comes.
//!
//! Playlists are rendered per sink, so a sink that falls behind only delays itself: its
//! backlog (see `backlog`) holds unsent segments in its journal (`publish::journal`) and the
//! most recent in memory too, and beyond `spool_limit` drops the oldest, which this task lists
//! as EXT-X-GAP under their numbers. Senders never wait for a sink. Sink calls are blocking
//! (the plugin contract) and run on the blocking pool, retried with backoff while they fail
//! temporarily (see `perform`).
//!
//! Durable: each item is completed in the journal together with the plan it changed and the
//! deletions it scheduled, so a restarted sink replays what was left, in order, goes on with
//! its playlists' entries, and deletes what was due. At a stop the sink publishes for at most
//! its drain time (`stop_timeout`), then leaves the rest in the journal.
//!
//! A reload changes a sink in place through its [`SinkSetup`] watch: the next operation (and the
//! next try of one being retried) uses the new instance and settings, so the queue and spool
//! are kept. When the sink now stores somewhere else, every plan forgets the segments it listed
//! (they are not there) and segments already stored are deleted, when due, where they are.
//! Playlists come and go with [`SinkCommand::Plan`] and [`SinkCommand::End`]; an fMP4
//! playlist's init segments come with [`SinkCommand::Init`] before their segments (see `inits`).
//! Owns the sink instance's use and the plans.
//!
//! Who owns what: the playlist stage (the playlist task, `crate::playlist`) names, numbers and
//! dates each segment once, for every sink, and owns the window's rules (`MediaPlaylist`:
//! what is listed, what expires and when it may be deleted). Stage 4, publish, owns the
//! per-sink plans (`publish::PlaylistPlan`), one per sink and playlist, kept here: each applies
//! those rules to what this sink holds, because that differs from sink to sink — a segment
//! lost here only (spool overflow, refused for good) is EXT-X-GAP in this sink's playlist
//! only; a sink that moved starts its listing again; a sink or a playlist added by a reload
//! starts with an empty window; a sink behind publishes each version when it gets there, and
//! its deletions are timed from its own playlist writes; after a restart each sink goes on
//! from its own journal, which persists its plan. A window computed once upstream would still
//! need all of that per sink, so it is not: the task only receives the segment and its name.

mod archive_masters;
mod expiry;
mod fencing;
mod inits;
mod journal_open;
mod keys;
mod perform;
#[cfg(test)]
mod resume_tests;
mod setup;
mod shared_plans;
mod store;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use streamrouter_plugin::{Sink, SinkError};
use tokio::sync::watch;
use tokio::time::Instant;

use super::backlog::{Backlog, DepthGauges, WorkItem, blocking, run_intake};
use super::key_floors::KeyFloors;
use super::links::{PlaylistId, SinkCommand, SinkInbox};
use crate::publish::journal::{Completion, PlanChange, Recovered};
use crate::publish::{ObjectHeaders, Operation, PlaylistPlan, put_playlist};
use crate::status::{NodeState, NodeStatus};
use archive_masters::ArchiveMasters;
use expiry::Expiring;
use inits::Inits;
use journal_open::open_journal;
use keys::StoredKeys;
use perform::{Pin, SinkReport, perform};
pub use setup::{JournalPlace, SinkLimits, SinkSetup, SinkStart};
use store::Stored;

/// Master playlists change rarely (a new rendition set or measured attributes).
const MASTER_CACHE_CONTROL: &str = "max-age=10";
/// How often a sink catching up from its spool says how far it has come.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Runs until every sender is gone and the backlog is drained, or until the drain time after a
/// stop has passed: what is unsent then stays in the journal. Starts with what the journal
/// held: its queue first, in order, then the new commands; its plans; its pending deletions.
pub async fn run_sink(start: SinkStart, inbox: SinkInbox) {
    let SinkStart {
        name,
        setup,
        stop,
        drain,
        journal: place,
        status,
        key_floors,
    } = start;
    let (journal, mut recovered) = open_journal(&name, &place, drain).await;
    if let Some(journal) = &journal {
        status.journal(journal);
    }
    let next_id = recovered.next_id;
    let queue = std::mem::take(&mut recovered.queue);
    let backlog = Arc::new(Backlog::new(journal, queue));
    let depth = DepthGauges::new(&name);
    let intake = run_intake(
        name.clone(),
        inbox.receiver,
        Arc::clone(&backlog),
        setup.clone(),
        depth.clone(),
        next_id,
    );
    let mut worker = Worker::new(&name, setup, &backlog, status.clone(), depth, recovered);
    worker.key_floors = key_floors;
    let deadline = async {
        stop.cancelled().await;
        tokio::time::sleep(drain).await;
    };
    let work = async {
        tokio::select! {
            () = worker.run() => false,
            () = deadline => true,
        }
    };
    let ((), abandoned) = tokio::join!(intake, work);
    let left = backlog.depth();
    // An abandoned worker was at least in the middle of an item.
    if place.durable {
        if abandoned {
            tracing::warn!(sink = %name, waiting = left.entries, journal = %place.dir.display(), "stop timeout: what is unsent stays in the journal for the next run");
        }
    } else {
        if abandoned {
            tracing::error!(sink = %name, waiting = left.entries, "stop timeout: unsent items are lost (set [router] state_dir to keep them for the next run)");
        }
        drop(backlog);
        let dir = place.dir.clone();
        let _ = blocking(move || std::fs::remove_dir_all(dir)).await;
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
    plans: BTreeMap<PlaylistId, PlaylistPlan>,
    /// The last entry of each plan that the journal holds.
    persisted: BTreeMap<PlaylistId, Option<u64>>,
    expiring: BinaryHeap<Reverse<Expiring>>,
    /// The destination the plans' listed segments are at.
    destination: Option<u64>,
    /// The latest version of each master playlist, published again where the sink moves.
    masters: BTreeMap<String, String>,
    /// The sink moved: its masters go to the new place after the next playlist version there.
    masters_to_move: bool,
    /// The archive masters published and not yet deleted.
    archive_masters: ArchiveMasters,
    /// The fMP4 init segments of its playlists.
    inits: Inits,
    /// The key files its playlists' segments need, stored here.
    keys: StoredKeys,
    /// Where it says which key-sink keys its plans name (see `key_floors`).
    key_floors: KeyFloors,
    /// In a cluster: each playlist's expired segments not yet deleted, shared with its plan
    /// (key → when due, Unix ms).
    shared_pending: BTreeMap<PlaylistId, BTreeMap<String, u64>>,
    /// In a cluster: the fence's epoch the current item's ownership was checked under; its
    /// writes are given up once the lease changes, even if a new one opens the fence.
    epoch: Option<u64>,
}

impl<'a> Worker<'a> {
    /// A worker starting from what the journal held.
    fn new(
        name: &'a str,
        setup: watch::Receiver<SinkSetup>,
        backlog: &'a Backlog,
        status: NodeStatus,
        depth: DepthGauges,
        recovered: Recovered,
    ) -> Self {
        let mut plans = BTreeMap::new();
        let mut persisted = BTreeMap::new();
        for (playlist, snapshot) in recovered.plans {
            let last = snapshot.playlist.entries.last().map(|entry| entry.sequence);
            match PlaylistPlan::restore(snapshot) {
                Some(plan) => {
                    let playlist: PlaylistId = Arc::from(playlist);
                    persisted.insert(Arc::clone(&playlist), last);
                    plans.insert(playlist, plan);
                }
                None => {
                    tracing::warn!(sink = %name, %playlist, "journal plan inconsistent: the playlist starts again")
                }
            }
        }
        let sink = Arc::clone(&setup.borrow().sink);
        let (now, wall) = (Instant::now(), SystemTime::now());
        let expiring = (recovered.deletions.into_iter())
            .map(|(key, due)| {
                let wait = due.duration_since(wall).unwrap_or_default();
                Reverse(Expiring {
                    due: now + wait,
                    key,
                    sink: Arc::clone(&sink),
                })
            })
            .collect();
        Self {
            report: SinkReport::new(name, status),
            depth,
            name,
            setup,
            backlog,
            plans,
            persisted,
            expiring,
            destination: None,
            masters: recovered.masters,
            masters_to_move: false,
            archive_masters: ArchiveMasters::new(recovered.archive_masters),
            inits: Inits::default(),
            keys: StoredKeys::default(),
            key_floors: KeyFloors::default(),
            shared_pending: BTreeMap::new(),
            epoch: None,
        }
    }

    async fn run(mut self) {
        let mut last_progress_log = Instant::now();
        // What the journal's plans name, before anything else is done.
        for playlist in self.plans.keys() {
            self.report_key_floor(playlist);
        }
        loop {
            let next_deadline = self.expiring.peek().map(|Reverse(e)| e.due);
            let next_retirement = self.next_retirement();
            let work = tokio::select! {
                work = self.backlog.next() => work,
                () = sleep_until(next_deadline) => {
                    self.delete_due().await;
                    continue;
                }
                () = sleep_until(next_retirement) => {
                    self.retire_archives().await;
                    continue;
                }
            };
            self.depth.show(self.backlog);
            let Some(work) = work else {
                if !self.expiring.is_empty() {
                    tracing::info!(sink = %self.name, pending = self.expiring.len(), "stopping with expired segments not yet deletable; the next run deletes them");
                }
                return;
            };
            self.follow_destination();
            let mut done = Completion::default();
            let mut changed: Option<PlaylistId> = None;
            let fence = self.setup.borrow().limits.fence.clone();
            // The epoch first: a lease lost after it makes every write of this item void.
            self.epoch = fence.as_ref().map(crate::cluster::Fence::epoch);
            if let Some(playlist) = fencing::unowned_playlist(fence.as_ref(), &work.item) {
                // Its feed is published by another router now: nothing of it is written here.
                if let WorkItem::Command(SinkCommand::Key(delivery)) = work.item {
                    let _ = delivery.stored.send(false);
                }
                if self.plans.contains_key(&playlist) {
                    tracing::info!(sink = %self.name, %playlist, "cluster: the feed is not owned here; its plan is dropped and nothing more of it is written");
                }
                done.forget = self.forget(&playlist);
                self.complete(work.id, done).await;
                continue;
            }
            match work.item {
                WorkItem::Command(SinkCommand::Segment {
                    playlist,
                    key,
                    segment,
                    wall_clock,
                    cut,
                }) => {
                    self.restore_init(&playlist).await;
                    let stored = match self.inits.is_missing(&playlist) {
                        true => Stored::Refused,
                        false => self.store_sealed(&playlist, &key, &segment).await,
                    };
                    let depth = self.backlog.depth();
                    if depth.spooled_bytes > 0
                        && last_progress_log.elapsed() >= PROGRESS_LOG_INTERVAL
                    {
                        last_progress_log = Instant::now();
                        tracing::info!(sink = %self.name, waiting = depth.entries, spooled_bytes = depth.spooled_bytes, memory_bytes = depth.memory_bytes, "sink catching up");
                    }
                    let operations = match (stored, self.plans.get_mut(&playlist)) {
                        (Stored::Yes, Some(plan)) => plan.add_named(key, &segment, wall_clock),
                        (Stored::Refused, Some(plan)) => plan.add_gap(key, &segment, wall_clock),
                        _ => Vec::new(),
                    };
                    done.deletions = self.carry_out(operations, Some(cut)).await;
                    changed = Some(playlist);
                }
                WorkItem::Gap {
                    playlist,
                    key,
                    segment,
                    wall_clock,
                } => {
                    let operations = match self.plans.get_mut(&playlist) {
                        Some(plan) => plan.add_gap(key, &segment, wall_clock),
                        None => Vec::new(),
                    };
                    done.deletions = self.carry_out(operations, None).await;
                    changed = Some(playlist);
                }
                WorkItem::Command(SinkCommand::Plan { playlist, settings }) => {
                    let operations = match self.plans.get_mut(&playlist) {
                        Some(plan) => plan.update(*settings),
                        None => {
                            let (plan, pending) = self.shared_start(&playlist, *settings).await;
                            self.plans.insert(Arc::clone(&playlist), plan);
                            done.deletions.extend(pending);
                            Vec::new()
                        }
                    };
                    let deletions = self.carry_out(operations, None).await;
                    done.deletions.extend(deletions);
                    changed = Some(playlist);
                }
                WorkItem::Command(SinkCommand::Init {
                    playlist,
                    key,
                    data,
                }) => {
                    self.store_init(&playlist, key, data).await;
                    changed = Some(playlist);
                }
                WorkItem::InitLost { playlist, key } => {
                    self.init_lost(&playlist, key);
                    changed = Some(playlist);
                }
                WorkItem::Command(SinkCommand::Key(delivery)) => {
                    self.store_delivered_key(delivery).await
                }
                WorkItem::Command(SinkCommand::Barrier(done)) => {
                    let _ = done.send(());
                }
                WorkItem::Command(SinkCommand::DeleteKey { name, keep_for, .. }) => {
                    let expire = Operation::Expire {
                        key: name,
                        keep_for,
                    };
                    done.deletions = self.carry_out(vec![expire], None).await;
                }
                WorkItem::Command(SinkCommand::Master { key, text }) => {
                    self.masters.insert(key.clone(), text.clone());
                    self.put_master(key.clone(), text.clone()).await;
                    done.master = Some((key, text));
                }
                WorkItem::Command(SinkCommand::ArchiveMaster(version)) => {
                    done.archive_master = self.put_archive_master(version).await;
                }
                WorkItem::Command(SinkCommand::End {
                    playlist,
                    endlist,
                    forget,
                }) => {
                    let operations = match self.plans.get_mut(&playlist) {
                        Some(plan) if endlist => plan.end().into_iter().collect(),
                        _ => Vec::new(),
                    };
                    done.deletions = self.carry_out(operations, None).await;
                    if forget {
                        done.forget = self.forget(&playlist);
                    } else {
                        changed = Some(playlist);
                    }
                }
            }
            if let Some(playlist) = changed {
                done.plan = self.plan_change(&playlist);
                self.report_key_floor(&playlist);
                self.share_plan(&playlist, &done.deletions);
            }
            self.complete(work.id, done).await;
        }
    }

    /// Drops everything of `playlist` (removed, or its feed gone to another router); returns
    /// what the journal forgets.
    fn forget(&mut self, playlist: &PlaylistId) -> Option<String> {
        self.inits.forget(playlist);
        self.keys.forget(playlist);
        self.key_floors.report(playlist, self.name, None);
        self.plans.remove(playlist);
        self.persisted.remove(playlist);
        self.shared_pending.remove(playlist);
        Some(playlist.to_string())
    }

    /// What the journal must keep of `playlist`'s plan now: its header and the entries listed
    /// since the last change (which are from then on counted as kept).
    fn plan_change(&mut self, playlist: &PlaylistId) -> Option<PlanChange> {
        let plan = self.plans.get(playlist)?;
        let before = self.persisted.get(playlist).copied().flatten();
        let change = PlanChange::of(playlist, plan, before);
        self.persisted
            .insert(Arc::clone(playlist), change.persisted_after(before));
        Some(change)
    }

    /// Item `id` is done: the journal forgets it, keeping what it changed.
    async fn complete(&self, id: u64, done: Completion) {
        let Some(journal) = self.backlog.journal() else {
            return;
        };
        let journal = Arc::clone(journal);
        if let Err(error) = blocking(move || journal.complete(id, done)).await {
            tracing::error!(sink = %self.name, %error, "journal: cannot record a finished item; a restart would do it again");
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
            self.inits.moved();
            tracing::info!(sink = %self.name, playlists = self.plans.len(), "sink moved: its playlists start again with the next segment stored there");
        }
    }

    /// Carries out a plan's operations; returns the deletions scheduled, with when they are due.
    async fn carry_out(
        &mut self,
        operations: Vec<Operation>,
        cut: Option<Instant>,
    ) -> Vec<(String, SystemTime)> {
        let mut deletions = Vec::new();
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
                    let wait = keep_for + grace;
                    deletions.push((key.clone(), SystemTime::now() + wait));
                    let due = Instant::now() + wait;
                    self.expiring.push(Reverse(Expiring { due, key, sink }));
                }
            }
        }
        deletions
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

    /// [`perform`] with this sink's name, setup and report.
    async fn perform<F>(&self, key: &str, pin: Pin, operation: F) -> Option<u64>
    where
        F: Fn(&dyn Sink, &ObjectHeaders) -> Result<(), SinkError> + Send + Sync + 'static,
    {
        let (name, setup, report) = (self.name, &self.setup, &self.report);
        perform(name, key, setup, report, pin, self.epoch, operation).await
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
