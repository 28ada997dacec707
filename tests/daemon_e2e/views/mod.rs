//! Time-shift (DVR) and archive views of one feed, as a user sees them in a sink: a looping
//! real-time clip cut into 2 s segments with a 20 s DVR view and 20 s archives kept 20 s,
//! stopped and restarted mid-period. The live window stays short, the DVR view lasts about
//! 20 s, every finished archive is a VOD playlist that ffmpeg plays, lists only segments that
//! started in its period and continues the previous one's numbers, archives past their
//! retention are gone with their segments, and every listed segment exists. One scenario, three
//! sinks: a local one, SFTP (a test-owned sshd) and S3 (moto), where every deletion is a remote
//! one; S3 also stores the playlists with the HLS content type. `player` plays a finished
//! archive and the DVR view in Chromium with hls.js.

mod player;
mod store;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::common::m3u8::Playlist;
use crate::common::{ff, router};
use crate::daemon::{Daemon, http_request, wait_until, write_config};
use store::{Folder, Prefixed, Store, resolve};

/// The live and DVR playlists' keys.
const LIVE: &str = "cam.m3u8";
const DVR: &str = "cam-dvr.m3u8";

/// The feed's config: state kept in `dir/state`, archives kept `retain`, published by `sink`
/// (a sink table).
fn config(dir: &std::path::Path, retain: &str, sink: &str) -> String {
    let clip = router::data("h264_aac.ts");
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
target_duration = 2

[playlists.cam]
input = "cam"
name = "{LIVE}"
segment_name = "seg/cam-{{seq:05}}.ts"
window = 3

[playlists.cam.dvr]
duration = "20s"

[playlists.cam.archive]
every = "20s"
retain = "{retain}"

{sink}"#,
        state = dir.join("state").display(),
        clip = clip.display(),
    )
}

/// A local sink `web` publishing into `out`.
fn local_sink(out: &std::path::Path) -> String {
    format!(
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n",
        out.display()
    )
}

/// An archive playlist as found in the sink, with the start of its period (from its name).
struct Archive {
    key: String,
    start: SystemTime,
    playlist: Playlist,
}

/// The start of the period an archive key names: `cam/20261202T001220Z.m3u8`, as the default
/// name writes it.
fn period_start(key: &str) -> Option<SystemTime> {
    let stem = key.strip_prefix("cam/")?.strip_suffix(".m3u8")?;
    let field = |range: std::ops::Range<usize>| stem.get(range);
    let stamp = format!(
        "{}-{}-{}T{}:{}:{}Z",
        field(0..4)?,
        field(4..6)?,
        field(6..8)?,
        field(9..11)?,
        field(11..13)?,
        field(13..15)?
    );
    humantime::parse_rfc3339(&stamp).ok()
}

/// The archives in the sink now, oldest first.
fn archives(store: &dyn Store) -> Vec<Archive> {
    let mut found: Vec<Archive> = (store.keys().into_iter())
        .filter_map(|key| {
            let start = period_start(&key)?;
            let playlist = Playlist::parse(&store.text(&key)?);
            Some(Archive {
                key,
                start,
                playlist,
            })
        })
        .collect();
    found.sort_by_key(|archive| archive.start);
    found
}

fn is_finished(archive: &Archive) -> bool {
    archive.playlist.playlist_type.as_deref() == Some("VOD")
}

/// Every archive seen so far, by period start: the latest version of each (they are deleted
/// 20 s after their period, so only one or two are there at a time).
#[derive(Default)]
struct Seen(std::collections::BTreeMap<SystemTime, Archive>);

impl Seen {
    fn look(&mut self, store: &dyn Store) -> &Self {
        for archive in archives(store) {
            self.0.insert(archive.start, archive);
        }
        self
    }

    fn finished(&self) -> Vec<&Archive> {
        self.0
            .values()
            .filter(|archive| is_finished(archive))
            .collect()
    }
}

/// The segment keys the playlist `key` lists now (none if it is not there).
fn listed(store: &dyn Store, key: &str) -> Vec<String> {
    let Some(text) = store.text(key) else {
        return Vec::new();
    };
    let parsed = Playlist::parse(&text);
    (parsed.uris().into_iter())
        .map(|uri| resolve(key, uri))
        .collect()
}

/// The segment numbers of the keys `seg/cam-NNNNN.ts`.
fn stored(keys: &BTreeSet<String>) -> BTreeSet<u64> {
    (keys.iter())
        .filter_map(|key| {
            key.strip_prefix("seg/cam-")?
                .strip_suffix(".ts")?
                .parse()
                .ok()
        })
        .collect()
}

