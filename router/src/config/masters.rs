//! Masters: one `[masters.NAME]` table → one [`MasterNode`], and the checks a master needs over
//! the linked graph. Owns the keys `variants` (the playlists it lists, required, not empty) and
//! `name` (its file name, default `NAME.m3u8`, warned without `.m3u8`); `link` resolves the
//! variants like any reference.
//!
//! Over the graph ([`align_variants`]): the segmenters of one master's variants share one
//! `target_duration`, and every segmenter feeding a variant of any master cuts aligned. Changes
//! nothing but the segmenters' `aligned`; file name collisions at a sink are `graph_checks`'.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostics::Diagnostics;
use super::fields::Located;
use super::link::Declared;
use super::model::{MasterNode, Severity};
use super::nodes::{Built, NodeDecl, checked_relative, owned};

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
    let ok = fields.ok();
    fields.finish("a master");
    let inputs: Vec<Located<String>> = variants.iter().flatten().map(owned).collect();
    Built {
        node: variants.map(|variants| MasterNode {
            name: decl.name.clone(),
            variants: variants.iter().map(|v| v.value.to_owned()).collect(),
            file_name,
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
    let prefix = decl.feed.as_ref().map(|feed| format!("{}.", feed.name));
    let local = |name: &'_ str| -> String {
        let stripped = prefix
            .as_deref()
            .and_then(|prefix| name.strip_prefix(prefix));
        stripped.unwrap_or(name).to_owned()
    };
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
