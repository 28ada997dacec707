//! Feeds: the unit a cluster of routers shares out, each owned by one router at a time. Owns
//! what a feed of a compiled [`Graph`] is ([`feeds_of`]) and the graph one router runs for the
//! feeds it owns ([`restrict`]). Pure and deterministic: a graph in, data out; nothing here
//! knows etcd, leases or which router owns what (`crate::cluster` decides and calls these).
//!
//! A feed is a connected component of sources, segmenters, playlists and masters, linked by a
//! segmenter's `input` (its source), a playlist's `input` (its segmenter) and a master's
//! `variants` (its playlists): what must run in one process, since media flows along those
//! links. The nodes of one template instance (`FEED.NODE`, see [`template_feed`]) are one feed
//! even when they are not linked: the user declared them together. Sinks are in no feed: every
//! router has every sink, and publishes through it what it owns.
//!
//! A feed's [`FeedId`] is, in this order: the smallest template instance name among its nodes;
//! the smallest source name; the smallest node name (a component without a source). Two
//! components that would get the same id (a top-level source `ch1` beside feed `ch1`) are one
//! feed, owned together.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::model::{Graph, NodeKind, template_feed};

/// A feed's name, as [`feeds_of`] gives it (see the module doc); shown and serialised as that
/// text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct FeedId(pub String);

impl FeedId {
    /// The feed's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The nodes of one feed, by kind (names as in the graph).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedMembers {
    /// Its sources.
    pub sources: BTreeSet<String>,
    /// Its segmenters.
    pub segmenters: BTreeSet<String>,
    /// Its playlists.
    pub playlists: BTreeSet<String>,
    /// Its master playlists.
    pub masters: BTreeSet<String>,
}

impl FeedMembers {
    fn add(&mut self, kind: NodeKind, name: &str) {
        let set = match kind {
            NodeKind::Source => &mut self.sources,
            NodeKind::Segmenter => &mut self.segmenters,
            NodeKind::Playlist => &mut self.playlists,
            NodeKind::Master => &mut self.masters,
            // Sinks are in no feed (never indexed).
            NodeKind::Sink => return,
        };
        set.insert(name.to_owned());
    }

    fn extend(&mut self, other: FeedMembers) {
        self.sources.extend(other.sources);
        self.segmenters.extend(other.segmenters);
        self.playlists.extend(other.playlists);
        self.masters.extend(other.masters);
    }
}

/// Every feed of `graph`, by id; every source, segmenter, playlist and master is in exactly
/// one. An empty graph has none.
pub fn feeds_of(graph: &Graph) -> BTreeMap<FeedId, FeedMembers> {
    let nodes: Vec<(NodeKind, &str)> = (graph.sources.keys().map(|n| (NodeKind::Source, n)))
        .chain(graph.segmenters.keys().map(|n| (NodeKind::Segmenter, n)))
        .chain(graph.playlists.keys().map(|n| (NodeKind::Playlist, n)))
        .chain(graph.masters.keys().map(|n| (NodeKind::Master, n)))
        .map(|(kind, name)| (kind, name.as_str()))
        .collect();
    let index: BTreeMap<(NodeKind, &str), usize> = (nodes.iter().enumerate())
        .map(|(at, node)| (*node, at))
        .collect();
    let mut sets = DisjointSets::new(nodes.len());
    let mut link = |from: (NodeKind, &str), to: (NodeKind, &str)| {
        // A link to a node the graph does not have (a graph not made by compile) joins nothing.
        if let (Some(&a), Some(&b)) = (index.get(&from), index.get(&to)) {
            sets.union(a, b);
        }
    };
    for segmenter in graph.segmenters.values() {
        let source = (NodeKind::Source, segmenter.input.as_str());
        link((NodeKind::Segmenter, &segmenter.name), source);
    }
    for playlist in graph.playlists.values() {
        let segmenter = (NodeKind::Segmenter, playlist.input.as_str());
        link((NodeKind::Playlist, &playlist.name), segmenter);
    }
    for master in graph.masters.values() {
        for variant in &master.variants {
            link(
                (NodeKind::Master, &master.name),
                (NodeKind::Playlist, variant),
            );
        }
    }
    let mut first_of_instance: BTreeMap<&str, (NodeKind, &str)> = BTreeMap::new();
    for &(kind, name) in &nodes {
        if let Some(instance) = template_feed(name) {
            let first = *first_of_instance.entry(instance).or_insert((kind, name));
            link(first, (kind, name));
        }
    }
    let mut components: BTreeMap<usize, Component<'_>> = BTreeMap::new();
    for (at, &(kind, name)) in nodes.iter().enumerate() {
        let component = components.entry(sets.find(at)).or_default();
        component.members.add(kind, name);
        component.consider(kind, name);
    }
    let mut feeds: BTreeMap<FeedId, FeedMembers> = BTreeMap::new();
    for component in components.into_values() {
        let id = component.id();
        feeds.entry(id).or_default().extend(component.members);
    }
    feeds
}

