//! Topology: the only module that spawns tasks. Runs a compiled [`Graph`] — one task per
//! source, segmenter, playlist and sink, joined by channels — changes it node by node when a
//! reload applies a [`crate::config::diff::GraphDiff`] (see `apply`), and stops it all in order on shutdown.
//!
//! Each node runs in its own task: a failure in one feed never disturbs another, and a task
//! that panics is restarted in place with backoff, its channels kept (see `heal`; the test
//! fault switch that makes one panic is `fault`). Must not parse media or config itself (the
//! model's values come checked); it wires the stages together. What the tasks send each other
//! is defined in `links`, apart from every task, so that none imports from another. The one
//! thing the tasks share besides channels is the registry of which key-sink keys each sink
//! still names (`key_floors`), written by the sink tasks and read by the playlist tasks.
//!
//! Tested in process on tokio's paused clock (`testkit`, with in-memory sinks put in place of
//! the configured ones through `seams`): each kind of reload (`graph_tests`), a thousand feeds
//! and a stop with a dead sink (`scale_tests`), an outage and a restart (`outage_tests`), and
//! panics that heal (`tests`), key deletion at a key sink (`key_deletion_tests`); what
//! `apply` does is planned by `apply_plan`, tested alone.

mod apply;
mod apply_masters;
mod apply_plan;
#[cfg(test)]
mod apply_plan_tests;
#[cfg(test)]
mod archive_master_tests;
mod backlog;
mod backlog_records;
mod encrypt_stage;
#[cfg(test)]
mod encryption_tests;
#[cfg(any(test, debug_assertions))]
mod fault;
mod fmp4_stage;
#[cfg(test)]
mod fmp4_tests;
#[cfg(test)]
mod graph_tests;
mod heal;
#[cfg(test)]
mod key_deletion_tests;
mod key_floors;
mod key_reaper;
mod links;
mod master_task;
#[cfg(test)]
mod memory_sink;
#[cfg(test)]
mod outage_tests;
mod playlist_task;
#[cfg(test)]
mod scale_tests;
mod seams;
mod segmenter_task;
mod sink_task;
mod sinks;
mod source_task;
mod state;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod views_tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::model::{Graph, HeaderOverrides, PlaylistNode, SinkNode};
use crate::playlist::{PlanSettings, PlaylistConfig};
use crate::publish::ObjectHeaders;
use crate::source::SrtPorts;
use crate::status::Board;
use backlog::BacklogLimits;
use links::{MasterQueue, PlaylistInput, PlaylistSettings, SegmenterInput, SinkQueue};
use seams::Seams;
use sink_task::{JournalPlace, SinkLimits, SinkSetup};
use source_task::Readers;
use state::SequenceStore;

/// Chunks buffered between a source and a segmenter.
const SOURCE_QUEUE: usize = 1024;
/// Segments buffered between a segmenter and a playlist.
const SEGMENT_QUEUE: usize = 64;
/// Unsent segment bytes a sink holds in memory before new ones spill to its spool (at most a
/// quarter of its `spool_limit`).
const BACKLOG_MEMORY_BYTES: u64 = 32 * 1024 * 1024;

/// A running source: its reading task and the fan-out to its segmenters.
struct SourceHandle {
    cancel: CancellationToken,
    readers: mpsc::UnboundedSender<Readers>,
    tasks: [JoinHandle<Option<()>>; 2],
}

/// A running segmenter task.
struct SegmenterHandle {
    input: mpsc::Sender<SegmenterInput>,
    task: JoinHandle<Option<()>>,
}

/// A running playlist task; it returns the next sequence number when it ends.
struct PlaylistHandle {
    input: mpsc::Sender<PlaylistInput>,
    task: JoinHandle<Option<u64>>,
    /// Its numbers (and last init segment), handed to the next incarnation.
    store: SequenceStore,
}

/// A running master playlist task, and the numbering its variants share (kept across a
/// restart of the task).
struct MasterHandle {
    queue: MasterQueue,
    task: JoinHandle<Option<()>>,
    clock: Arc<std::sync::Mutex<crate::playlist::renditions::RenditionClock>>,
    /// The grid its variants' segmenters cut on.
    grid: crate::segmenter::GridPhase,
}

/// A running sink task.
struct SinkHandle {
    queue: SinkQueue,
    setup: watch::Sender<SinkSetup>,
    task: JoinHandle<Option<()>>,
    /// Cancelled when the daemon stops or a reload removes the sink.
    stop: CancellationToken,
}

