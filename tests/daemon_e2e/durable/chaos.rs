//! Chaos: a live feed (1 s segments, a sliding window with deletions) published to S3 and to a
//! local directory, the daemon SIGKILLed at 20 seeded random moments and restarted each time.
//! At every crash, what the sinks hold is frozen and checked: no segment a playlist lists is
//! missing, and no segment name ever comes back with other bytes. At the end, after a clean
//! stop and a restart that runs past every deletion time, no segment is left behind that the
//! window and the grace no longer allow (no orphans).
//!
//! The seed is printed; `DURABLE_CHAOS_SEED=N` replays a run.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::bucket::Bucket;
use super::{
    CLIP_1S, Findings, Rng, check_stop, crash, live_config, local_sink, number, ranges, s3_sink,
    wait_for,
};
use crate::common::m3u8::Playlist;
use crate::daemon::{Daemon, write_config};

const CRASHES: usize = 20;
const WINDOW: usize = 4;
/// Segment duration (s), from the clip's I-frame interval.
const SEGMENT_SECONDS: u64 = 1;
/// `delete_grace` of both sinks (s).
const GRACE_SECONDS: u64 = 1;
/// Kill moments: this many milliseconds after a start, at random.
const KILL_AFTER_MS: (u64, u64) = (200, 3200);

/// What one sink holds at a moment: its playlist and its segments' contents.
struct Holding {
    sink: &'static str,
    playlist: Option<String>,
    segments: BTreeMap<String, Vec<u8>>,
}

