//! Issue 13's scenario as a user lives it: a looping live feed (2 s segments) recorded into one
//! `window = 0` playlist on S3, with S3 behind a proxy the test cuts. A stop (SIGTERM) during
//! an outage must be quick and lose nothing; a crash (SIGKILL) during another outage must lose
//! nothing acknowledged as cut; after the last restart and stop the bucket holds one recording
//! with every segment from the first to the last, and a player reads it.

use std::collections::BTreeSet;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::bucket::Bucket;
use super::{
    CLIP_2S, Findings, check_stop, crash, live_config, local_sink, number, ranges, s3_sink,
    terminate, wait_for,
};
use crate::common::ff;
use crate::common::m3u8::Playlist;
use crate::daemon::{Daemon, strip_ansi, tail, write_config};
use crate::proxy::Proxy;

/// The most a stop may take with every sink down (the bound).
const STOP_LIMIT: Duration = Duration::from_secs(10);
/// How long the test waits for a slow stop before it kills the daemon and notes it.
const STOP_PATIENCE: Duration = Duration::from_secs(30);

/// Sequence numbers of the segment objects in the bucket.
fn stored(bucket: &Bucket) -> BTreeSet<u64> {
    bucket.keys().iter().filter_map(|k| number(k)).collect()
}

/// The highest number a playlist text lists (0 without a playlist).
fn highest(text: Option<String>) -> u64 {
    text.and_then(|t| {
        Playlist::parse(&t)
            .uris()
            .iter()
            .filter_map(|u| number(u))
            .max()
    })
    .unwrap_or(0)
}

/// Waits until the feed has cut two more segments than `cut_before` (as the local witness
/// shows), then until the bucket's playlist lists them too: publishing goes on.
fn wait_for_publishing(daemon: &Daemon, bucket: &Bucket, witness: &Path, cut_before: u64) {
    let cut = || highest(std::fs::read_to_string(witness).ok());
    wait_for(
        daemon,
        "two new segments cut",
        Duration::from_secs(20),
        || cut() >= cut_before + 2,
    );
    let newest = cut();
    wait_for(
        daemon,
        &format!("the bucket's playlist to list segment {newest}"),
        Duration::from_secs(45),
        || highest(bucket.text("index.m3u8")) >= newest,
    );
}

