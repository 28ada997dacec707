//! A playlist's DVR and archive views (`[playlists.NAME.dvr]`, `[playlists.NAME.archive]`):
//! defaults, every refusal at its key and line, sink collisions, templates, the reload diff and
//! the `graph` rendering.

use std::time::Duration;

use super::super::diff::diff;
use super::super::model::{ArchiveView, DvrView, Severity};
use super::super::render_text;
use super::{CHAIN, compile, compile_in, errors_at, graph, listing, places};

const HOUR: Duration = Duration::from_secs(3600);

/// CHAIN (target 4 s, window 6: a live window of 24 s) and `views` after it.
fn with_views(views: &str) -> String {
    format!("{CHAIN}{views}")
}

#[test]
fn defaults_derive_from_the_live_playlist_and_the_node() {
    let loaded = compile(&with_views(
        "[playlists.cam.dvr]\nduration = \"2h\"\n[playlists.cam.archive]\nevery = \"1h\"\n",
    ));
    let cam = &graph(&loaded).playlists["cam"];
    assert_eq!(
        cam.dvr,
        Some(DvrView {
            file_name: "cam-dvr.m3u8".to_owned(),
            duration: 2 * HOUR,
        })
    );
    let archive = cam.archive.as_ref().unwrap();
    assert_eq!(
        (archive.every, archive.name.as_str(), archive.retain),
        (HOUR, "cam/{start:%Y%m%dT%H%M%SZ}.m3u8", None),
        "no retain keeps archives forever"
    );
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let plain = compile(CHAIN);
    let plain = &graph(&plain).playlists["cam"];
    assert_eq!((&plain.dvr, &plain.archive), (&None, &None));
}

#[test]
fn written_values_are_kept_in_any_duration_form() {
    let loaded = compile(&with_views(
        r#"[playlists.cam.dvr]
name = "live/dvr.m3u8"
duration = 7200
[playlists.cam.archive]
every = 20
name = "archive/{start:%Y/%m/%d}/{start:%H%M%S}.m3u8"
retain = "7d"
"#,
    ));
    let cam = &graph(&loaded).playlists["cam"];
    let dvr = cam.dvr.as_ref().unwrap();
    assert_eq!(
        (dvr.file_name.as_str(), dvr.duration),
        ("live/dvr.m3u8", 2 * HOUR)
    );
    let archive = cam.archive.as_ref().unwrap();
    assert_eq!(archive.every, Duration::from_secs(20));
    assert_eq!(archive.retain, Some(Duration::from_secs(7 * 86_400)));
    let start = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_130_300);
    assert_eq!(archive.name.render(start), "archive/2026/12/01/130500.m3u8");
    let inline = compile(&CHAIN.replace(
        "[playlists.cam]\ninput = \"cam\"\n",
        "[playlists.cam]\ninput = \"cam\"\ndvr = { duration = \"24s\" }\n",
    ));
    let dvr = graph(&inline).playlists["cam"].dvr.clone().unwrap();
    assert_eq!(
        dvr.duration,
        Duration::from_secs(24),
        "exactly the live window"
    );
}

/// Five playlists on one segmenter (target 4 s), none published; `views` follows.
const PLAYLISTS: &str = r#"[sources.cam]
type = "udp"
bind = "0.0.0.0:40000"
[segmenters.cam]
input = "cam"
[playlists.a]
input = "cam"
[playlists.b]
input = "cam"
[playlists.c]
input = "cam"
[playlists.d]
input = "cam"
[playlists.e]
input = "cam"
"#;

