//! Checks across nodes: references, kinds, unused nodes, the live window, one stdin, file name
//! collisions in a sink's directory and `repeat_ts_headers` agreement.

use super::super::model::Severity;
use super::{CHAIN, compile, graph, listing, places, single};

/// `(line, key, message)` of every diagnostic.
fn found(loaded: &super::Loaded) -> Vec<(usize, &str, &str)> {
    loaded
        .diagnostics
        .iter()
        .map(|d| (d.location.line, d.key.as_str(), d.message.as_str()))
        .collect()
}

#[test]
fn unknown_names_are_errors_with_a_suggestion() {
    let loaded = compile(&CHAIN.replace(
        "[segmenters.cam]\ninput = \"cam\"",
        "[segmenters.cam]\ninput = \"cma\"",
    ));
    assert_eq!(
        found(&loaded),
        [(
            7,
            "segmenters.cam.input",
            "no source named `cma`; did you mean `cam`?"
        )],
        "the source meant is not reported unused as well"
    );
    assert!(loaded.graph.is_none());
}

#[test]
fn kind_mismatches_say_what_was_found_and_what_is_expected() {
    let loaded = compile(&format!(
        r#"{CHAIN}
[segmenters.from_playlist]
input = "cam_list"
[playlists.cam_list]
input = "web"
[playlists.self]
input = "self"
[sinks.wrong]
type = "local"
inputs = ["from_playlist", "cam"]
path = "/srv/wrong"
"#
    ));
    let errors: Vec<_> = found(&loaded)
        .into_iter()
        .filter(|(_, key, _)| key.ends_with("input") || key.ends_with("inputs"))
        .collect();
    assert_eq!(
        errors,
        [
            (
                18,
                "segmenters.from_playlist.input",
                "`cam_list` is a playlist; a segmenter reads a source"
            ),
            (
                20,
                "playlists.cam_list.input",
                "`web` is a sink; a playlist reads a segmenter"
            ),
            (
                22,
                "playlists.self.input",
                "`self` is this playlist itself; a playlist reads a segmenter"
            ),
            (
                25,
                "sinks.wrong.inputs",
                "`from_playlist` is a segmenter; a sink reads a playlist or a master"
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn same_names_in_different_kinds_are_fine() {
    // CHAIN names its source, segmenter and playlist all `cam`: each reference picks its kind.
    let loaded = compile(CHAIN);
    let graph = graph(&loaded);
    assert_eq!(graph.segmenters["cam"].input, "cam");
    assert_eq!(graph.playlists["cam"].input, "cam");
    assert_eq!(graph.sinks["web"].inputs, ["cam"]);
}

#[test]
fn unused_nodes_are_warnings_and_the_graph_stands() {
    let loaded = compile(&format!(
        "{CHAIN}\n[sources.spare]\ntype = \"stdin\"\n[segmenters.spare]\ninput = \"cam\"\n\
         [playlists.spare]\ninput = \"cam\"\n"
    ));
    assert_eq!(
        found(&loaded),
        [
            (17, "sources.spare", "source is not read by any segmenter"),
            (
                19,
                "segmenters.spare",
                "segmenter is not listed by any playlist"
            ),
            (
                21,
                "playlists.spare",
                "playlist is not published by any sink"
            ),
        ]
    );
    assert!(
        loaded
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning)
    );
    assert_eq!(graph(&loaded).sources.len(), 2);
}

#[test]
fn live_window_too_short_is_an_error_and_short_a_warning() {
    let with_window = |window: usize| {
        compile(&CHAIN.replace(
            "[playlists.cam]\n",
            &format!("[playlists.cam]\nwindow = {window}\n"),
        ))
    };
    let loaded = with_window(2);
    let error = single(&loaded, Severity::Error, 10);
    assert_eq!(
        (error.location.column, error.key.as_str()),
        (10, "playlists.cam.window")
    );
    assert_eq!(
        error.message,
        "window 2 is too short: a live playlist must last at least 3 target durations (RFC 8216 \
         §6.2.2) and each segment lasts about one; use 3 or more (6 recommended), or 0 to keep \
         every segment"
    );
    assert!(with_window(1).graph.is_none());
    let loaded = with_window(5);
    let warning = single(&loaded, Severity::Warning, 10);
    assert!(
        warning
            .message
            .contains("Apple's HLS authoring specification"),
        "{warning}"
    );
    assert_eq!(graph(&loaded).playlists["cam"].window, 5);
    for fine in [0, 6, 100] {
        let loaded = with_window(fine);
        assert!(
            loaded.diagnostics.is_empty(),
            "{fine}: {}",
            listing(&loaded.diagnostics)
        );
    }
}

#[test]
fn only_one_source_reads_stdin() {
    let loaded = compile(
        "[sources.a]\ntype = \"stdin\"\n[sources.b]\ntype = \"stdin\"\n\
         [segmenters.a]\ninput = \"a\"\n[segmenters.b]\ninput = \"b\"\n",
    );
    let errors = places(&loaded, Severity::Error);
    assert_eq!(errors, [(4, 8, "sources.b.type")]);
    assert_eq!(
        loaded
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .unwrap()
            .message,
        "only one source can read stdin, and `a` (conf/test.toml:1) already does"
    );
}

/// CHAIN plus a second playlist `two` of segmenter `cam`, published by sink `web` or by another
/// sink `other` with the same path.
fn second_playlist(settings: &str, same_sink: bool) -> super::Loaded {
    let sinks = if same_sink {
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\", \"two\"]\npath = \"/srv/live\"\n"
    } else {
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"/srv/live\"\n\
         [sinks.other]\ntype = \"local\"\ninputs = [\"two\"]\npath = \"/srv/live\"\n"
    };
    let chain = CHAIN.replace(
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"/srv/live\"\n",
        "",
    );
    compile(&format!(
        "{chain}[playlists.two]\ninput = \"cam\"\n{settings}\n{sinks}"
    ))
}

#[test]
fn two_playlists_writing_one_file_name_both() {
    let loaded = second_playlist("name = \"cam.m3u8\"\nsegment_name = \"two-{seq}.ts\"", true);
    assert_eq!(
        found(&loaded),
        [(
            14,
            "playlists.two.name",
            "`cam.m3u8` in /srv/live is also written by playlist `cam` (sink `web`)"
        )]
    );
    let loaded = second_playlist(
        "name = \"cam.m3u8\"\nsegment_name = \"two-{seq}.ts\"",
        false,
    );
    assert_eq!(
        found(&loaded),
        [(
            14,
            "playlists.two.name",
            "`cam.m3u8` in /srv/live is also written by playlist `cam` (sink `web`)"
        )],
        "two sinks with one path are one directory"
    );
}

#[test]
fn overlapping_segment_names_are_an_error() {
    // `cam-{seq}.ts` and the default `cam-{seq:05}.ts` both write cam-123456.ts.
    let loaded = second_playlist("segment_name = \"cam-{seq}.ts\"", true);
    assert_eq!(
        found(&loaded),
        [(
            14,
            "playlists.two.segment_name",
            "segment names `cam-{seq}.ts` in /srv/live can be the same as those of playlist `cam` \
             (sink `web`); give each playlist its own segment_name"
        )]
    );
    let loaded = second_playlist("segment_name = \"sub/cam-{seq:05}.ts\"", true);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn playlists_of_one_segmenter_agree_on_ts_headers() {
    let loaded = second_playlist(
        "segment_name = \"b/{seq}.ts\"\nrepeat_ts_headers = false",
        true,
    );
    assert_eq!(
        found(&loaded),
        [(
            15,
            "playlists.two.repeat_ts_headers",
            "playlist `cam` reads the same segmenter `cam` with repeat_ts_headers = true; \
             playlists of one segmenter must agree (it cuts once for all)"
        )]
    );
    let both_raw = CHAIN.replace(
        "[playlists.cam]\n",
        "[playlists.cam]\nrepeat_ts_headers = false\n",
    );
    let loaded = compile(&both_raw);
    assert!(
        !graph(&loaded).segmenters["cam"].repeat_ts_headers,
        "taken from its playlists"
    );
    let loaded = compile(&format!(
        "{CHAIN}\n[sinks.raw]\ntype = \"local\"\ninputs = [\"raw\"]\npath = \"/srv/raw\"\n\
         [playlists.raw]\ninput = \"cam\"\nrepeat_ts_headers = false\nname = \"raw.m3u8\"\n"
    ));
    assert_eq!(
        places(&loaded, Severity::Error),
        [(23, 1, "playlists.raw.repeat_ts_headers")]
    );
}

#[test]
fn a_playlist_listed_twice_in_one_sink_is_an_error() {
    let loaded = compile(&CHAIN.replace("inputs = [\"cam\"]", "inputs = [\"cam\", \"cam\"]"));
    assert_eq!(
        found(&loaded),
        [(14, "sinks.web.inputs", "`cam` is listed twice")]
    );
}

#[test]
fn accepted_segment_patterns_are_the_ones_the_publisher_renders() {
    use crate::playlist::SegmentNamePattern;
    for pattern in [
        "a-{seq}.ts",
        "{seq:01}",
        "x/{seq:020}.ts",
        "a-{seq:021}.ts",
        "a-{seq:5}.ts",
        "a-{seq:0}.ts",
        "a-{seq.ts",
        "none.ts",
        "{seq}{seq}",
        "{sequence}",
    ] {
        let loaded = compile(&CHAIN.replace(
            "[playlists.cam]\n",
            &format!("[playlists.cam]\nsegment_name = \"{pattern}\"\n"),
        ));
        assert_eq!(
            loaded.graph.is_some(),
            SegmentNamePattern::parse(pattern).is_ok(),
            "{pattern}: {}",
            listing(&loaded.diagnostics)
        );
    }
}

#[test]
fn node_errors_and_graph_errors_come_together() {
    // `two` has a window error of its own and also writes cam's playlist file: both are found
    // in one run.
    let loaded = second_playlist(
        "name = \"cam.m3u8\"\nsegment_name = \"b/{seq}.ts\"\nwindow = 1",
        true,
    );
    assert_eq!(
        places(&loaded, Severity::Error),
        [
            (14, 1, "playlists.two.name"),
            (16, 10, "playlists.two.window")
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
}
