//! Feeds of compiled graphs (`feeds_of`) and graphs restricted to some of them (`restrict`):
//! components over the links, template instances kept whole, ids, sinks filtered.

use std::collections::{BTreeMap, BTreeSet};

use super::super::model::Graph;
use super::super::{FeedId, FeedMembers, feeds_of, restrict};
use super::{compile, graph};

fn compiled(text: &str) -> Graph {
    graph(&compile(text)).clone()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

fn ids(names: &[&str]) -> BTreeSet<FeedId> {
    names
        .iter()
        .map(|name| FeedId((*name).to_owned()))
        .collect()
}

/// The feeds as `id → (sources, segmenters, playlists, masters)`, for short assertions.
fn shown(feeds: &BTreeMap<FeedId, FeedMembers>) -> Vec<(String, [Vec<&str>; 4])> {
    (feeds.iter())
        .map(|(id, members)| {
            let kinds = [
                names(&members.sources),
                names(&members.segmenters),
                names(&members.playlists),
                names(&members.masters),
            ];
            (id.to_string(), kinds)
        })
        .collect()
}

fn names(set: &BTreeSet<String>) -> Vec<&str> {
    set.iter().map(String::as_str).collect()
}

/// A UDP source `NAME` on `port`, cut by segmenter `NAME` into playlist `NAME`.
fn chain(name: &str, port: u16) -> String {
    format!(
        "[sources.{name}]\ntype = \"udp\"\nbind = \"0.0.0.0:{port}\"\n\
         [segmenters.{name}]\ninput = \"{name}\"\n\
         [playlists.{name}]\ninput = \"{name}\"\n"
    )
}

const TWO_CAMERAS: &str = r#"
[sinks.web]
type = "local"
inputs = ["cam2", "cam1"]
path = "/srv/live"
[sinks.archive]
type = "local"
inputs = ["cam1"]
path = "/srv/archive"
"#;

fn two_cameras() -> Graph {
    compiled(&format!(
        "{}{}{TWO_CAMERAS}",
        chain("cam1", 4001),
        chain("cam2", 4002)
    ))
}

#[test]
fn each_source_with_what_reads_it_is_a_feed_named_after_it() {
    let feeds = feeds_of(&two_cameras());
    assert_eq!(
        shown(&feeds),
        [
            (
                "cam1".to_owned(),
                [vec!["cam1"], vec!["cam1"], vec!["cam1"], vec![]]
            ),
            (
                "cam2".to_owned(),
                [vec!["cam2"], vec!["cam2"], vec!["cam2"], vec![]]
            ),
        ]
    );
    assert_eq!(feeds, feeds_of(&two_cameras()), "deterministic");
    assert!(
        feeds_of(&Graph {
            router: Default::default(),
            sources: BTreeMap::new(),
            segmenters: BTreeMap::new(),
            playlists: BTreeMap::new(),
            sinks: BTreeMap::new(),
            masters: BTreeMap::new(),
        })
        .is_empty()
    );
}

#[test]
fn a_source_cut_twice_and_listed_twice_is_one_feed() {
    let text = format!(
        "{}[segmenters.fast]\ninput = \"cam\"\ntarget_duration = 2\n\
         [playlists.fast]\ninput = \"fast\"\n[playlists.long]\ninput = \"cam\"\nwindow = 0\n\
         [sinks.web]\ntype = \"local\"\ninputs = [\"cam\", \"fast\", \"long\"]\npath = \"/srv\"\n",
        chain("cam", 4000)
    );
    assert_eq!(
        shown(&feeds_of(&compiled(&text))),
        [(
            "cam".to_owned(),
            [
                vec!["cam"],
                vec!["cam", "fast"],
                vec!["cam", "fast", "long"],
                vec![]
            ]
        )]
    );
}

#[test]
fn a_master_joins_its_renditions_into_one_feed() {
    let text = format!(
        "{}{}{}[masters.show]\nvariants = [\"low\", \"high\"]\n\
         [sinks.web]\ntype = \"local\"\ninputs = [\"show\", \"other\"]\npath = \"/srv\"\n",
        chain("low", 4001),
        chain("high", 4002),
        chain("other", 4003)
    );
    assert_eq!(
        shown(&feeds_of(&compiled(&text))),
        [
            (
                "high".to_owned(),
                [
                    vec!["high", "low"],
                    vec!["high", "low"],
                    vec!["high", "low"],
                    vec!["show"]
                ]
            ),
            (
                "other".to_owned(),
                [vec!["other"], vec!["other"], vec!["other"], vec![]]
            ),
        ],
        "the smallest source name names the feed"
    );
}

const INSTANCES: &str = r#"feeds = [
  { template = "two", name = "b" },
  { template = "two", name = "a" },
]
[sources.shared]
type = "udp"
bind = "0.0.0.0:5000"
[sources.b]
type = "udp"
bind = "0.0.0.0:5001"
[segmenters.b]
input = "b"
[playlists.b]
input = "b"
[templates.two]
sources.main = { type = "udp", bind = "0.0.0.0:0" }
sources.backup = { type = "http", url = "http://backup/{{feed}}.ts" }
segmenters.main = { input = "main" }
segmenters.backup = { input = "backup" }
segmenters.side = { input = "shared" }
playlists.main = { input = "main", name = "{{feed}}/main.m3u8", segment_name = "{{feed}}/m-{seq}.ts" }
playlists.backup = { input = "backup", name = "{{feed}}/b.m3u8", segment_name = "{{feed}}/b-{seq}.ts" }
playlists.side = { input = "side", name = "{{feed}}/s.m3u8", segment_name = "{{feed}}/s-{seq}.ts" }
sinks.own = { type = "local", inputs = ["main"], path = "/srv/{{feed}}" }
[sinks.web]
type = "local"
inputs = ["a.main", "a.backup", "b.main", "b.backup", "a.side", "b.side", "b"]
path = "/srv/live"
"#;

