//! The daemon publishing to real remote servers on 127.0.0.1: an S3-compatible server and an
//! FTP server, started by the test. Checks what a player and a CDN would see: the objects, their
//! Content-Type and Cache-Control, and playback with ffmpeg.

use std::time::Duration;

use crate::common::m3u8::Playlist;
use crate::common::{ff, router};
use crate::daemon::{
    Daemon, http_get, http_request, wait_for_final_playlist, wait_until, write_config,
};
use crate::inputs::assert_numbering_goes_on;
use crate::proxy::Proxy;
use crate::servers;

/// A finite feed of the sample clip (2 s segments, playlist `clip` keeping everything) and
/// `sinks`.
pub(crate) fn feed_config(sink: &str) -> String {
    format!(
        r#"[sources.clip]
type = "file"
path = "{clip}"

[segmenters.clip]
input = "clip"
target_duration = 2

[playlists.clip]
input = "clip"
name = "index.m3u8"
window = 0

{sink}"#,
        clip = router::data("h264_aac.ts").display()
    )
}

/// An S3 server with one bucket, and its base URL.
pub(crate) fn s3_with_bucket(bucket: &str) -> (servers::Server, String) {
    let server = servers::s3();
    let base = format!("http://127.0.0.1:{}", server.port);
    let (status, _, _) = http_request("PUT", &format!("{base}/{bucket}"));
    assert!(status.contains("200"), "create bucket: {status}");
    (server, base)
}

/// The value of response header `name` (lowercase), if sent.
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn s3_gets_objects_with_hls_headers_and_they_play() {
    let (_server, base) = s3_with_bucket("live");
    let dir = tempfile::tempdir().unwrap();
    let sink = format!(
        r#"[sinks.cdn]
type = "s3"
inputs = ["clip"]
bucket = "live"
prefix = "stream0001/"
region = "us-east-1"
endpoint = "{base}"
access_key_id = "${{TEST_S3_KEY}}"
secret_access_key = "${{TEST_S3_SECRET}}"
acl = "public-read"
"#
    );
    let config = write_config(dir.path(), "s3.toml", &feed_config(&sink));
    let daemon = Daemon::start_with_env(
        &config,
        &[
            ("TEST_S3_KEY", "testing"),
            ("TEST_S3_SECRET", "very-secret-value"),
        ],
    );
    let playlist_url = format!("{base}/live/stream0001/index.m3u8");
    let (_, headers, body) = wait_for_final_playlist(&playlist_url, Duration::from_secs(20));
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert!(
        header(&headers, "cache-control").is_some_and(|v| v.starts_with("max-age=")),
        "{headers:?}"
    );
    let playlist = Playlist::parse(&String::from_utf8(body).unwrap());
    assert!((playlist.total_duration() - 12.0).abs() < 0.1);
    for uri in playlist.uris() {
        let (status, headers, _) = http_request("HEAD", &format!("{base}/live/stream0001/{uri}"));
        assert!(status.contains("200"), "{uri}: {status}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("video/mp2t"),
            "{uri}"
        );
        assert!(header(&headers, "cache-control").is_some_and(|v| v.contains("immutable")));
    }
    // Objects are public-read (the `acl`): a player reads the stream straight from the bucket.
    ff::assert_decodes_cleanly(std::path::Path::new(&playlist_url));
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    assert!(!logs.contains("very-secret-value"), "a secret was logged");
}

#[test]
fn ftp_gets_the_stream_with_no_partial_files() {
    let root = tempfile::tempdir().unwrap();
    let server = servers::ftp(root.path(), "streamer", "ftp-password");
    let dir = tempfile::tempdir().unwrap();
    let sink = format!(
        r#"[sinks.partner]
type = "ftp"
inputs = ["clip"]
host = "127.0.0.1"
port = {port}
user = "streamer"
password = "${{TEST_FTP_PASSWORD}}"
directory = "live"
"#,
        port = server.port
    );
    let config = write_config(dir.path(), "ftp.toml", &feed_config(&sink));
    let daemon = Daemon::start_with_env(&config, &[("TEST_FTP_PASSWORD", "ftp-password")]);
    let playlist = root.path().join("live/index.m3u8");
    wait_until(
        "the final playlist on the FTP server",
        Duration::from_secs(20),
        || std::fs::read_to_string(&playlist).is_ok_and(|t| t.ends_with("#EXT-X-ENDLIST\n")),
    );
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    assert!(!logs.contains("ftp-password"), "a secret was logged");
    let parsed = Playlist::parse(&std::fs::read_to_string(&playlist).unwrap());
    assert!((parsed.total_duration() - 12.0).abs() < 0.1);
    ff::assert_decodes_cleanly(&playlist);
    router::assert_no_temp_files(&root.path().join("live"));
}