/// The running graph.
pub struct Topology {
    graph: Graph,
    shutdown: CancellationToken,
    /// Where each sink's journal directory is.
    journal_root: PathBuf,
    sources: BTreeMap<String, SourceHandle>,
    segmenters: BTreeMap<String, SegmenterHandle>,
    playlists: BTreeMap<String, PlaylistHandle>,
    sinks: BTreeMap<String, SinkHandle>,
    masters: BTreeMap<String, MasterHandle>,
    /// What nodes report, for the status.
    board: Board,
    /// Tasks of removed or replaced nodes, finishing on their own (each awaited by a tracked
    /// task, see [`detached`]).
    retiring: TaskTracker,
    /// The SRT ports listener sources share, and their listening tasks (each ends with the
    /// last source on its port).
    srt_ports: SrtPorts,
    port_tasks: TaskTracker,
    /// Destination counter for sink setups (a sink that moves gets a new one).
    destinations: u64,
    /// What tests put in place of the sinks a config names (nothing in production).
    seams: Seams,
    /// The key-sink keys each sink's plans still name, by playlist (see `key_floors`).
    key_floors: key_floors::KeyFloors,
    /// In a cluster: the fence of sink writes and the shared sequence numbers.
    cluster: Option<ClusterLink>,
    /// While applying a cluster's handover: removed playlists end without EXT-X-ENDLIST.
    handing_over: bool,
    /// The ends of playlists removed since [`Topology::take_endings`] was last called.
    endings: Vec<tokio::sync::oneshot::Receiver<()>>,
}

/// What a topology in a cluster shares with the cluster (see `crate::cluster`).
#[derive(Clone)]
pub struct ClusterLink {
    /// Every sink write waits at it, and nothing is written for a feed not owned here.
    pub fence: crate::cluster::Fence,
    /// Each playlist's next sequence number, kept in etcd.
    pub numbers: crate::cluster::Numbers,
    /// Each sink's plan of each playlist, kept in etcd.
    pub plans: crate::cluster::Plans,
}

impl Topology {
    /// Starts every node of `graph`. Every task stops in order once `shutdown` is cancelled and
    /// [`Topology::stop`] is awaited. Cannot fail: compile checked every value.
    pub async fn start(graph: Graph, shutdown: CancellationToken, board: Board) -> Self {
        Self::start_with(graph, shutdown, board, Seams::default(), None).await
    }

    /// [`Topology::start`] for a router of a cluster: sink writes go through the fence and
    /// sequence numbers are shared. The journals of an earlier run are dropped first: their
    /// feeds may have been published by another router since.
    pub async fn start_clustered(
        graph: Graph,
        shutdown: CancellationToken,
        board: Board,
        link: ClusterLink,
    ) -> Self {
        Self::start_with(graph, shutdown, board, Seams::default(), Some(link)).await
    }

    /// Applies `new` as a cluster's handover: the playlists it removes go on at another router,
    /// so they end without EXT-X-ENDLIST. Returns when each has handed its last version to its
    /// sinks and every sink has done all it was given before, or after `within`.
    pub async fn hand_over(
        &mut self,
        new: Graph,
        diff: &crate::config::diff::GraphDiff,
        within: std::time::Duration,
    ) {
        self.handing_over = true;
        self.apply(new, diff).await;
        self.handing_over = false;
        let endings = std::mem::take(&mut self.endings);
        let flushed = async {
            for ending in endings {
                let _ = ending.await;
            }
            let barriers: Vec<_> = self
                .sinks
                .values()
                .map(|sink| {
                    let (done, waiting) = tokio::sync::oneshot::channel();
                    sink.queue.send(links::SinkCommand::Barrier(done));
                    waiting
                })
                .collect();
            for barrier in barriers {
                let _ = barrier.await;
            }
            if let Some(link) = &self.cluster {
                link.plans.flush().await;
            }
        };
        if tokio::time::timeout(within, flushed).await.is_err() {
            tracing::warn!(
                ?within,
                "cluster: handing over took too long; what is left is not published here"
            );
        }
    }