fn number(key: &str) -> u64 {
    key.trim_start_matches("seg/cam-")
        .trim_end_matches(".ts")
        .parse()
        .unwrap()
}

/// ffmpeg reads the whole playlist `key` (from the folder, or over HTTP from the S3 server),
/// and each of its segments decodes cleanly. (ffmpeg's HLS reader does not reset timestamps at
/// EXT-X-DISCONTINUITY: where the looping clip starts again it says the timestamps go back,
/// which is no fault of the playlist.)
fn assert_plays(store: &dyn Store, key: &str) {
    let location = store.locate(key);
    let played = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&location)
        .args(["-f", "null", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg");
    let errors = String::from_utf8_lossy(&played.stderr);
    let other = (errors.lines()).filter(|line| !line.contains("non monotonically increasing dts"));
    let other: Vec<&str> = other.collect();
    assert!(
        played.status.success() && other.is_empty(),
        "{}: {errors}",
        location.display()
    );
    for segment in listed(store, key) {
        ff::assert_decodes_cleanly(&store.locate(&segment));
    }
}

#[test]
fn dvr_and_archives_live_through_a_restart_and_their_retention() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    views_through_a_restart(dir.path(), &Folder(out.clone()), &local_sink(&out));
}

/// The same over SFTP (a test-owned sshd writing into `remote`): every deletion of the views
/// reaches the remote, and nothing is orphaned across the restart.
#[test]
fn dvr_and_archives_over_sftp() {
    let dir = tempfile::tempdir().unwrap();
    let ssh = crate::servers::ssh(dir.path());
    let out = dir.path().join("remote");
    std::fs::create_dir_all(&out).unwrap();
    let sink = format!(
        "[sinks.origin]\ntype = \"scp\"\ninputs = [\"cam\"]\nhost = \"127.0.0.1\"\nport = {port}\n\
         user = \"{user}\"\nkey_file = \"{key}\"\ndirectory = \"{remote}\"\n",
        port = ssh.port(),
        user = ssh.user,
        key = ssh.key_file.display(),
        remote = out.display()
    );
    views_through_a_restart(dir.path(), &Folder(out), &sink);
}

/// The same into an S3 bucket (moto) under a prefix, read back with ListObjects and GET: the
/// views' deletions reach the bucket, nothing is orphaned across the restart, the finished
/// archives play over HTTP straight from the bucket, and every playlist and segment left there
/// has its HLS content type.
#[test]
fn dvr_and_archives_in_s3() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = crate::durable::bucket::Bucket::create("views");
    let store = Prefixed {
        bucket: &bucket,
        prefix: "tv/",
    };
    let sink = format!(
        "[sinks.cdn]\ntype = \"s3\"\ninputs = [\"cam\"]\nbucket = \"views\"\nprefix = \"tv/\"\n\
         region = \"us-east-1\"\nendpoint = \"http://127.0.0.1:{port}\"\n\
         access_key_id = \"testing\"\nsecret_access_key = \"testing\"\nacl = \"public-read\"\n",
        port = bucket.port()
    );
    views_through_a_restart(dir.path(), &store, &sink);
    let keys = store.keys();
    let playlists = keys.iter().filter(|key| key.ends_with(".m3u8"));
    assert!(playlists.clone().count() >= 3, "{keys:?}");
    for key in keys
        .iter()
        .filter(|key| key.ends_with(".ts"))
        .chain(playlists)
    {
        let (status, headers, _) = http_request("HEAD", &store.url(key));
        assert!(status.contains("200"), "{key}: {status}");
        let want = if key.ends_with(".ts") {
            "video/mp2t"
        } else {
            "application/vnd.apple.mpegurl"
        };
        let content_type = crate::remote_sinks::header(&headers, "content-type");
        assert_eq!(content_type, Some(want), "{key}");
    }
}

