//! Masters: one `[masters.NAME]` table → one [`MasterNode`], and the checks a master needs over
//! the linked graph. Owns the keys `variants` (the playlists it lists, required, not empty),
//! `name` (its file name, default `NAME.m3u8`, warned without `.m3u8`) and `archive_name` (the
//! archive masters' name pattern, which needs a `{start…}` field); `link` resolves the
//! variants like any reference.
//!
//! Over the graph ([`align_variants`]): the segmenters of one master's variants share one
//! `target_duration`, and every segmenter feeding a variant of any master cuts aligned. Changes
//! nothing but the segmenters' `aligned`; file name collisions at a sink are `graph_checks`'.
//! [`check_archive_masters`]: a master gets archive masters only when every variant has an
//! archive with the same `every`; otherwise a written `archive_name` is an error (and archives
//! on differing periods without it a warning), and the pattern must not give two archive
//! masters alive at once one name.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostics::Diagnostics;
use super::fields::Located;
use super::link::Declared;
use super::model::{ArchiveNamePattern, ArchiveView, MasterNode, Severity};
use super::nodes::{Built, NodeDecl, checked_relative, owned};
use super::playlist_views::utc;

pub(super) fn build_master(decl: &NodeDecl, diagnostics: &mut Diagnostics) -> Built<MasterNode> {
    let mut fields = decl.fields(diagnostics);
    let header = fields.header();
    let written = fields.pos_of("variants") != header;
    let variants = if written {
        fields.strings("variants")
    } else {
        fields.missing_with(
            "variants",
            "missing `variants` (the playlists the master lists)".to_owned(),
        );
        None
    };
    if variants.as_ref().is_some_and(Vec::is_empty) {
        let pos = fields.pos_of("variants");
        fields.error(pos, "variants", "must list at least one playlist");
    }
    let file_name = fields.string("name").map_or_else(
        || format!("{}.m3u8", decl.name),
        |name| {
            if !name.value.ends_with(".m3u8") {
                let message = format!(
                    "`{}` does not end with `.m3u8`: players and web servers recognise a \
                     playlist by that extension",
                    name.value
                );
                fields.warning(name.pos, "name", message);
            }
            checked_relative(&mut fields, "name", name)
        },
    );
    let archive_name = fields.string("archive_name").and_then(|written| {
        ArchiveNamePattern::parse(written.value)
            .map_err(|refused| fields.error(written.pos, "archive_name", refused))
            .ok()
    });
    let ok = fields.ok();
    fields.finish("a master");
    let inputs: Vec<Located<String>> = variants.iter().flatten().map(owned).collect();
    Built {
        node: variants.map(|variants| MasterNode {
            name: decl.name.clone(),
            variants: variants.iter().map(|v| v.value.to_owned()).collect(),
            file_name,
            archive_name,
        }),
        ok,
        inputs,
    }
}

/// The variants of each master must be cut on one grid: their segmenters share one
/// `target_duration` (an error at `masters.NAME.variants` otherwise), and every segmenter
/// feeding a variant of any master gets `aligned`.
pub(super) fn align_variants(declared: &mut Declared, diagnostics: &mut Diagnostics) {
    // Playlist → its segmenter, for the playlists whose own checks passed.
    let segmenter_of: BTreeMap<&str, &str> = (declared.playlists.iter())
        .filter(|placed| placed.built.ok)
        .filter_map(|placed| placed.built.node.as_ref())
        .map(|playlist| (playlist.name.as_str(), playlist.input.as_str()))
        .collect();
    let duration_of: BTreeMap<&str, f64> = (declared.segmenters.iter())
        .filter(|placed| placed.built.ok)
        .filter_map(|placed| placed.built.node.as_ref())
        .map(|segmenter| (segmenter.name.as_str(), segmenter.target_duration))
        .collect();
    let mut aligned: BTreeSet<String> = BTreeSet::new();
    for master in &declared.masters {
        let Some(node) = &master.built.node else {
            continue;
        };
        let mut cuts: Vec<(&str, &str, f64)> = Vec::new();
        for variant in &node.variants {
            let Some(segmenter) = segmenter_of.get(variant.as_str()) else {
                continue;
            };
            aligned.insert((*segmenter).to_owned());
            if let Some(duration) = duration_of.get(segmenter) {
                cuts.push((variant, segmenter, *duration));
            }
        }
        let differ = cuts
            .windows(2)
            .any(|pair| pair[0].2.to_bits() != pair[1].2.to_bits());
        if differ {
            report_durations(&master.decl, &cuts, diagnostics);
        }
    }
    for segmenter in &mut declared.segmenters {
        if let Some(node) = &mut segmenter.built.node {
            node.aligned = aligned.contains(&node.name);
        }
    }
}

