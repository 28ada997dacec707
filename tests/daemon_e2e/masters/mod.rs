//! Master playlists (multi-bitrate): renditions of one program fed as live feeds, a
//! `[masters.NAME]` over their playlists and a sink fed the master. Checks what a player sees:
//! the master's attributes against ffprobe's view of each input, segment N starting at the same
//! PTS in every variant (so a player can switch there), the master decoding with ffmpeg, and
//! segments of different variants concatenated at a switch decoding without an error. Also: an
//! audio-only rendition, misaligned renditions reported, and the shipped `configs/ladder.toml`.
//!
//! The renditions are made once per build directory by one ffmpeg run (one source, split and
//! scaled, keyframes forced every 2 s), so their PTS timelines are identical; the test checks
//! that premise with ffprobe before judging the daemon.

mod inputs;
mod ladder;
mod parse;
mod probe;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::ff;
use crate::daemon::{Daemon, http_get, plain_logs as logs, strip_ansi, tail, write_config};

use inputs::*;
use parse::*;
use probe::*;
use support::*;

/// Length of the ladder clip, seconds.
pub(crate) const LADDER_SECONDS: u32 = 20;
/// Length of the misaligned pair, seconds.
pub(crate) const MISALIGNED_SECONDS: u32 = 12;
/// The segmenters' target duration, seconds (the keyframe interval of the aligned clips).
pub(crate) const TARGET: u32 = 2;
/// One frame at 25 fps in 90 kHz ticks.
pub(crate) const FRAME_TICKS: i64 = 3600;
/// Keyframes every 2 s of output time, whatever the encoder would choose.
pub(crate) const ALIGNED_KEYFRAMES: &str = "expr:gte(t,n_forced*2)";
/// Longest a test waits for its feeds to end (they last at most `LADDER_SECONDS` in real time).
pub(crate) const FEED_TIMEOUT: Duration = Duration::from_secs(90);

// --------------------------------------------------------------------------------- tests ---

#[test]
fn master_over_three_aligned_renditions() {
    let started = Instant::now();
    let ladder = ladder();
    let inputs = [
        ("low", &ladder.low),
        ("mid", &ladder.mid),
        ("high", &ladder.high),
    ];
    // The premise: one ffmpeg run gave the three the same keyframe PTS, every 2 s.
    let keyframes: Vec<Vec<i64>> = inputs.iter().map(|(_, p)| keyframe_pts(p)).collect();
    assert!(keyframes[0].len() >= 9, "{keyframes:?}");
    for pair in keyframes[0].windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            i64::from(TARGET) * 90_000,
            "{keyframes:?}"
        );
    }
    assert!(
        keyframes.iter().all(|k| *k == keyframes[0]),
        "the renditions' keyframes differ: {keyframes:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cdn");
    let renditions: Vec<Rendition<'_>> = inputs
        .iter()
        .map(|(name, clip)| Rendition::flat(name, clip))
        .collect();
    let config = write_config(
        dir.path(),
        "masters.toml",
        &master_config(dir.path(), &renditions, &out),
    );
    let playlists: Vec<PathBuf> = renditions.iter().map(|r| out.join(&r.playlist)).collect();
    let master_path = out.join("master.m3u8");
    let logs = run_until_ended(&config, &playlists, &master_path);
    let ran = started.elapsed();

    // The master: the three variants in order, URIs relative to it.
    let text = std::fs::read_to_string(&master_path).unwrap();
    println!("master.m3u8:\n{text}");
    let master = Master::parse(&text);
    assert_eq!(master.version, Some(3), "{text}");
    assert!(master.independent_segments, "{text}");
    let uris: Vec<&str> = master.variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(uris, ["low.m3u8", "mid.m3u8", "high.m3u8"], "{text}");
    for (uri, playlist) in uris.iter().zip(&playlists) {
        let resolved = master_path.parent().unwrap().join(uri);
        assert_eq!(
            std::fs::canonicalize(&resolved).unwrap(),
            std::fs::canonicalize(playlist).unwrap()
        );
    }

    // Attributes against ffprobe and the published segments.
    let published: Vec<Published> = renditions
        .iter()
        .zip(&playlists)
        .map(|(r, p)| Published::read(r.name, p))
        .collect();
    for ((inf, (name, input)), variant) in master.variants.iter().zip(&inputs).zip(&published) {
        println!("{}", check_video_attributes(name, inf, input));
        println!("{}", check_bandwidth(inf, variant));
    }
    let averages: Vec<u64> = master
        .variants
        .iter()
        .map(|v| v.number("AVERAGE-BANDWIDTH"))
        .collect();
    let peaks: Vec<u64> = master
        .variants
        .iter()
        .map(|v| v.number("BANDWIDTH"))
        .collect();
    assert!(
        averages.windows(2).all(|w| w[0] < w[1]) && peaks.windows(2).all(|w| w[0] < w[1]),
        "bandwidths must grow low < mid < high: {text}"
    );

    // Alignment: same numbers, same start PTS, every segment independent.
    assert!(published[0].segments.len() >= 9, "{text}");
    let starts = check_alignment(&published);
    println!(
        "{} segments per variant from media sequence {:?}; start PTS {:?}",
        published[0].segments.len(),
        published[0].playlist.media_sequence,
        starts[0]
    );
    for variant in &published {
        assert!(variant.playlist.endlist);
    }

    // A player: the master decodes (every variant), and switching variants at a segment
    // boundary decodes without an error.
    let messages = decode_all_streams(&master_path);
    assert!(messages.is_empty(), "decoding the master:\n{messages}");
    ff::assert_decodes_cleanly(&master_path);
    let n = published[0].segments.len();
    let switches = dir.path().join("switch.ts");
    for (from, to, at) in [(0, 2, 1), (2, 0, n / 2), (1, 2, n - 3), (2, 1, 2)] {
        let sizes = (["640", "960", "1280"][from], ["640", "960", "1280"][to]);
        println!(
            "{}",
            check_switch(
                &published[from].segments[at],
                &published[to].segments[at + 1],
                &switches,
                sizes,
            )
        );
    }

    // The logs.
    assert!(
        logs.lines()
            .any(|l| l.contains("master playlist version") && has_field(l, "master", "stream0001")),
        "{}",
        tail(&logs, 60)
    );
    assert!(
        logs.contains("master playlist published"),
        "{}",
        tail(&logs, 60)
    );
    assert!(
        !logs.contains("variants not aligned"),
        "aligned renditions reported misaligned:\n{}",
        tail(&logs, 60)
    );
    let versions = logs
        .lines()
        .filter(|l| l.contains("master playlist version"))
        .count();
    println!(
        "daemon ran {ran:.1?} (test {:.1?}); {versions} master versions",
        started.elapsed()
    );
}

