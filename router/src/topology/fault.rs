//! The test fault switch: makes a chosen node task panic once, on demand, to show that it heals
//! (see `heal`). Compiled only into tests and debug builds, never into a release build, and
//! never armed by a config: a test arms it with [`arm`], a debug daemon with the environment
//! variable `STREAMROUTER_TEST_PANIC=TASK[@DELAY][,TASK[@DELAY]...]`, read once. `TASK` is a
//! node (`segmenters.cam1`, `sources.cam1` for its reading task) or `sources.NAME/fan-out`;
//! `DELAY` (default 5 s, e.g. `8s`, `1500ms`) counts from the start of its first run.
//!
//! Owns the armed faults; nothing else.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::config::model::NodeId;

/// The environment variable that arms faults in a debug daemon.
const ENV: &str = "STREAMROUTER_TEST_PANIC";
/// When a fault armed without a delay strikes, after its task's first run started.
const DEFAULT_DELAY: Duration = Duration::from_secs(5);

/// Armed faults by task, not yet struck; `None` until the environment was read.
static ARMED: Mutex<Option<BTreeMap<String, Duration>>> = Mutex::new(None);

/// Makes task `task` panic once, `after` its first run started (if it has not started yet).
#[cfg(test)]
pub(super) fn arm(task: &str, after: Duration) {
    with_armed(|armed| armed.insert(task.to_owned(), after));
}

/// Runs `run`, a run of part `part` of node `node`. The first run of an armed task panics when
/// its fault is due, unless it ended before.
pub(super) async fn armed<F: Future>(
    node: &NodeId,
    part: &str,
    first_run: bool,
    run: F,
) -> F::Output {
    let task = if part.is_empty() {
        node.to_string()
    } else {
        format!("{node}/{part}")
    };
    let due = if first_run {
        with_armed(|armed| armed.remove(&task))
    } else {
        None
    };
    let Some(after) = due else {
        return run.await;
    };
    tokio::select! {
        biased;
        output = run => output,
        () = tokio::time::sleep(after) => strike(&task),
    }
}

// The panic this switch is for.
#[allow(clippy::panic)]
fn strike(task: &str) -> ! {
    panic!("test fault: {task} panics on purpose ({ENV})")
}

fn with_armed<T>(f: impl FnOnce(&mut BTreeMap<String, Duration>) -> T) -> T {
    let mut armed = ARMED.lock().unwrap_or_else(PoisonError::into_inner);
    f(armed.get_or_insert_with(from_environment))
}

/// The faults `STREAMROUTER_TEST_PANIC` arms.
fn from_environment() -> BTreeMap<String, Duration> {
    let Ok(value) = std::env::var(ENV) else {
        return BTreeMap::new();
    };
    parse(&value)
        .inspect(|(task, after)| {
            let after = humantime::format_duration(*after);
            tracing::warn!(%task, %after, "{ENV}: this task will panic once on purpose");
        })
        .collect()
}

fn parse(value: &str) -> impl Iterator<Item = (String, Duration)> + '_ {
    let entries = value.split(',').map(str::trim).filter(|e| !e.is_empty());
    entries.filter_map(|entry| match entry.split_once('@') {
        None => Some((entry.to_owned(), DEFAULT_DELAY)),
        Some((task, delay)) => match humantime::parse_duration(delay) {
            Ok(after) => Some((task.to_owned(), after)),
            Err(error) => {
                tracing::warn!(entry, %error, "{ENV}: not a delay; entry ignored");
                None
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_name_a_task_and_a_delay() {
        let parsed: Vec<_> = parse(" segmenters.a@8s, sources.b/fan-out ,playlists.c@x,").collect();
        assert_eq!(
            parsed,
            [
                ("segmenters.a".to_owned(), Duration::from_secs(8)),
                ("sources.b/fan-out".to_owned(), DEFAULT_DELAY),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_armed_task_panics_once_in_its_first_run() {
        arm("masters.fault-test/part", Duration::from_secs(2));
        let started = tokio::time::Instant::now();
        let slow = tokio::time::sleep(Duration::from_secs(10));
        let node = NodeId::master("fault-test");
        let run = armed(&node, "part", true, slow);
        let panic = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run));
        assert!(panic.await.is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        // Struck once: the next first run is left alone.
        let quick = tokio::time::sleep(Duration::from_secs(3));
        armed(&node, "part", true, quick).await;
    }
}
