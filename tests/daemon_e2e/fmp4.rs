//! fMP4 playlists in the daemon (`segment_format = "fmp4"`): the sample clip paced in real time
//! to a local sink decodes, frame for frame (ffmpeg `framemd5` hashes of the decoded video and
//! audio), as the source does; to S3 (moto) the init segment and the fragments are stored as
//! `video/mp4` after the init; and hls.js in Chromium plays a live looping fMP4 feed and a
//! master of two fMP4 variants, switching between them.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::common::m3u8::Playlist;
use crate::common::{ff, gst, router};
use crate::daemon::{
    Daemon, http_request, tail, wait_for_final_playlist, wait_until, write_config,
};
use crate::remote_sinks::{header, s3_with_bucket};
use crate::watch_page::{play_with_hls_js, require_browser_tools, workspace};

/// A feed `clip` of the sample clip (2 s segments) as fMP4, `looped` or once, and `sinks`.
fn fmp4_feed(looped: bool, window: usize, sinks: &str) -> String {
    format!(
        r#"[sources.clip]
type = "file"
path = "{clip}"
realtime = true
loop = {looped}

[segmenters.clip]
input = "clip"
target_duration = 2

[playlists.clip]
input = "clip"
name = "index.m3u8"
window = {window}
segment_format = "fmp4"

{sinks}"#,
        clip = router::data("h264_aac.ts").display()
    )
}

#[test]
fn an_fmp4_feed_to_a_local_sink_decodes_frame_for_frame_as_its_source() {
    ff::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sink = format!(
        "[sinks.web]\ntype = \"local\"\ninputs = [\"clip\"]\npath = \"{}\"\n",
        out.display()
    );
    let config = write_config(dir.path(), "fmp4.toml", &fmp4_feed(false, 0, &sink));
    let daemon = Daemon::start(&config);
    let playlist_path = out.join("index.m3u8");
    wait_until("the final playlist", Duration::from_secs(40), || {
        std::fs::read_to_string(&playlist_path).is_ok_and(|text| text.ends_with("#EXT-X-ENDLIST\n"))
    });
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    assert!(text.contains("#EXT-X-VERSION:7\n"), "{text}");
    assert!(
        text.contains("#EXT-X-MAP:URI=\"clip-init-0.mp4\"\n"),
        "{text}"
    );
    assert!(text.contains("#EXT-X-INDEPENDENT-SEGMENTS\n"), "{text}");
    let playlist = Playlist::parse(&text);
    assert!((playlist.total_duration() - 12.0).abs() < 0.1, "{text}");
    assert!(
        playlist.uris().iter().all(|uri| uri.ends_with(".m4s")),
        "{text}"
    );
    assert!(out.join("clip-init-0.mp4").exists());

    let source = router::data("h264_aac.ts").display().to_string();
    let ours = playlist_path.display().to_string();
    for stream in ["v", "a"] {
        let (want, got) = (
            ff::frame_hashes(Path::new(&source), stream),
            ff::frame_hashes(Path::new(&ours), stream),
        );
        assert!(want.len() > 100, "{stream}: {} frames", want.len());
        assert_eq!(got, want, "stream {stream}: decoded frames differ");
    }
    // Every fragment, read after its init, starts with a key frame.
    for uri in playlist.uris() {
        let joined = dir.path().join(format!("{uri}.mp4"));
        let mut bytes = std::fs::read(out.join("clip-init-0.mp4")).unwrap();
        bytes.extend(std::fs::read(out.join(uri)).unwrap());
        std::fs::write(&joined, bytes).unwrap();
        let frames = ff::video_frames(&joined);
        assert!(
            frames.first().is_some_and(|f| f.key_frame),
            "{uri}: {frames:?}"
        );
    }
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
}

