//! Durable publishing (issue 13), proved from the outside: what a user finds in the bucket and
//! in the local directory, and the playlist a player loads, after sink outages, stops during
//! them, crashes (SIGKILL) and restarts. Nothing here looks at the journal or any other file in
//! `state_dir`: only at the sinks.
//!
//! - `outage`: S3 behind a cuttable proxy; SIGTERM during one outage, SIGKILL during another;
//!   one `window = 0` recording with every segment at the end.
//! - `chaos`: SIGKILL at 20 seeded random moments, S3 and a local sink, a sliding window with
//!   deletions; no listed segment missing, no name reused, no orphan left.
//! - `resume`: a sliding window stopped and restarted comes back full, with a discontinuity.
//!
//! The checks of a scenario are gathered in [`Findings`] and reported together at its end, so
//! one failing run shows every way durability is broken, not only the first.

pub(crate) mod bucket;
mod chaos;
mod outage;
mod resume;

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::common::router;
use crate::daemon::{Daemon, strip_ansi, tail};

/// The 12 s H.264+AAC clip, IDR every 2 s: 2 s segments.
pub(crate) const CLIP_2S: &str = "h264_aac.ts";
/// The 10 s MPEG-2 clip, I-frame every 1 s: 1 s segments with `target_duration = 1`.
pub(crate) const CLIP_1S: &str = "mpeg2_mp2.ts";

/// A config with `state_dir = state`, one live feed `cam` (the test clip `clip` looped in real
/// time, cut every `target` seconds) into playlist `index.m3u8` of `window` entries whose
/// segments are named `PREFIX-NNNNN.ts` (expired ones deleted), and `sinks` (TOML text).
pub(crate) fn live_config(
    state: &Path,
    clip: &str,
    target: u32,
    window: usize,
    prefix: &str,
    sinks: &str,
) -> String {
    format!(
        r#"[router]
state_dir = "{state}"

[sources.cam]
type = "file"
path = "{clip}"
realtime = true
loop = true

[segmenters.cam]
input = "cam"
target_duration = {target}

[playlists.cam]
input = "cam"
name = "index.m3u8"
segment_name = "{prefix}-{{seq:05}}.ts"
window = {window}
delete_expired = true

{sinks}"#,
        state = state.display(),
        clip = router::data(clip).display(),
    )
}

/// An S3 sink `name` of playlist `cam` to bucket `bucket` at 127.0.0.1:`port`, plus `extra`
/// lines. Objects are public-read, so the test reads them as a player would (no signature).
pub(crate) fn s3_sink(name: &str, bucket: &str, port: u16, extra: &str) -> String {
    format!(
        r#"[sinks.{name}]
type = "s3"
inputs = ["cam"]
bucket = "{bucket}"
region = "us-east-1"
endpoint = "http://127.0.0.1:{port}"
access_key_id = "testing"
secret_access_key = "testing"
acl = "public-read"
{extra}
"#
    )
}

/// A local sink `name` of playlist `cam` writing to `path`, plus `extra` lines.
pub(crate) fn local_sink(name: &str, path: &Path, extra: &str) -> String {
    format!(
        "[sinks.{name}]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n{extra}\n",
        path.display()
    )
}

/// The sequence number in a segment name `PREFIX-NNNNN.ts`.
pub(crate) fn number(name: &str) -> Option<u64> {
    name.strip_suffix(".ts")?.rsplit('-').next()?.parse().ok()
}

/// Numbers as compact ranges, `1-5, 11-15`, for messages.
pub(crate) fn ranges(numbers: &[u64]) -> String {
    let mut text = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        while i + 1 < numbers.len() && numbers[i + 1] == numbers[i] + 1 {
            i += 1;
        }
        if !text.is_empty() {
            text.push_str(", ");
        }
        if numbers[i] == start {
            let _ = write!(text, "{start}");
        } else {
            let _ = write!(text, "{start}-{}", numbers[i]);
        }
        i += 1;
    }
    if text.is_empty() {
        text.push_str("none");
    }
    text
}

/// What a scenario found wrong, reported all at once at its end.
#[derive(Default)]
pub(crate) struct Findings(Vec<String>);

impl Findings {
    /// Notes `what` unless `ok`.
    pub(crate) fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let what = what();
            eprintln!("FINDING: {what}");
            self.0.push(what);
        }
    }

    /// Panics with every finding, if any, followed by `context` (what a reader needs to judge
    /// them: the playlists involved, log tails).
    pub(crate) fn assert_none(self, scenario: &str, context: &str) {
        assert!(
            self.0.is_empty(),
            "{scenario}: {} finding(s):\n- {}\n{context}",
            self.0.len(),
            self.0.join("\n- ")
        );
    }
}

/// Sends SIGTERM and waits up to `patience` for the exit (then SIGKILL): the exit status, if
/// it exited on its own, and how long SIGTERM → exit took.
pub(crate) fn terminate(daemon: &mut Daemon, patience: Duration) -> (Option<ExitStatus>, Duration) {
    let sent = Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(patience);
    let took = sent.elapsed();
    if status.is_none() {
        daemon.signal("KILL");
        assert!(
            daemon.wait_exit(Duration::from_secs(5)).is_some(),
            "SIGKILL did not end the daemon"
        );
    }
    (status, took)
}

/// Waits until `check` holds, polling; panics with `what` and the tail of the daemon's logs
/// after `timeout`.
pub(crate) fn wait_for(
    daemon: &Daemon,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out ({timeout:?}) waiting for {what}; daemon logs (tail):\n{}",
            tail(&strip_ansi(&daemon.logs()), 30)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGKILL, as a crash or a power loss would end the daemon, and waits for the exit.
pub(crate) fn crash(daemon: &mut Daemon) {
    daemon.signal("KILL");
    assert!(
        daemon.wait_exit(Duration::from_secs(5)).is_some(),
        "SIGKILL did not end the daemon"
    );
}

/// Checks a stop: exit status 0 within `limit` (SIGTERM → exit).
pub(crate) fn check_stop(
    findings: &mut Findings,
    what: &str,
    (status, took): (Option<ExitStatus>, Duration),
    limit: Duration,
) {
    eprintln!("{what}: SIGTERM → exit {took:.1?} ({status:?})");
    match status {
        None => findings.check(false, || {
            format!("{what}: no exit {took:.1?} after SIGTERM (limit {limit:?}); killed")
        }),
        Some(status) => {
            findings.check(status.success(), || format!("{what}: exited with {status}"));
            findings.check(took <= limit, || {
                format!("{what}: SIGTERM → exit took {took:.1?}, more than {limit:?}")
            });
        }
    }
}

/// A small seeded random generator (splitmix64): the same seed gives the same test.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A number in `low..high`.
    pub(crate) fn range(&mut self, low: u64, high: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        low + (z ^ (z >> 31)) % (high - low)
    }
}

#[test]
fn ranges_are_compact() {
    assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
    assert_eq!(ranges(&[]), "none");
    assert_eq!(number("rec-00012.ts"), Some(12));
    assert_eq!(number("index.m3u8"), None);
}
