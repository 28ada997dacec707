//! Sink plugins in the daemon: the local sink built as a `.so` and the C example plugin publish
//! byte for byte what the built-in local sink does; a plugin that panics and fails is retried
//! while the other sink of its playlist goes on; libraries that cannot be used are refused by
//! `check` (every one, naming sink, key and reason), by `plugin info`, and at `run` without
//! stopping the other sinks. The libraries are built by the test (`streamrouter-test-build`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use streamrouter_test_build::{
    c_plugin, cargo_plugin, examples_dir, library_without_entry, test_plugin,
};

use crate::common::router::{self, streamrouter};
use crate::daemon::{Daemon, read_if_exists, wait_until, write_config};

fn tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn local_plugin() -> PathBuf {
    cargo_plugin(tmp(), "streamrouter-local-plugin")
}

fn scripted_plugin() -> PathBuf {
    test_plugin(tmp(), "streamrouter-test-scripted")
}

/// A finite file feed `cam` (1 s segments, every segment kept) published by the built-in local
/// sink `web` into `web_dir`, plus `sinks`.
fn feed_with(web_dir: &Path, sinks: &str) -> String {
    format!(
        r#"[sources.cam]
type = "file"
path = "{clip}"

[segmenters.cam]
input = "cam"
target_duration = 1

[playlists.cam]
input = "cam"
name = "cam.m3u8"
window = 0

[sinks.web]
type = "local"
inputs = ["cam"]
path = "{web}"
{sinks}"#,
        clip = router::data("h264_aac.ts").display(),
        web = web_dir.display()
    )
}

/// A plugin sink publishing `cam`.
fn plugin_sink(name: &str, library: &Path, options: &str) -> String {
    format!(
        "\n[sinks.{name}]\ntype = \"plugin\"\ninputs = [\"cam\"]\nlibrary = \"{}\"\n\
         [sinks.{name}.options]\n{options}\n",
        library.display()
    )
}

/// Every file under `dir` (hidden ones too) with its bytes, by relative path.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().to_path_buf();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn ended(playlist: &Path) -> bool {
    read_if_exists(playlist).is_some_and(|text| text.ends_with("#EXT-X-ENDLIST\n"))
}

/// Both directories hold the same files with the same bytes: a playlist and its segments.
fn assert_same_tree(expected: &Path, actual: &Path) {
    let (expected, actual) = (tree(expected), tree(actual));
    let names = |tree: &BTreeMap<PathBuf, Vec<u8>>| tree.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&actual), names(&expected));
    let segments = expected
        .keys()
        .filter(|p| p.extension().is_some_and(|e| e == "ts"));
    assert!(segments.count() >= 5, "{:?}", names(&expected));
    for (path, bytes) in &expected {
        assert!(actual[path] == *bytes, "{} differs", path.display());
    }
}

/// Runs the feed with `sinks` until every playlist in `dirs` has ended, then stops.
fn run_until_ended(config: &Path, dirs: &[&Path]) -> String {
    let daemon = Daemon::start(config);
    wait_until(
        "every sink's final playlist",
        Duration::from_secs(30),
        || dirs.iter().all(|dir| ended(&dir.join("cam.m3u8"))),
    );
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    logs
}

#[test]
fn the_local_sink_loaded_as_a_plugin_writes_exactly_what_type_local_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (web, plugged) = (dir.path().join("web"), dir.path().join("plugged"));
    let options = format!("path = \"{}\"", plugged.display());
    let sinks = plugin_sink("plugged", &local_plugin(), &options);
    let config = write_config(dir.path(), "plugin.toml", &feed_with(&web, &sinks));
    let logs = run_until_ended(&config, &[&web, &plugged]);
    assert!(logs.contains("plugin sink ready"), "{logs}");
    assert_same_tree(&web, &plugged);
}

#[test]
fn the_c_example_plugin_publishes_like_the_built_in_local_sink() {
    let library = c_plugin(tmp(), &examples_dir().join("dir_sink.c"), "libdir_sink");
    let dir = tempfile::tempdir().unwrap();
    let (web, c_dir) = (dir.path().join("web"), dir.path().join("c"));
    let options = format!("directory = \"{}\"", c_dir.display());
    let sinks = plugin_sink("c", &library, &options);
    let config = write_config(dir.path(), "c.toml", &feed_with(&web, &sinks));
    run_until_ended(&config, &[&web, &c_dir]);
    assert_same_tree(&web, &c_dir);
}

#[test]
fn a_plugin_that_panics_then_fails_is_retried_while_the_other_sink_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (web, flaky) = (dir.path().join("web"), dir.path().join("flaky"));
    // Four failed tries of the first segment: 0.25 + 0.5 + 1 + 2 s of backoff.
    let marker = dir.path().join("destroyed");
    let options = format!(
        "directory = \"{}\"\npanic_puts = 2\nfail_puts = 2\ndestroyed = \"{}\"",
        flaky.display(),
        marker.display()
    );
    let sinks = plugin_sink("flaky", &scripted_plugin(), &options);
    let config = write_config(dir.path(), "flaky.toml", &feed_with(&web, &sinks));
    let mut daemon = Daemon::start(&config);
    wait_until(
        "the built-in sink's final playlist",
        Duration::from_secs(20),
        || ended(&web.join("cam.m3u8")),
    );
    assert!(
        !flaky.join("cam.m3u8").exists(),
        "the flaky sink should still be retrying its first segment"
    );
    wait_until(
        "the flaky sink to catch up",
        Duration::from_secs(30),
        || ended(&flaky.join("cam.m3u8")),
    );
    assert!(daemon.is_running(), "{}", daemon.logs());
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("plugin panicked: scripted panic 1 of 2"),
        "{logs}"
    );
    assert!(logs.contains("sink recovered"), "{logs}");
    assert!(!logs.contains("giving up"), "{logs}");
    assert_same_tree(&web, &flaky);
    let destroyed = std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(
        destroyed.starts_with("destroyed after"),
        "the instance is destroyed at stop"
    );
}

