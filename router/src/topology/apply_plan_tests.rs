//! The plan of a reload (`apply_plan`) on compiled configs: for each kind of change, which
//! nodes each step of `apply` stops, starts, restarts, retunes and relinks, and that nothing
//! else is touched.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::apply_plan::{ApplyPlan, Detach, SinkChange};
use crate::config::model::Graph;

/// Two feeds `a` and `b` (UDP sources), each with a playlist, published by sink `out`.
const TWO: &str = r#"
[sources.a]
type = "udp"
bind = "127.0.0.1:41001"
[sources.b]
type = "udp"
bind = "127.0.0.1:41002"
[segmenters.a]
input = "a"
[segmenters.b]
input = "b"
[playlists.a]
input = "a"
[playlists.b]
input = "b"
[sinks.out]
type = "local"
path = "/srv/out"
inputs = ["a", "b"]
"#;

fn compiled(text: &str) -> Graph {
    let loaded = crate::config::compile_sources(&[(PathBuf::from("plan.toml"), text.into())]);
    let errors: Vec<String> = loaded.errors().map(ToString::to_string).collect();
    loaded.graph.unwrap_or_else(|| panic!("{errors:?}"))
}

/// The plan from `old` to `new`, with the playlists in `ended` ended.
fn plan_ended(old: &str, new: &str, ended: &[&str]) -> ApplyPlan {
    let (old, new) = (compiled(old), compiled(new));
    let diff = crate::config::diff::diff(&old, &new).unwrap();
    ApplyPlan::new(&old, &new, &diff, |name| ended.contains(&name))
}

fn plan(old: &str, new: &str) -> ApplyPlan {
    plan_ended(old, new, &[])
}

/// `TWO` with `keys` added to table `[table]`.
fn two_with(table: &str, keys: &str) -> String {
    let header = format!("[{table}]\n");
    assert!(TWO.contains(&header), "no [{table}]");
    TWO.replace(&header, &format!("{header}{keys}\n"))
}

