//! Reload diff: what a new compiled [`Graph`] changes against the running one, node by node, and
//! what the topology layer must therefore do with each node. Pure data in, data out: nothing
//! here reads files, starts, stops or touches a running task, and it must stay that way (the
//! topology layer applies a [`GraphDiff`]; this module only describes it).
//!
//! # Classification
//!
//! Nodes are matched by kind and name (a renamed node is one removed and one added). For each
//! kind, every name is *unchanged*, *changed* (with the keys that differ, see [`ChangedKeys`]),
//! *added* or *removed*. On top of that:
//!
//! - **Router settings** (`[router]`) cannot change live: `state_dir` holds every playlist's
//!   sequence numbers and every sink's spool, which running tasks keep open and write; `serve`
//!   is the HTTP listener the daemon binds once at start, before the graph runs (and `--serve`
//!   overrides it). A live `serve` is possible in principle (bind the new address, then close
//!   the old one) but nothing does it yet, so it is refused too. `[cluster]` is the daemon's
//!   membership of a cluster (its etcd session and lease), set up once at start: refused the
//!   same way, named `cluster.KEY`. Every router key is declared
//!   so in `keys` (`restart`), and any change there refuses the whole reload ([`LiveChangeRefused`]): all or nothing.
//! - **Playlists** changed only in keys declared live (in `keys`, next to their comparison:
//!   [`KeyEffects`]) apply to the next playlist version without a restart
//!   ([`GraphDiff::playlists_live`]): `window`, `base_url`, `delete_expired`,
//!   `program_date_time` and `repeat_ts_headers` (its EXT-X-INDEPENDENT-SEGMENTS tag) only
//!   shape the text each sink renders and what it deletes, `endlist_on_stop` is only read when
//!   the daemon stops; the `dvr` and `archive` views (added or removed: `dvr`, `archive`;
//!   else key by key, `dvr.duration`, `archive.every`, …) are other texts over the same
//!   segments, which each sink's publishing plan starts, changes or drops at the next version. Any other changed key restarts the playlist
//!   ([`GraphDiff::playlists_restart`]): `input` moves it to another segmenter (another media
//!   timeline, to be re-subscribed, with a discontinuity); `name` and `segment_name` are where
//!   its objects live at every sink, its identity there (and so are `segment_format`, which
//!   changes what the segments are, and `init_name`; the sinks' plans go on after a
//!   discontinuity, a TS playlist naming no init segment): changed live, the old playlist file
//!   would stay at every sink with no EXT-X-ENDLIST (players polling it would see a stalled
//!   stream) and the window would mix two naming schemes. A restart ends the old incarnation
//!   like a removed playlist and starts the new one; numbering continues (the sequence store
//!   is keyed by node name). Every playlist key is declared one or the other, so a key added
//!   to the model later must be declared too (the comparison destructures the node).
//!   `repeat_ts_headers` also changes the playlist's segmenter (compile copies it there), so
//!   that feed restarts through the segmenter rule below.
//! - **Sinks**: any changed key, `inputs` and credentials included, replaces the sink; its
//!   queue and spool are kept ([`KindDiff::changed`] of [`GraphDiff::sinks`]). A sink's `inputs`
//!   change when the masters it names change, or the variants those masters add to it.
//! - **Masters** ([`GraphDiff::masters`], keys `variants`, `name` and `archive_name`): a master
//!   playlist holds no media of its own, it is text over its variants, rendered by every sink
//!   that publishes it; the diff only names what changed (a changed master is not a restart of
//!   anything by itself). A variant gaining or losing a DVR or archive view leaves the master
//!   unchanged here; the topology's apply plan restarts it (its time-shift and archive masters
//!   follow the variants' views). What a master changes elsewhere shows on those nodes: a segmenter that starts or
//!   stops feeding a variant changes `aligned` and restarts (the segmenter rule below); a sink
//!   whose masters' variants change has changed `inputs` and is replaced.
//! - **Feeds**: a changed source restarts with every existing segmenter reading it; a changed
//!   segmenter restarts alone. [`GraphDiff::feed_restart`] lists them, and the playlists that
//!   keep running on a restarted segmenter (they continue numbering after an
//!   EXT-X-DISCONTINUITY, and take its new `target_duration` if that changed).
//! - **Links**: a node that keeps running may still gain or lose consumers (a sink added on an
//!   existing playlist, a second playlist on a segmenter): [`GraphDiff::relinked`].
//!
//! The summary ([`fmt::Display`]) names nodes and keys only, never values: sinks hold secrets.

mod keys;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use keys::{ChangedKeys, KeyChanges, KeyEffects};

use streamrouter_opendal::settings::SinkSettings;

use super::model::{
    FtpSettings, Graph, LocalSettings, NodeId, NodeKind, S3Settings, ScpSettings, SinkKind,
};

