//! Linking: the checked nodes in, the [`Graph`] out. Owns resolving `input`/`inputs` (in a
//! feed, its own nodes first, then top-level ones), kind mismatches and self-references, then
//! runs `graph_checks` and assembles the graph only when no error was found anywhere. Never
//! reads a node's keys beyond those it cites.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostics::{Diagnostics, closest};
use super::fields::Located;
use super::graph_checks;
use super::model::{
    Graph, PlaylistNode, RouterSettings, SegmenterNode, Severity, SinkNode, SourceNode,
};
use super::nodes::{Built, NodeDecl, NodeKind};

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
    resolve_inputs(
        &mut declared.segmenters,
        NodeKind::Source,
        &names,
        &mut read,
        diagnostics,
    );
    resolve_inputs(
        &mut declared.playlists,
        NodeKind::Segmenter,
        &names,
        &mut read,
        diagnostics,
    );
    resolve_inputs(
        &mut declared.sinks,
        NodeKind::Playlist,
        &names,
        &mut read,
        diagnostics,
    );
    graph_checks::set_segmenter_headers(&mut declared, diagnostics);
    graph_checks::check_single_stdin(&declared.sources, diagnostics);
    graph_checks::check_sink_collisions(&declared, diagnostics);
    graph_checks::warn_unused(&declared, &read, diagnostics);
    if diagnostics.error_count() > 0 {
        return None;
    }
    Some(Graph {
        router,
        sources: by_name(declared.sources, |node| &node.name)?,
        segmenters: by_name(declared.segmenters, |node| &node.name)?,
        playlists: by_name(declared.playlists, |node| &node.name)?,
        sinks: by_name(declared.sinks, |node| &node.name)?,
        masters: BTreeMap::new(),
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

    /// Resolves `written`, read by `reader`, to the full name of a node of kind `expected`.
    fn resolve(
        &self,
        reader: &NodeDecl,
        written: &Located<String>,
        expected: NodeKind,
        key: &str,
        read: &mut BTreeSet<(NodeKind, String)>,
        diagnostics: &mut Diagnostics,
    ) -> Option<String> {
        let local = reader
            .feed
            .as_ref()
            .map(|feed| format!("{}.{}", feed.name, written.value));
        let candidates: Vec<&str> = local
            .iter()
            .map(String::as_str)
            .chain([written.value.as_str()])
            .collect();
        if let Some(found) = candidates.iter().find(|name| self.has(expected, name)) {
            return Some((*found).to_owned());
        }
        let expected_noun = expected.noun();
        let reader_noun = reader.kind.noun();
        let other_kind = candidates.iter().find_map(|name| {
            let kind = NodeKind::ALL
                .into_iter()
                .find(|&kind| self.has(kind, name))?;
            Some((*name, kind))
        });
        if let Some((name, kind)) = other_kind {
            let message = if kind == reader.kind && name == reader.name {
                format!(
                    "`{}` is this {reader_noun} itself; a {reader_noun} reads a {expected_noun}",
                    written.value
                )
            } else {
                format!(
                    "`{}` is a {}; a {reader_noun} reads a {expected_noun}",
                    written.value,
                    kind.noun()
                )
            };
            reader.report(diagnostics, Severity::Error, written.pos, key, message);
            return None;
        }
        let feed_prefix = reader.feed.as_ref().map(|feed| format!("{}.", feed.name));
        let known = self
            .by_kind
            .get(&expected)
            .into_iter()
            .flatten()
            .map(|name| {
                let local = feed_prefix
                    .as_deref()
                    .and_then(|prefix| name.strip_prefix(prefix));
                (local.unwrap_or(name), name)
            });
        let known: BTreeMap<&str, &String> = known.collect();
        let suggestion = closest(&written.value, known.keys().copied());
        let hint =
            suggestion.map_or_else(String::new, |found| format!("; did you mean `{found}`?"));
        let message = format!("no {expected_noun} named `{}`{hint}", written.value);
        reader.report(diagnostics, Severity::Error, written.pos, key, message);
        // The suggested node is what was meant: it is not reported as unused as well.
        if let Some(meant) = suggestion.and_then(|found| known.get(found)) {
            read.insert((expected, (*meant).clone()));
        }
        None
    }
}

/// Something with references to nodes of one kind.
trait Reads {
    fn set_inputs(&mut self, resolved: &[String]);
}

impl Reads for SegmenterNode {
    fn set_inputs(&mut self, resolved: &[String]) {
        if let Some(input) = resolved.first() {
            self.input.clone_from(input);
        }
    }
}

impl Reads for PlaylistNode {
    fn set_inputs(&mut self, resolved: &[String]) {
        if let Some(input) = resolved.first() {
            self.input.clone_from(input);
        }
    }
}

impl Reads for SinkNode {
    fn set_inputs(&mut self, resolved: &[String]) {
        self.inputs = resolved.to_vec();
    }
}

fn resolve_inputs<T: Reads>(
    readers: &mut [Placed<T>],
    expected: NodeKind,
    names: &Names,
    read: &mut BTreeSet<(NodeKind, String)>,
    diagnostics: &mut Diagnostics,
) {
    for reader in readers {
        let key = if reader.decl.kind == NodeKind::Sink {
            "inputs"
        } else {
            "input"
        };
        let mut resolved = Vec::new();
        let mut listed = BTreeSet::new();
        for written in &reader.built.inputs {
            let Some(name) = names.resolve(&reader.decl, written, expected, key, read, diagnostics)
            else {
                continue;
            };
            if !listed.insert(name.clone()) {
                let message = format!("`{}` is listed twice", written.value);
                reader
                    .decl
                    .report(diagnostics, Severity::Error, written.pos, key, message);
            }
            read.insert((expected, name.clone()));
            resolved.push(name);
        }
        if let Some(node) = &mut reader.built.node {
            node.set_inputs(&resolved);
        }
    }
}