/// Runs the feed publishing through `sink` into `store`, stops it mid-period, runs it again,
/// and checks what a player finds in `store`.
fn views_through_a_restart(dir: &std::path::Path, store: &dyn Store, sink: &str) {
    let config = write_config(dir, "views.toml", &config(dir, "20s", sink));

    let mut seen = Seen::default();
    let daemon = Daemon::start(&config);
    wait_until("two finished archives", Duration::from_secs(70), || {
        seen.look(store).finished().len() >= 2
    });
    let dvr_text = Playlist::parse(&store.text(DVR).unwrap());
    let seconds = dvr_text.total_duration();
    assert!((18.0..=24.0).contains(&seconds), "DVR lasts {seconds} s");
    assert!(dvr_text.playlist_type.is_none() && !dvr_text.endlist);
    let live_text = Playlist::parse(&store.text(LIVE).unwrap());
    assert!(live_text.entries.len() <= 3);
    // Stop mid-period: the open archive stays an EVENT.
    wait_until("a period under way", Duration::from_secs(30), || {
        let all = archives(store);
        all.last().is_some_and(|open| {
            open.playlist.playlist_type.as_deref() == Some("EVENT")
                && (2..=6).contains(&open.playlist.entries.len())
        })
    });
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
    let interrupted = archives(store).pop().unwrap();
    assert!(
        !interrupted.playlist.endlist,
        "a stop leaves the open archive open"
    );

    let daemon = Daemon::start(&config);
    wait_until(
        "an archive finished after the restart",
        Duration::from_secs(60),
        || {
            let finished = seen.look(store).finished();
            finished.iter().any(|a| a.start > interrupted.start)
        },
    );
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
    // From here on nothing changes in the store.
    let stopped_at = SystemTime::now();
    let keys = store.keys();
    let after_restart = archives(store);
    seen.look(store);
    // The archive open at the stop went on after the restart (after a discontinuity) and was
    // finished when its period ended.
    let went_on = &seen.0[&interrupted.start];
    assert!(is_finished(went_on), "{}", went_on.key);
    let (before, after) = (&interrupted.playlist.entries, &went_on.playlist.entries);
    assert!(after.len() > before.len(), "{} did not go on", went_on.key);
    assert_eq!(after[..before.len()], before[..]);
    assert!(
        after[before.len()].discontinuity,
        "no discontinuity at the restart"
    );
    // Retention: an archive goes 20 s after its period ended (the playlist at once).
    for archive in &after_restart {
        let due = archive.start + Duration::from_secs(20 + 20 + 3);
        assert!(stopped_at < due, "{} outlived its retention", archive.key);
    }
    let finished = seen.finished();
    assert!(finished.len() >= 3, "{}", logs);
    let mut previous_end: Option<u64> = None;
    for archive in seen.0.values() {
        let playlist = &archive.playlist;
        let end = archive.start + Duration::from_secs(20);
        for entry in &playlist.entries {
            let at = entry.program_date_time.expect("a program date-time");
            assert!(
                archive.start <= at && at < end,
                "{} lists a segment of another period",
                archive.key
            );
        }
        // Back to back with the one before it.
        let first = playlist.media_sequence.unwrap();
        if let Some(previous) = previous_end {
            assert_eq!(first, previous + 1, "{}", archive.key);
        }
        previous_end = Some(first + playlist.entries.len() as u64 - 1);
        if is_finished(archive) && keys.contains(&archive.key) {
            assert!(playlist.endlist, "{}", archive.key);
            assert_plays(store, &archive.key);
        }
    }
    // Every listed segment exists; what no playlist lists is only the newest leaving ones.
    let files = stored(&keys);
    let mut listed_anywhere = BTreeSet::new();
    let playlists = (after_restart.iter().map(|a| a.key.as_str())).chain([LIVE, DVR]);
    for playlist in playlists {
        for key in listed(store, playlist) {
            let n = number(&key);
            assert!(files.contains(&n), "{key} listed by {playlist} is missing");
            listed_anywhere.insert(n);
        }
    }
    // Segments no playlist lists wait out their deletion delay (at most the DVR view's length
    // plus a segment, about 12 segments): nothing older is left behind.
    let oldest_listed = *listed_anywhere.first().unwrap();
    let orphans: Vec<u64> = files
        .iter()
        .copied()
        .filter(|n| !listed_anywhere.contains(n))
        .collect();
    assert!(
        orphans.len() <= 14,
        "left behind: {orphans:?} (oldest listed {oldest_listed})"
    );
    assert!(
        orphans.iter().all(|n| n + 14 > oldest_listed),
        "left behind: {orphans:?} (oldest listed {oldest_listed})"
    );
    // Nothing but the views' playlists and their segments.
    let strays: Vec<&String> = (keys.iter())
        .filter(|key| {
            ![LIVE, DVR].contains(&key.as_str())
                && period_start(key).is_none()
                && !(key.starts_with("seg/cam-") && key.ends_with(".ts"))
        })
        .collect();
    assert!(strays.is_empty(), "unexpected files: {strays:?}");
}
