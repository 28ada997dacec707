//! Reload triggers: says "look at the config again" when the config file or directory changes
//! on disk ([`watch`]) or the process gets SIGHUP, merged into one stream of
//! [`ReloadTrigger`]s.
//!
//! Owns the file watcher (its thread and inotify handle) and the SIGHUP listener, both released
//! when [`ReloadTriggers`] is dropped. Must not read, compile, diff or apply any config: whoever
//! receives a trigger loads the config itself (a trigger carries no content, and several
//! changes may come as one trigger); `supervisor` does that.

pub mod watch;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use watch::{ConfigWatcher, DEFAULT_DEBOUNCE, WatchTarget, watch_config};

/// Why the config should be loaded again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadTrigger {
    /// Config files changed: the relevant paths seen (the config file, or `*.toml` files of the
    /// config directory), sorted. Empty when the watcher lost events and cannot tell which.
    FileChanged(Vec<PathBuf>),
    /// The process got SIGHUP.
    Signal,
}

/// Why the triggers could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The directory could not be watched (missing, unreadable, or out of inotify watches).
    #[error("cannot watch {}: {source}", dir.display())]
    Watch {
        /// The directory watched.
        dir: PathBuf,
        /// What the watcher said.
        #[source]
        source: notify::Error,
    },
    /// SIGHUP could not be listened for.
    #[error("cannot listen for SIGHUP: {0}")]
    Signal(#[source] std::io::Error),
    /// Called outside a Tokio runtime.
    #[error("reload triggers need a Tokio runtime")]
    NoRuntime,
}

/// A spawned task, aborted when this is dropped.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reload triggers from the config's files and from SIGHUP, in arrival order. While a trigger
/// waits to be received, further file changes join the next one rather than queueing up.
/// Dropping it stops watching and listening.
#[derive(Debug)]
pub struct ReloadTriggers {
    receiver: mpsc::Receiver<ReloadTrigger>,
    _watcher: ConfigWatcher,
    _sighup: AbortOnDrop,
}

impl ReloadTriggers {
    /// The next trigger; `None` only once the watcher and the signal listener have both ended.
    pub async fn recv(&mut self) -> Option<ReloadTrigger> {
        self.receiver.recv().await
    }
}

impl futures_util::Stream for ReloadTriggers {
    type Item = ReloadTrigger;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ReloadTrigger>> {
        self.get_mut().receiver.poll_recv(cx)
    }
}

/// [`reload_triggers_with`] and the [`DEFAULT_DEBOUNCE`].
pub fn reload_triggers(config: &Path) -> Result<ReloadTriggers, WatchError> {
    reload_triggers_with(config, DEFAULT_DEBOUNCE)
}

/// Watches `config` (a `.toml` file, or a directory of them, as `streamrouter run` takes it;
/// see [`WatchTarget`]) and listens for SIGHUP. A burst of changes with gaps shorter than
/// about half of `debounce` gives one trigger, `debounce` after it ends. Must be called within
/// a Tokio runtime.
pub fn reload_triggers_with(
    config: &Path,
    debounce: Duration,
) -> Result<ReloadTriggers, WatchError> {
    let handle = Handle::try_current().map_err(|_| WatchError::NoRuntime)?;
    // One slot: a pending trigger already says "look again"; the watcher merges into the next.
    let (sender, receiver) = mpsc::channel(1);
    let watcher = watch_config(config, debounce, sender.clone())?;
    let sighup = listen_for_sighup(&handle, sender)?;
    Ok(ReloadTriggers {
        receiver,
        _watcher: watcher,
        _sighup: sighup,
    })
}

/// Sends [`ReloadTrigger::Signal`] on `out` for each SIGHUP (several before one is sent are
/// one), until `out` is closed.
fn listen_for_sighup(
    handle: &Handle,
    out: mpsc::Sender<ReloadTrigger>,
) -> Result<AbortOnDrop, WatchError> {
    let _runtime = handle.enter();
    let mut hangups = signal(SignalKind::hangup()).map_err(WatchError::Signal)?;
    Ok(AbortOnDrop(handle.spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reload requested");
            if out.send(ReloadTrigger::Signal).await.is_err() {
                break;
            }
        }
    })))
}