/// The keys of a sink that are the router's and say where objects are stored: when one
/// changes, the replaced sink stores somewhere the segments already listed are not (a plugin's
/// `options` may name anything). A backend's own such keys are its settings type's
/// [`SinkSettings::DESTINATION_KEYS`] (a new `user` may log in to another home directory);
/// credentials, region, ACL, TLS, limits and headers keep the destination.
pub const SINK_DESTINATION_KEYS: &[&str] = &["type", "library", "options"];

/// Whether a changed sink, `new` now, with these changed keys stores somewhere else.
pub fn destination_changed(new: &SinkKind, keys: &[&str]) -> bool {
    let backend = match new {
        SinkKind::S3(_) => S3Settings::DESTINATION_KEYS,
        SinkKind::Ftp(_) => FtpSettings::DESTINATION_KEYS,
        SinkKind::Scp(_) => ScpSettings::DESTINATION_KEYS,
        SinkKind::Local(_) => LocalSettings::DESTINATION_KEYS,
        SinkKind::Plugin(_) => &[],
    };
    (keys.iter()).any(|key| SINK_DESTINATION_KEYS.contains(key) || backend.contains(key))
}

/// Changed, added and removed nodes listed at most in the summary line.
const SUMMARY_ITEMS: usize = 20;

/// The nodes of one kind, by what happened to them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KindDiff {
    /// In both graphs, equal.
    pub unchanged: BTreeSet<String>,
    /// In both graphs, different: the keys that differ (never empty).
    pub changed: BTreeMap<String, Vec<&'static str>>,
    /// Only in the new graph.
    pub added: BTreeSet<String>,
    /// Only in the running graph.
    pub removed: BTreeSet<String>,
}

impl KindDiff {
    /// Matches the nodes of one kind by name.
    fn of<N: ChangedKeys>(old: &BTreeMap<String, N>, new: &BTreeMap<String, N>) -> Self {
        let mut diff = Self::default();
        for (name, old_node) in old {
            match new.get(name) {
                None => {
                    diff.removed.insert(name.clone());
                }
                Some(new_node) => {
                    let keys = old_node.changed_keys(new_node);
                    if keys.is_empty() {
                        diff.unchanged.insert(name.clone());
                    } else {
                        diff.changed.insert(name.clone(), keys);
                    }
                }
            }
        }
        for name in new.keys() {
            if !old.contains_key(name) {
                diff.added.insert(name.clone());
            }
        }
        diff
    }

    /// Nothing changed, added or removed.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }
}

/// The feeds a reload restarts: each restarted segmenter's open segment is abandoned and its
/// playlists continue numbering after an EXT-X-DISCONTINUITY.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedRestart {
    /// Changed sources.
    pub sources: BTreeSet<String>,
    /// Changed segmenters, and the unchanged ones reading a changed source.
    pub segmenters: BTreeSet<String>,
    /// Playlists that keep running (unchanged or changed live) on a restarted segmenter.
    pub playlists: BTreeSet<String>,
}

/// Nodes that keep running untouched but whose set of consumers changed: their outgoing links
/// are updated without a restart. A consumer that restarts under the same name is not a change
/// of the set (it is reconnected as part of its own restart).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Relinked {
    /// Unchanged sources whose reading segmenters differ.
    pub sources: BTreeSet<String>,
    /// Segmenters that do not restart, whose reading playlists differ.
    pub segmenters: BTreeSet<String>,
    /// Playlists that keep running, whose publishing sinks differ.
    pub playlists: BTreeSet<String>,
}

/// What a reload changes, node by node, and what to do about it (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphDiff {
    /// Sources by name.
    pub sources: KindDiff,
    /// Segmenters by name.
    pub segmenters: KindDiff,
    /// Playlists by name.
    pub playlists: KindDiff,
    /// Sinks by name; every changed sink is replaced, keeping its queue and spool.
    pub sinks: KindDiff,
    /// Master playlists by name.
    pub masters: KindDiff,
    /// Changed playlists whose changed keys all apply live (as [`KeyEffects`] declares them):
    /// apply to the next playlist version.
    pub playlists_live: BTreeSet<String>,
    /// The other changed playlists: end them and start them again (numbering continues).
    pub playlists_restart: BTreeSet<String>,
    /// Feeds to restart.
    pub feed_restart: FeedRestart,
    /// Running nodes whose consumers changed.
    pub relinked: Relinked,
}

/// A reload that changes settings that cannot change while the daemon runs; nothing of it may
/// be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot change while the daemon runs: {}; restart the daemon to apply them (nothing of \
     this reload was applied)",
    .settings.join(", ")
)]
pub struct LiveChangeRefused {
    /// The settings, as `router.KEY` or `cluster.KEY` (`cluster` for the whole table added or
    /// removed).
    pub settings: Vec<&'static str>,
}

