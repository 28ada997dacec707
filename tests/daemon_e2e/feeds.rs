//! Feeds running in the daemon: a looping real-time file served over HTTP, UDP from ffmpeg,
//! a file that ends while another feed goes on, sequence numbers across restarts.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::m3u8::Playlist;
use crate::common::{ff, router};
use crate::daemon::{Daemon, free_udp_port, http_get, read_if_exists, wait_until, write_config};

fn segments_listed(path: &Path) -> usize {
    read_if_exists(path).map_or(0, |text| Playlist::parse(&text).uris().len())
}

/// One feed publishing `NAME.m3u8` (1 s target, `window` segments) into the directory `out`.
pub(crate) fn local_feed(name: &str, source: &str, out: &Path, window: usize) -> String {
    format!(
        r#"
[sources.{name}]
{source}

[segmenters.{name}]
input = "{name}"
target_duration = 1

[playlists.{name}]
input = "{name}"
name = "{name}.m3u8"
segment_name = "{name}-{{seq:05}}.ts"
window = {window}

[sinks.{name}_web]
type = "local"
inputs = ["{name}"]
path = "{out}"
"#,
        out = out.display()
    )
}

/// A real player (ffmpeg) reads two seconds of the live stream at `url` over HTTP.
fn assert_live_stream_plays(url: &str) {
    let ffmpeg = Command::new("ffmpeg")
        .args(["-v", "error", "-i", url, "-t", "2", "-f", "null", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg");
    assert!(
        ffmpeg.status.success(),
        "{}",
        String::from_utf8_lossy(&ffmpeg.stderr)
    );
}

#[test]
fn looping_file_is_served_live_over_http_and_ends_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live");
    let clip = router::data("h264_aac.ts");
    let source = format!(
        "type = \"file\"\npath = \"{}\"\nrealtime = true\nloop = true",
        clip.display()
    );
    let config = format!(
        "[router]\nserve = \"127.0.0.1:0\"\nstate_dir = \"{}\"\n{}",
        dir.path().join("state").display(),
        local_feed("cam", &source, &out, 6)
    );
    let config = write_config(dir.path(), "live.toml", &config);
    let mut daemon = Daemon::start(&config);
    let url = daemon.first_line(Duration::from_secs(10));
    assert!(url.ends_with("/cam_web/cam.m3u8"), "{url}");
    let playlist = out.join("cam.m3u8");
    wait_until("3 live segments", Duration::from_secs(20), || {
        segments_listed(&playlist) >= 3
    });

    let (status, headers, body) = http_get(&url);
    assert!(status.contains("200"), "{status}");
    let content_type = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str());
    assert_eq!(content_type, Some("application/vnd.apple.mpegurl"));
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("#EXT-X-PROGRAM-DATE-TIME:"), "{text}");
    assert!(
        !text.contains("#EXT-X-ENDLIST"),
        "live playlist must not be ended: {text}"
    );
    let first_segment = Playlist::parse(&text).uris()[0].to_owned();
    let (status, headers, _) = http_get(&url.replace("cam.m3u8", &first_segment));
    assert!(status.contains("200"), "{status}");
    assert!(headers.contains(&("content-type".into(), "video/mp2t".into())));

    // A real player reads the live stream over HTTP.
    assert_live_stream_plays(&url);

    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "exit {status:?}\n{logs}");
    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    for uri in Playlist::parse(&text).uris() {
        ff::assert_decodes_cleanly(&out.join(uri));
    }
}

#[test]
fn udp_from_ffmpeg_is_segmented() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("udp");
    let port = free_udp_port();
    let source = format!("type = \"udp\"\nbind = \"127.0.0.1:{port}\"");
    let config = write_config(dir.path(), "udp.toml", &local_feed("ch", &source, &out, 6));
    let daemon = Daemon::start(&config);
    wait_until("the daemon to start", Duration::from_secs(10), || {
        daemon.logs().contains("graph running")
    });
    let sender = Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-i"])
        .arg(router::data("h264_aac.ts"))
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(format!("udp://127.0.0.1:{port}?pkt_size=1316"))
        .stdin(Stdio::null())
        .status()
        .expect("ffmpeg sender");
    assert!(sender.success());
    let playlist = out.join("ch.m3u8");
    wait_until("segments from UDP", Duration::from_secs(10), || {
        segments_listed(&playlist) >= 5
    });
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    let text = std::fs::read_to_string(&playlist).unwrap();
    let parsed = Playlist::parse(&text);
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    assert!((parsed.total_duration() - 12.0).abs() < 1.5, "{text}");
    ff::assert_decodes_cleanly(&playlist);
}

