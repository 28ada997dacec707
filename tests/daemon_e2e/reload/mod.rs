//! Hot reload of `streamrouter run`: the config (a directory of `*.toml` or one file) edited on
//! disk while live feeds run, or SIGHUP. Checks, against the files the daemon publishes and its
//! log lines, that a reload touches only what changed (a shrunk window, an added and a removed
//! feed, a sink moved to a new directory), that a broken config is refused with the errors
//! `streamrouter check` prints while everything goes on, and that a hundred reloads leak no
//! file descriptor, socket or memory.
//!
//! The feeds read a 240 s clip with an IDR every second (made once per build directory by
//! ffmpeg), paced in real time: one-second segments, and no test reaches the end of the clip,
//! where a looping file starts over with an `#EXT-X-DISCONTINUITY` no reload caused. Every
//! playlist version the daemon publishes is recorded by a poller, and every segment a version
//! lists must be in the directory when that version is read.

mod logs;
mod signals;
mod watch;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::ff;
use crate::daemon::{
    Daemon, free_udp_port, http_get, plain_logs as logs, strip_ansi, tail, write_config,
};
use crate::feeds::local_feed;

use logs::*;
use watch::*;

/// Longest wait for one reload to show in the log (the watcher's debounce is ~100 ms).
pub(crate) const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Length of the clip the feeds loop; no test may run this long.
pub(crate) const CLIP_SECONDS: u32 = 240;

/// The live clip: H.264 (IDR every 25 frames = 1 s) + AAC, 320x240, `CLIP_SECONDS` long.
pub(crate) fn live_clip() -> PathBuf {
    static CLIP: OnceLock<PathBuf> = OnceLock::new();
    CLIP.get_or_init(|| {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("reload_live_{CLIP_SECONDS}s_gop1s.ts"));
        if path.is_file() {
            return path;
        }
        ff::require_tools();
        let partial = path.with_extension(format!("{}.partial", std::process::id()));
        let output = Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
            .args(["-f", "lavfi", "-i"])
            .arg(format!("testsrc2=s=320x240:r=25:d={CLIP_SECONDS}"))
            .args(["-f", "lavfi", "-i"])
            .arg(format!("sine=f=440:b=4:r=48000:d={CLIP_SECONDS}"))
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "25"])
            .args(["-keyint_min", "25", "-sc_threshold", "0", "-b:v", "200k"])
            .args(["-c:a", "aac", "-b:a", "32k", "-f", "mpegts"])
            .arg(&partial)
            .stdin(Stdio::null())
            .output()
            .expect("run ffmpeg");
        assert!(
            output.status.success(),
            "making the live clip failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::rename(&partial, &path).unwrap();
        path
    })
    .clone()
}

/// One live feed `name` (see [`local_feed`]) reading the live clip in real time, in a loop.
pub(crate) fn live_feed(name: &str, out: &Path, window: usize) -> String {
    let source = format!(
        "type = \"file\"\npath = \"{}\"\nrealtime = true\nloop = true",
        live_clip().display()
    );
    local_feed(name, &source, out, window)
}