#[test]
fn a_stop_and_a_crash_during_s3_outages_lose_no_segment_of_the_recording() {
    let started = Instant::now();
    let bucket = Bucket::create("live");
    let proxy = Proxy::start(bucket.port());
    let dir = tempfile::tempdir().unwrap();
    // A local sink of the same playlist is the witness of what was cut: it never fails.
    let local = dir.path().join("local");
    let sinks = format!(
        "{}\n{}",
        s3_sink("cdn", "live", proxy.port, ""),
        local_sink("disk", &local, "")
    );
    let witness = local.join("index.m3u8");
    let cut = || highest(std::fs::read_to_string(&witness).ok());
    let text = live_config(&dir.path().join("state"), CLIP_2S, 2, 0, "rec", &sinks);
    let config = write_config(dir.path(), "outage.toml", &text);
    let mut findings = Findings::default();

    // Run 1: a few segments out, then S3 goes away and the operator stops the daemon.
    let mut daemon = Daemon::start(&config);
    wait_for(
        &daemon,
        "3 segments in the bucket",
        Duration::from_secs(30),
        || stored(&bucket).len() >= 3,
    );
    let before = stored(&bucket);
    proxy.set_down(true);
    thread::sleep(Duration::from_secs(10)); // the outage: ~5 segments are cut meanwhile
    let stop = terminate(&mut daemon, STOP_PATIENCE);
    check_stop(&mut findings, "stop during the outage", stop, STOP_LIMIT);
    let run1_logs = daemon.logs();
    drop(daemon);
    proxy.set_down(false);
    eprintln!(
        "run 1 ({:.0?}): {} stored before the outage, 1-{} cut, {} stored after the stop",
        started.elapsed(),
        ranges(&before.iter().copied().collect::<Vec<_>>()),
        cut(),
        ranges(&stored(&bucket).into_iter().collect::<Vec<_>>()),
    );

    // Run 2: S3 is back; publishing resumes; a second outage, and the daemon crashes in it.
    let mut daemon = Daemon::start(&config);
    wait_for_publishing(&daemon, &bucket, &witness, cut());
    proxy.set_down(true);
    thread::sleep(Duration::from_secs(6)); // the second outage: ~3 segments cut meanwhile
    crash(&mut daemon);
    drop(daemon);
    proxy.set_down(false);
    eprintln!(
        "run 2 ({:.0?}): crashed; 1-{} cut, {} stored",
        started.elapsed(),
        cut(),
        ranges(&stored(&bucket).into_iter().collect::<Vec<_>>()),
    );

    // Run 3: after the crash; publishing resumes; a clean stop with S3 up.
    let mut daemon = Daemon::start(&config);
    wait_for_publishing(&daemon, &bucket, &witness, cut());
    let stop = terminate(&mut daemon, STOP_PATIENCE);
    check_stop(&mut findings, "stop with S3 up", stop, STOP_LIMIT);
    let run3_logs = daemon.logs();
    drop(daemon);

    // What the user finds: one recording, every segment from 1 to the last, playable.
    let keys: BTreeSet<String> = bucket.keys().into_iter().collect();
    let numbers: Vec<u64> = keys.iter().filter_map(|k| number(k)).collect();
    // The last segment cut, as the witness shows (the bucket may lack it).
    let last = numbers.last().copied().unwrap_or(0).max(cut());
    let missing: Vec<u64> = (1..=last).filter(|n| !numbers.contains(n)).collect();
    findings.check(missing.is_empty(), || {
        format!(
            "the bucket misses segments {} of 1-{last} (it holds {})",
            ranges(&missing),
            ranges(&numbers)
        )
    });
    let text = bucket.text("index.m3u8").expect("a playlist in the bucket");
    let final_playlist = Playlist::parse(&text);
    let listed: Vec<u64> = final_playlist
        .uris()
        .iter()
        .filter_map(|u| number(u))
        .collect();
    findings.check(listed == (1..=last).collect::<Vec<_>>(), || {
        format!(
            "the final playlist lists {} (media sequence {:?}), not the whole recording 1-{last}",
            ranges(&listed),
            final_playlist.media_sequence
        )
    });
    let gaps: Vec<&str> = final_playlist
        .entries
        .iter()
        .filter(|e| e.gap)
        .map(|e| e.uri.as_str())
        .collect();
    findings.check(gaps.is_empty(), || {
        format!("segments marked #EXT-X-GAP (lost for the sink): {gaps:?}")
    });
    let unstored: Vec<&str> = final_playlist
        .uris()
        .into_iter()
        .filter(|uri| !keys.contains(*uri))
        .collect();
    findings.check(unstored.is_empty(), || {
        format!("listed but not in the bucket: {unstored:?}")
    });
    findings.check(final_playlist.endlist, || {
        format!("the final playlist has no #EXT-X-ENDLIST:\n{text}")
    });
    findings.check(text.trim_end().ends_with("#EXT-X-ENDLIST"), || {
        "#EXT-X-ENDLIST is not the last line".to_owned()
    });
    check_playback(&mut findings, &bucket, &text, &final_playlist);
    eprintln!(
        "outage scenario: {:.0?} wall time; {} segments in the bucket, {} listed",
        started.elapsed(),
        numbers.len(),
        listed.len()
    );
    let context = format!(
        "final playlist:\n{text}\nrun 1 logs (tail):\n{}\nrun 3 logs (tail):\n{}",
        tail(&strip_ansi(&run1_logs), 12),
        tail(&strip_ansi(&run3_logs), 12)
    );
    findings.assert_none("outage, stop, crash, restart", &context);
}

/// Downloads the playlist and what it lists into a directory and reads it there with ffprobe
/// and ffmpeg, as a player that fetched the recording would: every frame the playlist
/// promises is there and decodes. (ffmpeg's HLS demuxer does not reset timestamps at an
/// `#EXT-X-DISCONTINUITY`, as players do, so its null muxer's complaints about timestamps
/// going back there are not errors of the recording; the clip loops every 12 s.)
fn check_playback(findings: &mut Findings, bucket: &Bucket, text: &str, playlist: &Playlist) {
    let copy = tempfile::tempdir().unwrap();
    for uri in playlist.uris() {
        if let Some(body) = bucket.get(uri) {
            std::fs::write(copy.path().join(uri), body).unwrap();
        }
    }
    let local = copy.path().join("index.m3u8");
    std::fs::write(&local, text).unwrap();
    let probe = ff::probe(
        &local,
        &[
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
        ],
    );
    let frames: f64 = probe
        .iter()
        .find_map(|section| section.fields.get("nb_read_frames")?.parse().ok())
        .unwrap_or(0.0);
    let listed = playlist.total_duration();
    findings.check((frames / 25.0 - listed).abs() < 1.0 + 0.02 * listed, || {
        format!("ffprobe reads {frames} video frames (25 fps) from a playlist of {listed:.1} s")
    });
    match ff::decode(&local) {
        Ok(messages) => {
            let errors: Vec<&str> = messages
                .lines()
                .filter(|line| !line.contains("non monotonically increasing dts to muxer"))
                .collect();
            findings.check(errors.is_empty(), || {
                format!(
                    "ffmpeg decodes the recording with errors:\n{}",
                    errors.join("\n")
                )
            });
        }
        Err(failure) => findings.check(false, || {
            format!("ffmpeg cannot decode the recording: {failure}")
        }),
    }
}