/// Reports differing durations, naming nodes of the master's own feed by their local names (so
/// that one template mistake reads the same in every feed, and is merged).
fn report_durations(decl: &NodeDecl, cuts: &[(&str, &str, f64)], diagnostics: &mut Diagnostics) {
    let local = local_names(decl);
    let listed: Vec<String> = cuts
        .iter()
        .map(|(variant, segmenter, duration)| {
            format!(
                "`{}` {duration} s (segmenter `{}`)",
                local(variant),
                local(segmenter)
            )
        })
        .collect();
    let message = format!(
        "the variants' segmenters must have the same target_duration, to cut aligned: {}",
        listed.join(", ")
    );
    let pos = decl.key_pos("variants");
    decl.report(diagnostics, Severity::Error, pos, "variants", message);
}

/// Archive masters: a master with `archive_name` needs every variant to archive on the same
/// periods (an error at `archive_name` otherwise, naming each variant's `every`); without it,
/// variants that all archive but on different periods get a warning (no archive masters). A
/// written pattern must not name two archive masters alive at once alike (kept as long as the
/// shortest `retain` of the variants).
pub(super) fn check_archive_masters(declared: &Declared, diagnostics: &mut Diagnostics) {
    let archive_of: BTreeMap<&str, Option<&ArchiveView>> = (declared.playlists.iter())
        .filter(|placed| placed.built.ok)
        .filter_map(|placed| placed.built.node.as_ref())
        .map(|playlist| (playlist.name.as_str(), playlist.archive.as_ref()))
        .collect();
    for master in &declared.masters {
        let Some(node) = &master.built.node else {
            continue;
        };
        // Variants whose own checks failed are left out (reported there).
        let views: Vec<(&str, Option<&ArchiveView>)> = (node.variants.iter())
            .filter_map(|variant| Some((variant.as_str(), *archive_of.get(variant.as_str())?)))
            .collect();
        let every: BTreeSet<_> = views
            .iter()
            .filter_map(|(_, v)| v.map(|v| v.every))
            .collect();
        let all_archive = views.iter().all(|(_, view)| view.is_some());
        let decl = &master.decl;
        let local = local_names(decl);
        let listed = || -> String {
            let shown = views.iter().map(|(variant, view)| match view {
                Some(view) => format!(
                    "`{}` every {}",
                    local(variant),
                    humantime::format_duration(view.every)
                ),
                None => format!("`{}` no archive", local(variant)),
            });
            shown.collect::<Vec<_>>().join(", ")
        };
        match &node.archive_name {
            Some(_) if !all_archive || every.len() > 1 => {
                let message = format!(
                    "archive masters need every variant to have an archive on the same \
                     periods (`[playlists.NAME.archive]` with one `every`): {}; give them \
                     that, or leave `archive_name` out",
                    listed()
                );
                let pos = decl.key_pos("archive_name");
                decl.report(diagnostics, Severity::Error, pos, "archive_name", message);
            }
            Some(pattern) => {
                let retain = (views.iter())
                    .filter_map(|(_, view)| view.and_then(|view| view.retain))
                    .min();
                let view = ArchiveView {
                    every: every.first().copied().unwrap_or_default(),
                    name: pattern.clone(),
                    retain,
                };
                if let Some(clash) = view.name_clash() {
                    let message = format!(
                        "gives archive masters alive at once the same name `{}` (the periods \
                         starting {} and {}); add fields to `{{start:…}}` that tell them apart",
                        clash.name,
                        utc(clash.first),
                        utc(clash.second),
                    );
                    let pos = decl.key_pos("archive_name");
                    decl.report(diagnostics, Severity::Error, pos, "archive_name", message);
                }
            }
            None if all_archive && every.len() > 1 => {
                let message = format!(
                    "the variants archive on different periods ({}), so the master gets no \
                     archive masters; give them one `every` to have them",
                    listed()
                );
                let pos = decl.key_pos("variants");
                decl.report(diagnostics, Severity::Warning, pos, "variants", message);
            }
            None => {}
        }
    }
}

/// Names of the master's own feed's nodes by their local names (so that one template mistake
/// reads the same in every feed, and is merged).
fn local_names(decl: &NodeDecl) -> impl Fn(&str) -> String + '_ {
    let prefix = decl.feed.as_ref().map(|feed| format!("{}.", feed.name));
    move |name: &str| {
        let stripped = prefix
            .as_deref()
            .and_then(|prefix| name.strip_prefix(prefix));
        stripped.unwrap_or(name).to_owned()
    }
}
