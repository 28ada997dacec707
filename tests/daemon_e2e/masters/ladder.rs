//! The shipped `configs/ladder.toml`: it checks, runs, and its master plays.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::ff;
use crate::common::m3u8::Playlist;
use crate::daemon::{Daemon, http_get, read_if_exists};

use super::*;

// ---------------------------------------------------------------------- configs/ladder.toml ---

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn the_shipped_ladder_config_checks_and_graphs() {
    let config = repo_root().join("configs/ladder.toml");
    let config = config.to_str().unwrap();
    let check = crate::common::router::streamrouter(&["check", config]);
    check.assert_success();
    assert!(
        !check.stderr.contains("warning") && !check.stdout.contains("warning"),
        "{}{}",
        check.stdout,
        check.stderr
    );
    assert!(check.stdout.contains("1 masters"), "{}", check.stdout);
    let graph = crate::common::router::streamrouter(&["graph", config]);
    graph.assert_success();
    for node in ["low", "mid", "high", "ladder"] {
        assert!(graph.stdout.contains(node), "{node}:\n{}", graph.stdout);
    }
}

#[test]
fn the_shipped_ladder_config_runs_and_its_master_plays() {
    ff::require_tools();
    // Where the shipped config publishes (like the quickstart test, under the repository's
    // target/); emptied first, with the state of an earlier run (whose playlists would go on
    // listing what it published), so that the master seen is this run's.
    let live = repo_root().join("target/ladder/live");
    let _ = std::fs::remove_dir_all(&live);
    let _ = std::fs::remove_dir_all(repo_root().join("target/ladder/state"));
    let master_path = live.join("ladder.m3u8");
    // From the repository root: the config's `exec` commands name the sample clip relative to it.
    let config = Path::new("configs/ladder.toml");
    let mut daemon = Daemon::start_in(&repo_root(), config, &["--serve", "127.0.0.1:0"]);
    let url = daemon.first_line(Duration::from_secs(15));
    wait_for(
        &mut daemon,
        "the master playlist",
        Duration::from_secs(30),
        |_| master_path.is_file(),
    );
    let playlists: Vec<PathBuf> = ["low", "mid", "high"]
        .iter()
        .map(|n| live.join(format!("{n}.m3u8")))
        .collect();
    wait_for(
        &mut daemon,
        "two segments per rendition",
        Duration::from_secs(30),
        |_| {
            playlists
                .iter()
                .all(|p| read_if_exists(p).is_some_and(|t| Playlist::parse(&t).entries.len() >= 2))
        },
    );
    // Served over HTTP next to the variants.
    let base = &url[..url.find("/web/").expect("the sink `web` is served") + 5];
    let (status, headers, body) = http_get(&format!("{base}ladder.m3u8"));
    assert!(status.contains("200"), "{status}");
    assert!(
        headers.contains(&(
            "content-type".into(),
            "application/vnd.apple.mpegurl".into()
        )),
        "{headers:?}"
    );
    let served = String::from_utf8(body).unwrap();
    let master = Master::parse(&served);
    let uris: Vec<&str> = master.variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(uris, ["low.m3u8", "mid.m3u8", "high.m3u8"], "{served}");
    println!("ladder.m3u8:\n{served}");
    let sizes: Vec<Option<(u32, u32)>> = master.variants.iter().map(|v| v.resolution()).collect();
    assert_eq!(
        sizes,
        [Some((192, 144)), Some((256, 192)), Some((320, 240))],
        "{served}"
    );
    for variant in &master.variants {
        let codecs = variant.codecs();
        assert!(
            codecs.len() == 2 && codecs[0].starts_with("avc1.64") && codecs[1] == "mp4a.40.2",
            "libx264's default profile is High: {served}"
        );
    }
    let averages: Vec<u64> = master
        .variants
        .iter()
        .map(|v| v.number("AVERAGE-BANDWIDTH"))
        .collect();
    assert!(averages.windows(2).all(|w| w[0] < w[1]), "{served}");

    let (status, logs) = daemon.stop(Duration::from_secs(20));
    assert!(status.success(), "exit {status:?}:\n{}", tail(&logs, 60));
    assert!(
        !logs.contains("variants not aligned"),
        "{}",
        tail(&logs, 60)
    );
    for playlist in &playlists {
        assert_segment_uris_resolve(playlist);
    }
    let messages = decode_all_streams(&master_path);
    assert!(
        messages.is_empty(),
        "decoding {}:\n{messages}",
        master_path.display()
    );
}
