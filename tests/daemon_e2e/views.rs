//! Time-shift (DVR) and archive views of one feed, as a user sees them in a local sink: a
//! looping real-time clip cut into 2 s segments with a 20 s DVR view and 20 s archives kept
//! 20 s, stopped and restarted mid-period. The live window stays short, the DVR view lasts
//! about 20 s, every finished archive is a VOD playlist that ffmpeg plays, lists only segments
//! that started in its period and continues the previous one's numbers, archives past their
//! retention are gone with their segments, and every listed segment exists. Once into a local
//! sink, once over SFTP (a test-owned sshd), where every deletion is a remote one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::common::m3u8::Playlist;
use crate::common::{ff, router};
use crate::daemon::{Daemon, wait_until, write_config};

/// The feed's config: state kept in `dir/state`, published by `sink` (a sink table).
fn config(dir: &Path, sink: &str) -> String {
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
name = "cam.m3u8"
segment_name = "seg/cam-{{seq:05}}.ts"
window = 3

[playlists.cam.dvr]
duration = "20s"

[playlists.cam.archive]
every = "20s"
retain = "20s"

{sink}"#,
        state = dir.join("state").display(),
        clip = clip.display(),
    )
}

/// A local sink publishing into `out`.
fn local_sink(out: &Path) -> String {
    format!(
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n",
        out.display()
    )
}

/// An archive playlist as found in the sink, with the start of its period (from its name).
struct Archive {
    path: PathBuf,
    start: SystemTime,
    playlist: Playlist,
}