/// Diffs the running graph `old` against a new, fully compiled `new`. Refused, with nothing
/// else reported, when a router setting changes.
pub fn diff(old: &Graph, new: &Graph) -> Result<GraphDiff, LiveChangeRefused> {
    let router = old.router.key_changes(&new.router);
    if !router.all_live() {
        let settings = router.keys().to_vec();
        return Err(LiveChangeRefused { settings });
    }
    Ok(diff_nodes(old, new))
}

/// The nodes' part of [`diff`], for two graphs with the same router settings (a start diffs
/// the graph against nothing).
pub fn diff_nodes(old: &Graph, new: &Graph) -> GraphDiff {
    let mut diff = GraphDiff {
        sources: KindDiff::of(&old.sources, &new.sources),
        segmenters: KindDiff::of(&old.segmenters, &new.segmenters),
        playlists: KindDiff::of(&old.playlists, &new.playlists),
        sinks: KindDiff::of(&old.sinks, &new.sinks),
        masters: KindDiff::of(&old.masters, &new.masters),
        ..GraphDiff::default()
    };
    for name in diff.playlists.changed.keys() {
        let (Some(old_node), Some(new_node)) = (old.playlists.get(name), new.playlists.get(name))
        else {
            continue;
        };
        if old_node.key_changes(new_node).all_live() {
            diff.playlists_live.insert(name.clone());
        } else {
            diff.playlists_restart.insert(name.clone());
        }
    }
    diff.feed_restart = feed_restart(&diff, old, new);
    diff.relinked = relinked(&diff, old, new);
    diff
}

fn feed_restart(diff: &GraphDiff, old: &Graph, new: &Graph) -> FeedRestart {
    let sources: BTreeSet<String> = diff.sources.changed.keys().cloned().collect();
    let mut segmenters: BTreeSet<String> = diff.segmenters.changed.keys().cloned().collect();
    for segmenter in new.segmenters.values() {
        if sources.contains(&segmenter.input) && old.segmenters.contains_key(&segmenter.name) {
            segmenters.insert(segmenter.name.clone());
        }
    }
    let playlists = new
        .playlists
        .values()
        .filter(|playlist| {
            segmenters.contains(&playlist.input)
                && old.playlists.contains_key(&playlist.name)
                && !diff.playlists_restart.contains(&playlist.name)
        })
        .map(|playlist| playlist.name.clone())
        .collect();
    FeedRestart {
        sources,
        segmenters,
        playlists,
    }
}

/// `producer → consumers` for one kind of link, for some producers only.
type Consumers<'a> = BTreeMap<&'a str, BTreeSet<&'a str>>;

/// The consumers of each producer in `wanted`, from `(producer, consumer)` links.
fn consumers<'a>(
    links: impl Iterator<Item = (&'a str, &'a str)>,
    wanted: &BTreeSet<&str>,
) -> Consumers<'a> {
    let mut consumers = Consumers::new();
    for (producer, consumer) in links {
        if wanted.contains(producer) {
            consumers.entry(producer).or_default().insert(consumer);
        }
    }
    consumers
}

/// The producers whose consumer set may differ: those named by a consumer that is not
/// unchanged, in either graph. An unchanged consumer links the same producers in both.
fn touched<'a, N>(
    kind: &KindDiff,
    old: &'a BTreeMap<String, N>,
    new: &'a BTreeMap<String, N>,
    inputs: impl Fn(&'a N) -> Vec<&'a str>,
) -> BTreeSet<&'a str> {
    let in_old = kind.changed.keys().chain(&kind.removed);
    let in_new = kind.changed.keys().chain(&kind.added);
    let old_inputs = in_old.filter_map(|name| old.get(name)).flat_map(&inputs);
    let new_inputs = in_new.filter_map(|name| new.get(name)).flat_map(&inputs);
    old_inputs.chain(new_inputs).collect()
}

/// The nodes among `running` whose consumers differ between `old` and `new` links.
fn differing<'a>(
    running: impl Fn(&str) -> bool,
    wanted: &BTreeSet<&'a str>,
    old: impl Iterator<Item = (&'a str, &'a str)>,
    new: impl Iterator<Item = (&'a str, &'a str)>,
) -> BTreeSet<String> {
    let wanted: BTreeSet<&str> = wanted
        .iter()
        .copied()
        .filter(|name| running(name))
        .collect();
    if wanted.is_empty() {
        return BTreeSet::new();
    }
    let (old, new) = (consumers(old, &wanted), consumers(new, &wanted));
    wanted
        .into_iter()
        .filter(|name| old.get(name) != new.get(name))
        .map(str::to_owned)
        .collect()
}