#[test]
fn scp_gets_the_stream_over_sftp_with_the_host_key_checked() {
    let dir = tempfile::tempdir().unwrap();
    let ssh = servers::ssh(dir.path());
    let remote = dir.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    let sink = format!(
        r#"[sinks.origin]
type = "scp"
inputs = ["clip"]
host = "127.0.0.1"
port = {port}
user = "{user}"
key_file = "{key}"
directory = "{remote}"
"#,
        port = ssh.port(),
        user = ssh.user,
        key = ssh.key_file.display(),
        remote = remote.display()
    );
    let config = write_config(dir.path(), "scp.toml", &feed_config(&sink));
    let daemon = Daemon::start(&config);
    let playlist = remote.join("index.m3u8");
    wait_until(
        "the final playlist on the SSH server",
        Duration::from_secs(30),
        || std::fs::read_to_string(&playlist).is_ok_and(|t| t.ends_with("#EXT-X-ENDLIST\n")),
    );
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    let parsed = Playlist::parse(&std::fs::read_to_string(&playlist).unwrap());
    assert!((parsed.total_duration() - 12.0).abs() < 0.1);
    ff::assert_decodes_cleanly(&playlist);
    router::assert_no_temp_files(&remote);
}

/// A live feed `cam`: the sample clip looped in real time, 1 s segments, a playlist
/// `index.m3u8` with `window`, and `sinks`.
pub(crate) fn live_feed_config(window: usize, sinks: &str) -> String {
    format!(
        r#"[sources.cam]
type = "file"
path = "{clip}"
realtime = true
loop = true

[segmenters.cam]
input = "cam"
target_duration = 1

[playlists.cam]
input = "cam"
name = "index.m3u8"
window = {window}

{sinks}"#,
        clip = router::data("h264_aac.ts").display()
    )
}

/// What a remote sink's spool must do during an outage.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spool {
    /// Everything unsent fits: some of it spills to disk, nothing is lost.
    Holds,
    /// The spool overflows: the oldest unsent segments are dropped and listed as EXT-X-GAP.
    Overflows,
}

/// A remote sink for the outage test: its node name, its config and how to see its objects.
struct RemoteSink<'a> {
    name: &'a str,
    config: String,
    listing: &'a dyn Fn() -> Option<String>,
    exists: &'a dyn Fn(&str) -> bool,
}

/// Runs a live feed to `remote` (reached through `proxy`) and a local sink, cuts the proxy for
/// 20 s, and checks that the local sink went on meanwhile, that the remote one caught up, and
/// that its final playlist lists every segment number, each stored unless the spool
/// overflowed, where the dropped ones are listed as EXT-X-GAP.
fn outage_is_survived(proxy: &Proxy, remote: &RemoteSink<'_>, spool: Spool) {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let state = dir.path().join("state");
    let config = format!(
        "[router]\nstate_dir = \"{state}\"\n\n{feed}\n[sinks.disk]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{local}\"\n",
        state = state.display(),
        feed = live_feed_config(0, &remote.config),
        local = local.display()
    );
    let config = write_config(dir.path(), "outage.toml", &config);
    let daemon = Daemon::start(&config);
    let uris = |text: Option<String>| -> Vec<String> {
        text.map(|t| {
            Playlist::parse(&t)
                .uris()
                .iter()
                .map(|u| (*u).to_owned())
                .collect()
        })
        .unwrap_or_default()
    };
    let local_listed = || uris(std::fs::read_to_string(local.join("index.m3u8")).ok());
    wait_until(
        "segments on the remote sink",
        Duration::from_secs(20),
        || uris((remote.listing)()).len() >= 3,
    );

    proxy.set_down(true);
    let local_before = local_listed();
    let spool_dir = state.join("journal").join(remote.name).join("segments");
    let mut most_spooled = 0;
    let outage_end = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < outage_end {
        let spooled = std::fs::read_dir(&spool_dir).map_or(0, |files| files.count());
        most_spooled = most_spooled.max(spooled);
        std::thread::sleep(Duration::from_millis(200));
    }
    let local_during = local_listed();
    assert!(
        local_during.last() > local_before.last(),
        "the local sink must go on while the remote one is down: {local_before:?} → {local_during:?}"
    );
    assert!(
        most_spooled > 0,
        "segments waiting beyond the memory budget spill to {}",
        spool_dir.display()
    );
    proxy.set_down(false);

    let newest_local = local_listed().last().cloned().unwrap();
    wait_until(
        "the remote sink to catch up",
        Duration::from_secs(30),
        || {
            uris((remote.listing)())
                .last()
                .is_some_and(|last| *last >= newest_local)
        },
    );
    let (status, logs) = daemon.stop(Duration::from_secs(20));
    assert!(status.success(), "{logs}");
    let left = std::fs::read_dir(&spool_dir).map_or(0, |files| files.count());
    assert_eq!(
        left,
        0,
        "every journaled segment was sent: {}",
        spool_dir.display()
    );
    let text = (remote.listing)().expect("final playlist");
    let final_playlist = Playlist::parse(&text);
    assert!(final_playlist.endlist, "{text}");
    for entry in final_playlist.entries.iter().filter(|entry| !entry.gap) {
        let uri = &entry.uri;
        assert!((remote.exists)(uri), "{uri} is listed but missing");
    }
    match spool {
        Spool::Holds => {
            // (Discontinuities remain where the looped clip starts over.)
            assert_numbering_goes_on(&final_playlist);
            assert!(!logs.contains("spool full"), "{logs}");
        }
        Spool::Overflows => {
            assert!(logs.contains("spool full"), "{logs}");
            assert_numbering_goes_on(&final_playlist);
            let gaps = final_playlist
                .entries
                .iter()
                .filter(|entry| entry.gap)
                .count();
            assert!(gaps > 0, "an overflowing spool drops segments: {text}");
            assert_eq!(final_playlist.version, Some(8), "{text}");
        }
    }
}