    /// [`Topology::start`] with `seams` in place.
    async fn start_with(
        graph: Graph,
        shutdown: CancellationToken,
        board: Board,
        seams: Seams,
        cluster: Option<ClusterLink>,
    ) -> Self {
        let empty = Graph {
            router: graph.router.clone(),
            sources: BTreeMap::new(),
            segmenters: BTreeMap::new(),
            playlists: BTreeMap::new(),
            sinks: BTreeMap::new(),
            masters: BTreeMap::new(),
        };
        let journal_root = journal_root(graph.router.state_dir.as_deref());
        if cluster.is_some() {
            drop_left_journals(&journal_root).await;
        } else if let Some(state_dir) = &graph.router.state_dir {
            report_left_journals(state_dir, &journal_root, &graph).await;
        }
        let mut topology = Self {
            graph: empty,
            shutdown,
            journal_root,
            sources: BTreeMap::new(),
            segmenters: BTreeMap::new(),
            playlists: BTreeMap::new(),
            sinks: BTreeMap::new(),
            masters: BTreeMap::new(),
            board,
            retiring: TaskTracker::new(),
            srt_ports: SrtPorts::default(),
            port_tasks: TaskTracker::new(),
            destinations: 0,
            seams,
            key_floors: key_floors::KeyFloors::default(),
            cluster,
            handing_over: false,
            endings: Vec::new(),
        };
        // From nothing, with the same router settings: every node is added.
        let diff = crate::config::diff::diff_nodes(&topology.graph, &graph);
        topology.apply(graph, &diff).await;
        tracing::info!(
            sources = topology.graph.sources.len(),
            segmenters = topology.graph.segmenters.len(),
            playlists = topology.graph.playlists.len(),
            sinks = topology.graph.sinks.len(),
            "graph running"
        );
        topology
    }

    /// The graph running now.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Stops every feed in order (the shutdown token must be cancelled first, or every source
    /// must have ended): sources stop, open segments are finished, final playlists published,
    /// sink queues drained.
    pub async fn stop(self) {
        let Self {
            graph,
            sources,
            segmenters,
            playlists,
            sinks,
            masters,
            retiring,
            port_tasks,
            journal_root,
            ..
        } = self;
        let master_tasks: Vec<_> = masters.into_values().map(|m| m.task).collect();
        // Only the tasks hold senders now: each channel closes when its upstream task ends.
        let mut sink_tasks = Vec::new();
        for (_, sink) in sinks {
            sink_tasks.push(sink.task);
        }
        let playlist_tasks: Vec<_> = playlists.into_values().map(|p| p.task).collect();
        let segmenter_tasks: Vec<_> = segmenters.into_values().map(|s| s.task).collect();
        for source in sources.into_values() {
            for task in source.tasks {
                let _ = task.await;
            }
        }
        // Their last sources gone, the SRT ports close.
        port_tasks.close();
        port_tasks.wait().await;
        for task in segmenter_tasks {
            let _ = task.await;
        }
        for task in playlist_tasks {
            let _ = task.await;
        }
        for task in master_tasks {
            let _ = task.await;
        }
        retiring.close();
        retiring.wait().await;
        for task in sink_tasks {
            let _ = task.await;
        }
        // Each sink removed its own journal; the root goes too when it was this process's alone.
        if graph.router.state_dir.is_none() {
            let _ = tokio::fs::remove_dir(&journal_root).await;
        }
    }
}

/// Waiting for a retired task, its output dropped: what the retiring tracker spawns.
async fn detached<T: Send + 'static>(task: JoinHandle<T>) {
    let _ = task.await;
}

/// The headers a sink stores, defaults overridden by its config.
fn object_headers(overrides: &HeaderOverrides) -> ObjectHeaders {
    let defaults = ObjectHeaders::default();
    ObjectHeaders {
        segment_content_type: overrides
            .segment_content_type
            .clone()
            .unwrap_or(defaults.segment_content_type),
        segment_cache_control: overrides
            .segment_cache_control
            .clone()
            .unwrap_or(defaults.segment_cache_control),
        playlist_content_type: overrides
            .playlist_content_type
            .clone()
            .unwrap_or(defaults.playlist_content_type),
        playlist_cache_control: overrides.playlist_cache_control.clone(),
    }
}

/// How every sink publishes a playlist (numbering is the playlist task's).
fn playlist_settings(node: &PlaylistNode, target_duration: f64) -> PlaylistSettings {
    PlaylistSettings {
        plan: PlanSettings {
            dvr: node.dvr.clone(),
            archive: node.archive.clone(),
            playlist_key: node.file_name.clone(),
            segment_format: node.segment_format,
            segment_name: node.segment_name.clone(),
            base_url: node.base_url.clone(),
            first_sequence: 1,
            delete_expired: node.delete_expired,
            program_date_time: node.program_date_time,
            playlist: PlaylistConfig {
                max_duration: None,
                window: node.window,
                target_duration,
                independent_segments: node.repeat_ts_headers,
            },
        },
        endlist_on_stop: node.endlist_on_stop,
        renditions: None,
        init_name: (node.segment_format == crate::playlist::SegmentFormat::Fmp4)
            .then(|| node.init_name.clone()),
        encryption: node.encryption.clone(),
    }
}