/// Segmenters reading each source.
fn segmenter_links(graph: &Graph) -> impl Iterator<Item = (&str, &str)> {
    let links = graph.segmenters.values();
    links.map(|s| (s.input.as_str(), s.name.as_str()))
}

/// Playlists reading each segmenter.
fn playlist_links(graph: &Graph) -> impl Iterator<Item = (&str, &str)> {
    let links = graph.playlists.values();
    links.map(|p| (p.input.as_str(), p.name.as_str()))
}

/// Sinks publishing each playlist.
fn sink_links(graph: &Graph) -> impl Iterator<Item = (&str, &str)> {
    graph.sinks.values().flat_map(|sink| {
        let sink_name = sink.name.as_str();
        sink.inputs
            .iter()
            .map(move |input| (input.as_str(), sink_name))
    })
}

fn relinked(diff: &GraphDiff, old: &Graph, new: &Graph) -> Relinked {
    let sources = touched(&diff.segmenters, &old.segmenters, &new.segmenters, |s| {
        vec![s.input.as_str()]
    });
    let segmenters = touched(&diff.playlists, &old.playlists, &new.playlists, |p| {
        vec![p.input.as_str()]
    });
    let playlists = touched(&diff.sinks, &old.sinks, &new.sinks, |sink| {
        sink.inputs.iter().map(String::as_str).collect()
    });
    Relinked {
        sources: differing(
            |name| diff.sources.unchanged.contains(name),
            &sources,
            segmenter_links(old),
            segmenter_links(new),
        ),
        segmenters: differing(
            |name| {
                diff.segmenters.unchanged.contains(name)
                    && !diff.feed_restart.segmenters.contains(name)
            },
            &segmenters,
            playlist_links(old),
            playlist_links(new),
        ),
        playlists: differing(
            |name| diff.playlists.unchanged.contains(name) || diff.playlists_live.contains(name),
            &playlists,
            sink_links(old),
            sink_links(new),
        ),
    }
}

impl GraphDiff {
    /// The nodes of one kind.
    pub fn kind(&self, kind: NodeKind) -> &KindDiff {
        match kind {
            NodeKind::Source => &self.sources,
            NodeKind::Segmenter => &self.segmenters,
            NodeKind::Playlist => &self.playlists,
            NodeKind::Master => &self.masters,
            NodeKind::Sink => &self.sinks,
        }
    }

    /// Nothing to do: every node is unchanged.
    pub fn is_empty(&self) -> bool {
        NodeKind::ALL.iter().all(|kind| self.kind(*kind).is_empty())
    }

    /// One line for the log, names and keys only (see [`fmt::Display`]).
    pub fn summary(&self) -> String {
        self.to_string()
    }

    fn count(&self, of: impl Fn(&KindDiff) -> usize) -> usize {
        NodeKind::ALL.iter().map(|kind| of(self.kind(*kind))).sum()
    }
}

/// `2 changed, 1 added, 1 removed, 3997 unchanged: playlists.b (window), sources.c added, …`:
/// node counts over all kinds, then each changed node with its keys, each added and each
/// removed node, at most 20 of them (`… and N more`). `no change (N unchanged)` when empty.
impl fmt::Display for GraphDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unchanged = self.count(|kind| kind.unchanged.len());
        if self.is_empty() {
            return write!(f, "no change ({unchanged} unchanged)");
        }
        let changed = self.count(|kind| kind.changed.len());
        let added = self.count(|kind| kind.added.len());
        let removed = self.count(|kind| kind.removed.len());
        write!(
            f,
            "{changed} changed, {added} added, {removed} removed, {unchanged} unchanged"
        )?;
        let changed_items = NodeKind::ALL.iter().flat_map(|kind| {
            self.kind(*kind).changed.iter().map(move |(name, keys)| {
                format!("{} ({})", NodeId::new(*kind, name), keys.join(", "))
            })
        });
        let listed = |what: &'static str, set: fn(&KindDiff) -> &BTreeSet<String>| {
            NodeKind::ALL.iter().flat_map(move |kind| {
                set(self.kind(*kind))
                    .iter()
                    .map(move |name| format!("{} {what}", NodeId::new(*kind, name)))
            })
        };
        let items = changed_items
            .chain(listed("added", |kind| &kind.added))
            .chain(listed("removed", |kind| &kind.removed));
        for (index, item) in items.take(SUMMARY_ITEMS).enumerate() {
            f.write_str(if index == 0 { ": " } else { ", " })?;
            f.write_str(&item)?;
        }
        let more = (changed + added + removed).saturating_sub(SUMMARY_ITEMS);
        if more > 0 {
            write!(f, ", … and {more} more")?;
        }
        Ok(())
    }
}