fn names(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

fn list(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn an_unchanged_graph_plans_nothing() {
    assert_eq!(plan(TWO, TWO), ApplyPlan::default());
}

#[test]
fn a_start_adds_every_node_and_attaches_nothing_to_running_segmenters() {
    let empty = "[router]\n";
    let plan = plan(empty, TWO);
    assert_eq!(plan.sinks_added, names(&["out"]));
    assert_eq!(plan.playlists_starting, names(&["a", "b"]));
    assert_eq!(plan.settings, names(&["a", "b"]));
    assert_eq!(plan.segmenters_starting, names(&["a", "b"]));
    assert_eq!(plan.sources_starting, list(&["a", "b"]));
    // The new segmenters are given their playlists when they start.
    assert!(plan.attach.is_empty());
    assert!(plan.detach.is_empty() && plan.sources_stopping.is_empty());
    assert!(plan.playlists_restart.is_empty() && plan.playlists_retuned.is_empty());
}

#[test]
fn a_changed_source_restarts_its_feed_and_retunes_the_playlists_on_it() {
    let plan = plan(TWO, &TWO.replace("41001", "41009"));
    assert_eq!(plan.sources_stopping, list(&["a"]));
    assert_eq!(plan.sources_starting, list(&["a"]));
    assert_eq!(plan.segmenters_restart, names(&["a"]));
    assert_eq!(plan.segmenters_retire, names(&["a"]));
    assert_eq!(plan.segmenters_starting, names(&["a"]));
    // The playlist keeps running and numbering; it takes the new segmenter's settings.
    assert!(plan.playlists_restart.is_empty() && plan.playlists_starting.is_empty());
    assert_eq!(plan.playlists_retuned, names(&["a"]));
    assert_eq!(plan.settings, names(&["a"]));
    // The source starts again on its own: no running source to relink.
    assert!(plan.sources_relink.is_empty());
    assert!(plan.detach.is_empty() && plan.attach.is_empty());
    assert!(plan.sinks_changed.is_empty() && plan.sinks_added.is_empty());
}

#[test]
fn a_changed_segmenter_restarts_alone_and_its_source_gets_the_new_reader() {
    let plan = plan(TWO, &two_with("segmenters.b", "target_duration = 6"));
    assert_eq!(plan.segmenters_restart, names(&["b"]));
    assert_eq!(plan.segmenters_starting, names(&["b"]));
    assert_eq!(plan.sources_relink, names(&["b"]));
    assert!(plan.sources_stopping.is_empty() && plan.sources_starting.is_empty());
    assert_eq!(plan.playlists_retuned, names(&["b"]));
    assert!(plan.playlists_starting.is_empty());
}

#[test]
fn a_live_playlist_change_only_retunes_it() {
    let plan = plan(TWO, &two_with("playlists.a", "window = 9"));
    let expected = ApplyPlan {
        playlists_retuned: names(&["a"]),
        settings: names(&["a"]),
        ..ApplyPlan::default()
    };
    assert_eq!(plan, expected);
}

#[test]
fn a_playlist_renamed_restarts_on_its_running_segmenter() {
    let plan = plan(TWO, &two_with("playlists.a", "name = \"other.m3u8\""));
    assert_eq!(plan.playlists_restart, names(&["a"]));
    let detach = Detach {
        playlist: "a".into(),
        segmenter: "a".into(),
        removed: false,
    };
    assert_eq!(plan.detach, [detach]);
    assert_eq!(plan.playlists_starting, names(&["a"]));
    assert_eq!(plan.attach, [("a".to_owned(), "a".to_owned())]);
    assert!(plan.playlists_retuned.is_empty() && plan.segmenters_starting.is_empty());
    assert!(plan.sources_relink.is_empty());
}

#[test]
fn a_playlist_removed_alone_leaves_its_segmenter_and_ends_as_removed() {
    let new = TWO.replace("[playlists.b]\ninput = \"b\"\n", "");
    let new = new.replace("inputs = [\"a\", \"b\"]", "inputs = [\"a\"]");
    let plan = plan(TWO, &new);
    assert_eq!(plan.playlists_removed, names(&["b"]));
    let detach = Detach {
        playlist: "b".into(),
        segmenter: "b".into(),
        removed: true,
    };
    assert_eq!(plan.detach, [detach]);
    // The sink's inputs changed: it is replaced in place, at the same destination.
    let change = SinkChange {
        sink: "out".into(),
        keys: vec!["inputs"],
        moved: false,
    };
    assert_eq!(plan.sinks_changed, [change]);
    assert!(plan.segmenters_removed.is_empty() && plan.sources_stopping.is_empty());
}

#[test]
fn a_removed_feed_stops_source_segmenter_and_playlist_and_leaves_the_end_to_its_segmenter() {
    let b = "[sources.b]\ntype = \"udp\"\nbind = \"127.0.0.1:41002\"\n";
    let new = TWO.replace(b, "");
    let new = new.replace("[segmenters.b]\ninput = \"b\"\n", "");
    let new = new.replace("[playlists.b]\ninput = \"b\"\n", "");
    let new = new.replace("inputs = [\"a\", \"b\"]", "inputs = [\"a\"]");
    let plan = plan(TWO, &new);
    assert_eq!(plan.sources_removed, names(&["b"]));
    assert_eq!(plan.sources_stopping, list(&["b"]));
    assert_eq!(plan.segmenters_remove, names(&["b"]));
    assert_eq!(plan.segmenters_removed, names(&["b"]));
    assert_eq!(plan.playlists_removed, names(&["b"]));
    // Its segmenter finishes the open segment and ends the playlist.
    assert!(plan.detach.is_empty());
    // Nothing of feed `a` is touched.
    assert!(plan.sources_relink.is_empty() && plan.playlists_retuned.is_empty());
}

#[test]
fn an_ended_playlist_on_a_restarted_feed_starts_again() {
    let new = TWO.replace("41001", "41009");
    let plan = plan_ended(TWO, &new, &["a"]);
    assert_eq!(plan.playlists_restart, names(&["a"]));
    assert_eq!(plan.playlists_starting, names(&["a"]));
    assert!(plan.playlists_retuned.is_empty());
    // Its segmenter restarts too, and is given it when it starts.
    assert!(plan.attach.is_empty());
    // An ended playlist on a feed that does not restart stays ended.
    let untouched = plan_ended(TWO, &new, &["b"]);
    assert!(untouched.playlists_starting.is_empty());
}

#[test]
fn a_sink_that_moves_gets_a_new_destination_and_one_changed_in_place_does_not() {
    let moved = plan(TWO, &TWO.replace("/srv/out", "/srv/elsewhere"));
    let change = SinkChange {
        sink: "out".into(),
        keys: vec!["path"],
        moved: true,
    };
    assert_eq!(moved.sinks_changed, [change]);
    let kept = plan(TWO, &two_with("sinks.out", "delete_grace = \"30s\""));
    assert_eq!(kept.sinks_changed.len(), 1);
    assert!(!kept.sinks_changed[0].moved);
    // Only the sink changes.
    assert!(kept.playlists_relinked.is_empty() && kept.playlists_retuned.is_empty());
}

#[test]
fn a_sink_added_on_running_playlists_relinks_them() {
    let new =
        format!("{TWO}[sinks.more]\ntype = \"local\"\npath = \"/srv/more\"\ninputs = [\"b\"]\n");
    let plan = plan(TWO, &new);
    assert_eq!(plan.sinks_added, names(&["more"]));
    assert_eq!(plan.playlists_relinked, names(&["b"]));
    assert!(plan.playlists_starting.is_empty() && plan.playlists_retuned.is_empty());
    let removed = self::plan(&new, TWO);
    assert_eq!(removed.sinks_removed, names(&["more"]));
    assert_eq!(removed.playlists_relinked, names(&["b"]));
}

#[test]
fn a_second_playlist_on_a_running_segmenter_is_attached_to_it() {
    let extra = "[playlists.extra]\ninput = \"a\"\nsegment_name = \"extra-{seq}.ts\"\n";
    let new = format!("{TWO}{extra}").replace(
        "inputs = [\"a\", \"b\"]",
        "inputs = [\"a\", \"b\", \"extra\"]",
    );
    let plan = plan(TWO, &new);
    assert_eq!(plan.playlists_starting, names(&["extra"]));
    assert_eq!(plan.attach, [("extra".to_owned(), "a".to_owned())]);
    assert!(plan.segmenters_starting.is_empty() && plan.sources_relink.is_empty());
}

/// [`TWO`] with master `show` over `a` and `b` and the sink publishing `inputs`.
fn with_show(variants: &str, inputs: &str) -> String {
    let master = format!("[masters.show]\nvariants = {variants}\n");
    let sink = TWO.replace("inputs = [\"a\", \"b\"]", &format!("inputs = {inputs}"));
    format!("{sink}{master}")
}

#[test]
fn masters_added_changed_and_removed_start_stop_and_relink_their_variants() {
    let added = plan(TWO, &with_show(r#"["a", "b"]"#, r#"["show"]"#));
    assert_eq!(added.masters_starting, names(&["show"]));
    assert_eq!(added.variants_relinked, names(&["a", "b"]));
    // Their segmenters now cut aligned: they restart, the playlists keep running.
    assert_eq!(added.segmenters_restart, names(&["a", "b"]));
    assert_eq!(added.playlists_retuned, names(&["a", "b"]));
    assert!(added.playlists_starting.is_empty());

    let both = with_show(r#"["a", "b"]"#, r#"["show"]"#);
    let changed = plan(&both, &with_show(r#"["b", "a"]"#, r#"["show"]"#));
    assert_eq!(changed.masters_starting, names(&["show"]));
    assert_eq!(changed.variants_relinked, names(&["a", "b"]));
    assert!(changed.masters_removed.is_empty());

    let removed = plan(&both, TWO);
    assert_eq!(removed.masters_removed, names(&["show"]));
    assert_eq!(removed.variants_relinked, names(&["a", "b"]));
    assert!(removed.masters_starting.is_empty());
}

#[test]
fn running_masters_are_told_their_sinks_only_when_sinks_change() {
    let both = with_show(r#"["a", "b"]"#, r#"["show"]"#);
    assert!(plan(&both, &both).masters_outputs.is_empty());
    let sink = "[sinks.more]\ntype = \"local\"\npath = \"/srv/more\"\ninputs = [\"a\"]\n";
    let more = plan(&both, &format!("{both}{sink}"));
    assert_eq!(more.masters_outputs, names(&["show"]));
    assert!(more.masters_starting.is_empty());
}

#[test]
fn a_master_starts_again_when_its_variants_gain_or_lose_what_its_other_masters_need() {
    let both = with_show(r#"["a", "b"]"#, r#"["show"]"#);
    let dvr = "[playlists.X.dvr]\nduration = \"1h\"\n";
    let with_dvr = |text: &str| format!("{text}{}{}", dvr.replace('X', "a"), dvr.replace('X', "b"));
    let gained = plan(&both, &with_dvr(&both));
    assert_eq!(gained.masters_starting, names(&["show"]));
    assert_eq!(gained.variants_relinked, names(&["a", "b"]));
    let lost = plan(&with_dvr(&both), &both);
    assert_eq!(lost.masters_starting, names(&["show"]));
    // One variant with a view: no time-shift master before or after.
    let one = format!("{both}{}", dvr.replace('X', "a"));
    assert!(plan(&both, &one).masters_starting.is_empty());
    let archive = |every: &str| {
        let table = "[playlists.X.archive]\nevery = \"EVERY\"\n".replace("EVERY", every);
        format!(
            "{both}{}{}",
            table.replace('X', "a"),
            table.replace('X', "b")
        )
    };
    assert_eq!(
        plan(&both, &archive("1h")).masters_starting,
        names(&["show"])
    );
    assert_eq!(
        plan(&archive("1h"), &archive("2h")).masters_starting,
        names(&["show"]),
        "new periods"
    );
    assert!(
        plan(&archive("1h"), &archive("1h"))
            .masters_starting
            .is_empty()
    );
}
