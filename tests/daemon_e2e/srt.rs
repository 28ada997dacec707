//! SRT sources against peers no one here wrote: ffmpeg (libsrt) pushing to two listener
//! sources sharing one port by stream id, each with its own passphrase, while callers with a
//! wrong passphrase, a weaker key than the feed's `pbkeylen`, for a busy feed or for an unknown
//! id are refused and never reach a feed; the source in caller mode pulling from libsrt's
//! `srt-live-transmit` and dialling it again after it went away (a discontinuity); rendezvous
//! with `srt-live-transmit`. Faults (loss, bad handshakes and datagrams) are in `srt_faults.rs`.
//! Passphrases come from the environment and never appear in the logs (at trace level), in
//! `check`, `graph` or `/status`.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use std::time::Duration;

use crate::common::m3u8::Playlist;
use crate::common::{ff, router};
use crate::daemon::{Daemon, free_udp_port, http_get, wait_until, write_config};
use crate::feeds::local_feed;
use crate::servers::srt_relay;

pub(crate) const CAM1_KEY: &str = "cam1-s3cret-passphrase";
const CAM2_KEY: &str = "cam2-other-s3cret-key";

/// ffmpeg sending the 12 s clip in real time to `url`.
pub(crate) fn ffmpeg_push(url: &str) -> Child {
    Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-i"])
        .arg(router::data("h264_aac.ts"))
        .args(["-c", "copy", "-f", "mpegts", url])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg")
}

/// The finished playlist lasts the clip, has no discontinuity, and each segment decodes.
pub(crate) fn assert_whole_clip(playlist: &Path) {
    assert_clips(playlist, 1);
}

/// The finished playlist lasts `clips` times the clip, with a discontinuity between each two
/// (one per connection), and each segment decodes.
fn assert_clips(playlist: &Path, clips: usize) {
    let text = std::fs::read_to_string(playlist).unwrap();
    let parsed = Playlist::parse(&text);
    assert!(parsed.endlist, "{text}");
    let length = 12.0 * clips as f64;
    assert!(
        (parsed.total_duration() - length).abs() < clips as f64,
        "{text}"
    );
    let breaks = parsed.entries.iter().filter(|entry| entry.discontinuity);
    assert_eq!(
        breaks.count(),
        clips - 1,
        "one timeline per connection: {text}"
    );
    let dir = playlist.parent().unwrap();
    for uri in parsed.uris() {
        ff::assert_decodes_cleanly(&dir.join(uri));
    }
}

#[test]
fn two_listeners_share_a_port_by_stream_id_and_refuse_a_wrong_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let cam1 = format!(
        "type = \"srt\"\nbind = \"127.0.0.1:{port}\"\nstream_id = \"cam1\"\n\
         passphrase = \"${{CAM1_KEY}}\""
    );
    let cam2 = format!(
        "type = \"srt\"\nbind = \"127.0.0.1:{port}\"\nstream_id = \"cam2\"\n\
         passphrase = \"${{CAM2_KEY}}\"\npbkeylen = 32"
    );
    let (out1, out2) = (dir.path().join("out1"), dir.path().join("out2"));
    let text = local_feed("cam1", &cam1, &out1, 0) + &local_feed("cam2", &cam2, &out2, 0);
    let config = write_config(dir.path(), "srt.toml", &text);
    let env = [("CAM1_KEY", CAM1_KEY), ("CAM2_KEY", CAM2_KEY)];
    // What `check` and `graph` print names the passphrases without their text.
    for args in [&["check"][..], &["graph"], &["graph", "--dot"]] {
        let printed = Command::new(router::BIN)
            .args(args)
            .arg(&config)
            .envs(env)
            .output()
            .unwrap();
        assert!(printed.status.success(), "{args:?}: {printed:?}");
        let printed =
            String::from_utf8_lossy(&printed.stdout) + String::from_utf8_lossy(&printed.stderr);
        for secret in [CAM1_KEY, CAM2_KEY] {
            assert!(
                !printed.contains(secret),
                "{args:?} shows a passphrase:\n{printed}"
            );
        }
    }
    let daemon = Daemon::start_with_env(&config, &[env[0], env[1], ("RUST_LOG", "trace")]);
    wait_until("the daemon to start", Duration::from_secs(10), || {
        daemon.logs().contains("SRT listening")
    });
    let url = |id: &str, key: &str, len: u8| {
        format!("srt://127.0.0.1:{port}?mode=caller&streamid={id}&passphrase={key}&pbkeylen={len}")
    };
    // A caller for cam1 with the wrong passphrase: refused in the handshake.
    let short_push = |url: &str| {
        Command::new("ffmpeg")
            .args(["-v", "error", "-re", "-i"])
            .arg(router::data("h264_aac.ts"))
            .args(["-t", "1", "-c", "copy", "-f", "mpegts", url])
            .stdin(Stdio::null())
            .output()
            .expect("ffmpeg")
    };
    let wrong = short_push(&url("cam1", "not-the-right-key", 16));
    assert!(!wrong.status.success(), "the wrong passphrase was accepted");
    let mut first = ffmpeg_push(&url("cam1", CAM1_KEY, 16));
    let mut second = ffmpeg_push(&url("#!::r=cam2,m=publish", CAM2_KEY, 32));
    wait_until("both callers to connect", Duration::from_secs(15), || {
        daemon.logs().matches("SRT caller connected").count() >= 2
    });
    // A second caller for the busy cam1, and one for no feed: refused, cam1 goes on.
    assert!(!short_push(&url("cam1", CAM1_KEY, 16)).status.success());
    assert!(!short_push(&url("cam3", CAM1_KEY, 16)).status.success());
    // cam2 wants AES-256 (`pbkeylen = 32`): a caller asking for AES-128 is refused.
    let weaker = short_push(&url("cam2", CAM2_KEY, 16));
    assert!(!weaker.status.success());
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    let refusals: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("SRT caller refused"))
        .collect();
    for why in [
        "in the handshake",
        "the feed already has a caller",
        "no feed has this stream id",
        "it asks for a 16-byte key, the feed's pbkeylen is 32",
    ] {
        assert!(
            refusals
                .iter()
                .any(|line| line.contains(why) && line.contains("peer=127.0.0.1:")),
            "{why}: {refusals:#?}"
        );
    }
    assert!(logs.contains("TRACE"), "not logged at trace level");
    for secret in [CAM1_KEY, CAM2_KEY, "not-the-right-key"] {
        assert!(!logs.contains(secret), "a passphrase is in the logs");
    }
    assert_whole_clip(&out1.join("cam1.m3u8"));
    assert_whole_clip(&out2.join("cam2.m3u8"));
}