#[test]
fn s3_gets_the_init_and_the_fragments_as_video_mp4() {
    let (_server, base) = s3_with_bucket("live");
    let dir = tempfile::tempdir().unwrap();
    let sink = format!(
        r#"[sinks.cdn]
type = "s3"
inputs = ["clip"]
bucket = "live"
prefix = "f/"
region = "us-east-1"
endpoint = "{base}"
access_key_id = "testing"
secret_access_key = "testing"
acl = "public-read"
"#
    );
    let config = write_config(dir.path(), "s3.toml", &fmp4_feed(false, 0, &sink));
    let daemon = Daemon::start(&config);
    let playlist_url = format!("{base}/live/f/index.m3u8");
    let (_, headers, body) = wait_for_final_playlist(&playlist_url, Duration::from_secs(40));
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    let text = String::from_utf8(body).unwrap();
    let playlist = Playlist::parse(&text);
    let mut objects: Vec<String> = vec!["clip-init-0.mp4".to_owned()];
    objects.extend(playlist.uris().iter().map(|uri| (*uri).to_owned()));
    assert!(objects.len() >= 6, "{text}");
    for key in &objects {
        let (status, headers, _) = http_request("HEAD", &format!("{base}/live/f/{key}"));
        assert!(status.contains("200"), "{key}: {status}");
        assert_eq!(header(&headers, "content-type"), Some("video/mp4"), "{key}");
    }
    ff::assert_decodes_cleanly(Path::new(&playlist_url));
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
}

/// Two fMP4 variants `a` (192x144) and `b` (320x240) of the looping clip, encoded live by
/// ffmpeg with keyframes every 2 s as `configs/ladder.toml` does (hls.js takes variants of the
/// same bandwidth and resolution as one), under master `ab`, served by `web`.
fn master_config(out: &Path) -> String {
    let clip = router::data("h264_aac.ts").display().to_string();
    let mut text = String::new();
    for (variant, size, rate) in [("a", "192:144", "150k"), ("b", "320:240", "600k")] {
        text.push_str(&format!(
            r#"[sources.{variant}]
type = "exec"
command = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-stream_loop",
  "-1", "-i", "{clip}", "-vf", "scale={size}", "-c:v", "libx264", "-preset", "veryfast",
  "-b:v", "{rate}", "-maxrate", "{rate}", "-bufsize", "{rate}", "-force_key_frames",
  "expr:gte(t,n_forced*2)", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k", "-f",
  "mpegts", "-"]

[segmenters.{variant}]
input = "{variant}"
target_duration = 2

[playlists.{variant}]
input = "{variant}"
window = 6
segment_format = "fmp4"

"#
        ));
    }
    text.push_str(&format!(
        "[masters.ab]\nvariants = [\"a\", \"b\"]\nname = \"ab.m3u8\"\n\n[sinks.web]\ntype = \
         \"local\"\ninputs = [\"clip\", \"ab\"]\npath = \"{}\"\n",
        out.display()
    ));
    text
}

#[test]
fn hls_js_plays_a_live_fmp4_feed_and_switches_between_fmp4_variants() {
    let browser_dir = workspace().join("tests/browser");
    require_browser_tools(&browser_dir);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let text = fmp4_feed(true, 6, "") + &master_config(&out);
    let config = write_config(dir.path(), "player.toml", &text);
    let mut daemon = Daemon::start_with(&config, &["--serve", "127.0.0.1:0"]);
    let url = daemon.first_line(Duration::from_secs(10));
    let base = url[..url.rfind('/').unwrap() + 1].to_owned();
    wait_until("three segments listed", Duration::from_secs(30), || {
        std::fs::read_to_string(out.join("index.m3u8"))
            .is_ok_and(|t| Playlist::parse(&t).uris().len() >= 3)
            && std::fs::read_to_string(out.join("b.m3u8"))
                .is_ok_and(|t| Playlist::parse(&t).uris().len() >= 3)
            && out.join("ab.m3u8").exists()
    });
    let master = std::fs::read_to_string(out.join("ab.m3u8")).unwrap();
    assert!(master.contains("CODECS=\"avc1."), "{master}");
    assert!(master.contains("mp4a.40.2"), "{master}");

    let spec = json!([
        {"name": "live", "url": format!("{base}index.m3u8"), "vod": false},
        {"name": "master", "url": format!("{base}ab.m3u8"), "vod": false, "switch": true},
    ]);
    let (result, context) = play_with_hls_js(&spec, &daemon);
    let switch = &result["playlists"][1]["switch"];
    assert_ne!(switch["from"], switch["to"], "{context}");
    assert!(
        switch["playedAfter"].as_f64().unwrap_or(0.0) > 4.5,
        "{context}"
    );
    assert!(daemon.is_running(), "{}", daemon.logs());
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
}

