//! Topology: the only module that spawns tasks. Builds the running graph from a compiled
//! [`Graph`] — one task per source, segmenter, playlist and sink, joined by bounded channels —
//! serves local sinks over HTTP when asked, and stops it all in order on shutdown.
//!
//! Each node runs in its own task: a panic or failure in one feed ends that feed's tasks only.
//! Must not parse media or config itself; it wires the stages together.

mod backlog;
mod playlist_task;
mod segmenter_task;
mod sink_task;
mod sinks;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::model::{Graph, HeaderOverrides, PlaylistNode};
use crate::playlist::PlaylistConfig;
use crate::publish::{ObjectHeaders, PlanSettings, PlaylistPlan, SegmentNamePattern};
use crate::segmenter::SegmenterConfig;
use crate::source::{self, SourceEvent};
use backlog::BacklogLimits;
use playlist_task::{PlaylistInput, PlaylistOutput, run_playlist};
use segmenter_task::run_segmenter;
use sink_task::{SinkLimits, run_sink, sink_queue};
use state::SequenceStore;

/// Chunks buffered between a source and a segmenter.
const SOURCE_QUEUE: usize = 1024;
/// Segments buffered between a segmenter and a playlist.
const SEGMENT_QUEUE: usize = 64;
/// Unsent segment bytes a sink holds in memory before new ones spill to its spool (at most a
/// quarter of its `spool_limit`).
const BACKLOG_MEMORY_BYTES: u64 = 32 * 1024 * 1024;

/// Why the graph could not start.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// A node's setting was refused at start (should have been caught by compile).
    #[error("{node}: {message}")]
    Invalid {
        /// Node name.
        node: String,
        /// What is wrong.
        message: String,
    },
}

