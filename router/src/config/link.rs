//! Linking: the checked nodes in, the [`Graph`] out. Owns resolving `input`/`inputs`/`variants`
//! (in a feed, its own nodes first, then top-level ones), kind mismatches and self-references,
//! a sink's masters expanded into their variants, then runs `graph_checks` (and the masters'
//! `align_variants`, and `cluster_checks` when there is a `[cluster]`) and assembles the graph
//! only when no error was found anywhere. Never reads a node's keys beyond those it cites.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostics::{Diagnostics, closest};
use super::fields::Located;
use super::graph_checks;
use super::masters;
use super::model::{
    Graph, MasterNode, NodeKind, PlaylistNode, RouterSettings, SegmenterNode, Severity, SinkNode,
    SourceNode,
};
use super::nodes::{Built, NodeDecl};
use super::playlist_views;

/// A declaration and what its own checks made of it.
pub(super) struct Placed<T> {
    pub(super) decl: NodeDecl,
    pub(super) built: Built<T>,
}

/// Every node of the configuration, in declaration order.
#[derive(Default)]
pub(super) struct Declared {
    pub(super) sources: Vec<Placed<SourceNode>>,
    pub(super) segmenters: Vec<Placed<SegmenterNode>>,
    pub(super) playlists: Vec<Placed<PlaylistNode>>,
    pub(super) masters: Vec<Placed<MasterNode>>,
    pub(super) sinks: Vec<Placed<SinkNode>>,
}

/// Resolves references and runs the graph checks; the graph when no error was found at all.
pub(super) fn link(
    mut declared: Declared,
    router: RouterSettings,
    diagnostics: &mut Diagnostics,
) -> Option<Graph> {
    let names = Names::of(&declared);
    let mut read = BTreeSet::new();
    resolve_input(
        &mut declared.segmenters,
        NodeKind::Source,
        |node| &mut node.input,
        &names,
        &mut read,
        diagnostics,
    );
    resolve_input(
        &mut declared.playlists,
        NodeKind::Segmenter,
        |node| &mut node.input,
        &names,
        &mut read,
        diagnostics,
    );
    resolve_variants(&mut declared.masters, &names, &mut read, diagnostics);
    resolve_sink_inputs(&mut declared, &names, &mut read, diagnostics);
    graph_checks::set_segmenter_headers(&mut declared, diagnostics);
    masters::align_variants(&mut declared, diagnostics);
    masters::check_archive_masters(&declared, diagnostics);
    graph_checks::check_single_stdin(&declared.sources, diagnostics);
    graph_checks::check_srt_ports(&declared.sources, diagnostics);
    graph_checks::check_sink_collisions(&declared, diagnostics);
    super::encryption::check_key_sinks(&declared, diagnostics);
    playlist_views::check_durations(&declared, diagnostics);
    graph_checks::warn_unused(&declared, &read, diagnostics);
    if router.cluster.is_some() {
        super::cluster_checks::warn_push_sources(&declared.sources, diagnostics);
    }
    if diagnostics.error_count() > 0 {
        return None;
    }
    Some(Graph {
        router,
        sources: by_name(declared.sources, |node| &node.name)?,
        segmenters: by_name(declared.segmenters, |node| &node.name)?,
        playlists: by_name(declared.playlists, |node| &node.name)?,
        sinks: by_name(declared.sinks, |node| &node.name)?,
        masters: by_name(declared.masters, |node| &node.name)?,
    })
}

fn by_name<T>(placed: Vec<Placed<T>>, name: impl Fn(&T) -> &String) -> Option<BTreeMap<String, T>> {
    placed
        .into_iter()
        .map(|placed| {
            let node = placed.built.node.filter(|_| placed.built.ok)?;
            Some((name(&node).clone(), node))
        })
        .collect()
}

/// The declared names of each kind (declared, not necessarily valid: a broken node still
/// exists for its readers).
struct Names {
    by_kind: BTreeMap<NodeKind, BTreeSet<String>>,
}