/// Renditions `a` (192x144) and `b` (320x240) of the sample clip encoded into `dir` with the
/// source's timestamps (`-copyts`) and keyframes at the same times, as one encoder's ladder
/// has them (RFC 8216 §6.2.4: matching content in variants has matching timestamps).
fn aligned_renditions(dir: &Path) -> [std::path::PathBuf; 2] {
    let clip = router::data("h264_aac.ts");
    [("a", "192:144", "150k"), ("b", "320:240", "600k")].map(|(name, size, rate)| {
        let path = dir.join(format!("{name}.ts"));
        let status = std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-i"])
            .arg(&clip)
            .args([
                "-copyts",
                "-vf",
                &format!("scale={size}"),
                "-c:v",
                "libx264",
            ])
            .args(["-preset", "veryfast", "-b:v", rate, "-force_key_frames"])
            .args(["expr:gte(t,n_forced*2)", "-c:a", "copy", "-f", "mpegts"])
            .arg(&path)
            .status()
            .expect("run ffmpeg");
        assert!(status.success(), "encoding {}", path.display());
        path
    })
}

/// GStreamer's hlsdemux2 plays, at real-time pace, a live fMP4 variant and the master of two
/// (looping files, so playback crosses a discontinuity where the source's timestamps start
/// over: the fMP4 timeline must not go back there, or hlsdemux2 stalls). Variants from
/// independent encoders, whose timestamps do not match, are not played here: after a switch
/// hlsdemux2 1.22 keeps fetching the same two fragments of them (docs/fmp4.md).
#[test]
fn gstreamer_plays_a_live_fmp4_feed_and_its_master_across_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut text = String::new();
    for (name, path) in ["a", "b"].iter().zip(aligned_renditions(dir.path())) {
        text.push_str(&format!(
            "[sources.{name}]\ntype = \"file\"\npath = \"{}\"\nrealtime = true\nloop = true\n\n\
             [segmenters.{name}]\ninput = \"{name}\"\ntarget_duration = 2\n\n\
             [playlists.{name}]\ninput = \"{name}\"\nwindow = 6\nsegment_format = \"fmp4\"\n\n",
            path.display()
        ));
    }
    text.push_str(&format!(
        "[masters.ab]\nvariants = [\"a\", \"b\"]\nname = \"ab.m3u8\"\n\n[sinks.web]\n\
         type = \"local\"\ninputs = [\"ab\"]\npath = \"{}\"\n",
        out.display()
    ));
    let config = write_config(dir.path(), "gst.toml", &text);
    let mut daemon = Daemon::start_with(&config, &["--serve", "127.0.0.1:0"]);
    let url = daemon.first_line(Duration::from_secs(10));
    let base = url[..url.rfind('/').unwrap() + 1].to_owned();
    wait_until("three segments listed", Duration::from_secs(30), || {
        ["a.m3u8", "b.m3u8"].iter().all(|name| {
            std::fs::read_to_string(out.join(name))
                .is_ok_and(|t| Playlist::parse(&t).uris().len() >= 3)
        }) && out.join("ab.m3u8").exists()
    });
    // 20 s at real-time pace: 500 frames at 25 fps once playback starts. The 12 s clip loops
    // within it; a stall at the loop (as with a tfdt going back) leaves under 300.
    for name in ["b.m3u8", "ab.m3u8"] {
        let played = gst::play_live(
            &format!("{base}{name}"),
            Duration::from_secs(20),
            dir.path(),
        );
        assert!(
            played.rendered >= 330 && played.dropped <= played.rendered / 20,
            "{name}: GStreamer rendered {} frames, dropped {}\n{}\ndaemon logs:\n{}",
            played.rendered,
            played.dropped,
            tail(&played.log, 30),
            tail(&daemon.logs(), 30)
        );
    }
    assert!(daemon.is_running(), "{}", daemon.logs());
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
}