#[test]
fn a_plugin_that_cannot_load_is_logged_and_the_other_sinks_go_on() {
    let wrong = test_plugin(tmp(), "streamrouter-test-wrong-abi");
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web");
    let sinks = plugin_sink("future", &wrong, "");
    let config = write_config(dir.path(), "wrong.toml", &feed_with(&web, &sinks));
    let mut daemon = Daemon::start(&config);
    wait_until(
        "the built-in sink's final playlist",
        Duration::from_secs(20),
        || ended(&web.join("cam.m3u8")),
    );
    assert!(daemon.is_running(), "{}", daemon.logs());
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("sink `future`: cannot load the plugin: ")
            && logs.contains("wrong plugin ABI version 2: this streamrouter loads version 1"),
        "{logs}"
    );
    assert!(logs.contains("sink cannot be used"), "{logs}");
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|line| line.contains(needle)).unwrap() + 1
}

#[test]
fn check_refuses_every_unusable_plugin_naming_the_sink_the_key_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text_file = dir.path().join("libtext.so");
    std::fs::write(&text_file, "not a library\n").unwrap();
    let missing = dir.path().join("libmissing.so");
    let plain = library_without_entry(tmp(), "libplain");
    let wrong = test_plugin(tmp(), "streamrouter-test-wrong-abi");
    let scripted = scripted_plugin();
    let good = format!("path = \"{}\"", dir.path().join("good").display());
    let sinks = [
        plugin_sink("missing", &missing, ""),
        plugin_sink("text", &text_file, ""),
        plugin_sink("plain", &plain, ""),
        plugin_sink("wrong", &wrong, ""),
        plugin_sink(
            "refused",
            &scripted,
            "fail_create = \"endpoint unreachable\"",
        ),
        plugin_sink("good", &local_plugin(), &good),
    ]
    .concat();
    let text = feed_with(&dir.path().join("web"), &sinks);
    let config = write_config(dir.path(), "bad.toml", &text);
    let run = streamrouter(&["check", config.to_str().unwrap()]);
    run.assert_failure();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let name = config.display();
    let library_line = |library: &Path| line_of(&text, &format!("\"{}\"", library.display()));
    let expected = [
        (
            library_line(&missing),
            11,
            "missing.library",
            format!("{}: no such file", missing.display()),
        ),
        (
            library_line(&text_file),
            11,
            "text.library",
            format!("{}: not a shared library", text_file.display()),
        ),
        (
            library_line(&plain),
            11,
            "plain.library",
            "no `streamrouter_sink_plugin` symbol: not a streamrouter sink plugin".to_owned(),
        ),
        (
            library_line(&wrong),
            11,
            "wrong.library",
            "wrong plugin ABI version 2: this streamrouter loads version 1".to_owned(),
        ),
        (
            line_of(&text, "[sinks.refused.options]"),
            1,
            "refused.options",
            "plugin `scripted` (".to_owned(),
        ),
    ];
    for (line, column, key, reason) in expected {
        let found = run.stderr.lines().any(|l| {
            l.starts_with(&format!("{name}:{line}:{column}: error: sinks.{key}: "))
                && l.contains(&reason)
        });
        assert!(
            found,
            "no `{key}` error with `{reason}` at line {line}:\n{}",
            run.stderr
        );
    }
    assert!(
        run.stderr
            .contains("refused its options: endpoint unreachable"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("sinks.good"), "{}", run.stderr);
    assert!(run.stderr.contains("5 error(s)"), "{}", run.stderr);

    let good_only = feed_with(
        &dir.path().join("web"),
        &plugin_sink("good", &local_plugin(), &good),
    );
    let config = write_config(dir.path(), "good.toml", &good_only);
    let run = streamrouter(&["check", config.to_str().unwrap()]);
    run.assert_success();
    assert!(
        run.stdout
            .contains("ok (1 sources, 1 segmenters, 1 playlists, 2 sinks)"),
        "{}",
        run.stdout
    );
}

#[test]
fn plugin_info_names_the_plugin_or_says_why_it_cannot_be_loaded() {
    let library = local_plugin();
    let run = streamrouter(&["plugin", "info", library.to_str().unwrap()]);
    run.assert_success();
    let canonical = std::fs::canonicalize(&library).unwrap();
    assert_eq!(
        run.stdout,
        format!(
            "name: local\nversion: {}\nabi: 1\npath: {}\n",
            env!("CARGO_PKG_VERSION"),
            canonical.display()
        )
    );

    let wrong = test_plugin(tmp(), "streamrouter-test-wrong-abi");
    let run = streamrouter(&["plugin", "info", wrong.to_str().unwrap()]);
    run.assert_failure();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("cannot load the plugin: ")
            && run.stderr.contains("wrong plugin ABI version 2"),
        "{}",
        run.stderr
    );
    let run = streamrouter(&["plugin", "info", "/nonexistent/libx.so"]);
    run.assert_failure();
    assert!(
        run.stderr.contains("/nonexistent/libx.so: no such file"),
        "{}",
        run.stderr
    );
}
