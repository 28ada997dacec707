//! Masters at sinks: inputs naming playlists or masters, a playlist in several masters, the
//! file a master writes colliding with another at one place, and which nodes are unused.

use super::super::model::Severity;
use super::masters::{found, renditions_with};
use super::{graph, listing};

#[test]
fn a_playlist_may_be_a_variant_of_several_masters() {
    let loaded = renditions_with(
        r#"
[masters.both]
variants = ["low", "high"]
[masters.small]
variants = ["low"]

[sinks.web]
type = "local"
inputs = ["both", "small", "solo"]
path = "/srv/live"
"#,
    );
    let graph = graph(&loaded);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(graph.sinks["web"].inputs, ["low", "high", "solo"]);
    assert_eq!(graph.sinks["web"].masters, ["both", "small"]);
    assert_eq!(graph.masters["small"].variants, ["low"]);
}

#[test]
fn a_master_file_must_not_be_another_file_of_its_sink() {
    let loaded = renditions_with(
        r#"
[masters.show]
variants = ["low", "high"]
name = "low.m3u8"
[masters.again]
variants = ["high"]
name = "low.m3u8"

[sinks.web]
type = "local"
inputs = ["solo", "low", "show", "again"]
path = "/srv/live"

[sinks.elsewhere]
type = "local"
inputs = ["again"]
path = "/srv/other"
"#,
    );
    assert_eq!(
        found(&loaded),
        [
            (
                28,
                "masters.show.name",
                "`low.m3u8` in /srv/live is also written by playlist `low` (sink `web`)"
            ),
            (
                31,
                "masters.again.name",
                "`low.m3u8` in /srv/live is also written by playlist `low` (sink `web`)"
            ),
        ],
        "{}: `again` alone at /srv/other is fine",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn two_masters_writing_one_file_at_one_place_collide() {
    let loaded = renditions_with(
        r#"
[masters.first]
variants = ["low"]
[masters.second]
variants = ["high"]
name = "first.m3u8"

[sinks.web]
type = "local"
inputs = ["first", "solo"]
path = "/srv/live"
[sinks.web2]
type = "local"
inputs = ["second"]
path = "/srv/live/"
"#,
    );
    assert_eq!(
        found(&loaded),
        [(
            30,
            "masters.second.name",
            "`first.m3u8` in /srv/live/ is also written by master `first` (sink `web`)"
        )],
        "{}",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn sink_inputs_name_playlists_or_masters() {
    let loaded = renditions_with(
        r#"
[masters.show]
variants = ["low", "high"]

[sinks.web]
type = "local"
inputs = ["shwo", "solo", "nothing", "low"]
path = "/srv/live"
"#,
    );
    assert_eq!(
        found(&loaded),
        [
            (
                31,
                "sinks.web.inputs",
                "no playlist or master named `shwo`; did you mean `show`?"
            ),
            (
                31,
                "sinks.web.inputs",
                "no playlist or master named `nothing`"
            ),
        ],
        "the master meant by `shwo` and its variants are not reported unused as well"
    );
}

#[test]
fn a_playlist_and_a_master_of_one_name_cannot_be_told_apart_in_a_sink() {
    let loaded = renditions_with(
        r#"
[masters.solo]
variants = ["low", "high"]
name = "solo-master.m3u8"

[sinks.web]
type = "local"
inputs = ["solo"]
path = "/srv/live"
"#,
    );
    assert_eq!(
        found(&loaded),
        [(
            32,
            "sinks.web.inputs",
            "`solo` is both a playlist and a master; give them different names"
        )]
    );
}

#[test]
fn variants_count_as_published_only_through_a_published_master() {
    let loaded = renditions_with(
        r#"
[masters.show]
variants = ["low", "high"]
[masters.spare]
variants = ["solo"]

[sinks.web]
type = "local"
inputs = ["show"]
path = "/srv/live"
"#,
    );
    assert_eq!(
        found(&loaded),
        [
            (
                23,
                "playlists.solo",
                "playlist is not published by any sink"
            ),
            (28, "masters.spare", "master is not published by any sink"),
        ]
    );
    assert!(
        loaded
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning)
    );
    assert!(
        graph(&loaded).segmenters["solo"].aligned,
        "a variant of any master is cut aligned, published or not"
    );
}
