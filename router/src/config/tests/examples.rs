//! Every shipped example config compiles without an error, and means what its comments say.

use std::path::PathBuf;

use super::super::load;
use super::super::model::{Graph, Severity, SinkKind, SourceKind, TcpMode};
use super::listing;
use crate::publish::SegmentNamePattern;

/// The file name the publisher gives segment `sequence` of a pattern the config accepted.
fn segment_file(pattern: &str, sequence: u64) -> String {
    SegmentNamePattern::parse(pattern).unwrap().render(sequence)
}

fn configs_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../configs"))
}

/// Loads an example, failing on any error (and, unless allowed, any warning).
fn load_example(relative: &str) -> Graph {
    let loaded = load(&configs_dir().join(relative));
    let warnings: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    assert!(
        warnings.is_empty(),
        "{relative}:\n{}",
        listing(&loaded.diagnostics)
    );
    match loaded.graph {
        Some(graph) => graph,
        None => panic!("{relative}:\n{}", listing(&loaded.diagnostics)),
    }
}

#[test]
fn every_example_file_is_tested() {
    let mut names: Vec<String> = std::fs::read_dir(configs_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "conf.d",
            "many-feeds.toml",
            "quickstart.toml",
            "reference.toml"
        ]
    );
}

#[test]
fn quickstart_plays_the_sample_clip_into_a_local_directory() {
    let graph = load_example("quickstart.toml");
    let dir = configs_dir();
    let source = &graph.sources["clip"];
    assert_eq!(
        source.kind,
        SourceKind::File {
            path: dir.join("../tests/data/h264_aac.ts"),
            realtime: true,
            looped: true,
        }
    );
    let SourceKind::File { path, .. } = &source.kind else {
        unreachable!()
    };
    assert!(path.is_file(), "the sample clip exists: {}", path.display());
    assert_eq!(graph.segmenters["clip"].target_duration, 2.0);
    let playlist = &graph.playlists["clip"];
    assert_eq!(
        (playlist.file_name.as_str(), playlist.window),
        ("index.m3u8", 6)
    );
    assert_eq!(
        graph.sinks["web"].kind,
        SinkKind::Local {
            path: dir.join("../target/quickstart/live")
        }
    );
    assert_eq!(graph.sinks["web"].inputs, ["clip"]);
    assert_eq!(graph.router.serve, Some("127.0.0.1:8080".parse().unwrap()));
    assert_eq!(
        graph.router.state_dir,
        Some(dir.join("../target/quickstart/state"))
    );
}

#[test]
fn reference_has_every_source_kind_and_playlist_option() {
    let graph = load_example("reference.toml");
    let kinds: Vec<&str> = graph
        .sources
        .values()
        .map(|source| match source.kind {
            SourceKind::Stdin => "stdin",
            SourceKind::File { .. } => "file",
            SourceKind::Udp { group: None, .. } => "udp",
            SourceKind::Udp {
                group: Some(_),
                interface: Some(_),
                ..
            } => "udp multicast",
            SourceKind::Udp { .. } => "udp group only",
            SourceKind::Tcp(TcpMode::Listen(_)) => "tcp listen",
            SourceKind::Tcp(TcpMode::Connect(_)) => "tcp connect",
            SourceKind::Http { .. } => "http",
            SourceKind::Exec { .. } => "exec",
        })
        .collect();
    for kind in [
        "stdin",
        "file",
        "udp",
        "udp multicast",
        "tcp listen",
        "tcp connect",
        "http",
        "exec",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert_eq!(
        graph.router.state_dir,
        Some(PathBuf::from("/var/lib/streamrouter"))
    );
    let encoder = &graph.playlists["encoder"];
    assert_eq!(encoder.file_name, "stream-128k.m3u8");
    assert_eq!(
        segment_file(&encoder.segment_name, 42),
        "sample_128k-00042.ts"
    );
    assert_eq!(
        encoder.base_url.as_deref(),
        Some("http://cdn.example.com/stream0001/")
    );
    let archive = &graph.playlists["encoder_archive"];
    assert_eq!(
        (
            archive.window,
            archive.delete_expired,
            archive.endlist_on_stop
        ),
        (0, false, false)
    );
    assert_eq!(segment_file(&archive.segment_name, 7), "archive/seg-7.ts");
    assert_eq!(
        graph.playlists["pipe"].file_name, "pipe.m3u8",
        "default name"
    );
    assert_eq!(
        graph.playlists["pipe"].segment_name, "pipe-{seq:05}.ts",
        "default pattern"
    );
    assert_eq!(graph.sinks["web"].inputs.len(), graph.playlists.len());
}

#[test]
fn many_feeds_expands_one_line_per_feed() {
    let graph = load_example("many-feeds.toml");
    assert_eq!(graph.sources.len(), 10);
    assert_eq!(graph.sinks.len(), 10);
    for (index, source) in graph.sources.values().enumerate() {
        let SourceKind::Udp { bind, .. } = source.kind else {
            panic!("{source:?}")
        };
        assert_eq!(bind.port(), 40001 + index as u16, "{}", source.name);
    }
    let ch03 = &graph.playlists["ch03.hls"];
    assert_eq!(ch03.input, "ch03.seg");
    assert_eq!(ch03.file_name, "ch03/index.m3u8");
    assert_eq!(segment_file(&ch03.segment_name, 1), "ch03/seg-00001.ts");
    assert_eq!(graph.sinks["ch03.web"].inputs, ["ch03.hls"]);
    assert_eq!(graph.segmenters["ch03.seg"].target_duration, 4.0);
    assert_eq!(
        graph.segmenters["sport2.seg"].target_duration, 2.0,
        "extends + typed variable"
    );
    assert_eq!(graph.segmenters["sport2.seg"].input, "sport2.in");
    assert_eq!(graph.playlists["sport2.hls"].window, 8);
    assert_eq!(
        graph.playlists["sport2.hls"].file_name, "sport2/index.m3u8",
        "inherited key"
    );
}

#[test]
fn conf_d_merges_its_files() {
    let graph = load_example("conf.d");
    let names: Vec<&str> = graph.sources.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "a-news.in",
            "a-sport.in",
            "b-music.in",
            "b-talk.in",
            "studio"
        ]
    );
    assert_eq!(
        graph.sinks["b-talk.out"].kind,
        SinkKind::Local {
            path: PathBuf::from("/var/www/customer-b")
        }
    );
    assert_eq!(
        segment_file(&graph.playlists["studio"].segment_name, 3),
        "studio/seg-000003.ts"
    );
    assert_eq!(graph.router.serve, Some("127.0.0.1:8080".parse().unwrap()));
}