#[test]
fn a_template_instance_is_one_feed_named_after_it() {
    let feeds = feeds_of(&compiled(INSTANCES));
    assert_eq!(
        shown(&feeds),
        [
            (
                // Both instances read the top-level `shared`: one feed, named after the
                // smallest instance. Top-level `b` gets the id of instance `b`: owned with it.
                "a".to_owned(),
                [
                    vec!["a.backup", "a.main", "b.backup", "b.main", "shared"],
                    vec![
                        "a.backup", "a.main", "a.side", "b.backup", "b.main", "b.side"
                    ],
                    vec![
                        "a.backup", "a.main", "a.side", "b.backup", "b.main", "b.side"
                    ],
                    vec![]
                ]
            ),
            ("b".to_owned(), [vec!["b"], vec!["b"], vec!["b"], vec![]]),
        ]
    );
    // Without the shared source, each instance is its own feed, unlinked nodes included.
    let apart = INSTANCES.replace("input = \"shared\"", "input = \"main\"");
    let feeds = feeds_of(&compiled(&apart));
    let names: Vec<(String, [Vec<&str>; 4])> = shown(&feeds);
    assert_eq!(
        names,
        [
            (
                "a".to_owned(),
                [
                    vec!["a.backup", "a.main"],
                    vec!["a.backup", "a.main", "a.side"],
                    vec!["a.backup", "a.main", "a.side"],
                    vec![]
                ]
            ),
            (
                "b".to_owned(),
                [
                    vec!["b", "b.backup", "b.main"],
                    vec!["b", "b.backup", "b.main", "b.side"],
                    vec!["b", "b.backup", "b.main", "b.side"],
                    vec![]
                ]
            ),
            (
                "shared".to_owned(),
                [vec!["shared"], vec![], vec![], vec![]]
            ),
        ]
    );
}

#[test]
fn a_feed_without_a_source_is_named_after_its_smallest_node() {
    // Not a graph compile makes: a segmenter whose source is gone.
    let mut graph = two_cameras();
    graph.sources.remove("cam2");
    let feeds = feeds_of(&graph);
    assert_eq!(
        feeds.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&["cam1", "cam2"])
    );
    assert_eq!(feeds[&FeedId("cam2".to_owned())].sources, set(&[]));
    assert_eq!(feeds[&FeedId("cam2".to_owned())].playlists, set(&["cam2"]));
}

