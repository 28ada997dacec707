//! Config file watching: the config's directory is watched (not the file, so that a save by
//! rename — vim's backup-and-write, `mv new config.toml`, atomic writers — is seen), events are
//! filtered to the config's files and debounced, and each burst becomes one
//! [`ReloadTrigger::FileChanged`].
//!
//! Owns the `notify` watcher, its debouncer thread and one forwarding task. Reads no file and
//! never follows a change with anything but a trigger.
//!
//! Debouncing is in two halves of `debounce`: `notify-debouncer-full` holds each path's events
//! for the first half (stitching a rename's two halves and merging duplicates), and the
//! forwarder then waits for the second half with no new relevant event before it sends, so a
//! burst longer than the debouncer's window still gives one trigger. Reads are not changes
//! (`Access` events are ignored): the reload that follows a trigger reads the config and must
//! not trigger itself.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::{AbortOnDrop, ReloadTrigger, WatchError};

/// Quiet time after the last change before a trigger: short, because it counts in the time
/// from a file write to the reload applied (issue 6: under 200 ms), and long enough for an
/// editor's save or a generator's burst of writes.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);

/// What is watched for a config path, and which of its directory's entries matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchTarget {
    /// A config file: its directory is watched; only entries with its file name matter.
    File {
        /// The file's directory (`.` for a bare file name).
        dir: PathBuf,
        /// The config file's name.
        file_name: OsString,
    },
    /// A config directory (`run DIR` merges its `*.toml` files, not those of subdirectories):
    /// watched itself, non-recursively; only `*.toml` entries matter.
    Directory {
        /// The directory.
        dir: PathBuf,
    },
}

impl WatchTarget {
    /// The target for `config`: a directory when it is one now, else a file (which may not
    /// exist yet: it is seen when created).
    pub fn of(config: &Path) -> Self {
        if config.is_dir() {
            return Self::Directory {
                dir: config.to_path_buf(),
            };
        }
        let dir = match config.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = config.file_name().map(OsString::from).unwrap_or_default();
        Self::File { dir, file_name }
    }

    /// The directory to watch.
    pub fn dir(&self) -> &Path {
        match self {
            Self::File { dir, .. } | Self::Directory { dir } => dir,
        }
    }

    /// Whether an event on `path` (an entry of the watched directory) concerns the config. By
    /// name only: the watch is not recursive, and backends spell the directory differently.
    pub fn is_relevant(&self, path: &Path) -> bool {
        match self {
            Self::File { file_name, .. } => path.file_name() == Some(file_name.as_os_str()),
            Self::Directory { .. } => path.extension().is_some_and(|ext| ext == "toml"),
        }
    }

    /// The config paths a batch of events touched; `None` when none did. A batch that asks for
    /// a rescan (events were lost) touched the config as far as anyone can tell: empty paths.
    fn touched(&self, events: &[DebouncedEvent]) -> Option<Vec<PathBuf>> {
        let mut paths = BTreeSet::new();
        let mut rescan = false;
        for event in events {
            if event.need_rescan() {
                rescan = true;
            } else if is_change(&event.kind) {
                let relevant = event.paths.iter().filter(|path| self.is_relevant(path));
                paths.extend(relevant.cloned());
            }
        }
        (rescan || !paths.is_empty()).then(|| paths.into_iter().collect())
    }
}

/// Creations, writes, renames, attribute changes (`touch`) and removals; not reads.
fn is_change(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
    )
}

/// A running config watcher; dropping it stops the watching thread and the forwarder.
pub struct ConfigWatcher {
    target: WatchTarget,
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    _forwarder: AbortOnDrop,
}

impl std::fmt::Debug for ConfigWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigWatcher")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl ConfigWatcher {
    /// What is watched.
    pub fn target(&self) -> &WatchTarget {
        &self.target
    }
}

/// Watches `config` (see [`WatchTarget::of`]) and sends one [`ReloadTrigger::FileChanged`] on
/// `out` per burst of changes, `debounce` after the burst (see the module doc). While `out` is
/// full, later changes join the trigger being held. Must be called within a Tokio runtime.
pub fn watch_config(
    config: &Path,
    debounce: Duration,
    out: mpsc::Sender<ReloadTrigger>,
) -> Result<ConfigWatcher, WatchError> {
    let handle = Handle::try_current().map_err(|_| WatchError::NoRuntime)?;
    let target = WatchTarget::of(config);
    let half = (debounce / 2).max(Duration::from_millis(1));
    let (raw_sender, raw_receiver) = mpsc::unbounded_channel();
    let filter = target.clone();
    let handler = move |result: DebounceEventResult| match result {
        Ok(events) => {
            if let Some(paths) = filter.touched(&events) {
                // Fails only once the forwarder is gone, when nobody listens any more.
                let _ = raw_sender.send(paths);
            }
        }
        Err(errors) => {
            for error in errors {
                tracing::warn!(%error, "config watcher");
            }
        }
    };
    let watch_error = |source| WatchError::Watch {
        dir: target.dir().to_path_buf(),
        source,
    };
    let tick = (half / 4).max(Duration::from_millis(1));
    let mut debouncer =
        notify_debouncer_full::new_debouncer(half, Some(tick), handler).map_err(watch_error)?;
    debouncer
        .watch(target.dir(), RecursiveMode::NonRecursive)
        .map_err(watch_error)?;
    let forwarder = handle.spawn(forward(raw_receiver, half, out));
    Ok(ConfigWatcher {
        target,
        _debouncer: debouncer,
        _forwarder: AbortOnDrop(forwarder),
    })
}

/// Turns batches of touched paths into triggers: waits for `quiet` without a new batch, then
/// for room on `out`, merging whatever arrives meanwhile into the same trigger.
async fn forward(
    mut batches: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    quiet: Duration,
    out: mpsc::Sender<ReloadTrigger>,
) {
    while let Some(first) = batches.recv().await {
        let mut paths: BTreeSet<PathBuf> = first.into_iter().collect();
        let mut watching = true;
        while watching {
            match tokio::time::timeout(quiet, batches.recv()).await {
                Ok(Some(more)) => paths.extend(more),
                Ok(None) => watching = false,
                Err(_elapsed) => break,
            }
        }
        let permit = loop {
            tokio::select! {
                permit = out.reserve() => break permit,
                more = batches.recv(), if watching => match more {
                    Some(more) => paths.extend(more),
                    None => watching = false,
                },
            }
        };
        let Ok(permit) = permit else {
            return; // Nobody receives triggers any more.
        };
        tracing::info!(?paths, "config changed: reload requested");
        permit.send(ReloadTrigger::FileChanged(paths.into_iter().collect()));
        if !watching {
            return;
        }
    }
}
