//! Templates and feeds: expansion, substitution, the template chain, and the errors that point
//! at the template's line with the feed's line in the message.

use super::super::model::{LocalSettings, Severity, SinkKind, SourceKind, UdpSource};
use super::{compile, compile_files, graph, listing, places, single};

/// A template with a source, a segmenter, a playlist and a sink; feeds are appended by each test.
const CHANNEL: &str = r#"[templates.channel]
sources.in = { type = "udp", bind = "0.0.0.0:{{port}}" }
segmenters.seg = { input = "in", target_duration = 4 }
playlists.hls = { input = "seg", name = "{{feed}}/index.m3u8", segment_name = "{{feed}}/seg-{seq:05}.ts", window = 6 }
sinks.web = { type = "local", inputs = ["hls"], path = "/var/www/live" }
"#;

#[test]
fn the_example_of_the_design_works_as_written() {
    // `feeds` after [templates.channel] is, for TOML, a key of that template: it works too.
    let loaded = compile(&format!(
        "{CHANNEL}\nfeeds = [\n  {{ template = \"channel\", name = \"ch1\", port = 40001 }},\n  \
         {{ template = \"channel\", name = \"ch2\", port = 40002 }},\n]\n"
    ));
    let graph = graph(&loaded);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    let names: Vec<&str> = graph.playlists.keys().map(String::as_str).collect();
    assert_eq!(names, ["ch1.hls", "ch2.hls"]);
    assert_eq!(
        graph.sources["ch2.in"].kind,
        SourceKind::Udp(UdpSource::new("0.0.0.0:40002".parse().unwrap(), None, None).unwrap())
    );
    let hls = &graph.playlists["ch2.hls"];
    assert_eq!(
        hls.input, "ch2.seg",
        "local names resolve within the instance"
    );
    assert_eq!(
        (hls.file_name.as_str(), hls.segment_name.as_str()),
        ("ch2/index.m3u8", "ch2/seg-{seq:05}.ts")
    );
    assert_eq!(graph.segmenters["ch2.seg"].input, "ch2.in");
    assert_eq!(graph.sinks["ch2.web"].inputs, ["ch2.hls"]);
}

#[test]
fn array_of_tables_feeds_are_the_same_data() {
    let inline = compile(&format!(
        "feeds = [{{ template = \"channel\", name = \"ch1\", port = 40001 }}]\n{CHANNEL}"
    ));
    let tables = compile(&format!(
        "{CHANNEL}\n[[feeds]]\ntemplate = \"channel\"\nname = \"ch1\"\nport = 40001\n"
    ));
    assert_eq!(graph(&inline), graph(&tables));
}

#[test]
fn substitution_reaches_arrays_and_numbers_and_leaves_other_braces() {
    let loaded = compile(
        r#"[templates.cam]
sources.in = { type = "exec", command = ["ffmpeg", "-i", "rtsp://{{host}}:{{port}}/{{feed}}", "-metadata", "title=$${TITLE} {{live}}", "-"] }
segmenters.seg = { input = "in", target_duration = "{{target}}" }
playlists.hls = { input = "seg", segment_name = "{{feed}}-{seq:03}.ts", window = "{{window}}" }
sinks.out = { type = "local", inputs = ["hls"], path = "/srv/{{feed}}" }

[[feeds]]
template = "cam"
name = "door"
host = "10.0.0.7"
port = 554
live = true
target = 2.5
window = 10
"#,
    );
    let graph = graph(&loaded);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(
        graph.sources["door.in"].kind,
        SourceKind::Exec {
            command: [
                "ffmpeg",
                "-i",
                "rtsp://10.0.0.7:554/door",
                "-metadata",
                "title=${TITLE} true",
                "-"
            ]
            .map(String::from)
            .to_vec()
            .try_into()
            .unwrap()
        }
    );
    assert_eq!(
        graph.segmenters["door.seg"].target_duration, 2.5,
        "a whole placeholder keeps the type"
    );
    assert_eq!(graph.playlists["door.hls"].window, 10);
    assert_eq!(
        graph.playlists["door.hls"].segment_name.as_str(),
        "door-{seq:03}.ts"
    );
    assert_eq!(
        graph.sinks["door.out"].kind,
        SinkKind::Local(LocalSettings {
            path: "/srv/door".into()
        })
    );
}

