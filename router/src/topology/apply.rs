//! Applying a reload: changes the running graph to a new compiled [`Graph`] as a
//! [`GraphDiff`] describes it, touching only the nodes it names (see `config::diff` for what
//! each change means). Starting is the same: everything is added to an empty graph.
//!
//! Order matters, so that no segment is lost or published out of order:
//! 1. the playlists that restart or go are detached from their segmenters (a removed one gets
//!    its end after the segments it already has), and replaced segmenters are told to retire;
//! 2. sinks are added or changed in place (queue and spool kept);
//! 3. playlists get new settings and outputs, or start (a restarted one numbers on from its
//!    predecessor once that has ended);
//! 4. segmenters start, or get their new playlists;
//! 5. sources start, stop or get their new readers; a replaced segmenter's input ends there.
//!
//! Which nodes each step touches is worked out first, without touching anything
//! (`apply_plan`); this module carries that plan out. Owns nothing but this sequence; the
//! tasks are in the sibling modules.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use super::apply_plan::{ApplyPlan, SinkChange};
use super::heal::{spawn_node, spawn_unsupervised};
use super::links::{
    PlaylistId, PlaylistInput, PlaylistSettings, SegmenterInput, SinkQueue, sink_queue,
};
use super::playlist_task::{PlaylistStart, PlaylistTask};
use super::segmenter_task::{SegmenterStart, SegmenterTask};
use super::sink_task::{SinkSetup, SinkStart, run_sink};
use super::source_task::{FanOut, Readers, SourceReader};
use super::state::SequenceStore;
use super::{
    PlaylistHandle, SEGMENT_QUEUE, SOURCE_QUEUE, SegmenterHandle, SinkHandle, SourceHandle,
    Topology, detached, journal_place, playlist_settings, sink_limits,
};
use crate::config::diff::GraphDiff;
use crate::config::model::{Graph, NodeId};
use crate::logging::node_span;
use crate::segmenter::SegmenterConfig;
use crate::source::SourceRun;
use crate::status::NodeStatus;

impl Topology {
    /// Changes the running graph into `new`, as `diff` (of the running graph and `new`) says.
    pub async fn apply(&mut self, new: Graph, diff: &GraphDiff) {
        // Playlists whose task has ended (their source ended) start again if they are still
        // wanted on a restarted feed or link.
        let ended = |name: &str| {
            self.playlists
                .get(name)
                .is_some_and(|p| p.task.is_finished())
        };
        let plan = ApplyPlan::new(&self.graph, &new, diff, ended);
        // Every setting a reload hands to a playlist.
        let mut settings = BTreeMap::new();
        for name in &plan.settings {
            let Some(node) = new.playlists.get(name) else {
                continue;
            };
            let target = new
                .segmenters
                .get(&node.input)
                .map_or(4.0, |s| s.target_duration);
            settings.insert(name.clone(), playlist_settings(node, target));
        }

        self.detach_playlists(&new, &plan).await;
        self.apply_sinks(&new, &plan).await;
        self.apply_masters(&new, &plan);
        for (name, playlist) in &mut settings {
            playlist.renditions = self.rendition_link(&new, name);
        }
        self.apply_playlists(&new, &plan, settings).await;
        self.apply_segmenters(&new, &plan).await;
        self.apply_sources(&new, &plan);
        self.graph = new;
    }