/// A sink's limits and headers from its config.
fn sink_limits(node: &SinkNode, cluster: Option<&ClusterLink>) -> SinkLimits {
    SinkLimits {
        fence: cluster.map(|link| link.fence.clone()),
        plans: cluster.map(|link| link.plans.clone()),
        backlog: BacklogLimits {
            memory_bytes: BACKLOG_MEMORY_BYTES.min(node.spool_limit / 4),
            spool_limit: node.spool_limit,
        },
        delete_grace: node.delete_grace,
        headers: Arc::new(object_headers(&node.headers)),
    }
}

/// Where sinks keep their journals: `state_dir/journal/`, or without a state directory a
/// directory of this process under the system's temporary directory (gone at exit).
fn journal_root(state_dir: Option<&Path>) -> PathBuf {
    match state_dir {
        Some(dir) => dir.join("journal"),
        None => std::env::temp_dir().join(format!("streamrouter-journal-{}", std::process::id())),
    }
}

/// Where sink `name` keeps its journal. Under `state_dir` (`durable`) its one directory: a sink
/// started again by a reload takes the journal over once the sink before lets go of it.
/// Otherwise a directory of this start alone, so that the sink before, removing its own
/// scratch journal as it ends, never removes the new one's.
fn journal_place(root: &Path, name: &str, durable: bool) -> JournalPlace {
    static STARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = if durable {
        journal_dir(root, name)
    } else {
        let start = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        root.join(format!("{}-{start}", safe_file_name(name)))
    };
    JournalPlace { dir, durable }
}

/// The journal directory of sink `name` in a daemon keeping its state in `state_dir`.
pub fn sink_journal_dir(state_dir: &Path, name: &str) -> PathBuf {
    journal_dir(&journal_root(Some(state_dir)), name)
}

/// The journal of sink `name` under `root`, its name made safe as a directory name.
fn journal_dir(root: &Path, name: &str) -> PathBuf {
    root.join(safe_file_name(name))
}

/// `name` with every character but ASCII letters, digits, `-`, `_` and `.` replaced by `_`.
pub(crate) fn safe_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// At start: a journal of a sink no longer configured is named with what it still holds (it is
/// kept, in case the sink comes back); the spool of an older version, which lasted one run, goes.
async fn report_left_journals(state_dir: &Path, root: &Path, graph: &Graph) {
    let old_spool = state_dir.join("spool");
    let configured: std::collections::BTreeSet<String> = graph
        .sinks
        .keys()
        .map(|name| safe_file_name(name))
        .collect();
    let root = root.to_owned();
    let _ = tokio::task::spawn_blocking(move || {
        if old_spool.is_dir() {
            let _ = std::fs::remove_dir_all(&old_spool);
        }
        let Ok(dirs) = std::fs::read_dir(&root) else {
            return;
        };
        for dir in dirs.flatten() {
            let name = dir.file_name().to_string_lossy().into_owned();
            if configured.contains(&name) {
                continue;
            }
            match crate::publish::journal::Journal::open(&dir.path(), true) {
                Ok((_, held)) if !held.queue.is_empty() || !held.deletions.is_empty() => {
                    tracing::warn!(sink = %name, segments = held.queued_segments(), items = held.queue.len(), deletions = held.deletions.len(), journal = %dir.path().display(), "a sink no longer in the config left unsent work and pending deletions in its journal; they are kept until it comes back (remove the directory to drop them)");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(sink = %name, %error, "journal of a sink no longer in the config"),
            }
        }
    })
    .await;
}

/// A router of a cluster starts without its journals: the feeds they hold may have been
/// published by another router since, so replaying them could overwrite what it wrote.
async fn drop_left_journals(journal_root: &Path) {
    match tokio::fs::remove_dir_all(journal_root).await {
        Ok(()) => {
            tracing::info!(dir = %journal_root.display(), "cluster: the journals of the last run are dropped (their feeds may have moved)")
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(dir = %journal_root.display(), %error, "cluster: cannot drop the journals of the last run")
        }
    }
}
