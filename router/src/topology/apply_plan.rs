//! The set arithmetic of applying a reload: from the running graph, the new one and their
//! [`GraphDiff`] (and which playlist tasks have ended), which nodes each step of `apply`
//! stops, starts, restarts, retunes or relinks. Pure: plain data in, an [`ApplyPlan`] out;
//! nothing here touches a task, a channel or the status board (`apply` carries the plan out,
//! in the order of its fields, and only skips nodes whose task it cannot find).

use std::collections::BTreeSet;

use super::apply_masters::MasterViews;
use crate::config::diff::{GraphDiff, destination_changed};
use crate::config::model::Graph;

/// A playlist that leaves its segmenter in step 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Detach {
    /// The playlist.
    pub playlist: String,
    /// The segmenter it reads in the running graph.
    pub segmenter: String,
    /// It goes for good (it gets its end after the segments it has); otherwise it restarts
    /// and its sinks that will not publish the new incarnation get a final version first.
    pub removed: bool,
}

/// A sink changed in place in step 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SinkChange {
    /// The sink.
    pub sink: String,
    /// The keys that changed.
    pub keys: Vec<&'static str>,
    /// It now stores somewhere else (a new destination).
    pub moved: bool,
}

/// What `apply` does, step by step (see its module doc for why in this order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct ApplyPlan {
    /// Playlists ended and started again: changed beyond the live keys, or ended (their feed
    /// ended) and wanted again on a restarted feed.
    pub playlists_restart: BTreeSet<String>,
    /// Segmenters replaced by a new task: changed, or reading a changed source.
    pub segmenters_restart: BTreeSet<String>,
    /// Running playlists whose ties to masters change.
    pub variants_relinked: BTreeSet<String>,
    /// Playlists of the new graph that get new settings (checked before anything changes).
    pub settings: BTreeSet<String>,

    /// Step 1: playlists leaving their segmenters, in order.
    pub detach: Vec<Detach>,
    /// Step 1: segmenters told to retire (their successor takes over).
    pub segmenters_retire: BTreeSet<String>,
    /// Step 1: segmenters told they are removed.
    pub segmenters_remove: BTreeSet<String>,

    /// Step 2: sinks stopped (they publish what they hold for `stop_timeout`).
    pub sinks_removed: BTreeSet<String>,
    /// Step 2: sinks changed in place, queue and journal kept.
    pub sinks_changed: Vec<SinkChange>,
    /// Step 2: sinks started.
    pub sinks_added: BTreeSet<String>,

    /// Masters stopped.
    pub masters_removed: BTreeSet<String>,
    /// Masters started (replacing a changed one, keeping its numbering).
    pub masters_starting: BTreeSet<String>,
    /// Running masters told their sinks again (the sinks changed).
    pub masters_outputs: BTreeSet<String>,

    /// Step 3: playlists stopped.
    pub playlists_removed: BTreeSet<String>,
    /// Step 3: running playlists given new settings.
    pub playlists_retuned: BTreeSet<String>,
    /// Step 3: running playlists given their new sinks.
    pub playlists_relinked: BTreeSet<String>,
    /// Step 3: playlists started (restarted ones number on from their predecessor).
    pub playlists_starting: BTreeSet<String>,

    /// Step 4: segmenters stopped.
    pub segmenters_removed: BTreeSet<String>,
    /// Step 4: `(playlist, segmenter)`: a starting playlist attached to a running segmenter.
    pub attach: Vec<(String, String)>,
    /// Step 4: segmenters started (replacing a restarted one).
    pub segmenters_starting: BTreeSet<String>,

    /// Step 5: sources gone from the board.
    pub sources_removed: BTreeSet<String>,
    /// Step 5: sources whose tasks are stopped, in order.
    pub sources_stopping: Vec<String>,
    /// Step 5: unchanged sources told their readers again (started if not running).
    pub sources_relink: BTreeSet<String>,
    /// Step 5: sources started, in order.
    pub sources_starting: Vec<String>,
}

