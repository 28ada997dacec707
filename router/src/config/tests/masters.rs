//! Master playlists: the node a `[masters.NAME]` compiles to, a sink fed one, aligned
//! segmenters, each mistake of a master at its line and key (variants, durations, keys), and
//! masters in templates. Masters in sinks' inputs and files are in `master_sinks`.

use super::super::model::{MasterNode, Severity};
use super::{compile, compile_files, graph, listing};

/// `(line, key, message)` of every diagnostic.
pub(super) fn found(loaded: &super::Loaded) -> Vec<(usize, &str, &str)> {
    loaded
        .diagnostics
        .iter()
        .map(|d| (d.location.line, d.key.as_str(), d.message.as_str()))
        .collect()
}

/// Two renditions of one program (lines 1-18), and a playlist of another (`solo`, 19-24).
pub(super) const RENDITIONS: &str = r#"[sources.low]
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
segment_name = "high/{seq}.ts"

[sources.solo]
type = "stdin"
[segmenters.solo]
input = "solo"
[playlists.solo]
input = "solo"
"#;

/// [`RENDITIONS`] followed by `rest` (which starts at line 25).
pub(super) fn renditions_with(rest: &str) -> super::Loaded {
    compile(&format!("{RENDITIONS}{rest}"))
}

#[test]
fn a_master_lists_its_variants_and_a_sink_fed_it_publishes_them_all() {
    let loaded = renditions_with(
        r#"
[masters.show]
variants = ["high", "low"]

[masters.named]
variants = ["low"]
name = "live/master.m3u8"

[sinks.web]
type = "local"
inputs = ["show", "solo", "low", "named"]
path = "/srv/live"
"#,
    );
    let graph = graph(&loaded);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(
        graph.masters["show"],
        MasterNode {
            name: "show".to_owned(),
            variants: vec!["high".to_owned(), "low".to_owned()],
            file_name: "show.m3u8".to_owned(),
            archive_name: None,
        },
        "variants in the listed order, the file name by default"
    );
    assert_eq!(graph.masters["named"].file_name, "live/master.m3u8");
    let web = &graph.sinks["web"];
    assert_eq!(
        web.inputs,
        ["high", "low", "solo"],
        "a master's variants where it is named; `low` listed again is not added twice"
    );
    assert_eq!(web.masters, ["show", "named"]);
    assert!(graph.segmenters["low"].aligned && graph.segmenters["high"].aligned);
    assert!(
        !graph.segmenters["solo"].aligned,
        "a segmenter of no variant cuts as before"
    );
}

#[test]
fn unknown_duplicate_and_wrong_kind_variants_are_errors_at_the_variants() {
    let loaded = renditions_with(
        r#"
[masters.show]
variants = ["low", "hgh", "low", "web", "show"]

[sinks.web]
type = "local"
inputs = ["show", "solo"]
path = "/srv/live"
"#,
    );
    assert_eq!(
        found(&loaded),
        [
            (
                27,
                "masters.show.variants",
                "no playlist named `hgh`; did you mean `high`?"
            ),
            (27, "masters.show.variants", "`low` is listed twice"),
            (
                27,
                "masters.show.variants",
                "`web` is a sink; a master reads a playlist"
            ),
            (
                27,
                "masters.show.variants",
                "`show` is this master itself; a master reads a playlist"
            ),
        ],
        "the playlist meant by `hgh` is not reported unused as well"
    );
    let columns: Vec<usize> = loaded
        .diagnostics
        .iter()
        .map(|d| d.location.column)
        .collect();
    assert_eq!(columns, [20, 27, 34, 41], "each at its own element");
    assert!(loaded.graph.is_none());
}

