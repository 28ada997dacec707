//! Applying a reload to master playlists: a changed or added master gets a new task (keeping
//! its variants' shared numbering when it existed), and so does one whose variants gained or
//! lost what its time-shift or archive masters need ([`MasterViews`], compared by
//! `apply_plan`); a removed one ends once its variants let go of it, and every running master
//! learns which sinks publish it. Part of `apply`.
//!
//! Owns this step and [`MasterViews`]; the master's work is in `master_task`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::apply_plan::ApplyPlan;
use super::heal::spawn_node;
use super::links::{MasterInput, RenditionLink, SinkQueue, master_queue};
use super::master_task::{MasterStart, MasterTask};
use super::{MasterHandle, Topology, detached};
use crate::config::model::{Graph, MasterNode, NodeId};
use crate::logging::node_span;
use crate::media::timestamp::CLOCK_HZ;
use crate::playlist::master::{default_archive_name, relative_uri};
use crate::playlist::renditions::RenditionClock;
use crate::playlist::views::{ArchiveNamePattern, ArchiveView, DvrView};
use crate::segmenter::GridPhase;
use crate::status::NodeStatus;

/// The masters a master publishes besides itself, as its variants' views in a graph allow:
/// what its task is started with, and what a reload compares (a variant gaining or losing a
/// DVR or archive view changes them, and restarts the master).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MasterViews {
    /// When every variant has a time-shift view: the time-shift master's key and each
    /// variant's time-shift playlist relative to it.
    pub dvr: Option<(String, Vec<String>)>,
    /// When every variant has an archive with the same `every`: the archive masters' periods
    /// and names (`retain` the shortest of the variants', `None` when all keep forever).
    pub archive: Option<ArchiveView>,
}

impl MasterViews {
    /// Those of `master` in `graph`.
    pub(super) fn of(graph: &Graph, master: &MasterNode) -> Self {
        let dvr_key = DvrView::default_file_name(&master.file_name);
        let dvr_uris: Option<Vec<String>> = (master.variants.iter())
            .map(|variant| {
                let dvr = graph.playlists.get(variant)?.dvr.as_ref()?;
                Some(relative_uri(&dvr_key, &dvr.file_name))
            })
            .collect();
        let archives: Option<Vec<&ArchiveView>> = (master.variants.iter())
            .map(|variant| graph.playlists.get(variant)?.archive.as_ref())
            .collect();
        let archive = archives.and_then(|archives| {
            let every = archives.first()?.every;
            if archives.iter().any(|view| view.every != every) {
                return None;
            }
            let name = match &master.archive_name {
                Some(name) => name.clone(),
                None => ArchiveNamePattern::parse(&default_archive_name(&master.file_name)).ok()?,
            };
            let retain = archives.iter().filter_map(|view| view.retain).min();
            Some(ArchiveView {
                every,
                name,
                retain,
            })
        });
        Self {
            dvr: dvr_uris.map(|uris| (dvr_key, uris)),
            archive,
        }
    }
}

impl Topology {
    /// Masters: replaced, started, stopped, and told their sinks.
    pub(super) fn apply_masters(&mut self, new: &Graph, plan: &ApplyPlan) {
        for name in &plan.masters_removed {
            let id = NodeId::master(name);
            self.board.alerts.clear(&id);
            self.board.nodes.remove(&id);
            if let Some(master) = self.masters.remove(name) {
                self.retiring.spawn(detached(master.task));
            }
        }
        for name in &plan.masters_starting {
            let Some(node) = new.masters.get(name) else {
                continue;
            };
            let (clock, grid) = match self.masters.remove(name) {
                Some(old) => {
                    self.retiring.spawn(detached(old.task));
                    (old.clock, old.grid)
                }
                None => (
                    Arc::new(Mutex::new(RenditionClock::default())),
                    GridPhase::default(),
                ),
            };
            let variants = node
                .variants
                .iter()
                .filter_map(|variant| {
                    let playlist = new.playlists.get(variant)?;
                    Some((
                        variant.clone(),
                        relative_uri(&node.file_name, &playlist.file_name),
                    ))
                })
                .collect();
            let views = MasterViews::of(new, node);
            let (queue, receiver) = master_queue();
            let id = NodeId::master(name);
            let span = node_span(&id);
            let status = NodeStatus::starting(&self.board.nodes, id);
            let start = MasterStart {
                status: status.clone(),
                alerts: self.board.alerts.clone(),
                name: name.clone(),
                key: node.file_name.clone(),
                variants,
                dvr: views.dvr,
                archive: views.archive,
                outputs: self.master_outputs(new, name),
            };
            let master = MasterTask::new(start, receiver);
            let task = spawn_node(span, status, self.shutdown.clone(), master);
            self.masters.insert(
                name.clone(),
                MasterHandle {
                    queue,
                    task,
                    clock,
                    grid,
                },
            );
        }
        for name in &plan.masters_outputs {
            if let Some(master) = self.masters.get(name) {
                master
                    .queue
                    .send(MasterInput::Outputs(self.master_outputs(new, name)));
            }
        }
    }

    /// The grid segmenter `name` cuts on: that of the first master of `graph` over one of the
    /// playlists it feeds.
    pub(super) fn grid_of(&self, graph: &Graph, name: &str) -> Option<GridPhase> {
        graph
            .masters
            .values()
            .find(|master| {
                master.variants.iter().any(|variant| {
                    graph
                        .playlists
                        .get(variant)
                        .is_some_and(|p| p.input == name)
                })
            })
            .and_then(|master| self.masters.get(&master.name))
            .map(|handle| handle.grid.clone())
    }

    /// The queues of the sinks publishing master `name` in `graph`.
    fn master_outputs(&self, graph: &Graph, name: &str) -> BTreeMap<String, SinkQueue> {
        graph
            .sinks
            .values()
            .filter(|sink| sink.masters.iter().any(|master| master == name))
            .filter_map(|sink| {
                let handle = self.sinks.get(&sink.name)?;
                Some((sink.name.clone(), handle.queue.clone()))
            })
            .collect()
    }

    /// Playlist `name`'s ties to the masters of `graph` it is a variant of, if any.
    pub(super) fn rendition_link(&self, graph: &Graph, name: &str) -> Option<RenditionLink> {
        let masters: Vec<_> = graph
            .masters
            .values()
            .filter_map(|master| {
                let index = master.variants.iter().position(|variant| variant == name)?;
                Some((master.name.as_str(), index))
            })
            .filter_map(|(master, index)| Some((self.masters.get(master)?, index)))
            .collect();
        let (first, _) = masters.first()?;
        let target = graph
            .playlists
            .get(name)
            .and_then(|playlist| graph.segmenters.get(&playlist.input))
            .map_or(4.0, |segmenter| segmenter.target_duration);
        Some(RenditionLink {
            clock: Arc::clone(&first.clock),
            grid: first.grid.clone(),
            cell_ticks: (target * CLOCK_HZ as f64).round() as i64,
            masters: masters
                .iter()
                .map(|(master, index)| (master.queue.clone(), *index))
                .collect(),
        })
    }
}