/// The `srt` part of source `name`'s node in the daemon's `/status` at `base`.
fn srt_link(base: &str, name: &str) -> serde_json::Value {
    let status: serde_json::Value =
        serde_json::from_slice(&http_get(&format!("{base}status")).2).unwrap();
    let nodes = status["nodes"].as_array().cloned().unwrap_or_default();
    let node = nodes
        .into_iter()
        .find(|node| node["node"] == format!("sources.{name}"));
    node.map(|node| node["srt"].clone()).unwrap_or_default()
}

/// Waits until source `name` has received packets and then nothing for a whole rate span
/// (about a second): srt-live-transmit keeps its connection open after a clip, so that is how
/// the daemon's side knows the clip has arrived.
fn wait_for_the_clip_to_arrive(base: &str, name: &str, packets_before: u64) -> u64 {
    let mut received = 0;
    wait_until("the clip to arrive", Duration::from_secs(10), || {
        let link = srt_link(base, name);
        received = link["packets_received"].as_u64().unwrap_or(0);
        received > packets_before && link["receive_bits_per_second"] == 0
    });
    received
}

#[test]
fn caller_mode_pulls_from_srt_live_transmit_and_redials_it() {
    let dir = tempfile::tempdir().unwrap();
    let (udp_in, srt_port) = (free_udp_port(), free_udp_port());
    let listener = format!("srt://:{srt_port}?mode=listener&passphrase={CAM1_KEY}");
    let relay = srt_relay(udp_in, &listener);
    let source = format!(
        "type = \"srt\"\nmode = \"caller\"\nconnect = \"localhost:{srt_port}\"\n\
         passphrase = \"${{CAM1_KEY}}\""
    );
    let out = dir.path().join("out");
    let text =
        "[router]\nlisten = \"127.0.0.1:0\"\n".to_owned() + &local_feed("pull", &source, &out, 0);
    let config = write_config(dir.path(), "pull.toml", &text);
    let mut daemon = Daemon::start_with_env(&config, &[("CAM1_KEY", CAM1_KEY)]);
    let base = daemon.status_url(Duration::from_secs(10));
    let connections = || srt_link(&base, "pull")["connections"].as_u64().unwrap_or(0);
    wait_until("the caller to connect", Duration::from_secs(15), || {
        connections() == 1
    });
    send_clip_over_udp(udp_in);
    let first = wait_for_the_clip_to_arrive(&base, "pull", 0);
    // The listener goes away and comes back: the source dials it again and the playlist goes
    // on after a discontinuity.
    drop(relay);
    let _relay = srt_relay(udp_in, &listener);
    wait_until("the caller to redial", Duration::from_secs(40), || {
        connections() == 2
    });
    send_clip_over_udp(udp_in);
    wait_for_the_clip_to_arrive(&base, "pull", first);
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    assert!(!logs.contains(CAM1_KEY), "a passphrase is in the logs");
    assert_clips(&out.join("pull.m3u8"), 2);
}

/// Sends the test clip in real time to `udp_in`, where srt-live-transmit relays it to the
/// daemon.
fn send_clip_over_udp(udp_in: u16) {
    let sent = Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-i"])
        .arg(router::data("h264_aac.ts"))
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(format!("udp://127.0.0.1:{udp_in}?pkt_size=1316"))
        .stdin(Stdio::null())
        .status()
        .expect("ffmpeg");
    assert!(sent.success());
}

#[test]
fn rendezvous_with_srt_live_transmit() {
    let dir = tempfile::tempdir().unwrap();
    let (udp_in, theirs, ours) = (free_udp_port(), free_udp_port(), free_udp_port());
    let _relay = srt_relay(
        udp_in,
        &format!("srt://127.0.0.1:{ours}?mode=rendezvous&port={theirs}"),
    );
    let source = format!(
        "type = \"srt\"\nmode = \"rendezvous\"\nbind = \"127.0.0.1:{ours}\"\n\
         connect = \"127.0.0.1:{theirs}\""
    );
    let out = dir.path().join("out");
    let text =
        "[router]\nlisten = \"127.0.0.1:0\"\n".to_owned() + &local_feed("rdv", &source, &out, 0);
    let config = write_config(dir.path(), "rdv.toml", &text);
    let mut daemon = Daemon::start(&config);
    let base = daemon.status_url(Duration::from_secs(10));
    wait_until("the rendezvous", Duration::from_secs(15), || {
        daemon.logs().contains("SRT connected")
    });
    send_clip_over_udp(udp_in);
    wait_for_the_clip_to_arrive(&base, "rdv", 0);
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    assert_whole_clip(&out.join("rdv.m3u8"));
}