#[test]
fn restrict_keeps_the_owned_feeds_and_every_sink_filtered() {
    let graph = two_cameras();
    let only = restrict(&graph, &ids(&["cam2"]));
    assert_eq!(only.router, graph.router);
    assert_eq!(only.sources.keys().collect::<Vec<_>>(), ["cam2"]);
    assert_eq!(only.segmenters.keys().collect::<Vec<_>>(), ["cam2"]);
    assert_eq!(only.playlists.keys().collect::<Vec<_>>(), ["cam2"]);
    assert_eq!(only.sinks.keys().collect::<Vec<_>>(), ["archive", "web"]);
    assert_eq!(only.sinks["web"].inputs, ["cam2"]);
    assert!(only.sinks["archive"].inputs.is_empty());
    let mut expected = graph.sinks["web"].clone();
    expected.inputs = vec!["cam2".to_owned()];
    assert_eq!(
        only.sinks["web"], expected,
        "nothing else of a sink changes"
    );

    assert_eq!(
        restrict(&graph, &ids(&["cam1", "cam2"])),
        graph,
        "every feed"
    );
    assert_eq!(
        restrict(&graph, &ids(&["cam1", "cam2", "gone"])),
        graph,
        "an unknown id"
    );
    let none = restrict(&graph, &BTreeSet::new());
    assert!(none.sources.is_empty() && none.segmenters.is_empty() && none.playlists.is_empty());
    assert_eq!(none.sinks.len(), 2);
    assert!(none.sinks.values().all(|sink| sink.inputs.is_empty()));
}

#[test]
fn restrict_keeps_masters_with_their_feed() {
    let text = format!(
        "{}{}{}[masters.show]\nvariants = [\"low\", \"high\"]\n\
         [sinks.web]\ntype = \"local\"\ninputs = [\"other\", \"show\"]\npath = \"/srv\"\n",
        chain("low", 4001),
        chain("high", 4002),
        chain("other", 4003)
    );
    let graph = compiled(&text);
    assert_eq!(graph.sinks["web"].inputs, ["other", "low", "high"]);
    let show = restrict(&graph, &ids(&["high"]));
    assert_eq!(show.masters.keys().collect::<Vec<_>>(), ["show"]);
    assert_eq!(show.sinks["web"].inputs, ["low", "high"]);
    assert_eq!(show.sinks["web"].masters, ["show"]);
    let other = restrict(&graph, &ids(&["other"]));
    assert!(other.masters.is_empty());
    assert_eq!(other.sinks["web"].inputs, ["other"]);
    assert!(other.sinks["web"].masters.is_empty());
}

#[test]
fn restrict_keeps_a_template_instance_whole() {
    let graph = compiled(&INSTANCES.replace("input = \"shared\"", "input = \"main\""));
    let b = restrict(&graph, &ids(&["b"]));
    assert_eq!(
        b.sources.keys().collect::<Vec<_>>(),
        ["b", "b.backup", "b.main"]
    );
    assert_eq!(b.sinks["web"].inputs, ["b.main", "b.backup", "b.side", "b"]);
    assert!(
        b.sinks["a.own"].inputs.is_empty(),
        "another feed's sink stays, empty"
    );
    assert_eq!(b.sinks["b.own"].inputs, ["b.main"]);
}

#[test]
fn a_feed_id_shows_and_serialises_as_its_name() {
    let id = FeedId("ch01".to_owned());
    assert_eq!((id.to_string(), id.as_str()), ("ch01".to_owned(), "ch01"));
    assert_eq!(serde_json::to_value(&id).unwrap(), "ch01");
}

#[test]
fn only_template_instances_have_a_dot_in_their_names() {
    use super::super::model::template_feed;
    assert_eq!(template_feed("ch01.in"), Some("ch01"));
    assert_eq!(template_feed("cam"), None);
    let loaded = compile("[sources.\"a.b\"]\ntype = \"stdin\"\n");
    assert_eq!(
        super::errors_at(&loaded),
        [(
            1,
            "sources.a.b",
            "node name `a.b` may only use letters, digits, `_` and `-`"
        )]
    );
}