/// The archives in `out/cam/`, oldest first.
fn archives(out: &Path) -> Vec<Archive> {
    let Ok(files) = std::fs::read_dir(out.join("cam")) else {
        return Vec::new();
    };
    let mut found: Vec<Archive> = files
        .flatten()
        .filter_map(|file| {
            let path = file.path();
            let stem = path.file_stem()?.to_str()?.to_owned();
            // `20261202T001220Z`, as the default name writes it.
            let stamp = format!(
                "{}-{}-{}T{}:{}:{}Z",
                &stem[0..4],
                &stem[4..6],
                &stem[6..8],
                &stem[9..11],
                &stem[11..13],
                &stem[13..15]
            );
            let start = humantime::parse_rfc3339(&stamp).ok()?;
            let text = std::fs::read_to_string(&path).ok()?;
            Some(Archive {
                path,
                start,
                playlist: Playlist::parse(&text),
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
    fn look(&mut self, out: &Path) -> &Self {
        for archive in archives(out) {
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

/// The segment keys a playlist file lists (relative URIs resolved against its folder).
fn listed(out: &Path, playlist: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(playlist) else {
        return Vec::new();
    };
    let folder = playlist.parent().unwrap();
    let parsed = Playlist::parse(&text);
    (parsed.uris().into_iter())
        .map(|uri| {
            let path = folder.join(uri);
            let path = std::path::absolute(&path).unwrap();
            let mut parts: Vec<String> = Vec::new();
            for part in path.components() {
                match part {
                    std::path::Component::ParentDir => {
                        parts.pop();
                    }
                    other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
                }
            }
            let path = PathBuf::from_iter(parts);
            path.strip_prefix(out)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// The segment numbers of the files in `out/seg/`.
fn stored(out: &Path) -> BTreeSet<u64> {
    let files = std::fs::read_dir(out.join("seg"))
        .into_iter()
        .flatten()
        .flatten();
    (files.filter_map(|file| {
        let name = file.file_name().into_string().ok()?;
        name.strip_prefix("cam-")?.strip_suffix(".ts")?.parse().ok()
    }))
    .collect()
}

fn number(key: &str) -> u64 {
    key.trim_start_matches("seg/cam-")
        .trim_end_matches(".ts")
        .parse()
        .unwrap()
}

/// ffmpeg reads the whole playlist, and each of its segments decodes cleanly. (ffmpeg's HLS
/// reader does not reset timestamps at EXT-X-DISCONTINUITY: where the looping clip starts
/// again it says the timestamps go back, which is no fault of the playlist.)
fn assert_plays(playlist: &Path) {
    let played = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(playlist)
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
        playlist.display()
    );
    let folder = playlist.parent().unwrap();
    let text = std::fs::read_to_string(playlist).unwrap();
    for uri in Playlist::parse(&text).uris() {
        ff::assert_decodes_cleanly(&folder.join(uri));
    }
}

#[test]
fn dvr_and_archives_live_through_a_restart_and_their_retention() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sink = local_sink(&out);
    views_through_a_restart(dir.path(), &out, &sink);
}

/// The same over SFTP (a test-owned sshd writing into `out`): every deletion of the views
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
    views_through_a_restart(dir.path(), &out, &sink);
}

/// Runs the feed publishing through `sink` into the folder `out`, stops it mid-period, runs it
/// again, and checks what a player finds in `out`.
fn views_through_a_restart(dir: &Path, out: &Path, sink: &str) {
    let out = out.to_path_buf();
    let config = write_config(dir, "views.toml", &config(dir, sink));
    let (live, dvr) = (out.join("cam.m3u8"), out.join("cam-dvr.m3u8"));

    let mut seen = Seen::default();
    let daemon = Daemon::start(&config);
    wait_until("two finished archives", Duration::from_secs(70), || {
        seen.look(&out).finished().len() >= 2
    });
    let dvr_text = Playlist::parse(&std::fs::read_to_string(&dvr).unwrap());
    let seconds = dvr_text.total_duration();
    assert!((18.0..=24.0).contains(&seconds), "DVR lasts {seconds} s");
    assert!(dvr_text.playlist_type.is_none() && !dvr_text.endlist);
    let live_text = Playlist::parse(&std::fs::read_to_string(&live).unwrap());
    assert!(live_text.entries.len() <= 3);
    // Stop mid-period: the open archive stays an EVENT.
    wait_until("a period under way", Duration::from_secs(30), || {
        let all = archives(&out);
        all.last().is_some_and(|open| {
            open.playlist.playlist_type.as_deref() == Some("EVENT")
                && (2..=6).contains(&open.playlist.entries.len())
        })
    });
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
    let interrupted = archives(&out).pop().unwrap();
    assert!(
        !interrupted.playlist.endlist,
        "a stop leaves the open archive open"
    );

    let daemon = Daemon::start(&config);
    wait_until(
        "an archive finished after the restart",
        Duration::from_secs(60),
        || {
            let finished = seen.look(&out).finished();
            finished.iter().any(|a| a.start > interrupted.start)
        },
    );
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
    let stopped_at = SystemTime::now();
    let after_restart = archives(&out);
    seen.look(&out);
    // The archive open at the stop went on after the restart (after a discontinuity) and was
    // finished when its period ended.
    let went_on = &seen.0[&interrupted.start];
    assert!(is_finished(went_on), "{}", went_on.path.display());
    let (before, after) = (&interrupted.playlist.entries, &went_on.playlist.entries);
    assert!(
        after.len() > before.len(),
        "{} did not go on",
        went_on.path.display()
    );
    assert_eq!(after[..before.len()], before[..]);
    assert!(
        after[before.len()].discontinuity,
        "no discontinuity at the restart"
    );
    // Retention: an archive goes 20 s after its period ended (the playlist at once).
    for archive in &after_restart {
        let due = archive.start + Duration::from_secs(20 + 20 + 3);
        assert!(
            stopped_at < due,
            "{} outlived its retention",
            archive.path.display()
        );
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
                archive.path.display()
            );
        }
        // Back to back with the one before it.
        let first = playlist.media_sequence.unwrap();
        if let Some(previous) = previous_end {
            assert_eq!(first, previous + 1, "{}", archive.path.display());
        }
        previous_end = Some(first + playlist.entries.len() as u64 - 1);
        if is_finished(archive) && archive.path.exists() {
            assert!(playlist.endlist, "{}", archive.path.display());
            assert_plays(&archive.path);
        }
    }
    // Every listed segment exists; what no playlist lists is only the newest leaving ones.
    let files = stored(&out);
    let mut listed_anywhere = BTreeSet::new();
    let playlists =
        (after_restart.iter().map(|a| a.path.clone())).chain([live.clone(), dvr.clone()]);
    for playlist in playlists {
        for key in listed(&out, &playlist) {
            let n = number(&key);
            assert!(
                files.contains(&n) || !playlist.exists(),
                "{key} listed by {} is missing",
                playlist.display()
            );
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
}