#[test]
fn a_master_needs_variants_and_takes_only_its_keys() {
    let loaded = renditions_with(
        r#"
[masters.none]
name = "none.m3u8"
[masters.empty]
variants = []
[masters.typo]
variants = ["low"]
nmae = "x.m3u8"
[masters.plain]
variants = "low"
[masters.odd]
variants = ["low"]
name = "/abs/odd.txt"

[sinks.web]
type = "local"
inputs = ["none", "empty", "typo", "plain", "odd", "high", "solo"]
path = "/srv/live"
"#,
    );
    assert_eq!(
        found(&loaded),
        [
            (
                26,
                "masters.none.variants",
                "missing `variants` (the playlists the master lists)"
            ),
            (
                29,
                "masters.empty.variants",
                "must list at least one playlist"
            ),
            (
                32,
                "masters.typo.nmae",
                "unknown key `nmae` for a master; did you mean `name`?"
            ),
            (
                34,
                "masters.plain.variants",
                "expected an array of strings, found a string"
            ),
            (
                37,
                "masters.odd.name",
                "`/abs/odd.txt` does not end with `.m3u8`: players and web servers recognise a \
                 playlist by that extension"
            ),
            (
                37,
                "masters.odd.name",
                "`/abs/odd.txt` must be relative to the sink's directory, not absolute"
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(loaded.diagnostics[4].severity, Severity::Warning);
}

#[test]
fn a_name_without_m3u8_is_only_a_warning() {
    let loaded = renditions_with(
        r#"
[masters.show]
variants = ["low", "high"]
name = "show.txt"

[sinks.web]
type = "local"
inputs = ["show", "solo"]
path = "/srv/live"
"#,
    );
    assert_eq!(
        found(&loaded),
        [(
            28,
            "masters.show.name",
            "`show.txt` does not end with `.m3u8`: players and web servers recognise a playlist \
             by that extension"
        )]
    );
    assert_eq!(loaded.diagnostics[0].severity, Severity::Warning);
    assert_eq!(graph(&loaded).masters["show"].file_name, "show.txt");
}

#[test]
fn variants_cut_by_different_target_durations_are_an_error_naming_them() {
    let rest = r#"
[masters.show]
variants = ["low", "high", "solo"]

[sinks.web]
type = "local"
inputs = ["show"]
path = "/srv/live"
"#;
    let text = format!("{RENDITIONS}{rest}")
        .replace(
            "[segmenters.high]\ninput = \"high\"\n",
            "[segmenters.high]\ninput = \"high\"\ntarget_duration = 6\n",
        )
        .replace(
            "[segmenters.solo]\ninput = \"solo\"\n",
            "[segmenters.solo]\ninput = \"solo\"\ntarget_duration = 4.0\n",
        );
    let loaded = compile(&text);
    assert_eq!(
        found(&loaded),
        [(
            29,
            "masters.show.variants",
            "the variants' segmenters must have the same target_duration, to cut aligned: `low` \
             4 s (segmenter `low`), `high` 6 s (segmenter `high`), `solo` 4 s (segmenter `solo`)"
        )],
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(loaded.diagnostics[0].location.column, 1, "at the key");
}

#[test]
fn a_master_declared_in_two_files_names_both() {
    let master = "[masters.show]\nvariants = [\"low\"]\n";
    let loaded = compile_files(&[
        ("conf/a.toml", RENDITIONS),
        ("conf/b.toml", master),
        ("conf/c.toml", master),
    ]);
    let errors: Vec<_> = loaded.errors().collect();
    assert_eq!(errors.len(), 1, "{}", listing(&loaded.diagnostics));
    assert_eq!(errors[0].location.file.to_str(), Some("conf/c.toml"));
    assert_eq!(errors[0].key, "masters.show");
    assert_eq!(
        errors[0].message,
        "master `show` is also declared at conf/b.toml:1; names must be unique per kind"
    );
}

/// A program in three renditions, its master and a sink, all per feed.
const PROGRAM: &str = r#"[templates.program]
sources.low = { type = "udp", bind = "0.0.0.0:{{port}}" }
sources.high = { type = "udp", bind = "0.0.0.0:1{{port}}" }
segmenters.low = { input = "low", target_duration = 2 }
segmenters.high = { input = "high", target_duration = "{{high_duration}}" }
playlists.low = { input = "low", name = "{{feed}}/low.m3u8", segment_name = "{{feed}}/low-{seq}.ts" }
playlists.high = { input = "high", name = "{{feed}}/high.m3u8", segment_name = "{{feed}}/high-{seq}.ts" }
masters.m = { variants = ["low", "high"], name = "{{feed}}/master.m3u8" }
sinks.web = { type = "local", inputs = ["m"], path = "/srv/programs" }
"#;

#[test]
fn masters_in_a_template_name_the_feed_s_own_playlists() {
    let loaded = compile(&format!(
        "{PROGRAM}\nfeeds = [\n  {{ template = \"program\", name = \"a\", port = 5001, \
         high_duration = 2 }},\n  {{ template = \"program\", name = \"b\", port = 5002, \
         high_duration = 2 }},\n]\n"
    ));
    let graph = graph(&loaded);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    for feed in ["a", "b"] {
        let low = format!("{feed}.low");
        let high = format!("{feed}.high");
        let master = &graph.masters[&format!("{feed}.m")];
        assert_eq!(master.variants, [low.clone(), high.clone()]);
        assert_eq!(master.file_name, format!("{feed}/master.m3u8"));
        let sink = &graph.sinks[&format!("{feed}.web")];
        assert_eq!(sink.inputs, [low.clone(), high.clone()]);
        assert_eq!(sink.masters, [format!("{feed}.m")]);
        assert!(graph.segmenters[&low].aligned && graph.segmenters[&high].aligned);
    }
    assert_eq!(graph.masters.len(), 2);
}

#[test]
fn a_template_mistake_in_a_master_is_one_error_naming_the_feeds() {
    let loaded = compile(&format!(
        "{PROGRAM}\nfeeds = [\n  {{ template = \"program\", name = \"a\", port = 5001, \
         high_duration = 6 }},\n  {{ template = \"program\", name = \"b\", port = 5002, \
         high_duration = 6 }},\n]\n"
    ));
    assert_eq!(
        found(&loaded),
        [(
            8,
            "masters.a.m.variants",
            "the variants' segmenters must have the same target_duration, to cut aligned: `low` \
             2 s (segmenter `low`), `high` 6 s (segmenter `high`); in feeds a (conf/test.toml:12), \
             b (conf/test.toml:13)"
        )],
        "{}",
        listing(&loaded.diagnostics)
    );
}
