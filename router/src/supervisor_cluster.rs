//! The supervisor's side of a cluster: runs the part of the config's graph the cluster gives
//! this router, follows each change of it (a feed claimed starts; a feed handed over is
//! published to the end without EXT-X-ENDLIST, then released; a feed lost is dropped with
//! nothing more written), and at a stop hands every feed over before leaving.
//!
//! Owns this sequence only: the cluster decides, the topology runs.

use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::watch;

use crate::cluster::Cluster;
use crate::config::diff::diff;
use crate::config::model::Graph;
use crate::config::{FeedId, feeds_of, restrict};
use crate::status::{ClusterStatus, DaemonStatus};
use crate::topology::Topology;

/// The feeds of `graph`, by name.
pub fn feed_names(graph: &Graph) -> BTreeSet<String> {
    feeds_of(graph).into_keys().map(|feed| feed.0).collect()
}

/// Which feed each playlist and master of `graph` belongs to.
pub fn feed_of_nodes(graph: &Graph) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (feed, members) in feeds_of(graph) {
        for node in members.playlists.iter().chain(&members.masters) {
            map.insert(node.clone(), feed.0.clone());
        }
    }
    map
}

/// `graph` with only the feeds in `run`.
pub fn running_part(graph: &Graph, run: &BTreeSet<String>) -> Graph {
    let owned: BTreeSet<FeedId> = run.iter().map(|feed| FeedId(feed.clone())).collect();
    restrict(graph, &owned)
}

/// The config's feeds changed: the cluster and the fence learn them.
pub fn share_feeds(cluster: &Cluster, graph: &Graph) {
    cluster.fence.set_feeds(feed_of_nodes(graph));
    cluster.set_feeds(feed_names(graph));
}

/// Makes the topology run what the cluster gives this router now (`run`), out of `full`.
/// `running` is what it ran so far; it becomes `run`.
pub async fn follow(
    topology: &mut Topology,
    full: &Graph,
    cluster: &Cluster,
    running: &mut BTreeSet<String>,
    status: &watch::Sender<DaemonStatus>,
) {
    let run = cluster.run.borrow().clone();
    let leaving: Vec<String> = running.difference(&run).cloned().collect();
    let (handed, lost): (Vec<String>, Vec<String>) = leaving
        .into_iter()
        .partition(|feed| cluster.fence.owns_feed(feed));
    let new = running_part(full, &run);
    let changes = match diff(topology.graph(), &new) {
        Ok(changes) => changes,
        Err(refusal) => {
            // Only router settings are refused, and the parts share them.
            tracing::error!(?refusal.settings, "cluster: cannot follow the ownership change");
            return;
        }
    };
    for feed in &lost {
        tracing::warn!(node = %cluster.node, %feed, "cluster: feed lost; stopped here without writing more of it");
    }
    let started: Vec<&String> = run.difference(running).collect();
    if !started.is_empty() {
        tracing::info!(node = %cluster.node, feeds = ?started, "cluster: starting feeds");
    }
    if handed.is_empty() {
        topology.apply(new, &changes).await;
    } else {
        tracing::info!(node = %cluster.node, feeds = ?handed, "cluster: publishing what the handed-over feeds have, then releasing them");
        let within = full.router.stop_timeout;
        topology.hand_over(new, &changes, within).await;
        for feed in &handed {
            cluster.released(feed);
        }
    }
    *running = run;
    show(status, cluster, running);
}

/// Shows what this router runs in the status.
pub fn show(status: &watch::Sender<DaemonStatus>, cluster: &Cluster, running: &BTreeSet<String>) {
    let part = ClusterStatus {
        node: cluster.node.clone(),
        owned: running.iter().cloned().collect(),
    };
    status.send_modify(|status| status.cluster = Some(part));
}

/// At a stop: every feed is handed over (published to the end, no EXT-X-ENDLIST), then the
/// lease is revoked so that the other routers take them at once.
pub async fn leave(topology: &mut Topology, full: &Graph, cluster: Cluster) {
    cluster.begin_leaving();
    let new = running_part(full, &BTreeSet::new());
    if let Ok(changes) = diff(topology.graph(), &new) {
        tracing::info!(node = %cluster.node, "cluster: stopping; handing every feed over");
        topology
            .hand_over(new, &changes, full.router.stop_timeout)
            .await;
    }
    cluster.leave().await;
}