impl Names {
    fn of(declared: &Declared) -> Self {
        let mut by_kind: BTreeMap<NodeKind, BTreeSet<String>> = BTreeMap::new();
        let decls = (declared.sources.iter().map(|p| &p.decl))
            .chain(declared.segmenters.iter().map(|p| &p.decl))
            .chain(declared.playlists.iter().map(|p| &p.decl))
            .chain(declared.masters.iter().map(|p| &p.decl))
            .chain(declared.sinks.iter().map(|p| &p.decl));
        for decl in decls {
            by_kind
                .entry(decl.kind)
                .or_default()
                .insert(decl.name.clone());
        }
        Names { by_kind }
    }

    fn has(&self, kind: NodeKind, name: &str) -> bool {
        self.by_kind
            .get(&kind)
            .is_some_and(|names| names.contains(name))
    }

    /// Resolves `written`, read by `reader`, to a node of one of the `expected` kinds: its kind
    /// and full name. In a feed, the feed's own nodes come first.
    fn resolve(
        &self,
        reader: &NodeDecl,
        written: &Located<String>,
        expected: &[NodeKind],
        key: &str,
        read: &mut BTreeSet<(NodeKind, String)>,
        diagnostics: &mut Diagnostics,
    ) -> Option<(NodeKind, String)> {
        let local = reader
            .feed
            .as_ref()
            .map(|feed| format!("{}.{}", feed.name, written.value));
        let candidates: Vec<&str> = local
            .iter()
            .map(String::as_str)
            .chain([written.value.as_str()])
            .collect();
        let expected_nouns = nouns(expected, "a ");
        let reader_noun = reader.kind.noun();
        for name in &candidates {
            let found: Vec<NodeKind> = (expected.iter().copied())
                .filter(|&kind| self.has(kind, name))
                .collect();
            match found.as_slice() {
                [] => {}
                [kind] => return Some((*kind, (*name).to_owned())),
                _ => {
                    let both: Vec<String> = found
                        .iter()
                        .map(|kind| format!("a {}", kind.noun()))
                        .collect();
                    let message = format!(
                        "`{}` is both {}; give them different names",
                        written.value,
                        both.join(" and ")
                    );
                    reader.report(diagnostics, Severity::Error, written.pos, key, message);
                    // One of them is what was meant: neither is reported unused as well.
                    read.extend(found.iter().map(|&kind| (kind, (*name).to_owned())));
                    return None;
                }
            }
        }
        let other_kind = candidates.iter().find_map(|name| {
            let kind = NodeKind::ALL
                .into_iter()
                .find(|&kind| self.has(kind, name))?;
            Some((*name, kind))
        });
        if let Some((name, kind)) = other_kind {
            let message = if kind == reader.kind && name == reader.name {
                format!(
                    "`{}` is this {reader_noun} itself; a {reader_noun} reads {expected_nouns}",
                    written.value
                )
            } else {
                format!(
                    "`{}` is a {}; a {reader_noun} reads {expected_nouns}",
                    written.value,
                    kind.noun()
                )
            };
            reader.report(diagnostics, Severity::Error, written.pos, key, message);
            return None;
        }
        let feed_prefix = reader.feed.as_ref().map(|feed| format!("{}.", feed.name));
        let known = (expected.iter())
            .flat_map(|&kind| {
                let names = self.by_kind.get(&kind).into_iter().flatten();
                names.map(move |name| (kind, name))
            })
            .map(|(kind, name)| {
                let local = feed_prefix
                    .as_deref()
                    .and_then(|prefix| name.strip_prefix(prefix));
                (local.unwrap_or(name), (kind, name))
            });
        let known: BTreeMap<&str, (NodeKind, &String)> = known.collect();
        let suggestion = closest(&written.value, known.keys().copied());
        let hint =
            suggestion.map_or_else(String::new, |found| format!("; did you mean `{found}`?"));
        let message = format!("no {} named `{}`{hint}", nouns(expected, ""), written.value);
        reader.report(diagnostics, Severity::Error, written.pos, key, message);
        // The suggested node is what was meant: it is not reported as unused as well.
        if let Some((kind, meant)) = suggestion.and_then(|found| known.get(found)) {
            read.insert((*kind, (*meant).clone()));
        }
        None
    }
}

/// `playlist or master` (`article` ""), `a playlist or a master` (`article` "a ").
fn nouns(kinds: &[NodeKind], article: &str) -> String {
    let nouns: Vec<String> = kinds
        .iter()
        .map(|kind| format!("{article}{}", kind.noun()))
        .collect();
    nouns.join(" or ")
}

