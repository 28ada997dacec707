//! Every shipped example config compiles without an error, and means what its comments say.

use std::path::{Path, PathBuf};

use super::super::model::{
    Graph, LocalSettings, S3Settings, ScpSettings, Secret, Severity, SinkKind, SourceKind, TcpMode,
};
use super::super::{Environment, Loaded, load_with};
use super::{HOME, listing};
use crate::config::model::SrtMode;
use crate::playlist::SegmentNamePattern;

/// The file name the publisher gives segment `sequence` of a pattern the config accepted.
fn segment_file(pattern: &SegmentNamePattern, sequence: u64) -> String {
    pattern.render(sequence)
}

fn configs_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../configs"))
}

/// The variables the examples read, as a deployment sets them.
const EXAMPLE_VARS: [(&str, &str); 7] = [
    ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    (
        "AWS_SECRET_ACCESS_KEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    ("FTP_PASSWORD", "example-password"),
    ("SRT_CAM1_KEY", "example-cam1-key"),
    ("SRT_CAM2_KEY", "example-cam2-key"),
    ("SRT_STUDIO_KEY", "example-studio-key"),
    ("STREAMROUTER_NODE", "router-a"),
];

/// Loads an example with `~/` at [`HOME`] and the variables `vars`.
fn load_in(relative: &str, vars: &[(&str, &str)]) -> Loaded {
    let var = |name: &str| {
        let found = vars.iter().find(|(var, _)| *var == name);
        found.map(|(_, value)| (*value).to_owned())
    };
    let environment = Environment {
        home: Some(Path::new(HOME)),
        var: &var,
        read_file: &|path: &Path| std::fs::read_to_string(path),
    };
    load_with(&configs_dir().join(relative), &environment)
}

/// Loads an example with [`EXAMPLE_VARS`], failing on any error or warning.
fn load_example(relative: &str) -> Graph {
    let loaded = load_in(relative, &EXAMPLE_VARS);
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
    // The systemd unit is checked below; the cluster deployments (k8s/, systemd/) by the
    // daemon's end-to-end tests (cluster::examples); every other entry is a config.
    let mut names: Vec<String> = std::fs::read_dir(configs_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !["streamrouter.service", "k8s", "systemd"].contains(&name.as_str()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "cluster.toml",
            "conf.d",
            "encrypted.toml",
            "fmp4.toml",
            "ladder.toml",
            "many-feeds.toml",
            "quickstart.toml",
            "recordings.toml",
            "reference.toml",
            "remote-sinks.toml"
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
        SinkKind::Local(LocalSettings {
            path: dir.join("../target/quickstart/live")
        })
    );
    assert_eq!(graph.sinks["web"].inputs, ["clip"]);
    assert_eq!(graph.router.serve, Some("127.0.0.1:8080".parse().unwrap()));
    assert_eq!(
        graph.router.state_dir,
        Some(dir.join("../target/quickstart/state"))
    );
}

#[test]
fn fmp4_publishes_the_clip_as_fmp4_fragments_after_init_segments() {
    let graph = load_example("fmp4.toml");
    let playlist = &graph.playlists["clip"];
    assert_eq!(
        playlist.segment_format,
        crate::playlist::SegmentFormat::Fmp4
    );
    assert_eq!(playlist.init_name, "clip-init-{n}.mp4");
    assert_eq!(segment_file(&playlist.segment_name, 7), "clip-00007.m4s");
    assert!(playlist.repeat_ts_headers);
    assert_eq!(graph.sinks["web"].inputs, ["clip"]);
}

#[test]
fn encrypted_keeps_its_keys_in_their_own_sink() {
    let graph = load_example("encrypted.toml");
    let encryption = graph.playlists["clip"].encryption.as_ref().unwrap();
    assert_eq!(encryption.rotate_every, 3);
    assert_eq!(encryption.key_sink.as_deref(), Some("keys"));
    assert_eq!(encryption.key_name.render(5), "clip-0005.key");
    let uri = encryption.key_uri.as_ref().unwrap().render(5);
    // Served by the built-in server, which serves sink NAME under /NAME/.
    let serve = graph.router.serve.unwrap();
    assert_eq!(uri, format!("http://{serve}/keys/clip-0005.key"));
    assert!(graph.sinks["keys"].inputs.is_empty());
    assert_eq!(graph.sinks["web"].inputs, ["clip"]);
    assert!(graph.router.state_dir.is_some());
}

#[test]
fn recordings_has_a_dvr_view_and_archives_next_to_the_live_window() {
    let graph = load_example("recordings.toml");
    let playlist = &graph.playlists["clip"];
    assert_eq!(playlist.window, 6);
    let dvr = playlist.dvr.as_ref().expect("a DVR view");
    assert_eq!(
        (dvr.file_name.as_str(), dvr.duration),
        ("index-dvr.m3u8", std::time::Duration::from_secs(30 * 60))
    );
    let archive = playlist.archive.as_ref().expect("archives");
    assert_eq!(archive.every, std::time::Duration::from_secs(600));
    assert_eq!(archive.retain, Some(std::time::Duration::from_secs(86_400)));
    let start = humantime::parse_rfc3339("2026-12-02T10:10:00Z").unwrap();
    assert_eq!(archive.name.render(start), "clip/20261202T101000Z.m3u8");
    // Segments, playlists and archives go to the directory the comments' URLs serve.
    assert_eq!(graph.router.serve, Some("127.0.0.1:8081".parse().unwrap()));
    assert_eq!(graph.sinks["web"].inputs, ["clip"]);
    assert!(graph.router.state_dir.is_some(), "archives need state_dir");
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
            SourceKind::Udp(udp) => match (udp.group(), udp.interface()) {
                (None, _) => "udp",
                (Some(_), Some(_)) => "udp multicast",
                (Some(_), None) => "udp group only",
            },
            SourceKind::Tcp(TcpMode::Listen(_)) => "tcp listen",
            SourceKind::Tcp(TcpMode::Connect(_)) => "tcp connect",
            SourceKind::Http { .. } => "http",
            SourceKind::Exec { .. } => "exec",
            SourceKind::Srt(ref srt) => match srt.mode {
                SrtMode::Listener { .. } => "srt listener",
                SrtMode::Caller { .. } => "srt caller",
                SrtMode::Rendezvous { .. } => "srt rendezvous",
            },
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
        "srt listener",
        "srt caller",
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
    let dvr = encoder.dvr.as_ref().expect("a DVR view");
    assert_eq!(
        (dvr.file_name.as_str(), dvr.duration),
        ("stream-128k-dvr.m3u8", std::time::Duration::from_secs(7200))
    );
    let views = encoder.archive.as_ref().expect("an archive view");
    assert_eq!(
        (views.every, views.name.as_str(), views.retain),
        (
            std::time::Duration::from_secs(3600),
            "recordings/{start:%Y%m%dT%H%M%SZ}.m3u8",
            Some(std::time::Duration::from_secs(7 * 86_400))
        )
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
        graph.playlists["pipe"].segment_name.as_str(),
        "pipe-{seq:05}.ts",
        "default pattern"
    );
    assert_eq!(graph.sinks["web"].inputs.len(), graph.playlists.len());
}

#[test]
fn reference_has_a_master_published_by_a_sink() {
    let graph = load_example("reference.toml");
    let variants = ["cam1_low", "cam1_mid", "cam1_high"];
    let master = &graph.masters["stream0001"];
    assert_eq!(master.variants, variants);
    assert_eq!(master.file_name, "stream0001.m3u8");
    let web = &graph.sinks["web"];
    assert_eq!(web.masters, ["stream0001"]);
    assert!(web.inputs.ends_with(&variants.map(str::to_owned)));
    for variant in variants {
        let segmenter = &graph.segmenters[&graph.playlists[variant].input];
        assert!(segmenter.aligned, "{variant}");
        assert_eq!(segmenter.target_duration, 4.0, "{variant}");
    }
    assert!(
        !graph.segmenters["encoder"].aligned,
        "a segmenter of no master cuts as before"
    );
}

#[test]
fn reference_has_every_sink_kind_with_every_key() {
    let graph = load_example("reference.toml");
    let SinkKind::S3(cdn) = &graph.sinks["cdn"].kind else {
        panic!("cdn is an s3 sink")
    };
    assert_eq!(
        (
            cdn.bucket.as_str(),
            cdn.prefix.as_str(),
            cdn.region.as_str()
        ),
        ("ionlivestream", "stream0001/", "us-east-1")
    );
    assert_eq!(cdn.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(cdn.access_key_id, Some(Secret::new("AKIDEXAMPLE")));
    assert!(cdn.secret_access_key.is_some());
    assert_eq!(cdn.acl.as_deref(), Some("public-read"));
    let SinkKind::Ftp(partner) = &graph.sinks["partner"].kind else {
        panic!("partner is an ftp sink")
    };
    assert_eq!(
        (partner.host.as_str(), partner.port, partner.user.as_str()),
        ("ftp.example.com", 21, "streamrouter")
    );
    assert_eq!(partner.password, Some(Secret::new("example-password")));
    assert_eq!(
        (partner.directory.as_str(), partner.tls),
        ("live/stream0001", true)
    );
    let SinkKind::Scp(origin) = &graph.sinks["origin"].kind else {
        panic!("origin is an scp sink")
    };
    assert_eq!(
        (origin.host.as_str(), origin.port, origin.user.as_str()),
        ("origin.example.com", 22, "streamrouter")
    );
    assert_eq!(origin.key_file, Path::new(HOME).join(".ssh/id_ed25519"));
    assert_eq!(origin.directory, "/var/www/live/stream0001");
    assert_eq!(origin.known_hosts, Path::new(HOME).join(".ssh/known_hosts"));
    // Without its variables, the file says which ones it needs.
    let loaded = load_in("reference.toml", &[]);
    let unset: Vec<(&str, &str)> = loaded
        .errors()
        .map(|d| (d.key.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        unset,
        [
            (
                "sources.srt_cam1.passphrase",
                "environment variable SRT_CAM1_KEY is not set"
            ),
            (
                "sources.srt_cam2.passphrase",
                "environment variable SRT_CAM2_KEY is not set"
            ),
            (
                "sources.srt_studio.passphrase",
                "environment variable SRT_STUDIO_KEY is not set"
            ),
            (
                "sinks.cdn.access_key_id",
                "environment variable AWS_ACCESS_KEY_ID is not set"
            ),
            (
                "sinks.cdn.secret_access_key",
                "environment variable AWS_SECRET_ACCESS_KEY is not set"
            ),
            (
                "sinks.partner.password",
                "environment variable FTP_PASSWORD is not set"
            ),
        ]
    );
}

#[test]
fn remote_sinks_publish_each_camera_under_its_own_prefix() {
    let graph = load_example("remote-sinks.toml");
    assert_eq!(graph.sinks.len(), 4);
    assert_eq!(
        graph.sinks["cam2.bucket"].kind,
        SinkKind::S3(S3Settings {
            bucket: "live".to_owned(),
            prefix: "cam2/".to_owned(),
            region: "us-east-1".to_owned(),
            endpoint: Some("http://127.0.0.1:9000".to_owned()),
            access_key_id: Some(Secret::new(EXAMPLE_VARS[0].1)),
            secret_access_key: Some(Secret::new(EXAMPLE_VARS[1].1)),
            acl: Some("public-read".to_owned()),
        })
    );
    assert_eq!(graph.sinks["cam2.bucket"].inputs, ["cam2.hls"]);
    assert_eq!(
        graph.sinks["cam1.origin"].kind,
        SinkKind::Scp(ScpSettings {
            host: "origin.example.com".to_owned(),
            port: 22,
            user: "streamrouter".to_owned(),
            key_file: Path::new(HOME).join(".ssh/id_ed25519"),
            directory: "/var/www/live/cam1".to_owned(),
            known_hosts: Path::new(HOME).join(".ssh/known_hosts"),
        })
    );
}

#[test]
fn many_feeds_expands_one_line_per_feed() {
    let graph = load_example("many-feeds.toml");
    assert_eq!(graph.sources.len(), 10);
    assert_eq!(graph.sinks.len(), 10);
    for (index, source) in graph.sources.values().enumerate() {
        let SourceKind::Udp(udp) = source.kind else {
            panic!("{source:?}")
        };
        assert_eq!(udp.bind().port(), 40001 + index as u16, "{}", source.name);
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
fn cluster_shares_three_looping_feeds_through_etcd() {
    let graph = load_example("cluster.toml");
    let cluster = graph.router.cluster.clone().unwrap();
    assert_eq!(cluster.endpoints, ["http://127.0.0.1:2379"]);
    assert_eq!(
        cluster.node.as_deref(),
        Some("router-a"),
        "from STREAMROUTER_NODE"
    );
    assert_eq!(cluster.lease, std::time::Duration::from_secs(5));
    assert_eq!(cluster.name, "streamrouter");
    assert_eq!(
        (cluster.user, cluster.password, cluster.ca_file),
        (None, None, None)
    );
    assert_eq!(
        graph.router.state_dir,
        Some(PathBuf::from("/var/lib/streamrouter"))
    );
    let feeds: Vec<String> = (crate::config::feeds_of(&graph).into_keys())
        .map(|id| id.to_string())
        .collect();
    assert_eq!(feeds, ["ch1", "ch2", "ch3"]);
    let clip = configs_dir().join("../tests/data/h264_aac.ts");
    for feed in ["ch1", "ch2", "ch3"] {
        let source = &graph.sources[&format!("{feed}.in")];
        let looping = SourceKind::File {
            path: clip.clone(),
            realtime: true,
            looped: true,
        };
        assert_eq!(source.kind, looping, "{feed}");
        let playlist = &graph.playlists[&format!("{feed}.hls")];
        assert_eq!(playlist.file_name, format!("{feed}/index.m3u8"));
    }
    assert!(clip.is_file(), "the sample clip exists: {}", clip.display());
    assert_eq!(graph.sinks["web"].inputs, ["ch1.hls", "ch2.hls", "ch3.hls"]);
    let unset = load_in("cluster.toml", &EXAMPLE_VARS[..6]);
    let errors: Vec<String> = unset
        .errors()
        .map(|d| format!("{}: {}", d.key, d.message))
        .collect();
    assert_eq!(
        errors,
        ["cluster.node: environment variable STREAMROUTER_NODE is not set"],
        "a deployment sets it"
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
        SinkKind::Local(LocalSettings {
            path: PathBuf::from("/var/www/customer-b")
        })
    );
    assert_eq!(
        segment_file(&graph.playlists["studio"].segment_name, 3),
        "studio/seg-000003.ts"
    );
    assert_eq!(graph.router.serve, Some("127.0.0.1:8080".parse().unwrap()));
}

/// The shipped systemd unit runs the daemon on the config directory, reloads it with SIGHUP
/// (hot reload) and stops it with SIGTERM (open segments finished).
#[test]
fn the_service_unit_runs_reloads_and_stops_the_daemon() {
    let unit = std::fs::read_to_string(configs_dir().join("streamrouter.service")).unwrap();
    let value = |key: &str| {
        unit.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key}= in the unit"))
            .trim()
            .to_owned()
    };
    let start = value("ExecStart");
    assert!(
        start.contains("streamrouter run /etc/streamrouter"),
        "{start}"
    );
    assert_eq!(value("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(value("KillSignal"), "SIGTERM");
    assert!(unit.contains("[Install]"));
}