impl Holding {
    /// The segments the playlist lists.
    fn listed(&self) -> Vec<String> {
        self.playlist
            .as_deref()
            .map(|text| {
                Playlist::parse(text)
                    .uris()
                    .iter()
                    .map(|u| (*u).to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What the local directory holds (temporary `.NAME.tmp` files left by a crash are skipped).
fn local_holding(dir: &Path) -> Holding {
    let mut segments = BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".ts") && !name.starts_with('.') {
            // A file deleted between the listing and the read is simply not held.
            if let Ok(body) = std::fs::read(entry.path()) {
                segments.insert(name, body);
            }
        }
    }
    Holding {
        sink: "disk",
        playlist: std::fs::read_to_string(dir.join("index.m3u8")).ok(),
        segments,
    }
}

fn bucket_holding(bucket: &Bucket) -> Holding {
    Holding {
        sink: "cdn",
        playlist: bucket.text("index.m3u8"),
        segments: bucket.segments(),
    }
}

fn digest(bytes: &[u8]) -> (usize, u64) {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    (bytes.len(), hasher.finish())
}

/// Every segment name seen so far at any sink, with its content and where it was first seen.
#[derive(Default)]
struct Seen(HashMap<String, ((usize, u64), String)>);

impl Seen {
    /// Checks `holding` against everything seen before (`when` names the moment).
    fn check(&mut self, findings: &mut Findings, holding: &Holding, when: &str) {
        let missing: Vec<String> = holding
            .listed()
            .into_iter()
            .filter(|uri| !holding.segments.contains_key(uri))
            .collect();
        findings.check(missing.is_empty(), || {
            format!(
                "{when}: sink {} lists segments it does not hold: {missing:?}",
                holding.sink
            )
        });
        for (name, body) in &holding.segments {
            let content = digest(body);
            let here = format!("{} {when}", holding.sink);
            match self.0.get(name) {
                None => {
                    self.0.insert(name.clone(), (content, here));
                }
                Some((first, there)) => findings.check(*first == content, || {
                    format!(
                        "segment name {name} reused: {} bytes at {there}, other {} bytes at {here}",
                        first.0, content.0
                    )
                }),
            }
        }
    }
}

/// How many segments not listed any more may still be held without being orphans: a removed
/// segment stays for its own duration plus the longest playlist that listed it plus the
/// grace (RFC 8216 §6.2.2), i.e. this many segments cut meanwhile, plus 3 of slack for the
/// deletion itself.
fn allowed_unlisted() -> u64 {
    (SEGMENT_SECONDS + WINDOW as u64 * SEGMENT_SECONDS + GRACE_SECONDS) / SEGMENT_SECONDS + 3
}

/// Segments held but neither listed nor recent enough to be within their deletion time.
fn orphans(holding: &Holding) -> Vec<u64> {
    let listed = holding.listed();
    let first_listed = listed.iter().filter_map(|u| number(u)).min().unwrap_or(0);
    holding
        .segments
        .keys()
        .filter(|name| !listed.contains(name))
        .filter_map(|name| number(name))
        .filter(|n| n + allowed_unlisted() < first_listed)
        .collect()
}

#[test]
fn twenty_crashes_lose_no_listed_segment_reuse_no_name_and_leave_no_orphan() {
    let started = Instant::now();
    let seed = std::env::var("DURABLE_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(13);
    eprintln!("chaos seed {seed} (DURABLE_CHAOS_SEED)");
    let mut rng = Rng::new(seed);
    let bucket = Bucket::create("chaos");
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let grace = format!("delete_grace = \"{GRACE_SECONDS}s\"");
    let sinks = format!(
        "{}\n{}",
        s3_sink("cdn", "chaos", bucket.port(), &grace),
        local_sink("disk", &local, &grace)
    );
    let text = live_config(
        &dir.path().join("state"),
        CLIP_1S,
        1,
        WINDOW,
        "live",
        &sinks,
    );
    let config = write_config(dir.path(), "chaos.toml", &text);
    let mut findings = Findings::default();
    let mut seen = Seen::default();

    let mut moments = Vec::new();
    for crash_number in 1..=CRASHES {
        let mut daemon = Daemon::start(&config);
        let after = rng.range(KILL_AFTER_MS.0, KILL_AFTER_MS.1);
        moments.push(after);
        thread::sleep(Duration::from_millis(after)); // the random moment of the crash
        assert!(daemon.is_running(), "the daemon died:\n{}", daemon.logs());
        crash(&mut daemon);
        let when = format!("after crash {crash_number} ({after} ms after its start)");
        seen.check(&mut findings, &local_holding(&local), &when);
        seen.check(&mut findings, &bucket_holding(&bucket), &when);
    }
    eprintln!(
        "{CRASHES} crashes at {moments:?} ms after each start ({:.0?})",
        started.elapsed()
    );

    // The last run: it must publish new segments, then stop cleanly.
    let newest = |holding: Holding| holding.listed().iter().filter_map(|u| number(u)).max();
    let before = newest(local_holding(&local)).unwrap_or(0);
    let mut daemon = Daemon::start(&config);
    wait_for(
        &daemon,
        "new segments after the crashes",
        Duration::from_secs(30),
        || {
            newest(local_holding(&local)).unwrap_or(0) >= before + 3
                && newest(bucket_holding(&bucket)).unwrap_or(0) >= before + 3
        },
    );
    let stop = super::terminate(&mut daemon, Duration::from_secs(20));
    check_stop(
        &mut findings,
        "clean stop after the crashes",
        stop,
        Duration::from_secs(10),
    );
    drop(daemon);
    seen.check(
        &mut findings,
        &local_holding(&local),
        "after the clean stop",
    );
    seen.check(
        &mut findings,
        &bucket_holding(&bucket),
        "after the clean stop",
    );

    // A restart that runs past every deletion time due or pending at the stop: until the
    // window has moved on by more than the deletion allowance at both sinks.
    let first = |holding: &Holding| holding.listed().iter().filter_map(|u| number(u)).min();
    let first_at_stop = first(&local_holding(&local)).unwrap_or(0);
    let mut daemon = Daemon::start(&config);
    let moved_on = first_at_stop + allowed_unlisted() + 1;
    wait_for(
        &daemon,
        "the window to move past the deletion allowance",
        Duration::from_secs(30),
        || {
            [local_holding(&local), bucket_holding(&bucket)]
                .iter()
                .all(|h| first(h).unwrap_or(0) >= moved_on)
        },
    );
    // Deletions due by now are done within a few seconds (each is retried if it fails).
    let deadline = Instant::now() + Duration::from_secs(3);
    let holdings = loop {
        let holdings = [local_holding(&local), bucket_holding(&bucket)];
        if holdings.iter().all(|h| orphans(h).is_empty()) || Instant::now() > deadline {
            break holdings;
        }
        thread::sleep(Duration::from_millis(200));
    };
    for holding in &holdings {
        seen.check(&mut findings, holding, "after the settling run");
        let left = orphans(holding);
        findings.check(left.is_empty(), || {
            format!(
                "sink {}: {} orphaned segments (not listed, past their deletion time): {}; \
                 it lists {}",
                holding.sink,
                left.len(),
                ranges(&left),
                ranges(
                    &holding
                        .listed()
                        .iter()
                        .filter_map(|u| number(u))
                        .collect::<Vec<_>>()
                )
            )
        });
    }
    let stop = super::terminate(&mut daemon, Duration::from_secs(20));
    check_stop(&mut findings, "final stop", stop, Duration::from_secs(10));
    eprintln!(
        "chaos: {:.0?} wall time; {} segment names seen",
        started.elapsed(),
        seen.0.len()
    );
    findings.assert_none("chaos", &format!("seed {seed}, crashes at {moments:?} ms"));
}