#[test]
fn extends_overrides_key_by_key_along_the_chain() {
    let loaded = compile(&format!(
        r#"{CHANNEL}
[templates.fast]
extends = "channel"
segmenters.seg = {{ target_duration = 2 }}

[templates.fast-multicast]
extends = "fast"
sources.in = {{ group = "239.0.0.{{{{last}}}}" }}
playlists.hls = {{ window = 10 }}

[[feeds]]
template = "fast-multicast"
name = "m1"
port = 5000
last = 9
"#
    ));
    let graph = graph(&loaded);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(
        graph.sources["m1.in"].kind,
        SourceKind::Udp(
            UdpSource::new(
                "0.0.0.0:5000".parse().unwrap(),
                Some("239.0.0.9".parse().unwrap()),
                None
            )
            .unwrap()
        ),
        "type and bind from the grandparent, group from the child"
    );
    assert_eq!(graph.segmenters["m1.seg"].target_duration, 2.0);
    assert_eq!(graph.segmenters["m1.seg"].input, "m1.in");
    let hls = &graph.playlists["m1.hls"];
    assert_eq!((hls.window, hls.file_name.as_str()), (10, "m1/index.m3u8"));
}

#[test]
fn a_cycle_in_the_template_chain_is_reported_once() {
    let loaded = compile(
        "[templates.a]\nextends = \"b\"\n[templates.b]\nextends = \"c\"\n[templates.c]\nextends = \"a\"\n\
         [templates.d]\nextends = \"nope\"\n\
         [[feeds]]\ntemplate = \"a\"\nname = \"x\"\n",
    );
    assert_eq!(
        loaded
            .diagnostics
            .iter()
            .map(|d| (d.location.line, d.key.as_str(), d.message.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                6,
                "templates.c.extends",
                "the template chain is a cycle: a → b → c → a"
            ),
            (8, "templates.d.extends", "no template named `nope`"),
        ]
    );
}

#[test]
fn an_instantiated_error_points_at_the_template_and_names_the_feed() {
    let loaded = compile_files(&[(
        "conf/feeds.toml",
        &format!(
            "feeds = [\n  {{ template = \"channel\", name = \"ch1\", port = 40001 }},\n  \
             {{ template = \"channel\", name = \"ch2\", prot = 40002 }},\n]\n{CHANNEL}"
        ),
    )]);
    let errors: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "conf/feeds.toml:3:41: warning: feeds[1].prot: variable `prot` is not used by template \
             `channel`",
            "conf/feeds.toml:6:37: error: sources.ch2.in.bind: `{{port}}` is not a variable of this \
             feed (it has: feed, prot); did you mean `prot`?; in feed ch2 (conf/feeds.toml:3)",
        ]
    );
}

#[test]
fn one_template_mistake_in_many_feeds_is_one_diagnostic() {
    let feeds: String = (1..=5)
        .map(|n| {
            format!(
                "  {{ template = \"channel\", name = \"ch{n}\", port = {} }},\n",
                40000 + n
            )
        })
        .collect();
    let loaded = compile(&format!(
        "feeds = [\n{feeds}]\n{}",
        CHANNEL.replace("window = 6", "window = 2")
    ));
    let error = single(&loaded, Severity::Error, 11);
    assert_eq!(error.key, "playlists.ch1.hls.window");
    assert!(
        error.message.ends_with(
            "; in feeds ch1 (conf/test.toml:2), ch2 (conf/test.toml:3), ch3 (conf/test.toml:4) \
             and 2 more"
        ),
        "{error}"
    );
}

#[test]
fn forgetting_the_feed_in_a_shared_directory_collides() {
    let channel = CHANNEL.replace("{{feed}}/index.m3u8", "index.m3u8");
    let loaded = compile(&format!(
        "feeds = [\n  {{ template = \"channel\", name = \"a\", port = 1 }},\n  \
         {{ template = \"channel\", name = \"b\", port = 2 }},\n]\n{channel}"
    ));
    let error = single(&loaded, Severity::Error, 8);
    assert_eq!(error.key, "playlists.b.hls.name");
    assert_eq!(
        error.message,
        "`index.m3u8` in /var/www/live is also written by playlist `a.hls` (sink `a.web`); in \
         feed b (conf/test.toml:3)"
    );
}

