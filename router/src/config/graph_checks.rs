//! Graph checks over linked nodes: one stdin, playlists of one segmenter agreeing on
//! `repeat_ts_headers` (and the segmenter taking their value), file name collisions in a sink's
//! directory, and unused nodes. Runs after `link` resolved every reference; changes nothing but
//! the segmenters' `repeat_ts_headers`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::diagnostics::Diagnostics;
use super::link::{Declared, Placed};
use super::model::{PlaylistNode, Severity, SinkKind, SourceKind, SourceNode};
use super::nodes::{NodeDecl, NodeKind, segment_pattern_parts};

/// A segmenter repeats PAT/PMT for all its playlists or for none: they must agree.
pub(super) fn set_segmenter_headers(declared: &mut Declared, diagnostics: &mut Diagnostics) {
    let mut first_reader: BTreeMap<&str, (&NodeDecl, bool)> = BTreeMap::new();
    for playlist in &declared.playlists {
        // A playlist in error may hold a default instead of what was written.
        let Some(node) = playlist.built.node.as_ref().filter(|_| playlist.built.ok) else {
            continue;
        };
        let repeat = node.repeat_ts_headers;
        match first_reader.get(node.input.as_str()) {
            None => {
                first_reader.insert(node.input.as_str(), (&playlist.decl, repeat));
            }
            Some((first, first_repeat)) if *first_repeat != repeat => {
                let message = format!(
                    "playlist `{}` reads the same segmenter `{}` with repeat_ts_headers = \
                     {first_repeat}; playlists of one segmenter must agree (it cuts once for all)",
                    first.name, node.input
                );
                let pos = playlist.decl.key_pos("repeat_ts_headers");
                playlist.decl.report(
                    diagnostics,
                    Severity::Error,
                    pos,
                    "repeat_ts_headers",
                    message,
                );
            }
            Some(_) => {}
        }
    }
    for segmenter in &mut declared.segmenters {
        if let Some(node) = &mut segmenter.built.node {
            node.repeat_ts_headers = first_reader
                .get(node.name.as_str())
                .is_none_or(|(_, repeat)| *repeat);
        }
    }
}

pub(super) fn check_single_stdin(sources: &[Placed<SourceNode>], diagnostics: &mut Diagnostics) {
    let mut first: Option<&NodeDecl> = None;
    for source in sources {
        if !matches!(
            source.built.node,
            Some(SourceNode {
                kind: SourceKind::Stdin,
                ..
            })
        ) {
            continue;
        }
        match first {
            None => first = Some(&source.decl),
            Some(first) => {
                let message = format!(
                    "only one source can read stdin, and `{}` ({}) already does",
                    first.name,
                    diagnostics.describe(first.header)
                );
                let pos = source
                    .decl
                    .table
                    .get("type")
                    .map_or(source.decl.header, |entry| entry.item.pos);
                source
                    .decl
                    .report(diagnostics, Severity::Error, pos, "type", message);
            }
        }
    }
}

/// Two playlists must not write the same file into one directory (a sink's path, shared by
/// every sink with that path): neither the playlist file nor segment names that can coincide.
pub(super) fn check_sink_collisions(declared: &Declared, diagnostics: &mut Diagnostics) {
    let playlists: BTreeMap<&str, &Placed<PlaylistNode>> = declared
        .playlists
        .iter()
        .filter_map(|placed| Some((placed.built.node.as_ref()?.name.as_str(), placed)))
        .collect();
    let mut files: BTreeMap<(&Path, &str), (&str, &str)> = BTreeMap::new();
    let mut patterns: BTreeMap<(&Path, &str, &str), (&str, &str)> = BTreeMap::new();
    for sink in declared
        .sinks
        .iter()
        .filter_map(|placed| placed.built.node.as_ref())
    {
        let SinkKind::Local { path } = &sink.kind;
        for input in &sink.inputs {
            let Some(placed) = playlists.get(input.as_str()) else {
                continue;
            };
            let Some(playlist) = &placed.built.node else {
                continue;
            };
            let writer = (playlist.name.as_str(), sink.name.as_str());
            let owner = *files.entry((path, &playlist.file_name)).or_insert(writer);
            if owner.0 != writer.0 {
                let message = format!(
                    "`{}` in {} is also written by playlist `{}` (sink `{}`)",
                    playlist.file_name,
                    path.display(),
                    owner.0,
                    owner.1
                );
                let pos = placed.decl.key_pos("name");
                placed
                    .decl
                    .report(diagnostics, Severity::Error, pos, "name", message);
            }
            let (before, after) = segment_pattern_parts(&playlist.segment_name);
            let owner = *patterns.entry((path, before, after)).or_insert(writer);
            if owner.0 != writer.0 {
                let message = format!(
                    "segment names `{}` in {} can be the same as those of playlist `{}` (sink \
                     `{}`); give each playlist its own segment_name",
                    playlist.segment_name,
                    path.display(),
                    owner.0,
                    owner.1
                );
                let pos = placed.decl.key_pos("segment_name");
                placed
                    .decl
                    .report(diagnostics, Severity::Error, pos, "segment_name", message);
            }
        }
    }
}

pub(super) fn warn_unused(
    declared: &Declared,
    read: &BTreeSet<(NodeKind, String)>,
    diagnostics: &mut Diagnostics,
) {
    let unread = |decl: &NodeDecl| !read.contains(&(decl.kind, decl.name.clone()));
    let warnings = (declared.sources.iter())
        .map(|placed| (&placed.decl, "source is not read by any segmenter"))
        .chain(
            declared
                .segmenters
                .iter()
                .map(|p| (&p.decl, "segmenter is not listed by any playlist")),
        )
        .chain(
            declared
                .playlists
                .iter()
                .map(|p| (&p.decl, "playlist is not published by any sink")),
        );
    for (decl, message) in warnings.filter(|(decl, _)| unread(decl)) {
        decl.report(
            diagnostics,
            Severity::Warning,
            decl.name_pos,
            "",
            message.to_owned(),
        );
    }
}
