//! A sliding-window live feed stopped and started again: the first playlist version the
//! restarted daemon stores is a full window (the old entries kept), with an
//! `#EXT-X-DISCONTINUITY` before the first new segment, numbering and media sequence going on.
//! Every playlist upload S3 sees is recorded, so "the first version" is exact, not sampled.

use std::time::{Duration, Instant};

use super::bucket::Bucket;
use super::{
    CLIP_1S, Findings, check_stop, live_config, number, ranges, s3_sink, terminate, wait_for,
};
use crate::common::m3u8::Playlist;
use crate::daemon::{Daemon, write_config};
use crate::recorder::Recorder;

const WINDOW: usize = 5;

/// The playlist versions S3 stored (status 200), in order, from the `skip`th request on.
fn stored_versions(recorder: &Recorder, skip: usize) -> Vec<String> {
    recorder
        .operations()
        .into_iter()
        .skip(skip)
        .filter(|op| op.method == "PUT" && op.path.ends_with("/index.m3u8") && op.status == 200)
        .filter_map(|op| op.playlist)
        .collect()
}

fn numbers(playlist: &Playlist) -> Vec<u64> {
    playlist.uris().iter().filter_map(|u| number(u)).collect()
}

#[test]
fn a_restarted_live_window_comes_back_full_after_a_discontinuity() {
    let started = Instant::now();
    let bucket = Bucket::create("live");
    let recorder = Recorder::start(bucket.port());
    let dir = tempfile::tempdir().unwrap();
    let sink = s3_sink("cdn", "live", recorder.port, "");
    let text = live_config(&dir.path().join("state"), CLIP_1S, 1, WINDOW, "win", &sink);
    let config = write_config(dir.path(), "resume.toml", &text);
    let mut findings = Findings::default();

    let mut daemon = Daemon::start(&config);
    wait_for(
        &daemon,
        "6 segments published, a full window",
        Duration::from_secs(30),
        || {
            bucket.text("index.m3u8").is_some_and(|text| {
                let playlist = Playlist::parse(&text);
                playlist.entries.len() == WINDOW && numbers(&playlist).last() >= Some(&6)
            })
        },
    );
    let stop = terminate(&mut daemon, Duration::from_secs(20));
    check_stop(&mut findings, "stop", stop, Duration::from_secs(10));
    drop(daemon);
    let before_text = bucket.text("index.m3u8").expect("the playlist at stop");
    let before = Playlist::parse(&before_text);
    let old = numbers(&before);
    let last_old = *old.last().expect("entries at stop");
    let requests = recorder.operations().len();

    let mut daemon = Daemon::start(&config);
    wait_for(
        &daemon,
        "a playlist version after the restart",
        Duration::from_secs(20),
        || !stored_versions(&recorder, requests).is_empty(),
    );
    let first_text = stored_versions(&recorder, requests).remove(0);
    let stop = terminate(&mut daemon, Duration::from_secs(20));
    check_stop(&mut findings, "second stop", stop, Duration::from_secs(10));
    drop(daemon);

    let first = Playlist::parse(&first_text);
    let listed = numbers(&first);
    let context =
        || format!("before the stop:\n{before_text}\nfirst after the restart:\n{first_text}");
    findings.check(listed.len() == WINDOW, || {
        format!(
            "the first playlist after the restart lists {} entries (segments {}), not a full window of \
             {WINDOW}",
            listed.len(),
            ranges(&listed),
        )
    });
    let kept: Vec<u64> = listed.iter().copied().filter(|n| *n <= last_old).collect();
    findings.check(!kept.is_empty() && old.ends_with(&kept), || {
        format!(
            "the old entries kept ({}) are not the newest of those listed at the stop ({})",
            ranges(&kept),
            ranges(&old)
        )
    });
    match first
        .entries
        .iter()
        .position(|e| number(&e.uri) > Some(last_old))
    {
        None => findings.check(false, || {
            format!(
                "no new segment in the first version after the restart\n{}",
                context()
            )
        }),
        Some(at) => {
            let entry = &first.entries[at];
            findings.check(entry.discontinuity, || {
                format!(
                    "no #EXT-X-DISCONTINUITY before the first new segment {}",
                    entry.uri
                )
            });
            findings.check(number(&entry.uri) == Some(last_old + 1), || {
                format!("numbering does not go on: {} after {last_old}", entry.uri)
            });
        }
    }
    findings.check(first.media_sequence >= before.media_sequence, || {
        format!(
            "media sequence went back: {:?} after {:?}",
            first.media_sequence, before.media_sequence
        )
    });
    findings.check(first.media_sequence == listed.first().copied(), || {
        format!(
            "media sequence {:?} is not the first entry's number {:?}",
            first.media_sequence,
            listed.first()
        )
    });
    findings.check(!first.endlist, || {
        "the live playlist after the restart has #EXT-X-ENDLIST".to_owned()
    });
    eprintln!("resume: {:.0?} wall time", started.elapsed());
    findings.assert_none(
        "sliding-window resume",
        &format!("before the stop:\n{before_text}\nfirst version after the restart:\n{first_text}"),
    );
}
