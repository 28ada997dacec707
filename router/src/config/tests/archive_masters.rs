//! Archive masters in `check`: `archive_name` is a pattern with a `{start…}` field, needs
//! every variant to archive on the same periods (an error at `archive_name` otherwise, a
//! warning without it), and must not give two archive masters alive at once one name.

use super::masters::{found, renditions_with};
use super::{graph, listing};

/// Master `show` over `low` and `high` with `master` keys, the variants archiving `every`
/// (`None`: no archive), published by sink `web`.
fn show(master: &str, low: Option<&str>, high: Option<&str>) -> super::Loaded {
    let archive = |name: &str, every: Option<&str>| {
        every.map_or_else(String::new, |every| {
            format!("[playlists.{name}.archive]\nevery = \"{every}\"\nretain = \"2h\"\n")
        })
    };
    renditions_with(&format!(
        "[masters.show]\nvariants = [\"low\", \"high\"]\n{master}\n\
         [sinks.web]\ntype = \"local\"\ninputs = [\"show\", \"solo\"]\npath = \"/srv/live\"\n{}{}",
        archive("low", low),
        archive("high", high)
    ))
}

#[test]
fn an_archive_name_is_kept_as_a_pattern() {
    let loaded = show(
        "archive_name = \"show/{start:%Y%m%d-%H}.m3u8\"",
        Some("1h"),
        Some("1h"),
    );
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    let name = graph(&loaded).masters["show"].archive_name.clone().unwrap();
    let start = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(3600);
    assert_eq!(name.render(start), "show/19700101-01.m3u8");
    let default = show("", Some("1h"), Some("1h"));
    assert!(
        default.diagnostics.is_empty(),
        "{}",
        listing(&default.diagnostics)
    );
    assert_eq!(graph(&default).masters["show"].archive_name, None);
}

#[test]
fn an_archive_name_without_a_start_field_is_refused_at_its_line() {
    let loaded = show(
        "archive_name = \"show-archive.m3u8\"",
        Some("1h"),
        Some("1h"),
    );
    let found = found(&loaded);
    assert_eq!(found.len(), 1, "{found:?}");
    let (line, key, message) = found[0];
    assert_eq!((line, key), (27, "masters.show.archive_name"));
    assert!(message.contains("must contain a `{start}`"), "{message}");
    assert!(loaded.graph.is_none());
}

#[test]
fn asked_for_archive_masters_need_every_variant_archiving_on_the_same_periods() {
    let loaded = show(
        "archive_name = \"show/{start}.m3u8\"",
        Some("1h"),
        Some("30m"),
    );
    assert_eq!(
        found(&loaded),
        [(
            27,
            "masters.show.archive_name",
            "archive masters need every variant to have an archive on the same periods \
             (`[playlists.NAME.archive]` with one `every`): `low` every 1h, `high` every 30m; \
             give them that, or leave `archive_name` out"
        )]
    );
    assert!(loaded.graph.is_none());
    let missing = show("archive_name = \"show/{start}.m3u8\"", Some("1h"), None);
    let found_missing = found(&missing);
    assert_eq!(found_missing.len(), 1, "{found_missing:?}");
    assert!(
        found_missing[0].2.contains("`high` no archive"),
        "{found_missing:?}"
    );
}

#[test]
fn without_an_archive_name_differing_periods_only_warn() {
    let loaded = show("", Some("1h"), Some("30m"));
    let found = found(&loaded);
    assert_eq!(found.len(), 1, "{found:?}");
    let (line, key, message) = found[0];
    assert_eq!((line, key), (26, "masters.show.variants"));
    assert!(message.contains("gets no archive masters"), "{message}");
    assert!(loaded.graph.is_some(), "a warning");
    // One variant without archives: simply none, nothing said.
    assert!(show("", Some("1h"), None).diagnostics.is_empty());
}

#[test]
fn an_archive_name_must_tell_the_periods_alive_at_once_apart() {
    let loaded = show(
        "archive_name = \"show/{start:%M}.m3u8\"",
        Some("1h"),
        Some("1h"),
    );
    let found = found(&loaded);
    assert_eq!(found.len(), 1, "{found:?}");
    let (line, key, message) = found[0];
    assert_eq!((line, key), (27, "masters.show.archive_name"));
    assert!(message.contains("the same name"), "{message}");
}

#[test]
fn an_archive_name_must_not_be_a_playlists_at_the_same_place() {
    let loaded = show(
        "archive_name = \"low/{start:%Y%m%dT%H%M%SZ}.m3u8\"",
        Some("1h"),
        Some("1h"),
    );
    let found = found(&loaded);
    assert_eq!(found.len(), 1, "{found:?}");
    let (line, key, message) = found[0];
    assert_eq!((line, key), (27, "masters.show.archive_name"));
    assert_eq!(
        message,
        "archive names `low/{start:%Y%m%dT%H%M%SZ}.m3u8` in /srv/live are those of playlist `low` (sink `web`) \
         too; give each its own archive name"
    );
}
