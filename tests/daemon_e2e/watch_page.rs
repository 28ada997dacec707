//! The watch page in a real browser: `streamrouter run` on the shipped quick start, with the
//! status server on `--listen` and hls.js (from the npm registry) on `--hls-js`; Debian's
//! Chromium, driven by playwright-core (`tests/browser/watch_page.mjs`), opens the page, the
//! video plays past two segment boundaries with no player error, the status table shows the
//! nodes live, and a screenshot is kept in `target/test-artifacts/watch-page.png`.
//!
//! Chromium and the npm packages come from `.ci/run`; without them the test fails and says so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::m3u8::Playlist;
use crate::daemon::{Daemon, try_http_request, wait_until, write_config};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The workspace's root directory.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Panics with what to install when the browser test's tools are missing.
pub(crate) fn require_browser_tools(browser_dir: &Path) {
    let missing: Vec<String> = [
        Path::new(CHROMIUM).to_path_buf(),
        browser_dir.join("node_modules/hls.js/dist/hls.min.js"),
        browser_dir.join("node_modules/playwright-core/package.json"),
    ]
    .into_iter()
    .filter(|path| !path.exists())
    .map(|path| path.display().to_string())
    .collect();
    let node = Command::new("node").arg("--version").output();
    let node_ok = node.as_ref().is_ok_and(|out| out.status.success());
    assert!(
        missing.is_empty() && node_ok,
        "the browser test needs Debian's chromium, node and the npm packages of tests/browser \
         (missing: {}{}); run .ci/run, which installs them (apt-get install chromium nodejs npm; \
         npm ci --prefix tests/browser)",
        missing.join(", "),
        if node_ok { "" } else { ", node" }
    );
}

/// Runs `tests/browser/play_hls.mjs` (hls.js in Chromium) on `spec` (its JSON list of
/// playlists); asserts it ran and reported `ok`; returns its report and a context for messages
/// (the report, its stderr and `daemon`'s last logs).
pub(crate) fn play_with_hls_js(spec: &Value, daemon: &Daemon) -> (Value, String) {
    let browser_dir = workspace().join("tests/browser");
    require_browser_tools(&browser_dir);
    let hls_js = browser_dir.join("node_modules/hls.js/dist/hls.min.js");
    let began = Instant::now();
    let output = Command::new("node")
        .arg(browser_dir.join("play_hls.mjs"))
        .arg(&hls_js)
        .arg(spec.to_string())
        .output()
        .expect("run node");
    let report = String::from_utf8_lossy(&output.stdout);
    let context = format!(
        "play_hls.mjs ({:?}, {:.1} s):\n{report}\n{}\ndaemon logs:\n{}",
        output.status,
        began.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&output.stderr),
        crate::daemon::tail(&daemon.logs(), 40)
    );
    assert!(output.status.success(), "{context}");
    let result: Value = serde_json::from_str(&report).expect("a JSON report");
    assert_eq!(result["ok"], true, "{context}");
    (result, context)
}

/// `configs/quickstart.toml` with its relative paths made absolute (the clip in the sources,
/// state and output in `dir`), so that it runs from a temporary directory beside other tests.
fn quickstart_in(dir: &Path) -> PathBuf {
    let root = workspace();
    let mut text = std::fs::read_to_string(root.join("configs/quickstart.toml")).unwrap();
    for (from, to) in [
        (
            "\"../tests/data/h264_aac.ts\"",
            root.join("tests/data/h264_aac.ts"),
        ),
        ("\"../target/quickstart/state\"", dir.join("state")),
        ("\"../target/quickstart/live\"", dir.join("live")),
    ] {
        assert!(text.contains(from), "quickstart.toml no longer has {from}");
        text = text.replace(from, &format!("\"{}\"", to.display()));
    }
    write_config(dir, "quickstart.toml", &text)
}

/// GET `url` once the server accepts connections: the status line and body.
fn get(url: &str) -> Option<(String, Vec<u8>)> {
    let (status, _, body) = try_http_request("GET", url).ok()?;
    Some((status, body))
}

#[test]
fn the_watch_page_plays_the_quickstart_in_chromium() {
    let root = workspace();
    let browser_dir = root.join("tests/browser");
    require_browser_tools(&browser_dir);

    let dir = tempfile::tempdir().unwrap();
    let config = quickstart_in(dir.path());
    let hls_js = browser_dir.join("node_modules/hls.js/dist/hls.min.js");
    let mut daemon = Daemon::start_with(
        &config,
        &[
            "--serve",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--hls-js",
            hls_js.to_str().unwrap(),
        ],
    );
    let page = daemon.status_url(Duration::from_secs(10));
    assert!(
        page.starts_with("http://127.0.0.1:") && page.ends_with('/'),
        "{page}"
    );

    // Ready: /status lists the stream and its live playlist has two segments to play.
    let started = Instant::now();
    let mut stream_url = String::new();
    while stream_url.is_empty() {
        assert!(daemon.is_running(), "the daemon exited:\n{}", daemon.logs());
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no stream in {page}status within 15 s; logs:\n{}",
            daemon.logs()
        );
        if let Some((status, body)) = get(&format!("{page}status")) {
            assert!(status.contains("200"), "/status: {status}");
            let json: Value = serde_json::from_slice(&body).expect("/status is JSON");
            if let Some(url) = json["streams"][0]["url"].as_str() {
                stream_url = url.to_owned();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_until(
        "two segments in the live playlist",
        Duration::from_secs(20),
        || {
            get(&stream_url).is_some_and(|(status, body)| {
                status.contains("200")
                    && Playlist::parse(&String::from_utf8_lossy(&body))
                        .uris()
                        .len()
                        >= 2
            })
        },
    );
    // The page's script and the player library come from the daemon.
    let (status, hls_body) = get(&format!("{page}hls.min.js")).expect("hls.min.js");
    assert!(status.contains("200"), "/hls.min.js: {status}");
    assert_eq!(hls_body, std::fs::read(&hls_js).unwrap(), "/hls.min.js");

    let screenshot = root.join("target/test-artifacts/watch-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let began = Instant::now();
    let output = Command::new("node")
        .arg(browser_dir.join("watch_page.mjs"))
        .arg(&page)
        .arg(&screenshot)
        .output()
        .expect("run node");
    let report = String::from_utf8_lossy(&output.stdout);
    let context = format!(
        "watch_page.mjs ({:?}, {:.1} s):\n{report}\n{}\ndaemon logs:\n{}",
        output.status,
        began.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&output.stderr),
        daemon.logs()
    );
    assert!(output.status.success(), "{context}");
    let result: Value = serde_json::from_str(&report).expect("a JSON report");
    assert_eq!(result["ok"], true, "{context}");
    assert_eq!(result["player"], "hls.js", "{context}");
    assert_eq!(result["playlist"], "clip", "{context}");
    assert!(
        result["playback"]["played"].as_f64().unwrap_or(0.0) > 4.5,
        "{context}"
    );
    let nodes = result["nodes"].as_array().expect("nodes");
    for node in [
        "sources.clip",
        "segmenters.clip",
        "playlists.clip",
        "sinks.web",
    ] {
        assert!(
            nodes
                .iter()
                .any(|row| row["node"] == node && row["state"] == "live"),
            "{node} not live on the page: {context}"
        );
    }

    // A real screenshot: a PNG of the 1280-pixel-wide page with a video frame in it.
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 1280, "screenshot width");
    assert!(
        png.len() > 20_000,
        "screenshot of {} bytes: an empty page?",
        png.len()
    );

    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
}