/// Resolves the references `written` by `reader` (at `key`) to nodes of the `expected` kinds,
/// reporting each that does not resolve and each listed twice; the resolved ones in order. Only
/// a misspelt reference marks a node `read` (the one suggested): callers mark what they use.
fn resolve_refs(
    reader: &NodeDecl,
    written: &[Located<String>],
    expected: &[NodeKind],
    key: &str,
    names: &Names,
    read: &mut BTreeSet<(NodeKind, String)>,
    diagnostics: &mut Diagnostics,
) -> Vec<(NodeKind, String)> {
    let mut resolved = Vec::new();
    let mut listed = BTreeSet::new();
    for written in written {
        let Some(found) = names.resolve(reader, written, expected, key, read, diagnostics) else {
            continue;
        };
        if !listed.insert(found.clone()) {
            let message = format!("`{}` is listed twice", written.value);
            reader.report(diagnostics, Severity::Error, written.pos, key, message);
            continue;
        }
        resolved.push(found);
    }
    resolved
}

/// The single `input` of segmenters and playlists.
fn resolve_input<T>(
    readers: &mut [Placed<T>],
    expected: NodeKind,
    input: impl Fn(&mut T) -> &mut String,
    names: &Names,
    read: &mut BTreeSet<(NodeKind, String)>,
    diagnostics: &mut Diagnostics,
) {
    for reader in readers {
        let resolved = resolve_refs(
            &reader.decl,
            &reader.built.inputs,
            &[expected],
            "input",
            names,
            read,
            diagnostics,
        );
        if let Some((kind, name)) = resolved.into_iter().next() {
            read.insert((kind, name.clone()));
            if let Some(node) = &mut reader.built.node {
                *input(node) = name;
            }
        }
    }
}

/// A master's `variants`: playlists. Listing a playlist in a master does not publish it: only
/// a sink publishing the master marks its variants read.
fn resolve_variants(
    masters: &mut [Placed<MasterNode>],
    names: &Names,
    read: &mut BTreeSet<(NodeKind, String)>,
    diagnostics: &mut Diagnostics,
) {
    for master in masters {
        let resolved = resolve_refs(
            &master.decl,
            &master.built.inputs,
            &[NodeKind::Playlist],
            "variants",
            names,
            read,
            diagnostics,
        );
        if let Some(node) = &mut master.built.node {
            node.variants = resolved.into_iter().map(|(_, name)| name).collect();
        }
    }
}

/// A sink's `inputs`: playlists and masters. A master adds every variant to the sink's
/// playlists (once, where it is first named) and is kept in its masters. The variants of a
/// master read (published, or meant by a misspelt input) are read too.
fn resolve_sink_inputs(
    declared: &mut Declared,
    names: &Names,
    read: &mut BTreeSet<(NodeKind, String)>,
    diagnostics: &mut Diagnostics,
) {
    let variants_of: BTreeMap<&str, &[String]> = (declared.masters.iter())
        .filter_map(|placed| placed.built.node.as_ref())
        .map(|master| (master.name.as_str(), master.variants.as_slice()))
        .collect();
    for sink in &mut declared.sinks {
        let resolved = resolve_refs(
            &sink.decl,
            &sink.built.inputs,
            &[NodeKind::Playlist, NodeKind::Master],
            "inputs",
            names,
            read,
            diagnostics,
        );
        let mut playlists = Vec::new();
        let mut masters = Vec::new();
        let mut seen = BTreeSet::new();
        for (kind, name) in resolved {
            read.insert((kind, name.clone()));
            let added: &[String] = if kind == NodeKind::Master {
                let variants = variants_of.get(name.as_str()).copied().unwrap_or_default();
                masters.push(name);
                variants
            } else {
                std::slice::from_ref(&name)
            };
            for playlist in added {
                if seen.insert(playlist.clone()) {
                    playlists.push(playlist.clone());
                }
            }
        }
        if let Some(node) = &mut sink.built.node {
            node.inputs = playlists;
            node.masters = masters;
        }
    }
    for (master, variants) in variants_of {
        if read.contains(&(NodeKind::Master, master.to_owned())) {
            read.extend(variants.iter().map(|v| (NodeKind::Playlist, v.clone())));
        }
    }
}