/// A video variant and an audio-only one (the same clip's audio) under one master; returns
/// the master's text, the published variants and the daemon's logs.
fn run_video_and_audio_only(dir: &Path) -> (String, Vec<Published>, String) {
    let ladder = ladder();
    let out = dir.join("cdn");
    let renditions = [
        Rendition::flat("video", &ladder.mobile),
        Rendition::flat("audio", &ladder.audio),
    ];
    let config = write_config(dir, "audio.toml", &master_config(dir, &renditions, &out));
    let playlists: Vec<PathBuf> = renditions.iter().map(|r| out.join(&r.playlist)).collect();
    let master_path = out.join("master.m3u8");
    let logs = run_until_ended(&config, &playlists, &master_path);
    let published = renditions
        .iter()
        .zip(&playlists)
        .map(|(r, p)| Published::read(r.name, p))
        .collect();
    let text = std::fs::read_to_string(&master_path).unwrap();
    (text, published, logs)
}

#[test]
fn audio_only_rendition_in_a_master() {
    let dir = tempfile::tempdir().unwrap();
    let (text, published, logs) = run_video_and_audio_only(dir.path());
    println!("master.m3u8:\n{text}");
    let master = Master::parse(&text);
    assert!(master.independent_segments, "{text}");
    let uris: Vec<&str> = master.variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(uris, ["video.m3u8", "audio.m3u8"], "{text}");
    println!(
        "{}",
        check_video_attributes("video", &master.variants[0], &ladder().mobile)
    );
    let audio = &master.variants[1];
    assert_eq!(audio.codecs(), ["mp4a.40.2"], "{text}");
    assert_eq!(audio.resolution(), None, "{text}");
    assert_eq!(audio.frame_rate(), None, "{text}");
    for (inf, variant) in master.variants.iter().zip(&published) {
        println!("{}", check_bandwidth(inf, variant));
    }
    assert!(
        audio.number("AVERAGE-BANDWIDTH") < master.variants[0].number("AVERAGE-BANDWIDTH"),
        "{text}"
    );
    let messages = decode_all_streams(&dir.path().join("cdn/master.m3u8"));
    assert!(messages.is_empty(), "decoding the master:\n{messages}");
    // For the record: how the audio-only variant lines up with the video (see the ignored
    // test below).
    for variant in &published {
        println!(
            "{}: {} segments from {:?}, durations {:?}",
            variant.name,
            variant.segments.len(),
            variant.playlist.media_sequence,
            variant.playlist.durations()
        );
    }
    for line in logs.lines().filter(|l| l.contains("variants not aligned")) {
        println!("{line}");
    }
}

/// A player switching between the video variant and the audio-only one at segment N expects
/// the same media time there. The video's keyframes sit 1.42 s past each 2 s cell of PTS
/// (ffmpeg's mpegts muxer starts timestamps at 1.4 s): the grid takes that phase from the
/// video, and the audio-only variant cuts on it too. It can only cut where an audio PES starts,
/// and ffmpeg packs several AAC frames in one (up to about 0.2 s here), so "aligned" is within
/// one audio PES, a quarter of a second.
pub(crate) const AUDIO_PES_TICKS: i64 = 22_500;