impl ApplyPlan {
    /// The plan that turns `old` (running) into `new`, as `diff` (of the two) says; `ended`
    /// tells whether a running playlist's task has ended.
    pub(super) fn new(
        old: &Graph,
        new: &Graph,
        diff: &GraphDiff,
        ended: impl Fn(&str) -> bool,
    ) -> Self {
        let mut playlists_restart = diff.playlists_restart.clone();
        let ended_feeds = diff.feed_restart.playlists.iter().filter(|p| ended(p));
        playlists_restart.extend(ended_feeds.cloned());
        let mut segmenters_restart = diff.feed_restart.segmenters.clone();
        segmenters_restart.extend(diff.segmenters.changed.keys().cloned());
        let masters_restyled = masters_restyled(old, new, diff);
        let variants_relinked = variants_relinked(old, new, diff, &masters_restyled);
        let settings = (playlists_restart.iter())
            .chain(&diff.playlists.added)
            .chain(&diff.playlists_live)
            .chain(&diff.feed_restart.playlists)
            .chain(&variants_relinked)
            .filter(|name| new.playlists.contains_key(*name))
            .cloned()
            .collect();
        let playlists_starting: BTreeSet<String> = (playlists_restart.iter())
            .chain(&diff.playlists.added)
            .cloned()
            .collect();
        let retuned = (diff.playlists_live.iter())
            .chain(&diff.feed_restart.playlists)
            .chain(&variants_relinked);
        let playlists_retuned = retuned
            .filter(|name| !playlists_starting.contains(*name))
            .cloned()
            .collect();
        let playlists_relinked = (diff.relinked.playlists.iter())
            .filter(|name| !playlists_restart.contains(*name))
            .cloned()
            .collect();
        let segmenters_starting: BTreeSet<String> = (segmenters_restart.iter())
            .chain(&diff.segmenters.added)
            .cloned()
            .collect();
        let attach = (playlists_starting.iter())
            .filter_map(|name| {
                let node = new.playlists.get(name)?;
                let running = !segmenters_starting.contains(&node.input);
                running.then(|| (name.clone(), node.input.clone()))
            })
            .collect();
        let mut sources_relink: BTreeSet<String> = diff.relinked.sources.clone();
        let replaced = segmenters_restart.iter().chain(&diff.segmenters.removed);
        let read = replaced.filter_map(|name| old.segmenters.get(name));
        sources_relink.extend(read.map(|node| node.input.clone()));
        sources_relink.retain(|name| diff.sources.unchanged.contains(name));
        Self {
            detach: detach(old, diff, &playlists_restart),
            segmenters_retire: segmenters_restart.clone(),
            segmenters_remove: diff.segmenters.removed.clone(),
            sinks_removed: diff.sinks.removed.clone(),
            sinks_changed: (diff.sinks.changed.iter())
                .filter_map(|(sink, keys)| {
                    let node = new.sinks.get(sink)?;
                    Some(SinkChange {
                        sink: sink.clone(),
                        keys: keys.clone(),
                        moved: destination_changed(&node.kind, keys),
                    })
                })
                .collect(),
            sinks_added: diff.sinks.added.clone(),
            masters_removed: diff.masters.removed.clone(),
            masters_starting: (diff.masters.changed.keys())
                .chain(&diff.masters.added)
                .chain(&masters_restyled)
                .cloned()
                .collect(),
            masters_outputs: if diff.sinks.is_empty() {
                BTreeSet::new()
            } else {
                (diff.masters.unchanged.difference(&masters_restyled))
                    .cloned()
                    .collect()
            },
            playlists_removed: diff.playlists.removed.clone(),
            playlists_retuned,
            playlists_relinked,
            playlists_starting,
            segmenters_removed: diff.segmenters.removed.clone(),
            attach,
            segmenters_starting,
            sources_removed: diff.sources.removed.clone(),
            sources_stopping: (diff.sources.removed.iter())
                .chain(diff.sources.changed.keys())
                .cloned()
                .collect(),
            sources_relink,
            sources_starting: (diff.sources.changed.keys())
                .chain(&diff.sources.added)
                .cloned()
                .collect(),
            playlists_restart,
            segmenters_restart,
            variants_relinked,
            settings,
        }
    }
}

/// Removed and restarted playlists of the running graph leaving their segmenters; a removed
/// playlist whose segmenter goes too is left to it (it finishes the open segment and ends the
/// playlist as removed).
fn detach(old: &Graph, diff: &GraphDiff, restart: &BTreeSet<String>) -> Vec<Detach> {
    let leaving = diff.playlists.removed.iter().chain(restart);
    leaving
        .filter_map(|name| {
            let node = old.playlists.get(name)?;
            let removed = diff.playlists.removed.contains(name);
            let segmenter_goes = diff.segmenters.removed.contains(&node.input);
            (!(removed && segmenter_goes)).then(|| Detach {
                playlist: name.clone(),
                segmenter: node.input.clone(),
                removed,
            })
        })
        .collect()
}

/// Unchanged masters whose variants gained or lost what their time-shift or archive masters
/// need (a DVR or archive view, an archive's `every` or `retain`): they start again.
fn masters_restyled(old: &Graph, new: &Graph, diff: &GraphDiff) -> BTreeSet<String> {
    (diff.masters.unchanged.iter())
        .filter(|name| {
            let (Some(before), Some(after)) = (old.masters.get(*name), new.masters.get(*name))
            else {
                return false;
            };
            MasterViews::of(old, before) != MasterViews::of(new, after)
        })
        .cloned()
        .collect()
}

/// Playlists whose ties to masters change: the variants, before or after, of every master
/// added, changed, restarted (`restyled`) or removed, that are in the new graph.
fn variants_relinked(
    old: &Graph,
    new: &Graph,
    diff: &GraphDiff,
    restyled: &BTreeSet<String>,
) -> BTreeSet<String> {
    let changed = || diff.masters.changed.keys().chain(restyled);
    let old_masters = changed().chain(&diff.masters.removed);
    let new_masters = changed().chain(&diff.masters.added);
    let old_nodes = old_masters.filter_map(|name| old.masters.get(name));
    let new_nodes = new_masters.filter_map(|name| new.masters.get(name));
    old_nodes
        .chain(new_nodes)
        .flat_map(|master| master.variants.iter().cloned())
        .filter(|playlist| new.playlists.contains_key(playlist))
        .collect()
}