    /// Step 1: removed and restarted playlists leave their segmenters; replaced segmenters
    /// retire, removed ones will end their playlists as removed.
    async fn detach_playlists(&mut self, new: &Graph, plan: &ApplyPlan) {
        for leaving in &plan.detach {
            let (name, removed) = (&leaving.playlist, leaving.removed);
            let then = removed.then_some(PlaylistInput::End {
                stopping: false,
                removed: true,
                handover: self.handing_over,
            });
            let Some(handle) = self.playlists.get(name) else {
                continue;
            };
            if !removed {
                // Sinks that will not publish the new incarnation get a final version now.
                let _ = handle
                    .input
                    .send(PlaylistInput::Outputs(self.outputs_of(new, name)))
                    .await;
            }
            match self.segmenters.get(&leaving.segmenter) {
                Some(segmenter) if !segmenter.task.is_finished() => {
                    let playlist: PlaylistId = Arc::from(name.as_str());
                    let _ = segmenter
                        .input
                        .send(SegmenterInput::Detach { playlist, then })
                        .await;
                }
                _ => {
                    if let Some(then) = then {
                        let _ = handle.input.send(then).await;
                    }
                }
            }
        }
        for name in &plan.segmenters_retire {
            if let Some(segmenter) = self.segmenters.get(name) {
                let _ = segmenter.input.send(SegmenterInput::Retire).await;
            }
        }
        for name in &plan.segmenters_remove {
            if let Some(segmenter) = self.segmenters.get(name) {
                let remove = SegmenterInput::Remove {
                    handover: self.handing_over,
                };
                let _ = segmenter.input.send(remove).await;
            }
        }
    }

    /// Step 2: sinks. Removed ones finish what they have once their playlists let go.
    async fn apply_sinks(&mut self, new: &Graph, plan: &ApplyPlan) {
        for name in &plan.sinks_removed {
            self.board.nodes.remove(&NodeId::sink(name));
            if let Some(sink) = self.sinks.remove(name) {
                // Its playlists send their final versions first; a sink still failing leaves
                // what it holds in its journal after `stop_timeout`.
                sink.stop.cancel();
                self.retiring.spawn(detached(sink.task));
            }
        }
        for SinkChange {
            sink: name,
            keys,
            moved,
        } in &plan.sinks_changed
        {
            let (Some(node), Some(handle)) = (new.sinks.get(name), self.sinks.get(name)) else {
                continue;
            };
            let moved = *moved;
            let destination = if moved {
                self.destinations += 1;
                self.destinations
            } else {
                handle.setup.borrow().destination
            };
            let setup = SinkSetup {
                sink: self.seams.sink(node).await,
                destination,
                limits: sink_limits(node, self.cluster.as_ref()),
            };
            handle.setup.send_replace(setup);
            tracing::info!(sink = %name, keys = %keys.join(", "), moved, "sink replaced; its queue and journal are kept");
        }
        for name in &plan.sinks_added {
            let Some(node) = new.sinks.get(name) else {
                continue;
            };
            self.destinations += 1;
            let (setup, receiver) = watch::channel(SinkSetup {
                sink: self.seams.sink(node).await,
                destination: self.destinations,
                limits: sink_limits(node, self.cluster.as_ref()),
            });
            let (queue, inbox) = sink_queue();
            let id = NodeId::sink(name);
            let span = node_span(&id);
            // Its own stop: a removed sink publishes what it holds for `stop_timeout`, then
            // leaves the rest in its journal.
            let stop = self.shutdown.child_token();
            let status = NodeStatus::starting(&self.board.nodes, id);
            let start = SinkStart {
                name: name.clone(),
                setup: receiver,
                stop: stop.clone(),
                drain: new.router.stop_timeout,
                journal: journal_place(&self.journal_root, name, new.router.state_dir.is_some()),
                status: status.clone(),
                key_floors: self.key_floors.clone(),
            };
            // A panic ends a sink task for now: it owns its inbox (see `heal`); what it held
            // stays in its journal.
            let task = spawn_unsupervised(span, status, run_sink(start, inbox));
            let handle = SinkHandle {
                queue,
                setup,
                task,
                stop,
            };
            self.sinks.insert(name.clone(), handle);
        }
    }

    /// The queues of the sinks publishing `playlist` in `graph`.
    fn outputs_of(&self, graph: &Graph, playlist: &str) -> BTreeMap<String, SinkQueue> {
        graph
            .sinks
            .values()
            .filter(|sink| sink.inputs.iter().any(|input| input == playlist))
            .filter_map(|sink| {
                let handle = self.sinks.get(&sink.name)?;
                Some((sink.name.clone(), handle.queue.clone()))
            })
            .collect()
    }