/// Saves `text` as `path` the way editors and config managers do: a temporary file next to it
/// (not `*.toml`), then a rename over the old one.
pub(crate) fn save_atomically(path: &Path, text: &str) {
    let name = path.file_name().unwrap().to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

// -------------------------------------------------------------------------------- tests ---

#[test]
fn reload_changes_only_what_changed() {
    let started = Instant::now();
    live_clip();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    let out = |name: &str| dir.path().join("out").join(name);
    let playlist = |dir: &str, name: &str| out(dir).join(format!("{name}.m3u8"));
    write_config(
        &conf,
        "router.toml",
        "[router]\nserve = \"127.0.0.1:0\"\nlisten = \"127.0.0.1:0\"\n",
    );
    for name in ["a", "b", "c"] {
        write_config(
            &conf,
            &format!("{name}.toml"),
            &live_feed(name, &out(name), 6),
        );
    }
    let nodes = |name: &str| {
        vec![
            format!("sources.{name}"),
            format!("segmenters.{name}"),
            format!("playlists.{name}"),
            format!("sinks.{name}_web"),
        ]
    };

    let mut daemon = Daemon::start(&conf);
    let base = server_base(&daemon.first_line(Duration::from_secs(10)));
    let status_base = server_base(&daemon.status_url(Duration::from_secs(10)));
    let recorder = Recorder::start();
    for name in ["a", "b", "c"] {
        recorder.track(name, playlist(name, name));
    }
    for name in ["a", "b", "c"] {
        wait_playlist(
            &mut daemon,
            &format!("3 segments of {name}"),
            &playlist(name, name),
            Duration::from_secs(20),
            |p| p.entries.len() >= 3,
        );
    }

    // a. B's window 6 → 3, written in place (truncate and write, like `echo ... > b.toml`).
    std::fs::write(conf.join("b.toml"), live_feed("b", &out("b"), 3)).unwrap();
    let line = wait_generation(&mut daemon, 2);
    let b_rest = vec![
        "sources.b".into(),
        "segmenters.b".into(),
        "sinks.b_web".into(),
    ];
    assert_changes(
        &line,
        &["playlists.b"],
        &[nodes("a"), nodes("c"), b_rest].concat(),
    );
    let at_reload = read_playlist(&playlist("b", "b")).and_then(|p| last_seq(&p));
    let shrunk = wait_playlist(
        &mut daemon,
        "b's first version after the reload",
        &playlist("b", "b"),
        Duration::from_secs(10),
        |p| last_seq(p) > at_reload,
    );
    assert!(
        shrunk.entries.len() <= 3,
        "b's first version after window 6 → 3 lists {} segments: {:?}",
        shrunk.entries.len(),
        shrunk.uris()
    );
    let b_shrunk_at = last_seq(&shrunk).unwrap();

    // b. D added (saved by rename), then C removed.
    save_atomically(&conf.join("d.toml"), &live_feed("d", &out("d"), 6));
    let line = wait_generation(&mut daemon, 3);
    assert_changes(
        &line,
        &nodes("d"),
        &[nodes("a"), nodes("b"), nodes("c")].concat(),
    );
    recorder.track("d", playlist("d", "d"));
    wait_playlist(
        &mut daemon,
        "d's first segment",
        &playlist("d", "d"),
        Duration::from_secs(15),
        |p| !p.entries.is_empty(),
    );
    // The built-in server serves the added sink at once.
    let served = served_playlist(&base, "d_web", "d.m3u8");
    assert!(!served.entries.is_empty());

    std::fs::remove_file(conf.join("c.toml")).unwrap();
    let line = wait_generation(&mut daemon, 4);
    assert_changes(
        &line,
        &nodes("c"),
        &[nodes("a"), nodes("b"), nodes("d")].concat(),
    );
    let removed_at = Instant::now();
    let c_final = wait_playlist(
        &mut daemon,
        "c's final playlist with #EXT-X-ENDLIST",
        &playlist("c", "c"),
        Duration::from_secs(6),
        |p| p.endlist,
    );
    eprintln!(
        "c ended {:?} after its removal was applied; final playlist lists {:?}",
        removed_at.elapsed(),
        c_final.uris()
    );

    // c. A's sink moves to a new directory.
    let a_old_at_move = read_playlist(&playlist("a", "a")).and_then(|p| last_seq(&p));
    save_atomically(&conf.join("a.toml"), &live_feed("a", &out("a2"), 6));
    let line = wait_generation(&mut daemon, 5);
    let a_rest = vec![
        "sources.a".into(),
        "segmenters.a".into(),
        "playlists.a".into(),
    ];
    assert_changes(
        &line,
        &["sinks.a_web"],
        &[nodes("b"), nodes("d"), a_rest].concat(),
    );
    recorder.track("a2", playlist("a2", "a"));
    let moved = wait_playlist(
        &mut daemon,
        "3 segments of a in its new directory",
        &playlist("a2", "a"),
        Duration::from_secs(15),
        |p| p.entries.len() >= 3,
    );
    assert!(
        moved.media_sequence > a_old_at_move,
        "a's new directory starts at sequence {:?}, the old one had reached {a_old_at_move:?}",
        moved.media_sequence
    );
    // The first segment the new directory got is a whole one that plays alone.
    ff::assert_decodes_cleanly(&out("a2").join(moved.uris()[0]));
    // The built-in server serves the moved sink from its new directory.
    let served = served_playlist(&base, "a_web", "a.m3u8");
    assert!(
        served.media_sequence >= moved.media_sequence,
        "/a_web/a.m3u8 is still the old directory's playlist: {:?}, the new one starts at {:?}",
        served.uris(),
        moved.media_sequence
    );
    let (status, _, body) = http_get(&format!("{base}/a_web/{}", served.uris()[0]));
    assert!(status.contains("200"), "{status}");
    assert_eq!(
        body,
        std::fs::read(out("a2").join(served.uris()[0])).unwrap()
    );

    // d. A syntax error in b.toml (which also asks for window 5): refused, nothing changes.
    let generations_before = reloads(&logs(&daemon)).len();
    let good_b = live_feed("b", &out("b"), 3);
    let broken_b = good_b.replace("window = 3", "window = = 5");
    assert_ne!(broken_b, good_b);
    let bad_line = broken_b
        .lines()
        .position(|l| l.contains("window = = 5"))
        .unwrap()
        + 1;
    save_atomically(&conf.join("b.toml"), &broken_b);
    let text = wait_refusal(&mut daemon, 0);
    let errors = check_errors(&conf);
    let location = format!("{}:{bad_line}:", conf.join("b.toml").display());
    assert!(
        errors.iter().any(|e| e.starts_with(&location)),
        "check should name {location}: {errors:?}"
    );
    assert_refused_with(&text, &errors);
    assert_status(&status_base, 5, "refused", &errors);
    for (what, path) in [
        ("a", playlist("a2", "a")),
        ("b", playlist("b", "b")),
        ("d", playlist("d", "d")),
    ] {
        let next = wait_new_segment(&mut daemon, &format!("{what} to go on"), &path);
        if what == "b" {
            assert!(
                next.entries.len() <= 3,
                "b's window changed: {:?}",
                next.uris()
            );
        }
    }
    assert_eq!(reloads(&logs(&daemon)).len(), generations_before);

    // Back to the running config: nothing to apply.
    let same_before = unchanged(&logs(&daemon));
    save_atomically(&conf.join("b.toml"), &good_b);
    wait_logs(&mut daemon, "`config unchanged`", RELOAD_TIMEOUT, |text| {
        unchanged(text) > same_before
    });
    assert_status(&status_base, 5, "unchanged", &[]);

    // A [router] setting cannot change while running: refused, naming it; then restored.
    let router_toml = "[router]\nserve = \"127.0.0.1:0\"\nlisten = \"127.0.0.1:0\"\n";
    let moved_server = format!(
        "[router]\nserve = \"127.0.0.1:{}\"\nlisten = \"127.0.0.1:0\"\n",
        free_udp_port()
    );
    save_atomically(&conf.join("router.toml"), &moved_server);
    let text = wait_refusal(&mut daemon, 1);
    let error = lines_with(&text, "config error: ")
        .last()
        .unwrap()
        .to_string();
    assert!(
        error.contains("router.toml:2:1: error: router.serve: cannot change while the daemon runs"),
        "the error should be at router.serve, where it is written: {error}"
    );
    assert_eq!(
        field(
            lines_with(&text, "reload refused").last().unwrap(),
            "errors"
        ),
        Some("1")
    );
    assert_status(&status_base, 5, "refused", &[]);
    let same_before = unchanged(&logs(&daemon));
    save_atomically(&conf.join("router.toml"), router_toml);
    wait_logs(&mut daemon, "`config unchanged`", RELOAD_TIMEOUT, |text| {
        unchanged(text) > same_before
    });

    // An unknown input name: refused, naming the key; D goes on.
    let good_d = live_feed("d", &out("d"), 6);
    let broken_d = good_d.replace(
        "[playlists.d]\ninput = \"d\"",
        "[playlists.d]\ninput = \"nosuch\"",
    );
    assert_ne!(broken_d, good_d);
    save_atomically(&conf.join("d.toml"), &broken_d);
    let text = wait_refusal(&mut daemon, 2);
    let errors = check_errors(&conf);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("d.toml:") && e.contains("playlists.d.input")),
        "check should name playlists.d.input in d.toml: {errors:?}"
    );
    assert_refused_with(&text, &errors);
    assert_status(&status_base, 5, "refused", &errors);
    wait_new_segment(&mut daemon, "d to go on", &playlist("d", "d"));
    assert_eq!(reloads(&logs(&daemon)).len(), generations_before);

    // A valid config again, with D's window 6 → 4: applied.
    save_atomically(&conf.join("d.toml"), &live_feed("d", &out("d"), 4));
    let line = wait_generation(&mut daemon, 6);
    assert_changes(
        &line,
        &["playlists.d"],
        &["sources.d", "segmenters.d", "sinks.d_web"],
    );
    assert_status(&status_base, 6, "applied", &[]);
    let at_reload = read_playlist(&playlist("d", "d")).and_then(|p| last_seq(&p));
    let d_shrunk = wait_playlist(
        &mut daemon,
        "d's first version after window 6 → 4",
        &playlist("d", "d"),
        Duration::from_secs(10),
        |p| last_seq(p) > at_reload,
    );
    assert!(d_shrunk.entries.len() <= 4, "{:?}", d_shrunk.uris());
    let d_shrunk_at = last_seq(&d_shrunk).unwrap();

    let (status, final_logs) = daemon.stop(Duration::from_secs(10));
    assert!(
        status.success(),
        "exit {status:?}\n{}",
        tail(&final_logs, 60)
    );
    let tracks = recorder.finish();

    // Every feed published without a cut; the moved sink numbered on.
    let a_old = check_feed("a (old directory)", "a", &tracks["a"]);
    let a_new = check_feed("a (new directory)", "a", &tracks["a2"]);
    let b = check_feed("b", "b", &tracks["b"]);
    let c = check_feed("c", "c", &tracks["c"]);
    let d = check_feed("d", "d", &tracks["d"]);
    assert!(
        a_new.first() > a_old.last(),
        "a's new directory starts at {} but the old one went up to {}: a segment was published \
         twice",
        a_new.first(),
        a_old.last()
    );
    if a_new.first() != a_old.last() + 1 {
        eprintln!(
            "note: a's sequence numbers {}..{} are in neither directory's playlist",
            a_old.last() + 1,
            a_new.first() - 1
        );
    }
    for (label, history, bound, window) in [("b", &b, b_shrunk_at, 3), ("d", &d, d_shrunk_at, 4)] {
        for version in &history.versions {
            if last_seq(version).is_some_and(|last| last >= bound) {
                assert!(
                    version.entries.len() <= window,
                    "{label}: a version after the shrink to {window} lists {:?}",
                    version.uris()
                );
            }
        }
    }
    assert!(c.versions.last().unwrap().endlist);
    assert!(c.segments.len() >= 3);
    for (label, history) in [("a", &a_new), ("b", &b), ("d", &d)] {
        assert!(
            history.versions.last().unwrap().endlist,
            "{label}: no #EXT-X-ENDLIST after SIGTERM"
        );
    }

    // The log: generations 2..=6 once each, 3 refusals, 2 unchanged, no feed restarted.
    let final_logs = strip_ansi(&final_logs);
    for line in final_logs.lines().filter(|line| {
        [
            "config reloaded",
            "config unchanged",
            "reload refused",
            "config error",
        ]
        .iter()
        .any(|what| line.contains(what))
    }) {
        eprintln!("{line}");
    }
    let generations: Vec<u64> = reloads(&final_logs).iter().map(|(g, _)| *g).collect();
    assert_eq!(
        generations,
        vec![2, 3, 4, 5, 6],
        "{}",
        tail(&final_logs, 80)
    );
    assert_eq!(refusals(&final_logs), 3);
    assert_eq!(unchanged(&final_logs), 2);
    for name in ["a", "b", "c", "d"] {
        assert_eq!(
            source_starts(&final_logs, name),
            1,
            "source {name} was (re)started more than once:\n{}",
            lines_with(&final_logs, "reading file").join("\n")
        );
    }
    eprintln!(
        "reload_changes_only_what_changed: {:?}; a {}..{} then {}..{}, b {}..{}, c {}..{}, d {}..{}",
        started.elapsed(),
        a_old.first(),
        a_old.last(),
        a_new.first(),
        a_new.last(),
        b.first(),
        b.last(),
        c.first(),
        c.last(),
        d.first(),
        d.last()
    );
}