#[test]
fn an_s3_outage_spills_to_the_spool_and_loses_nothing_and_blocks_no_one() {
    let (server, base) = s3_with_bucket("live");
    let proxy = Proxy::start(server.port);
    // About 0.7 MB arrive during the outage: a quarter of the limit stays in memory, the rest
    // spills to disk, and all of it fits.
    let config = format!(
        r#"[sinks.cdn]
type = "s3"
inputs = ["cam"]
bucket = "live"
region = "us-east-1"
endpoint = "http://127.0.0.1:{port}"
access_key_id = "testing"
secret_access_key = "testing"
acl = "public-read"
spool_limit = "1.5MiB"
"#,
        port = proxy.port
    );
    let listing = || {
        let (status, _, body) = http_get(&format!("{base}/live/index.m3u8"));
        status
            .contains("200")
            .then(|| String::from_utf8_lossy(&body).into_owned())
    };
    let exists = |uri: &str| {
        http_request("HEAD", &format!("{base}/live/{uri}"))
            .0
            .contains("200")
    };
    let remote = RemoteSink {
        name: "cdn",
        config,
        listing: &listing,
        exists: &exists,
    };
    outage_is_survived(&proxy, &remote, Spool::Holds);
}

/// An FTP sink behind a cuttable proxy, with the given spool limit, through an outage.
fn ftp_outage(spool_limit: &str, spool: Spool) {
    let root = tempfile::tempdir().unwrap();
    let server = servers::ftp(root.path(), "streamer", "secret");
    let proxy = Proxy::start(server.port);
    let config = format!(
        r#"[sinks.partner]
type = "ftp"
inputs = ["cam"]
host = "127.0.0.1"
port = {port}
user = "streamer"
password = "secret"
directory = "live"
spool_limit = "{spool_limit}"
"#,
        port = proxy.port
    );
    let served = root.path().join("live");
    let listing = || std::fs::read_to_string(served.join("index.m3u8")).ok();
    let exists = |uri: &str| served.join(uri).is_file();
    let remote = RemoteSink {
        name: "partner",
        config,
        listing: &listing,
        exists: &exists,
    };
    outage_is_survived(&proxy, &remote, spool);
}

#[test]
fn an_ftp_outage_spills_to_the_spool_and_loses_nothing_and_blocks_no_one() {
    ftp_outage("1.5MiB", Spool::Holds);
}

#[test]
fn an_ftp_outage_beyond_the_spool_drops_the_oldest_segments_and_marks_the_gap() {
    // About 0.7 MB arrive during the outage; 200 kB fit.
    ftp_outage("200KB", Spool::Overflows);
}

#[test]
fn a_missing_bucket_is_reported_at_start_and_publishing_resumes_once_it_exists() {
    let server = servers::s3();
    let base = format!("http://127.0.0.1:{}", server.port);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let sink = format!(
        r#"[sinks.cdn]
type = "s3"
inputs = ["clip"]
bucket = "later"
region = "us-east-1"
endpoint = "{base}"
access_key_id = "testing"
secret_access_key = "testing"
acl = "public-read"
playlist_cache_control = "no-cache"
segment_content_type = "video/MP2T"

[sinks.disk]
type = "local"
inputs = ["clip"]
path = "{local}"
"#,
        local = local.display()
    );
    let config = write_config(dir.path(), "missing.toml", &feed_config(&sink));
    let daemon = Daemon::start(&config);
    wait_until("the start-up report", Duration::from_secs(10), || {
        daemon.logs().contains("sink not reachable at start")
    });
    assert!(daemon.logs().contains("sink=cdn"), "{}", daemon.logs());
    // The other sink is not held up.
    wait_until("the local sink to finish", Duration::from_secs(10), || {
        std::fs::read_to_string(local.join("index.m3u8"))
            .is_ok_and(|t| t.ends_with("#EXT-X-ENDLIST\n"))
    });
    let (status, _, _) = http_request("PUT", &format!("{base}/later"));
    assert!(status.contains("200"));
    wait_until(
        "the bucket to get the stream",
        Duration::from_secs(30),
        || {
            let (status, _, body) = http_get(&format!("{base}/later/index.m3u8"));
            status.contains("200") && String::from_utf8_lossy(&body).ends_with("#EXT-X-ENDLIST\n")
        },
    );
    // The sink's header overrides are what the bucket stores.
    let (_, headers, _) = http_request("HEAD", &format!("{base}/later/index.m3u8"));
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    let (_, headers, _) = http_request("HEAD", &format!("{base}/later/clip-00001.ts"));
    assert_eq!(header(&headers, "content-type"), Some("video/MP2T"));
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
}