    /// The queue of the sink storing `playlist`'s keys, if it has a `key_sink`.
    fn key_sink_of(&self, graph: &Graph, playlist: &str) -> Option<SinkQueue> {
        let node = graph.playlists.get(playlist)?;
        let key_sink = node.encryption.as_ref()?.key_sink.as_ref()?;
        Some(self.sinks.get(key_sink)?.queue.clone())
    }

    /// Step 3: playlists.
    async fn apply_playlists(
        &mut self,
        new: &Graph,
        plan: &ApplyPlan,
        mut settings: BTreeMap<String, PlaylistSettings>,
    ) {
        for name in &plan.playlists_removed {
            self.board.nodes.remove(&NodeId::playlist(name));
            if let Some(playlist) = self.playlists.remove(name) {
                let (ended, ending) = tokio::sync::oneshot::channel();
                let task = playlist.task;
                self.retiring.spawn(async move {
                    detached(task).await;
                    let _ = ended.send(());
                });
                self.endings.push(ending);
            }
        }
        // New settings (live changes, or a restarted segmenter's target duration).
        // Restarted and added playlists take their settings when they start.
        for name in &plan.playlists_retuned {
            let Some(handle) = self.playlists.get(name) else {
                continue;
            };
            let Some(settings) = settings.remove(name) else {
                continue;
            };
            let _ = handle
                .input
                .send(PlaylistInput::Settings(Box::new(settings)))
                .await;
        }
        for name in &plan.playlists_relinked {
            let outputs = self.outputs_of(new, name);
            if let Some(handle) = self.playlists.get(name) {
                let _ = handle.input.send(PlaylistInput::Outputs(outputs)).await;
            }
        }
        for name in &plan.playlists_starting {
            let Some(settings) = settings.remove(name) else {
                continue;
            };
            let outputs = self.outputs_of(new, name);
            let old = self.playlists.remove(name);
            let store = (old.as_ref()).map_or_else(
                || {
                    let store = SequenceStore::new(new.router.state_dir.as_deref(), name);
                    match &self.cluster {
                        Some(link) => store.shared(link.numbers.clone(), link.fence.feed_of(name)),
                        None => store,
                    }
                },
                |old| old.store.clone(),
            );
            let predecessor = old.map(|p| p.task);
            let (input, receiver) = mpsc::channel(SEGMENT_QUEUE);
            let id: PlaylistId = Arc::from(name.as_str());
            let node_id = NodeId::playlist(name);
            let span = node_span(&node_id);
            let status = NodeStatus::starting(&self.board.nodes, node_id);
            let start = PlaylistStart {
                name: id,
                settings,
                predecessor,
                store: store.clone(),
                outputs,
                key_sink: self.key_sink_of(new, name),
                key_floors: self.key_floors.clone(),
                status: status.clone(),
            };
            let playlist = PlaylistTask::new(start, receiver);
            let task = spawn_node(span, status, self.shutdown.clone(), playlist);
            self.playlists
                .insert(name.clone(), PlaylistHandle { input, task, store });
        }
    }