#[test]
fn a_file_that_ends_gets_endlist_while_other_feeds_go_on_and_numbers_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let clip = router::data("h264_aac.ts");
    let once = format!("type = \"file\"\npath = \"{}\"", clip.display());
    let looping = format!(
        "type = \"file\"\npath = \"{}\"\nrealtime = true\nloop = true",
        clip.display()
    );
    let config = format!(
        "[router]\nstate_dir = \"{}\"\n{}{}",
        dir.path().join("state").display(),
        local_feed("once", &once, &out, 0),
        local_feed("live", &looping, &out, 6)
    );
    let config = write_config(dir.path(), "two.toml", &config);

    let mut daemon = Daemon::start(&config);
    let once_playlist = out.join("once.m3u8");
    wait_until("the finite feed to end", Duration::from_secs(10), || {
        read_if_exists(&once_playlist).is_some_and(|t| t.ends_with("#EXT-X-ENDLIST\n"))
    });
    let live_playlist = out.join("live.m3u8");
    let before = segments_listed(&live_playlist);
    wait_until("the live feed to go on", Duration::from_secs(10), || {
        segments_listed(&live_playlist) > before.max(2)
    });
    assert!(daemon.is_running());
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    let first_run = Playlist::parse(&std::fs::read_to_string(&live_playlist).unwrap());
    let last_uri: String = (*first_run.uris().last().unwrap()).to_owned();

    // Restarted, the live feed numbers on (no segment name is reused) and its window goes on
    // with what it listed, after a discontinuity.
    let daemon = Daemon::start(&config);
    wait_until(
        "a segment after the restart",
        Duration::from_secs(10),
        || {
            read_if_exists(&live_playlist)
                .map(|t| Playlist::parse(&t))
                .is_some_and(|p| p.uris().iter().any(|u| **u > *last_uri))
        },
    );
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    let text = std::fs::read_to_string(&live_playlist).unwrap();
    let second_run = Playlist::parse(&text);
    let uris = second_run.uris();
    let first_new = uris.iter().position(|u| **u > *last_uri).unwrap();
    assert_eq!(uris[first_new - 1], last_uri, "{text}");
    let mut sorted = uris.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, uris, "names only go up: {text}");
    assert!(text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
}

#[test]
fn the_shipped_quickstart_runs_and_plays_over_http() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/quickstart.toml");
    let mut daemon = Daemon::start_with(
        Path::new(config),
        &["--serve", "127.0.0.1:0", "--listen", "127.0.0.1:0"],
    );
    let url = daemon.first_line(Duration::from_secs(10));
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/web/index.m3u8"),
        "{url}"
    );
    wait_until("a playable live window", Duration::from_secs(20), || {
        let (status, _, body) = http_get(&url);
        status.contains("200")
            && Playlist::parse(&String::from_utf8_lossy(&body))
                .uris()
                .len()
                >= 2
    });
    assert_live_stream_plays(&url);
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
}

/// Playlists and segments in a subdirectory (as `many-feeds.toml` lays them out): the playlist
/// lists its segments relative to itself, so a player reading it from disk or HTTP finds them.
#[test]
fn a_playlist_in_a_subdirectory_lists_its_segments_relative_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("www");
    let config = format!(
        r#"
[sources.ch01]
type = "file"
path = "{clip}"

[segmenters.ch01]
input = "ch01"
target_duration = 2

[playlists.ch01]
input = "ch01"
name = "ch01/index.m3u8"
segment_name = "ch01/seg-{{seq:05}}.ts"

[sinks.web]
type = "local"
inputs = ["ch01"]
path = "{out}"
"#,
        clip = router::data("h264_aac.ts").display(),
        out = out.display()
    );
    let path = write_config(dir.path(), "sub.toml", &config);
    let daemon = Daemon::start(&path);
    let playlist = out.join("ch01/index.m3u8");
    wait_until("the final playlist", Duration::from_secs(20), || {
        read_if_exists(&playlist).is_some_and(|text| text.contains("#EXT-X-ENDLIST"))
    });
    let text = read_if_exists(&playlist).unwrap();
    let listed = Playlist::parse(&text);
    assert!(!listed.uris().is_empty());
    for uri in listed.uris() {
        assert!(
            uri.starts_with("seg-"),
            "{uri} should be relative to the playlist"
        );
        assert!(out.join("ch01").join(uri).exists(), "{uri} missing");
    }
    ff::assert_decodes_cleanly(&playlist);
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
}