/// The graph one router runs when it owns the feeds `owned`: their sources, segmenters,
/// playlists and masters; every sink, with its `inputs` and `masters` keeping only the
/// playlists and masters kept; the router settings as they are. An id `graph` has no feed of
/// is ignored; owning every feed gives `graph` back.
pub fn restrict(graph: &Graph, owned: &BTreeSet<FeedId>) -> Graph {
    let mut kept = FeedMembers::default();
    for (id, members) in feeds_of(graph) {
        if owned.contains(&id) {
            kept.extend(members);
        }
    }
    let sinks = (graph.sinks.iter())
        .map(|(name, sink)| {
            let mut sink = sink.clone();
            sink.inputs.retain(|input| kept.playlists.contains(input));
            sink.masters.retain(|master| kept.masters.contains(master));
            (name.clone(), sink)
        })
        .collect();
    Graph {
        router: graph.router.clone(),
        sources: kept_only(&graph.sources, &kept.sources),
        segmenters: kept_only(&graph.segmenters, &kept.segmenters),
        playlists: kept_only(&graph.playlists, &kept.playlists),
        masters: kept_only(&graph.masters, &kept.masters),
        sinks,
    }
}

/// The entries of `nodes` named in `kept`.
fn kept_only<T: Clone>(
    nodes: &BTreeMap<String, T>,
    kept: &BTreeSet<String>,
) -> BTreeMap<String, T> {
    (nodes.iter())
        .filter(|(name, _)| kept.contains(*name))
        .map(|(name, node)| (name.clone(), node.clone()))
        .collect()
}

/// One connected component, and the candidates for its id.
#[derive(Default)]
struct Component<'a> {
    members: FeedMembers,
    instance: Option<&'a str>,
    source: Option<&'a str>,
    node: Option<&'a str>,
}

impl<'a> Component<'a> {
    fn consider(&mut self, kind: NodeKind, name: &'a str) {
        let smallest = |slot: &mut Option<&'a str>, candidate: &'a str| {
            if slot.is_none_or(|current| candidate < current) {
                *slot = Some(candidate);
            }
        };
        if let Some(instance) = template_feed(name) {
            smallest(&mut self.instance, instance);
        }
        if kind == NodeKind::Source {
            smallest(&mut self.source, name);
        }
        smallest(&mut self.node, name);
    }

    fn id(&self) -> FeedId {
        let name = (self.instance.or(self.source).or(self.node)).unwrap_or_default();
        FeedId(name.to_owned())
    }
}

/// Union-find over `0..len` (every index given is below `len`), with path halving and union by
/// size.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl DisjointSets {
    fn new(len: usize) -> Self {
        Self {
            parent: (0..len).collect(),
            size: vec![1; len],
        }
    }

    fn find(&mut self, mut at: usize) -> usize {
        while self.parent[at] != at {
            self.parent[at] = self.parent[self.parent[at]];
            at = self.parent[at];
        }
        at
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        let (big, small) = if self.size[a] >= self.size[b] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small] = big;
        self.size[big] += self.size[small];
    }
}