/// Runs the graph until `shutdown` is cancelled and every feed has ended in order: sources
/// stop, open segments are finished, final playlists published, sink queues drained.
pub async fn run(graph: &Graph, shutdown: CancellationToken) -> Result<(), TopologyError> {
    let mut tasks = JoinSet::new();

    // Sequence numbers first: every sink's plan of a playlist numbers on from the same place.
    let mut stores: BTreeMap<&str, (SequenceStore, u64)> = BTreeMap::new();
    for node in graph.playlists.values() {
        let store = SequenceStore::new(graph.router.state_dir.as_deref(), &node.name);
        let first_sequence = store.load().await;
        stores.insert(&node.name, (store, first_sequence));
    }

    let spool_root = spool_root(graph.router.state_dir.as_deref());
    let mut outputs: BTreeMap<&str, Vec<PlaylistOutput>> = BTreeMap::new();
    for node in graph.sinks.values() {
        let sink = sinks::start(node).await;
        let (queue, inbox) = sink_queue();
        let mut plans = Vec::new();
        for input in &node.inputs {
            let (Some(playlist), Some((_, first_sequence))) =
                (graph.playlists.get(input), stores.get(input.as_str()))
            else {
                continue;
            };
            let Some(segmenter) = graph.segmenters.get(&playlist.input) else {
                continue;
            };
            plans.push(PlaylistPlan::new(plan_settings(
                playlist,
                segmenter.target_duration,
                *first_sequence,
            )?));
            outputs.entry(input).or_default().push(PlaylistOutput {
                queue: queue.clone(),
                index: plans.len() - 1,
            });
        }
        let span = tracing::info_span!("sink", name = %node.name);
        let task = run_sink(
            node.name.clone(),
            sink,
            plans,
            inbox,
            SinkLimits {
                backlog: BacklogLimits {
                    memory_bytes: BACKLOG_MEMORY_BYTES.min(node.spool_limit / 4),
                    spool_limit: node.spool_limit,
                    spool_dir: Some(spool_root.join(&node.name)),
                },
                delete_grace: node.delete_grace,
                headers: Arc::new(object_headers(&node.headers)),
            },
            shutdown.clone(),
        );
        tasks.spawn(task.instrument(span));
    }

    let mut playlists: BTreeMap<&str, mpsc::Sender<PlaylistInput>> = BTreeMap::new();
    for node in graph.playlists.values() {
        let Some((store, first_sequence)) = stores.remove(node.name.as_str()) else {
            continue;
        };
        let (sender, receiver) = mpsc::channel(SEGMENT_QUEUE);
        playlists.insert(&node.name, sender);
        let span = tracing::info_span!("playlist", name = %node.name);
        let task = run_playlist(
            node.name.clone(),
            node.endlist_on_stop,
            segment_name_of(node)?,
            first_sequence,
            store,
            receiver,
            outputs.remove(node.name.as_str()).unwrap_or_default(),
        );
        tasks.spawn(task.instrument(span));
    }

    let mut segmenters: BTreeMap<&str, mpsc::Sender<SourceEvent>> = BTreeMap::new();
    for node in graph.segmenters.values() {
        let outputs: Vec<_> = graph
            .playlists
            .values()
            .filter(|playlist| playlist.input == node.name)
            .filter_map(|playlist| playlists.get(playlist.name.as_str()).cloned())
            .collect();
        let config = SegmenterConfig {
            target_duration: node.target_duration,
            repeat_headers: node.repeat_ts_headers,
            ..SegmenterConfig::default()
        };
        let (sender, receiver) = mpsc::channel(SOURCE_QUEUE);
        segmenters.insert(&node.name, sender);
        let span = tracing::info_span!("segmenter", name = %node.name);
        let task = run_segmenter(
            node.name.clone(),
            config,
            receiver,
            outputs,
            shutdown.clone(),
        );
        tasks.spawn(task.instrument(span));
    }

    for node in graph.sources.values() {
        let outputs: Vec<_> = graph
            .segmenters
            .values()
            .filter(|segmenter| segmenter.input == node.name)
            .filter_map(|segmenter| segmenters.get(segmenter.name.as_str()).cloned())
            .collect();
        if outputs.is_empty() {
            continue;
        }
        let (sender, receiver) = mpsc::channel(SOURCE_QUEUE);
        let span = tracing::info_span!("source", name = %node.name);
        tasks.spawn(
            source::run_source(node.clone(), sender, shutdown.clone()).instrument(span.clone()),
        );
        tasks.spawn(fan_out(receiver, outputs).instrument(span));
    }
    // Only the tasks hold senders now: each channel closes when its upstream task ends.
    drop((playlists, segmenters));

    tracing::info!(
        sources = graph.sources.len(),
        segmenters = graph.segmenters.len(),
        playlists = graph.playlists.len(),
        sinks = graph.sinks.len(),
        "graph running"
    );
    while let Some(result) = tasks.join_next().await {
        if let Err(error) = result
            && error.is_panic()
        {
            tracing::error!(%error, "a node task panicked; its feed stopped, the others go on");
        }
    }
    // Each sink removed its own spool; the root goes too when it was this process's alone.
    if graph.router.state_dir.is_none() {
        let _ = tokio::fs::remove_dir(&spool_root).await;
    }
    if !shutdown.is_cancelled() {
        tracing::info!("every feed has ended; waiting for a stop signal");
        shutdown.cancelled().await;
    }
    Ok(())
}

fn segment_name_of(node: &PlaylistNode) -> Result<SegmentNamePattern, TopologyError> {
    SegmentNamePattern::parse(&node.segment_name).map_err(|e| TopologyError::Invalid {
        node: node.name.clone(),
        message: e.to_string(),
    })
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

/// How a sink publishes a playlist.
fn plan_settings(
    node: &PlaylistNode,
    target_duration: f64,
    first_sequence: u64,
) -> Result<PlanSettings, TopologyError> {
    Ok(PlanSettings {
        playlist_key: node.file_name.clone(),
        segment_name: segment_name_of(node)?,
        base_url: node.base_url.clone(),
        first_sequence,
        delete_expired: node.delete_expired,
        program_date_time: node.program_date_time,
        playlist: PlaylistConfig {
            window: node.window,
            target_duration,
            independent_segments: node.repeat_ts_headers,
        },
    })
}

/// Copies a source's events to every segmenter reading it.
async fn fan_out(mut events: mpsc::Receiver<SourceEvent>, outputs: Vec<mpsc::Sender<SourceEvent>>) {
    while let Some(event) = events.recv().await {
        for output in &outputs {
            let _ = output.send(event.clone()).await;
        }
    }
}

/// Where sinks spool unsent segments: `state_dir/spool/`, or without a state directory a
/// directory of this process under the system's temporary directory.
fn spool_root(state_dir: Option<&std::path::Path>) -> std::path::PathBuf {
    match state_dir {
        Some(dir) => dir.join("spool"),
        None => std::env::temp_dir().join(format!("streamrouter-spool-{}", std::process::id())),
    }
}