    /// Step 4: segmenters.
    async fn apply_segmenters(&mut self, new: &Graph, plan: &ApplyPlan) {
        for name in &plan.segmenters_removed {
            self.board.nodes.remove(&NodeId::segmenter(name));
            if let Some(segmenter) = self.segmenters.remove(name) {
                self.retiring.spawn(detached(segmenter.task));
            }
        }
        // Running segmenters gain the playlists that start on them.
        for (name, input) in &plan.attach {
            let (Some(segmenter), Some(playlist)) =
                (self.segmenters.get(input), self.playlists.get(name))
            else {
                continue;
            };
            let id: PlaylistId = Arc::from(name.as_str());
            let _ = segmenter
                .input
                .send(SegmenterInput::Attach(id, playlist.input.clone()))
                .await;
        }
        for name in &plan.segmenters_starting {
            let Some(node) = new.segmenters.get(name) else {
                continue;
            };
            let playlists = new
                .playlists
                .values()
                .filter(|playlist| playlist.input == *name)
                .filter_map(|playlist| {
                    let handle = self.playlists.get(&playlist.name)?;
                    Some((Arc::from(playlist.name.as_str()), handle.input.clone()))
                })
                .collect();
            let config = SegmenterConfig {
                target_duration: node.target_duration,
                repeat_headers: node.repeat_ts_headers,
                grid: node.aligned.then(|| self.grid_of(new, name)).flatten(),
                ..SegmenterConfig::default()
            };
            let predecessor =
                (self.segmenters.remove(name)).map(|s| tokio::spawn(detached(s.task)));
            let (input, receiver) = mpsc::channel(SOURCE_QUEUE);
            let id = NodeId::segmenter(name);
            let span = node_span(&id);
            let status = NodeStatus::starting(&self.board.nodes, id);
            let start = SegmenterStart {
                status: status.clone(),
                name: name.clone(),
                config,
                playlists,
                predecessor,
            };
            let segmenter = SegmenterTask::new(start, receiver, self.shutdown.clone());
            let task = spawn_node(span, status, self.shutdown.clone(), segmenter);
            self.segmenters
                .insert(name.clone(), SegmenterHandle { input, task });
        }
    }

    /// The running segmenters reading `source` in `graph`.
    fn readers_of(&self, graph: &Graph, source: &str) -> Readers {
        graph
            .segmenters
            .values()
            .filter(|segmenter| segmenter.input == source)
            .filter_map(|segmenter| {
                let handle = self.segmenters.get(&segmenter.name)?;
                Some((segmenter.name.clone(), handle.input.clone()))
            })
            .collect()
    }

    /// Step 5: sources.
    fn apply_sources(&mut self, new: &Graph, plan: &ApplyPlan) {
        for name in &plan.sources_removed {
            self.board.nodes.remove(&NodeId::source(name));
        }
        for name in &plan.sources_stopping {
            if let Some(source) = self.sources.remove(name) {
                source.cancel.cancel();
                for task in source.tasks {
                    self.retiring.spawn(detached(task));
                }
            }
        }
        // Running sources whose readers changed, or were replaced.
        for name in &plan.sources_relink {
            let readers = self.readers_of(new, name);
            match self.sources.get(name) {
                Some(source) if readers.is_empty() => {
                    tracing::info!(source = %name, "no segmenter reads it any more: stopped");
                    source.cancel.cancel();
                    let _ = source.readers.send(readers);
                }
                Some(source) => {
                    let _ = source.readers.send(readers);
                }
                None => self.start_source(new, name),
            }
        }
        for name in &plan.sources_starting {
            self.start_source(new, name);
        }
    }

    fn start_source(&mut self, graph: &Graph, name: &str) {
        let Some(node) = graph.sources.get(name) else {
            return;
        };
        let readers = self.readers_of(graph, name);
        if readers.is_empty() {
            return;
        }
        let cancel = self.shutdown.child_token();
        let (events, receiver) = mpsc::channel(SOURCE_QUEUE);
        let (control, control_receiver) = mpsc::unbounded_channel();
        let id = NodeId::source(name);
        let span = node_span(&id);
        let status = NodeStatus::starting(&self.board.nodes, id);
        let (run, port_task) = SourceRun::new(node.clone(), status.clone(), &self.srt_ports);
        if let Some(port_task) = port_task {
            let span = tracing::info_span!("srt_port", bind = %port_task.bind());
            self.port_tasks.spawn(port_task.serve().instrument(span));
        }
        let reader = SourceReader::new(run, events, cancel.clone());
        let reading = spawn_node(span.clone(), status.clone(), cancel.clone(), reader);
        let fan_out = FanOut::new(receiver, control_receiver, readers, status.clone());
        let fanning = spawn_node(span, status, cancel.clone(), fan_out);
        if let Some(old) = self.sources.insert(
            name.to_owned(),
            SourceHandle {
                cancel,
                readers: control,
                tasks: [reading, fanning],
            },
        ) {
            old.cancel.cancel();
            for task in old.tasks {
                self.retiring.spawn(detached(task));
            }
        }
    }
}