#[test]
fn audio_only_rendition_is_aligned_with_the_video() {
    let dir = tempfile::tempdir().unwrap();
    let (text, published, logs) = run_video_and_audio_only(dir.path());
    let numbering = |p: &Published| (p.playlist.media_sequence, p.segments.len());
    assert_eq!(
        numbering(&published[0]),
        numbering(&published[1]),
        "the video and audio-only variants number their segments differently:\n{text}"
    );
    for (n, (video, audio)) in published[0]
        .segments
        .iter()
        .zip(&published[1].segments)
        .enumerate()
    {
        let (video_start, _) = first_packet(video);
        let (audio_start, _) = first_packet(audio);
        assert!(
            (video_start - audio_start).abs() <= AUDIO_PES_TICKS,
            "segment {n}: the video starts at {video_start}, the audio-only at {audio_start}"
        );
    }
    assert!(
        !logs.contains("variants not aligned"),
        "{}",
        tail(&logs, 40)
    );
}

#[test]
fn misaligned_renditions_are_reported() {
    let (even, odd) = misaligned_pair();
    let (even_keys, odd_keys) = (keyframe_pts(&even), keyframe_pts(&odd));
    assert_ne!(even_keys[1], odd_keys[1], "{even_keys:?} {odd_keys:?}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cdn");
    let renditions = [Rendition::flat("even", &even), Rendition::flat("odd", &odd)];
    // With the operator server on, the misalignment shows in /status as well.
    let text = master_config(dir.path(), &renditions, &out).replacen(
        "[router]\n",
        "[router]\nlisten = \"127.0.0.1:0\"\n",
        1,
    );
    let config = write_config(dir.path(), "misaligned.toml", &text);
    let playlists: Vec<PathBuf> = renditions.iter().map(|r| out.join(&r.playlist)).collect();
    let mut daemon = Daemon::start(&config);
    let base = daemon.status_url(Duration::from_secs(10));
    wait_for(&mut daemon, "the misalignment", FEED_TIMEOUT, |daemon| {
        daemon.logs().contains("variants not aligned")
    });
    let (status, _, body) = http_get(&format!("{base}status"));
    assert!(status.contains("200"), "{status}");
    let body = String::from_utf8_lossy(&body).into_owned();
    let alerts = &body[body
        .find("\"alerts\"")
        .unwrap_or_else(|| panic!("no alerts: {body}"))..];
    let alerts = &alerts[..alerts.find('}').map_or(alerts.len(), |end| end + 1)];
    assert!(
        alerts.contains("variants not aligned")
            && alerts.contains("even")
            && alerts.contains("odd"),
        "/status does not show the misalignment under alerts:\n{body}"
    );
    println!("/status {alerts}");
    wait_for(&mut daemon, "both playlists to end", FEED_TIMEOUT, |_| {
        playlists.iter().all(|p| ended(p))
    });
    let (status, raw) = daemon.stop(Duration::from_secs(20));
    assert!(status.success(), "exit {status:?}\n{raw}");
    let logs = strip_ansi(&raw);
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("variants not aligned"))
        .collect();
    assert!(
        !warnings.is_empty(),
        "no `variants not aligned` warning; logs:\n{}",
        tail(&logs, 80)
    );
    let warning = warnings[0];
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(has_field(warning, "master", "stream0001"), "{warning}");
    assert!(
        (has_field(warning, "variant", "even") && has_field(warning, "other", "odd"))
            || (has_field(warning, "variant", "odd") && has_field(warning, "other", "even")),
        "{warning}"
    );
    assert!(warning.contains(" sequence="), "{warning}");
    println!("{warning}");
}

/// The usual layout of a ladder: the master at the top, each variant's playlist and segments in
/// its own directory. URIs in every playlist resolve against that playlist (RFC 8216 §4.1).
#[test]
fn variants_in_their_own_directories() {
    let ladder = ladder();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cdn");
    let renditions = [
        Rendition::in_dir("low", &ladder.low),
        Rendition::in_dir("high", &ladder.high),
    ];
    let config = write_config(
        dir.path(),
        "dirs.toml",
        &master_config(dir.path(), &renditions, &out),
    );
    let playlists: Vec<PathBuf> = renditions.iter().map(|r| out.join(&r.playlist)).collect();
    let master_path = out.join("master.m3u8");
    run_until_ended(&config, &playlists, &master_path);
    let text = std::fs::read_to_string(&master_path).unwrap();
    let uris: Vec<String> = Master::parse(&text)
        .variants
        .into_iter()
        .map(|v| v.uri)
        .collect();
    assert_eq!(uris, ["low/index.m3u8", "high/index.m3u8"], "{text}");
    for playlist in &playlists {
        assert_segment_uris_resolve(playlist);
    }
    let messages = decode_all_streams(&master_path);
    assert!(messages.is_empty(), "decoding the master:\n{messages}");
}
