//! The shipped `configs/ladder.toml`: it checks, runs, and its master plays.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::ff;
use crate::common::m3u8::Playlist;
use crate::common::router::BIN;
use crate::daemon::{http_get, read_if_exists};

use super::*;

// ---------------------------------------------------------------------- configs/ladder.toml ---

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
pub(crate) fn the_shipped_ladder_config_checks_and_graphs() {
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

/// `streamrouter run configs/ladder.toml` from the repository root (its `exec` commands name
/// the sample clip relative to it), killed when dropped.
pub(crate) struct ShippedLadder {
    pub(crate) child: Child,
    pub(crate) stderr: Arc<Mutex<String>>,
    pub(crate) stdout: Arc<Mutex<String>>,
}

impl ShippedLadder {
    pub(crate) fn start() -> Self {
        let mut child = Command::new(BIN)
            .args(["run", "configs/ladder.toml", "--serve", "127.0.0.1:0"])
            .current_dir(repo_root())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start streamrouter run configs/ladder.toml");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        for (pipe, text) in [
            (
                Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
                Arc::clone(&stderr),
            ),
            (Box::new(child.stdout.take().unwrap()), Arc::clone(&stdout)),
        ] {
            thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    text.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Self {
            child,
            stderr,
            stdout,
        }
    }

    pub(crate) fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub(crate) fn wait(&mut self, what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !check() {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "daemon exited while waiting for {what}:\n{}",
                self.logs()
            );
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}:\n{}",
                tail(&self.logs(), 60)
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                thread::sleep(Duration::from_millis(100));
                assert!(status.success(), "exit {status:?}:\n{}", self.logs());
                return self.logs();
            }
            assert!(Instant::now() < deadline, "did not stop:\n{}", self.logs());
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ShippedLadder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
pub(crate) fn the_shipped_ladder_config_runs_and_its_master_plays() {
    ff::require_tools();
    // Where the shipped config publishes (like the quickstart test, under the repository's
    // target/); emptied first so that the master seen is this run's.
    let live = repo_root().join("target/ladder/live");
    let _ = std::fs::remove_dir_all(&live);
    let master_path = live.join("ladder.m3u8");
    let mut daemon = ShippedLadder::start();
    let stdout = Arc::clone(&daemon.stdout);
    daemon.wait("the served URL", Duration::from_secs(15), || {
        stdout.lock().unwrap().contains("http://")
    });
    daemon.wait("the master playlist", Duration::from_secs(30), || {
        master_path.is_file()
    });
    let playlists: Vec<PathBuf> = ["low", "mid", "high"]
        .iter()
        .map(|n| live.join(format!("{n}.m3u8")))
        .collect();
    daemon.wait(
        "two segments per rendition",
        Duration::from_secs(30),
        || {
            playlists
                .iter()
                .all(|p| read_if_exists(p).is_some_and(|t| Playlist::parse(&t).entries.len() >= 2))
        },
    );
    // Served over HTTP next to the variants.
    let printed = stdout.lock().unwrap().clone();
    let url = printed
        .lines()
        .find(|l| l.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL printed:\n{printed}"));
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

    let logs = daemon.stop();
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
