//! Mistakes inside one node or one file: every one reported at once, each at its line, column
//! and dotted key.

use super::super::model::Severity;
use super::{CHAIN, compile, errors_at, graph, listing, places, single};

#[test]
fn four_mistakes_give_four_errors_at_their_places() {
    let loaded = compile(
        r#"[router]
serve = "localhost:8080"

[sources.cam1]
type = "udp"
bnd = "0.0.0.0:40000"

[segmenters.cam1]
input = "cam1"
target_duration = -4

[playlists.cam1]
input = "cam1"
window = 2

[sinks.web]
type = "local"
inputs = ["cam1"]
path = "/srv/live"
"#,
    );
    assert!(loaded.graph.is_none());
    assert_eq!(
        places(&loaded, Severity::Error),
        [
            (2, 9, "router.serve"),
            (6, 1, "sources.cam1.bnd"),
            (10, 19, "segmenters.cam1.target_duration"),
            (14, 10, "playlists.cam1.window"),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
    let messages: Vec<&str> = loaded
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert!(messages[0].contains("`localhost:8080` is not an IP address and port"));
    assert_eq!(
        messages[1],
        "unknown key `bnd` for a udp source; did you mean `bind`? (`bind` is required)"
    );
    assert_eq!(messages[2], "must be more than 0 seconds, got -4");
    assert!(messages[3].contains("RFC 8216 §6.2.2"), "{}", messages[3]);
}

#[test]
fn a_syntax_error_is_reported_where_toml_finds_it_and_stops_the_file() {
    let loaded = compile("[sources.cam]\ntype = \"udp\nbind = 5\n[sources.cam]\n");
    let error = single(&loaded, Severity::Error, 2);
    assert_eq!((error.location.column, error.key.as_str()), (12, ""));
    assert!(error.message.contains("string"), "{error}");
    assert_eq!(
        error.to_string(),
        format!("conf/test.toml:2:12: error: {}", error.message),
        "no key part for a syntax error"
    );
}

#[test]
fn wrong_types_name_what_was_expected_and_found() {
    let loaded = compile(&format!(
        r#"{CHAIN}
[sources.clip]
type = "file"
path = "a.ts"
realtime = "yes"

[playlists.other]
input = "cam"
window = "6"
name = 5

[sinks.other]
type = "local"
inputs = "other"
path = "/srv/other"
"#
    ));
    assert_eq!(
        places(&loaded, Severity::Error),
        [
            (20, 12, "sources.clip.realtime"),
            (24, 10, "playlists.other.window"),
            (25, 8, "playlists.other.name"),
            (29, 10, "sinks.other.inputs"),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
    let messages: Vec<&str> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages[..4],
        [
            "expected true or false, found a string",
            "expected a whole number, found a string",
            "expected a string, found an integer",
            "expected an array of strings, found a string",
        ]
    );
}

#[test]
fn missing_keys_point_at_the_table_header() {
    let loaded = compile(
        "[sources.a]\nbind = \"0.0.0.0:1\"\n\n[segmenters.a]\ntarget_duration = 4\n\n\
         [playlists.a]\ninput = \"a\"\n\n[sinks.s]\ntype = \"local\"\n",
    );
    assert_eq!(
        places(&loaded, Severity::Error),
        [
            (1, 1, "sources.a.type"),
            (4, 1, "segmenters.a.input"),
            (10, 1, "sinks.s.inputs"),
            (10, 1, "sinks.s.path"),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(
        loaded.diagnostics[0].message,
        "missing `type` (one of stdin, file, udp, tcp, http, exec, srt)"
    );
}

#[test]
fn unknown_keys_get_the_closest_valid_key_or_the_list() {
    let loaded = compile(&format!(
        "serve = \"0.0.0.0:80\"\nsegmenter = 1\n{CHAIN}\n[playlists.x]\ninput = \"cam\"\n\
         windw = 6\ncolour = \"red\"\n"
    ));
    let found = errors_at(&loaded);
    assert_eq!(
        found[0],
        (
            1,
            "serve",
            "`serve` belongs in [router]: write it after a `[router]` line"
        )
    );
    assert_eq!(
        found[1].2,
        "unknown top-level key `segmenter` (valid: router, cluster, sources, segmenters, \
         playlists, masters, sinks, templates, feeds); did you mean `segmenters`?"
    );
    assert_eq!((found[2].0, found[2].1), (21, "playlists.x.windw"));
    assert_eq!(
        found[2].2,
        "unknown key `windw` for a playlist; did you mean `window`?"
    );
    assert_eq!((found[3].0, found[3].1), (22, "playlists.x.colour"));
    assert!(
        found[3]
            .2
            .starts_with("unknown key `colour` for a playlist (valid: `input`, `name`"),
        "{}",
        found[3].2
    );
    assert_eq!(found.len(), 4, "{}", listing(&loaded.diagnostics));
}

#[test]
fn node_names_are_plain_words() {
    let loaded = compile(&format!("{CHAIN}\n[sources.\"cam.2\"]\ntype = \"stdin\"\n"));
    let error = single(&loaded, Severity::Error, 17);
    assert_eq!(error.key, "sources.cam.2");
    assert_eq!(
        error.message,
        "node name `cam.2` may only use letters, digits, `_` and `-`"
    );
}

#[test]
fn relative_paths_start_at_the_file_and_tilde_is_home() {
    let loaded = compile(
        r#"[router]
state_dir = "~/state"
[sources.clip]
type = "file"
path = "media/a.ts"
[sources.abs]
type = "file"
path = "/data/b.ts"
[segmenters.clip]
input = "clip"
[segmenters.abs]
input = "abs"
[playlists.clip]
input = "clip"
[playlists.abs]
input = "abs"
[sinks.out]
type = "local"
inputs = ["clip", "abs"]
path = "../www"
"#,
    );
    let graph = graph(&loaded);
    use super::super::model::{LocalSettings, SinkKind, SourceKind};
    use std::path::PathBuf;
    assert_eq!(
        graph.router.state_dir,
        Some(PathBuf::from("/home/tester/state"))
    );
    let path_of = |name: &str| match &graph.sources[name].kind {
        SourceKind::File { path, .. } => path.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(path_of("clip"), PathBuf::from("conf/media/a.ts"));
    assert_eq!(path_of("abs"), PathBuf::from("/data/b.ts"));
    assert_eq!(
        graph.sinks["out"].kind,
        SinkKind::Local(LocalSettings {
            path: PathBuf::from("conf/../www")
        })
    );
}

#[test]
fn defaults_fill_what_is_left_out() {
    let loaded = compile(CHAIN);
    let graph = graph(&loaded);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(graph.router, Default::default());
    assert_eq!(graph.segmenters["cam"].target_duration, 4.0);
    assert!(graph.segmenters["cam"].repeat_ts_headers);
    let playlist = &graph.playlists["cam"];
    assert_eq!(playlist.file_name, "cam.m3u8");
    assert_eq!(playlist.segment_name.as_str(), "cam-{seq:05}.ts");
    assert_eq!(playlist.window, 6);
    assert_eq!(playlist.base_url, None);
    assert!(playlist.repeat_ts_headers && playlist.delete_expired);
    assert!(playlist.program_date_time && playlist.endlist_on_stop);
}

#[test]
fn a_top_level_key_caught_in_a_table_says_why() {
    let loaded = compile(&format!(
        "{CHAIN}feeds = [{{ template = \"t\", name = \"a\" }}]\n"
    ));
    let error = single(&loaded, Severity::Error, 16);
    assert_eq!(error.key, "sinks.web.feeds");
    assert_eq!(
        error.message,
        "`feeds` is a top-level key, but TOML puts it in `sinks.web` because it comes after that \
         table's [header]: move it above the first [header], or write [[feeds]] tables"
    );
}
