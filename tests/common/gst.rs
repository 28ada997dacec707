//! GStreamer as a second, independent HLS client: `gst-launch-1.0 playbin3` (which picks
//! `hlsdemux2`) plays a playlist served over HTTP and writes every decoded video frame (I420)
//! and audio sample (S16LE interleaved) to files, so a test can compare them with what ffmpeg
//! decodes from the source.
//!
//! hlsdemux2 fetches fragments through libsoup and refuses `file://` playlists, so the output
//! directory is served by Python's `http.server` on 127.0.0.1 for the length of the test.
//! Needs Debian's `gstreamer1.0-tools`, `-plugins-good`, `-plugins-bad` and `-libav`; the tests
//! fail (never skip) without them.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest one playback may take.
const PLAY_TIMEOUT: Duration = Duration::from_secs(120);

/// A directory served over HTTP until dropped.
pub struct HttpFiles {
    child: Child,
    port: u16,
}

impl HttpFiles {
    /// Serves `dir` on a free loopback port; returns once the server accepts connections.
    pub fn serve(dir: &Path) -> HttpFiles {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("a free port");
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server starts");
        let server = HttpFiles { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "http.server on port {port} never accepted a connection"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The URL of `path` (relative to the served directory).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for HttpFiles {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What GStreamer decoded from one playlist.
#[derive(Debug)]
pub struct Played {
    /// Every decoded video frame, I420, concatenated in presentation order (empty: no video).
    pub video: Vec<u8>,
    /// Every decoded audio sample, S16LE interleaved (empty: no audio).
    pub audio: Vec<u8>,
    /// What gst-launch printed (for messages).
    pub log: String,
}

fn require_gstreamer() {
    let found = Command::new("gst-inspect-1.0")
        .arg("hlsdemux2")
        .stdin(Stdio::null())
        .output();
    match found {
        Ok(output) if output.status.success() => {}
        _ => panic!(
            "GStreamer's hlsdemux2 is missing: these tests play the output with GStreamer as a \
             second real client (apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good \
             gstreamer1.0-plugins-bad gstreamer1.0-libav). They are not skipped when missing."
        ),
    }
}

/// Plays `url` to its end with `playbin3` as fast as it decodes (no clock sync), writing the
/// decoded video and audio into `scratch`. Fails the test on a non-zero exit, an ERROR
/// message or a timeout.
pub fn play(url: &str, scratch: &Path) -> Played {
    require_gstreamer();
    let video_path: PathBuf = scratch.join("gst-video.i420");
    let audio_path: PathBuf = scratch.join("gst-audio.s16");
    let _ = std::fs::remove_file(&video_path);
    let _ = std::fs::remove_file(&audio_path);
    let video_sink = format!(
        "video-sink=videoconvert ! video/x-raw,format=I420 ! filesink sync=false location={}",
        video_path.display()
    );
    let audio_sink = format!(
        "audio-sink=audioconvert ! audio/x-raw,format=S16LE ! filesink sync=false location={}",
        audio_path.display()
    );
    let mut child = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "playbin3",
            &format!("uri={url}"),
            &video_sink,
            &audio_sink,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gst-launch-1.0 starts");
    let deadline = Instant::now() + PLAY_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for gst-launch") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gst-launch-1.0 did not finish playing {url} within {PLAY_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().expect("gst-launch output");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        status.success() && !log.contains("ERROR"),
        "GStreamer failed to play {url} ({status}):\n{log}"
    );
    Played {
        video: std::fs::read(&video_path).unwrap_or_default(),
        audio: std::fs::read(&audio_path).unwrap_or_default(),
        log,
    }
}

/// What ffmpeg decodes from stream `kind` (`v` or `a`) of `source`, in the layout [`play`]
/// writes: video as I420 (`-pix_fmt yuv420p -f rawvideo`), audio as S16LE interleaved.
pub fn ffmpeg_decoded(source: &Path, kind: &str) -> Vec<u8> {
    let format: &[&str] = if kind == "v" {
        &["-pix_fmt", "yuv420p", "-f", "rawvideo"]
    } else {
        &["-f", "s16le"]
    };
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(source)
        .args(["-map", &format!("0:{kind}")])
        .args(format)
        .arg("-")
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg runs");
    assert!(
        output.status.success(),
        "ffmpeg decodes stream {kind} of {}",
        source.display()
    );
    output.stdout
}

/// What GStreamer showed of a live playlist in the time it was given.
#[derive(Debug)]
pub struct LivePlay {
    /// Video frames rendered (fpsdisplaysink's count, frames on time at the clock).
    pub rendered: u64,
    /// Video frames dropped (late).
    pub dropped: u64,
    /// What gst-launch printed.
    pub log: String,
}

/// Plays a live `url` for `length` at real-time pace (clock sync on, as a viewer's player
/// does), then stops it. Fails the test if GStreamer stops by itself or reports an ERROR.
pub fn play_live(url: &str, length: Duration, scratch: &Path) -> LivePlay {
    require_gstreamer();
    let log_path = scratch.join("gst-live.log");
    let log_file = std::fs::File::create(&log_path).expect("create the gst-launch log");
    let mut child = Command::new("gst-launch-1.0")
        .args([
            "-v",
            "playbin3",
            &format!("uri={url}"),
            "video-sink=fpsdisplaysink video-sink=fakesink text-overlay=false",
            "audio-sink=fakesink",
        ])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log handle"))
        .stderr(log_file)
        .spawn()
        .expect("gst-launch-1.0 starts");
    let deadline = Instant::now() + length;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait for gst-launch") {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("GStreamer stopped playing the live {url} by itself ({status}):\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        !log.contains("ERROR"),
        "GStreamer reported an error playing {url}:\n{log}"
    );
    // The last "last-message = rendered: N, dropped: M, …" line holds the totals.
    let counts = log.lines().rev().find_map(|line| {
        let rest = &line[line.find("rendered: ")? + "rendered: ".len()..];
        let (rendered, rest) = rest.split_once(", dropped: ")?;
        let dropped: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((rendered.parse().ok()?, dropped.parse().ok()?))
    });
    let (rendered, dropped) = counts.unwrap_or((0, 0));
    LivePlay {
        rendered,
        dropped,
        log,
    }
}
