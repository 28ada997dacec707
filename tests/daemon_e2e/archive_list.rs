//! `streamrouter archive list`: the archives a sink holds, as its journal records them, checked
//! against the archive playlists a user finds in the sink. While the daemon runs the list comes
//! from its `/archives` (it holds the journals); after a SIGKILL, from the journal itself (left
//! unrepaired by the crash), and both agree with the files: every finished archive listed is a
//! VOD playlist in the sink with that many segments and that duration, the open one an EVENT.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::m3u8::Playlist;
use crate::common::router::{self, streamrouter};
use crate::daemon::{Daemon, wait_until, write_config};

/// A looping real-time feed in 2 s segments with archives every 6 s kept a minute, published to
/// a local sink in `dir/out`, state in `dir/state`, the operator's server on a free port.
fn config(dir: &Path) -> String {
    format!(
        r#"[router]
state_dir = "{state}"
listen = "127.0.0.1:0"

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
window = 3

[playlists.cam.archive]
every = "6s"
retain = "60s"

[sinks.web]
type = "local"
inputs = ["cam"]
path = "{out}"
"#,
        state = dir.join("state").display(),
        clip = router::data("h264_aac.ts").display(),
        out = dir.join("out").display(),
    )
}

/// `archive list CONFIG EXTRA... --json`, parsed.
fn list(config: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["archive", "list", config.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let run = streamrouter(&args);
    run.assert_success();
    serde_json::from_str::<Vec<Value>>(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The keys of the finished archive playlists in the sink.
fn finished_in(out: &Path) -> Vec<String> {
    let Ok(files) = std::fs::read_dir(out.join("cam")) else {
        return Vec::new();
    };
    let vod = |path: &Path| {
        std::fs::read_to_string(path).is_ok_and(|text| text.contains("#EXT-X-PLAYLIST-TYPE:VOD"))
    };
    let paths = files.flatten().map(|file| file.path());
    let finished = paths.filter(|path| vod(path));
    finished
        .map(|path| format!("cam/{}", path.file_name().unwrap().to_string_lossy()))
        .collect()
}

/// Each listed archive agrees with its playlist in the sink; returns the finished ones' keys.
fn check_against_sink(records: &[Value], out: &Path) -> Vec<String> {
    let mut finished = Vec::new();
    let mut open = 0;
    for record in records {
        assert_eq!(record["sink"], "web", "{record}");
        assert_eq!(record["playlist"], "cam", "{record}");
        let key = record["key"].as_str().unwrap();
        let text = std::fs::read_to_string(out.join(key))
            .unwrap_or_else(|e| panic!("listed archive {key} is not in the sink: {e}"));
        let playlist = Playlist::parse(&text);
        let stored = playlist.entries.iter().filter(|entry| !entry.gap).count() as u64;
        assert_eq!(
            record["segments"].as_u64(),
            Some(stored),
            "{key}: {record}\n{text}"
        );
        let duration = record["duration"].as_f64().unwrap();
        assert!(
            (duration - playlist.total_duration()).abs() < 0.01,
            "{key}: listed {duration} s, the playlist {} s",
            playlist.total_duration()
        );
        let start = humantime::parse_rfc3339(record["start"].as_str().unwrap()).unwrap();
        let end = humantime::parse_rfc3339(record["end"].as_str().unwrap()).unwrap();
        assert_eq!(end.duration_since(start).unwrap(), Duration::from_secs(6));
        if record["finished"].as_bool().unwrap() {
            assert_eq!(playlist.playlist_type.as_deref(), Some("VOD"), "{key}");
            assert!(playlist.endlist, "{key}");
            assert_eq!(playlist.media_sequence, record["first"].as_u64(), "{key}");
            let expires = humantime::parse_rfc3339(record["expires"].as_str().unwrap()).unwrap();
            assert_eq!(
                expires.duration_since(end).unwrap(),
                Duration::from_secs(60)
            );
            finished.push(key.to_owned());
        } else {
            open += 1;
            assert_eq!(playlist.playlist_type.as_deref(), Some("EVENT"), "{key}");
            assert!(record["expires"].is_null(), "{record}");
        }
    }
    assert!(open <= 1, "one open archive at most: {records:?}");
    finished
}

#[test]
fn archive_list_reads_the_running_daemon_then_the_journal_a_crash_left() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let config = write_config(dir.path(), "archives.toml", &config(dir.path()));
    let mut daemon = Daemon::start(&config);
    let base = daemon.status_url(Duration::from_secs(20));
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    wait_until(
        "two finished archives in the sink",
        Duration::from_secs(60),
        || finished_in(&out).len() >= 2,
    );

    // While the daemon runs, its journals are held: the config's `listen` is port 0, so the
    // command says where to ask; with --listen it asks the daemon.
    let refused = streamrouter(&["archive", "list", config.to_str().unwrap()]);
    refused.assert_failure();
    assert!(
        refused.stderr.contains("held by a running daemon"),
        "{}",
        refused.stderr
    );
    let running = list(&config, &["--listen", &addr]);
    let finished_running = check_against_sink(&running, &out);
    assert!(finished_running.len() >= 2, "{running:?}");
    assert!(
        running.iter().any(|record| record["finished"] == false),
        "{running:?}"
    );
    assert!(list(&config, &["--listen", &addr, "--feed", "other"]).is_empty());

    // A crash leaves the journal for repair; the list reads it as the daemon left it.
    daemon.signal("KILL");
    assert!(daemon.wait_exit(Duration::from_secs(10)).is_some());
    let after = list(&config, &[]);
    let finished_after = check_against_sink(&after, &out);
    for key in &finished_running {
        assert!(
            finished_after.contains(key),
            "{key} was listed, then not: {after:?}"
        );
    }
    assert_eq!(list(&config, &["--feed", "cam"]), after);
    let table = streamrouter(&["archive", "list", config.to_str().unwrap()]);
    table.assert_success();
    assert!(
        table.stdout.starts_with("SINK  PLAYLIST  START"),
        "{}",
        table.stdout
    );
    assert_eq!(
        table.stdout.lines().count(),
        after.len() + 1,
        "{}",
        table.stdout
    );

    // The journal is whole for the next run: the daemon resumes from it.
    let mut again = Daemon::start(&config);
    again.status_url(Duration::from_secs(20));
    wait_until(
        "a further finished archive",
        Duration::from_secs(30),
        || {
            finished_in(&out)
                .iter()
                .any(|key| !finished_after.contains(key))
        },
    );
    let logs = again.logs();
    assert!(!logs.contains("journal unreadable"), "{logs}");
    assert!(!logs.contains("journal unusable"), "{logs}");
}
