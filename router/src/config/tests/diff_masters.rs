//! The reload diff with master playlists: masters added, changed (by key) and removed, named in
//! the summary; a master's effects on the nodes around it (a segmenter that starts or stops
//! cutting aligned restarts, a sink whose masters change is replaced).

use std::collections::BTreeSet;

use super::super::diff::{ChangedKeys, GraphDiff, diff};
use super::super::model::{ArchiveNamePattern, Graph, MasterNode, NodeKind};
use super::{compile, graph};

fn compiled(text: &str) -> Graph {
    graph(&compile(text)).clone()
}

fn diff_of(old: &str, new: &str) -> GraphDiff {
    diff(&compiled(old), &compiled(new)).unwrap_or_else(|refused| panic!("{refused}"))
}

fn names(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// Two renditions and a third playlist, all published by `web` directly.
const RENDITIONS: &str = r#"[sources.low]
type = "udp"
bind = "0.0.0.0:40001"
[sources.high]
type = "udp"
bind = "0.0.0.0:40002"
[segmenters.low]
input = "low"
[segmenters.high]
input = "high"
[playlists.low]
input = "low"
[playlists.high]
input = "high"
[playlists.extra]
input = "high"
segment_name = "extra-{seq}.ts"
"#;

/// [`RENDITIONS`] with `masters` and `web` publishing `inputs`.
fn config(masters: &str, inputs: &str) -> String {
    format!(
        "{RENDITIONS}{masters}\n[sinks.web]\ntype = \"local\"\ninputs = {inputs}\n\
         path = \"/srv/live\"\n"
    )
}

const SHOW: &str = "[masters.show]\nvariants = [\"low\", \"high\"]\n";

#[test]
fn a_master_over_running_playlists_aligns_their_segmenters_and_replaces_the_sink() {
    let old = config("", r#"["low", "high", "extra"]"#);
    let new = config(SHOW, r#"["show", "extra"]"#);
    let diff = diff_of(&old, &new);
    assert_eq!(diff.masters.added, names(&["show"]));
    assert_eq!(diff.segmenters.changed["low"], ["aligned"]);
    assert_eq!(diff.segmenters.changed["high"], ["aligned"]);
    assert_eq!(diff.feed_restart.segmenters, names(&["low", "high"]));
    assert_eq!(
        diff.feed_restart.playlists,
        names(&["low", "high", "extra"]),
        "every playlist on a restarted segmenter continues after a discontinuity"
    );
    assert!(diff.playlists.is_empty(), "the playlists are unchanged");
    assert_eq!(
        diff.sinks.changed["web"],
        ["inputs"],
        "the same playlists, but now with a master"
    );
    assert_eq!(
        diff.summary(),
        "3 changed, 1 added, 0 removed, 5 unchanged: segmenters.high (aligned), \
         segmenters.low (aligned), sinks.web (inputs), masters.show added"
    );

    // And back: the master goes, the segmenters cut as before.
    let back = diff_of(&new, &old);
    assert_eq!(back.masters.removed, names(&["show"]));
    assert_eq!(back.segmenters.changed["low"], ["aligned"]);
    assert!(back.summary().ends_with("masters.show removed"));
}

#[test]
fn a_changed_master_is_named_with_its_keys() {
    let old = config(SHOW, r#"["show", "extra"]"#);
    let renamed = config(
        "[masters.show]\nvariants = [\"low\", \"high\"]\nname = \"index.m3u8\"\n",
        r#"["show", "extra"]"#,
    );
    let diff = diff_of(&old, &renamed);
    assert_eq!(diff.masters.changed["show"], ["name"]);
    assert!(diff.sinks.is_empty() && diff.segmenters.is_empty());
    assert_eq!(
        diff.summary(),
        "1 changed, 0 added, 0 removed, 8 unchanged: masters.show (name)"
    );
    assert!(!diff.is_empty());
    assert_eq!(diff.kind(NodeKind::Master), &diff.masters);

    // Reordered variants: the master lists them differently, and so does the sink.
    let reordered = config(
        "[masters.show]\nvariants = [\"high\", \"low\"]\n",
        r#"["show", "extra"]"#,
    );
    let diff = diff_of(&old, &reordered);
    assert_eq!(diff.masters.changed["show"], ["variants"]);
    assert_eq!(diff.sinks.changed["web"], ["inputs"]);
    assert!(diff.segmenters.is_empty(), "still aligned");

    // One variant fewer: `high`'s segmenter no longer cuts aligned.
    let fewer = config(
        "[masters.show]\nvariants = [\"low\"]\n",
        r#"["show", "high", "extra"]"#,
    );
    let diff = diff_of(&old, &fewer);
    assert_eq!(diff.masters.changed["show"], ["variants"]);
    assert_eq!(diff.segmenters.changed["high"], ["aligned"]);
    assert_eq!(diff.feed_restart.segmenters, names(&["high"]));
    assert!(diff_of(&old, &old).is_empty());
}

#[test]
fn master_keys_are_named_as_written() {
    let master = MasterNode {
        name: "show".to_owned(),
        variants: vec!["low".to_owned(), "high".to_owned()],
        file_name: "show.m3u8".to_owned(),
        archive_name: None,
    };
    assert!(master.changed_keys(&master.clone()).is_empty());
    let other = MasterNode {
        variants: vec!["low".to_owned()],
        file_name: "index.m3u8".to_owned(),
        archive_name: ArchiveNamePattern::parse("show/{start}.m3u8").ok(),
        ..master.clone()
    };
    assert_eq!(
        master.changed_keys(&other),
        ["variants", "name", "archive_name"]
    );
    assert_eq!(NodeKind::Master.table(), "masters");
    assert!(NodeKind::ALL.contains(&NodeKind::Master));
}
