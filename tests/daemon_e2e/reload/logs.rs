//! Reading the daemon's log: reload lines, their fields, waiting for a generation.

use std::path::Path;
use std::thread::{self};
use std::time::{Duration, Instant};

use crate::common::router;
use crate::daemon::Daemon;

use super::*;

// ------------------------------------------------------------------------------------ logs ---

/// The value of the field `key=` on a log line (up to the next space; a quoted value whole).
pub(crate) fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.find('"').map(|end| &quoted[..end]);
    }
    Some(rest.split(' ').next().unwrap_or(rest))
}

/// `config reloaded` lines with their generation, in log order.
pub(crate) fn reloads(logs: &str) -> Vec<(u64, String)> {
    logs.lines()
        .filter(|line| line.contains("config reloaded"))
        .map(|line| {
            let generation = field(line, "generation")
                .and_then(|g| g.parse().ok())
                .unwrap_or_else(|| panic!("`config reloaded` without a generation: {line}"));
            (generation, line.to_owned())
        })
        .collect()
}

pub(crate) fn lines_with<'a>(logs: &'a str, text: &str) -> Vec<&'a str> {
    logs.lines().filter(|line| line.contains(text)).collect()
}

pub(crate) fn refusals(logs: &str) -> usize {
    lines_with(logs, "reload refused").len()
}

pub(crate) fn unchanged(logs: &str) -> usize {
    lines_with(logs, "config unchanged").len()
}

/// How many times the file source `name` opened its file (once per start of the feed).
pub(crate) fn source_starts(logs: &str, name: &str) -> usize {
    logs.lines()
        .filter(|line| line.contains("reading file") && line.contains(&format!("{{node={name}}}")))
        .count()
}

/// Waits until `check` holds on the logs; fails with the log tail on timeout or daemon exit.
pub(crate) fn wait_logs(
    daemon: &mut Daemon,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let text = logs(daemon);
        if check(&text) {
            return text;
        }
        assert!(
            daemon.is_running(),
            "daemon exited while waiting for {what}; logs:\n{}",
            tail(&text, 80)
        );
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; logs:\n{}",
            tail(&text, 80)
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `config reloaded generation=GENERATION` and returns that line. Fails at once if a
/// reload is refused or found unchanged meanwhile.
pub(crate) fn wait_generation(daemon: &mut Daemon, generation: u64) -> String {
    let before = logs(daemon);
    let (refused, same) = (refusals(&before), unchanged(&before));
    let text = wait_logs(
        daemon,
        &format!("`config reloaded` generation={generation}"),
        RELOAD_TIMEOUT,
        |text| {
            assert!(
                refusals(text) == refused && unchanged(text) == same,
                "expected generation {generation}, but a reload was refused or unchanged:\n{}",
                tail(text, 40)
            );
            reloads(text).iter().any(|(g, _)| *g == generation)
        },
    );
    let line = reloads(&text)
        .into_iter()
        .find(|(g, _)| *g == generation)
        .unwrap()
        .1;
    let elapsed: f64 = field(&line, "elapsed_ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no elapsed_ms on {line}"));
    assert!(elapsed >= 0.0, "{line}");
    line
}

/// Waits for one more `reload refused` line; returns the logs then.
pub(crate) fn wait_refusal(daemon: &mut Daemon, before: usize) -> String {
    wait_logs(
        daemon,
        &format!("`reload refused` number {}", before + 1),
        RELOAD_TIMEOUT,
        |text| refusals(text) > before,
    )
}

/// The `changes` of a `config reloaded` line name every node of `changed` and none of `kept`.
pub(crate) fn assert_changes(line: &str, changed: &[impl AsRef<str>], kept: &[impl AsRef<str>]) {
    let changes = field(line, "changes").unwrap_or_else(|| panic!("no changes= in {line}"));
    for node in changed.iter().map(AsRef::as_ref) {
        assert!(
            changes.contains(node),
            "{node} missing from the changes: {line}"
        );
    }
    for node in kept.iter().map(AsRef::as_ref) {
        assert!(
            !changes.contains(node),
            "{node} did not change, but the reload says it did: {line}"
        );
    }
}

/// The error lines `streamrouter check CONFIG` prints (`FILE:LINE:COL: error: ...`).
pub(crate) fn check_errors(config: &Path) -> Vec<String> {
    let run = router::streamrouter(&["check", config.to_str().unwrap()]);
    run.assert_failure();
    let errors: Vec<String> = run
        .stderr
        .lines()
        .chain(run.stdout.lines())
        .filter(|line| line.contains(": error: "))
        .map(str::to_owned)
        .collect();
    assert!(
        !errors.is_empty(),
        "check printed no error:\n{}",
        run.stderr
    );
    errors
}

/// After a refused reload: one `config error: ` line per error `check` prints, and the refusal
/// counts them.
pub(crate) fn assert_refused_with(logs: &str, errors: &[String]) {
    for error in errors {
        let expected = format!("config error: {error}");
        assert!(
            logs.contains(&expected),
            "the log lacks `{expected}`:\n{}",
            tail(logs, 40)
        );
    }
    let refused = lines_with(logs, "reload refused");
    let last = refused.last().unwrap();
    assert!(last.contains("the running graph is unchanged"), "{last}");
    assert_eq!(
        field(last, "errors"),
        Some(errors.len().to_string().as_str()),
        "{last}"
    );
}
