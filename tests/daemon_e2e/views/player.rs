//! A finished archive and the DVR view played by hls.js in Debian's Chromium
//! (`tests/browser/play_hls.mjs`, playwright-core), from a local sink served by the daemon's
//! built-in HTTP server (`run --serve`): each plays past two segment boundaries with no fatal
//! error; hls.js takes the archive as VOD (ended) with the duration its #EXTINF lines add up to,
//! and the DVR view as a live playlist of 18–24 s. Archives are kept here for minutes, so
//! the one played is not deleted under the player.

use std::time::Duration;

use serde_json::json;

use super::store::Folder;
use super::{DVR, archives, config, is_finished, local_sink};
use crate::common::m3u8::Playlist;
use crate::daemon::{Daemon, wait_until, write_config};
use crate::watch_page::{play_with_hls_js, require_browser_tools, workspace};

#[test]
fn a_finished_archive_and_the_dvr_view_play_in_chromium_with_hls_js() {
    let browser_dir = workspace().join("tests/browser");
    require_browser_tools(&browser_dir);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let text = config(dir.path(), "5m", &local_sink(&out));
    let config = write_config(dir.path(), "player.toml", &text);
    let mut daemon = Daemon::start_with(&config, &["--serve", "127.0.0.1:0"]);
    let live_url = daemon.first_line(Duration::from_secs(10));
    let base = (live_url.strip_suffix("cam.m3u8"))
        .unwrap_or_else(|| panic!("served at {live_url}"))
        .to_owned();
    let store = Folder(out.clone());

    // A finished archive of at least 10 s (the first period may have started before the feed).
    let mut played = None;
    wait_until(
        "a finished archive of 10 s or more",
        Duration::from_secs(70),
        || {
            played = archives(&store)
                .into_iter()
                .find(|archive| is_finished(archive) && archive.playlist.total_duration() >= 10.0);
            played.is_some()
        },
    );
    let archive = played.unwrap();
    let duration = archive.playlist.total_duration();
    let dvr = Playlist::parse(&std::fs::read_to_string(out.join(DVR)).unwrap());
    assert!(
        dvr.total_duration() >= 10.0,
        "DVR of {} s",
        dvr.total_duration()
    );

    let spec = json!([
        {"name": "archive", "url": format!("{base}{}", archive.key), "vod": true, "duration": duration},
        {"name": "dvr", "url": format!("{base}{DVR}"), "vod": false},
    ]);
    let (result, context) = play_with_hls_js(&spec, &daemon);
    let [archive_seen, dvr_seen] = [&result["playlists"][0], &result["playlists"][1]];
    for seen in [archive_seen, dvr_seen] {
        assert!(
            seen["playback"]["played"].as_f64().unwrap_or(0.0) > 4.5,
            "{context}"
        );
    }
    assert_eq!(archive_seen["level"]["type"], "VOD", "{context}");
    assert_eq!(archive_seen["level"]["live"], false, "{context}");
    let hls_duration = archive_seen["level"]["totalduration"].as_f64().unwrap();
    assert!((hls_duration - duration).abs() < 0.05, "{context}");
    assert_eq!(dvr_seen["level"]["live"], true, "{context}");
    // hls.js sees the DVR view about as long as its duration (it reloads it while playing).
    let dvr_seconds = dvr_seen["level"]["totalduration"].as_f64().unwrap();
    assert!((18.0..=24.0).contains(&dvr_seconds), "{context}");
    assert!(daemon.is_running(), "{}", daemon.logs());
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
}