#[test]
fn every_refusal_is_at_its_key_all_at_once() {
    // Lines 16 onwards.
    let text = format!(
        "{PLAYLISTS}{}",
        r#"[playlists.a.dvr]
name = "a.m3u8"
durration = "2h"
[playlists.b.dvr]
duration = "20s"
keep = 3
[playlists.b.archive]
every = "2s"
[playlists.c.archive]
every = "1h"
name = "archive.m3u8"
[playlists.d.archive]
every = "1h"
retain = "30m"
[playlists.e.archive]
every = "20s"
name = "e/{start:%Y%m%dT%H%M}.m3u8"
[playlists.e.dvr]
duration = 0
"#
    );
    let loaded = compile(&text);
    assert_eq!(
        errors_at(&loaded),
        [
            (
                17,
                "playlists.a.dvr.name",
                "`a.m3u8` is the live playlist's name too: the DVR view is another file; write \
                 another name, or leave `name` out for `a-dvr.m3u8`"
            ),
            (
                18,
                "playlists.a.dvr.durration",
                "unknown key `durration` for a DVR view; did you mean `duration`? (`duration` is \
                 required)"
            ),
            (
                20,
                "playlists.b.dvr.duration",
                "20s is shorter than the live window: 6 segments of about 4s (segmenter `cam`) \
                 last about 24s; the DVR view must reach back at least as far, write 24s or more"
            ),
            (
                21,
                "playlists.b.dvr.keep",
                "unknown key `keep` for a DVR view (valid: `name`, `duration`)"
            ),
            (
                23,
                "playlists.b.archive.every",
                "2s is shorter than the target duration of segmenter `cam` (4s): a period must \
                 hold whole segments, write 4s or more"
            ),
            (
                26,
                "playlists.c.archive.name",
                "must contain a `{start}` or `{start:FMT}` field (the period's start, FMT in \
                 strftime, in UTC) so that each period gets its own name, like \
                 `archive/{start:%Y%m%dT%H%M%SZ}.m3u8`"
            ),
            (
                29,
                "playlists.d.archive.retain",
                "30m is shorter than `every` (1h): an archive would be deleted before its period \
                 ends; write 1h or more, or leave `retain` out to keep archives forever"
            ),
            (
                32,
                "playlists.e.archive.name",
                "`e/{start:%Y%m%dT%H%M}.m3u8` gives the archives of the periods starting \
                 2027-01-01T00:00:00Z and 2027-01-01T00:00:20Z the same name \
                 `e/20270101T0000.m3u8`, and with every = 20s and retain = forever both exist at \
                 once; add the fields that tell them apart, like `{start:%Y%m%dT%H%M%SZ}`"
            ),
            (
                34,
                "playlists.e.dvr.duration",
                "must be more than 0, like \"1h\""
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn required_keys_missing_and_wrong_types_are_named() {
    let loaded = compile(&with_views(
        "[playlists.cam.dvr]\nname = 5\n[playlists.cam.archive]\nretain = \"a week\"\n",
    ));
    let first = CHAIN.lines().count() + 1;
    assert_eq!(
        errors_at(&loaded),
        [
            (
                first,
                "playlists.cam.dvr.duration",
                "missing `duration` (how much media the DVR view lists, like \"2h\")"
            ),
            (
                first + 1,
                "playlists.cam.dvr.name",
                "expected a string, found an integer"
            ),
            (
                first + 2,
                "playlists.cam.archive.every",
                "missing `every` (the length of one archive's period, aligned to UTC, like \
                 \"1h\")"
            ),
            (
                first + 3,
                "playlists.cam.archive.retain",
                "not a duration like \"30s\" or \"2m\": expected number at 0"
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
    let not_a_table = compile(&CHAIN.replace(
        "[playlists.cam]\ninput = \"cam\"\n",
        "[playlists.cam]\ninput = \"cam\"\ndvr = \"2h\"\n",
    ));
    assert_eq!(
        errors_at(&not_a_table),
        [(11, "playlists.cam.dvr", "expected a table, found a string")]
    );
}

#[test]
fn a_window_of_everything_makes_the_dvr_view_pointless() {
    let text = CHAIN.replace(
        "[playlists.cam]\ninput = \"cam\"\n",
        "[playlists.cam]\ninput = \"cam\"\nwindow = 0\ndvr = { duration = \"1h\" }\n",
    );
    let loaded = compile(&text);
    assert_eq!(
        places(&loaded, Severity::Warning),
        [(12, 20, "playlists.cam.dvr.duration")],
        "{}",
        listing(&loaded.diagnostics)
    );
    assert!(loaded.graph.is_some());
}

#[test]
fn an_unset_variable_in_a_view_is_one_error() {
    let loaded = compile_in(
        &[(
            "conf/test.toml",
            &with_views("[playlists.cam.dvr]\nname = \"${DVR_NAME}\"\nduration = \"1h\"\n"),
        )],
        &[],
        &[],
    );
    let errors = errors_at(&loaded);
    assert_eq!(errors.len(), 1, "{}", listing(&loaded.diagnostics));
    assert_eq!(errors[0].1, "playlists.cam.dvr");
    let set = compile_in(
        &[(
            "conf/test.toml",
            &with_views("[playlists.cam.dvr]\nname = \"${DVR_NAME}\"\nduration = \"1m\"\n"),
        )],
        &[("DVR_NAME", "cam/dvr.m3u8")],
        &[],
    );
    let dvr = graph(&set).playlists["cam"].dvr.clone().unwrap();
    assert_eq!(dvr.file_name, "cam/dvr.m3u8");
}

#[test]
fn views_of_two_playlists_at_one_sink_must_not_collide() {
    let text = r#"[sources.cam]
type = "udp"
bind = "0.0.0.0:40000"
[segmenters.cam]
input = "cam"
[playlists.a]
input = "cam"
dvr = { name = "b.m3u8", duration = "1h" }
archive = { every = "1h", name = "rec/{start}.m3u8" }
[playlists.b]
input = "cam"
archive = { every = "1h", name = "rec/{start}.m3u8" }
[sinks.web]
type = "local"
inputs = ["a", "b"]
path = "/srv/live"
"#;
    let loaded = compile(text);
    assert_eq!(
        errors_at(&loaded),
        [
            (
                10,
                "playlists.b.name",
                "`b.m3u8` in /srv/live is also written by playlist `a` (sink `web`)"
            ),
            (
                12,
                "playlists.b.archive.name",
                "archive names `rec/{start}.m3u8` in /srv/live are those of playlist `a` (sink \
                 `web`) too; give each playlist its own archive name"
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
    // The other way round: the DVR file is the one found second.
    let loaded = compile(
        &text
            .replace("dvr = { name = \"b.m3u8\", duration = \"1h\" }\n", "")
            .replace(
                "[playlists.b]\ninput = \"cam\"\n",
                "[playlists.b]\ninput = \"cam\"\ndvr = { name = \"a.m3u8\", duration = \"1h\" }\n",
            )
            .replace(
                "name = \"rec/{start}.m3u8\" }\n[sinks",
                "name = \"b/{start}.m3u8\" }\n[sinks",
            ),
    );
    assert_eq!(
        errors_at(&loaded),
        [(
            11,
            "playlists.b.dvr.name",
            "`a.m3u8` in /srv/live is also written by playlist `a` (sink `web`)"
        )],
        "{}",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn templates_carry_views_with_placeholders_and_extends_merges_them() {
    let text = r#"feeds = [
  { template = "channel", name = "ch1", port = 40001, dvr = "30s" },
  { template = "long", name = "ch2", port = 40002 },
  { template = "channel", name = "ch3", port = 40003, dvr = 20 },
]

[templates.channel]
sources.in = { type = "udp", bind = "0.0.0.0:{{port}}" }
segmenters.seg = { input = "in" }
sinks.web = { type = "local", inputs = ["hls"], path = "/srv/live" }

[templates.channel.playlists.hls]
input = "seg"
name = "{{feed}}/index.m3u8"
segment_name = "{{feed}}/s-{seq}.ts"
dvr = { name = "{{feed}}/dvr.m3u8", duration = "{{dvr}}" }
archive = { every = "1h", retain = "2d" }

[templates.long]
extends = "channel"
playlists.hls.dvr = { duration = "6h" }
"#;
    let loaded = compile(text);
    assert_eq!(
        errors_at(&loaded),
        [(
            16,
            "playlists.ch3.hls.dvr.duration",
            "20s is shorter than the live window: 6 segments of about 4s (segmenter `ch3.seg`) \
             last about 24s; the DVR view must reach back at least as far, write 24s or more; in feed ch3 (conf/test.toml:4)"
        )],
        "a variable keeps its type (20 seconds); {}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(
        loaded.diagnostics.len(),
        1,
        "{}",
        listing(&loaded.diagnostics)
    );
    let loaded = compile(&text.replace("dvr = 20 }", "dvr = 24 }"));
    let graph = graph(&loaded);
    let ch1 = &graph.playlists["ch1.hls"];
    assert_eq!(
        ch1.dvr,
        Some(DvrView {
            file_name: "ch1/dvr.m3u8".to_owned(),
            duration: Duration::from_secs(30),
        })
    );
    let ArchiveView { name, retain, .. } = ch1.archive.clone().unwrap();
    assert_eq!(name.as_str(), "ch1.hls/{start:%Y%m%dT%H%M%SZ}.m3u8");
    assert_eq!(retain, Some(Duration::from_secs(2 * 86_400)));
    let ch2 = graph.playlists["ch2.hls"].dvr.clone().unwrap();
    assert_eq!(
        (ch2.file_name.as_str(), ch2.duration),
        ("ch2/dvr.m3u8", 6 * HOUR),
        "extends overrides the DVR view key by key"
    );
}

#[test]
fn views_change_key_by_key_and_live() {
    let old = graph(&compile(&with_views(
        "[playlists.cam.dvr]\nduration = \"1h\"\n[playlists.cam.archive]\nevery = \"1h\"\n",
    )))
    .clone();
    let cases = [
        (
            "[playlists.cam.dvr]\nduration = \"2h\"\n[playlists.cam.archive]\nevery = \"1h\"\n",
            vec!["dvr.duration"],
        ),
        (
            "[playlists.cam.dvr]\nduration = \"1h\"\nname = \"d.m3u8\"\n\
             [playlists.cam.archive]\nevery = \"2h\"\nretain = \"1d\"\nname = \"r/{start}\"\n",
            vec![
                "dvr.name",
                "archive.every",
                "archive.name",
                "archive.retain",
            ],
        ),
        ("[playlists.cam.dvr]\nduration = \"1h\"\n", vec!["archive"]),
        ("", vec!["dvr", "archive"]),
    ];
    for (views, keys) in cases {
        let new = graph(&compile(&with_views(views))).clone();
        let diff = diff(&old, &new).unwrap();
        assert_eq!(diff.playlists.changed.get("cam"), Some(&keys), "{views}");
        assert!(diff.playlists_live.contains("cam"), "{views}");
        assert!(diff.playlists_restart.is_empty(), "{views}");
        assert!(diff.feed_restart.segmenters.is_empty(), "{views}");
        let back = diff_of_graphs(&new, &old);
        assert_eq!(back, Some(keys), "and back: {views}");
    }
}

fn diff_of_graphs(
    old: &super::super::model::Graph,
    new: &super::super::model::Graph,
) -> Option<Vec<&'static str>> {
    diff(old, new)
        .unwrap()
        .playlists
        .changed
        .get("cam")
        .cloned()
}

#[test]
fn graph_shows_the_views_as_settings() {
    let loaded = compile(&with_views(
        "[playlists.cam.dvr]\nduration = \"2h\"\n\
         [playlists.cam.archive]\nevery = \"1h\"\nretain = \"7d\"\n",
    ));
    let text = render_text(graph(&loaded));
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with("playlist"))
        .unwrap();
    assert!(
        line.ends_with(
            " endlist_on_stop=true dvr.name=cam-dvr.m3u8 dvr.duration=2h archive.every=1h \
             archive.name=cam/{start:%Y%m%dT%H%M%SZ}.m3u8 archive.retain=7days"
        ),
        "{line}"
    );
    let dot = super::super::render_dot(graph(&loaded));
    assert!(
        dot.contains("cam.m3u8, window 6, dvr 2h, archive every 1h"),
        "{dot}"
    );
    let forever = compile(&with_views("[playlists.cam.archive]\nevery = \"1h\"\n"));
    let text = render_text(graph(&forever));
    assert!(!text.contains("retain"), "no retain: kept forever\n{text}");
}