#[test]
fn feed_mistakes_are_reported_at_the_feed() {
    let loaded = compile(&format!(
        r#"feeds = [
  {{ template = "chanel", name = "a", port = 1 }},
  {{ template = "channel", name = "bad name", port = 2 }},
  {{ template = "channel", name = "c", port = 3 }},
  {{ template = "channel", name = "c", port = 4 }},
  {{ template = "channel", port = 5 }},
  {{ template = "channel", name = "f", feed = "x", port = 6 }},
  {{ template = "channel", name = "g", port = [7] }},
  {{ name = "h", port = 8 }},
  {{ template = "channel", name = 9 }},
]
{CHANNEL}"#
    ));
    let found: Vec<(usize, &str, &str)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.location.line, d.key.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                2,
                "feeds[0].template",
                "no template named `chanel`; did you mean `channel`?"
            ),
            (
                3,
                "feeds[1].name",
                "feed name `bad name` may only use letters, digits, `_` and `-`"
            ),
            (
                5,
                "feeds[3].name",
                "feed `c` is also declared at conf/test.toml:4"
            ),
            (
                6,
                "feeds[4].name",
                "missing `name` (the feed's name, the first part of its node names)"
            ),
            (
                7,
                "feeds[5].feed",
                "`feed` is not a variable: `{{feed}}` is always the feed's name"
            ),
            (
                8,
                "feeds[6].port",
                "a variable is a string, number or boolean, found an array"
            ),
            (
                9,
                "feeds[7].template",
                "missing `template` (the template this feed instantiates)"
            ),
            (10, "feeds[8].name", "expected a string, found an integer"),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn a_name_not_in_the_template_may_name_a_top_level_node() {
    let loaded = compile(
        r#"[sources.studio]
type = "tcp"
listen = "0.0.0.0:9000"
[segmenters.studio]
input = "studio"

[templates.rendition]
playlists.hls = { input = "studio", name = "{{feed}}.m3u8", segment_name = "{{feed}}-{seq}.ts" }

[[feeds]]
template = "rendition"
name = "low"
[[feeds]]
template = "rendition"
name = "high"

[sinks.all]
type = "local"
inputs = ["low.hls", "high.hls"]
path = "/srv/studio"
"#,
    );
    let graph = graph(&loaded);
    assert_eq!(graph.playlists["low.hls"].input, "studio");
    assert_eq!(graph.sinks["all"].inputs, ["low.hls", "high.hls"]);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn a_missing_template_key_and_unknown_template_keys_are_errors() {
    let loaded = compile(
        "[templates.t]\nsource.in = { type = \"stdin\" }\nsegmenters.seg = { target_duration = 4 }\n\
         [[feeds]]\ntemplate = \"t\"\nname = \"x\"\n",
    );
    assert_eq!(
        places(&loaded, Severity::Error),
        [
            (2, 1, "templates.t.source"),
            (3, 18, "segmenters.x.seg.input")
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
    let missing = loaded
        .diagnostics
        .iter()
        .find(|d| d.key == "segmenters.x.seg.input")
        .unwrap();
    assert_eq!(
        missing.message,
        "missing `input` (the source to cut); in feed x (conf/test.toml:4)"
    );
}

#[test]
fn an_inherited_mistake_points_at_the_parent_template() {
    let loaded = compile(&format!(
        "{}\n[templates.child]\nextends = \"channel\"\nsources.in = {{ bind = \"0.0.0.0:9\" }}\n\
         [[feeds]]\ntemplate = \"child\"\nname = \"k\"\n",
        CHANNEL.replace("window = 6", "window = 2")
    ));
    let error = single(&loaded, Severity::Error, 4);
    assert_eq!(error.key, "playlists.k.hls.window");
    assert!(
        error.message.ends_with("; in feed k (conf/test.toml:10)"),
        "{error}"
    );
}
