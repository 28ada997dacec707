//! A sink's backlog: the work waiting for one sink, in arrival order, bounded in bytes.
//!
//! The intake side takes commands from the sink's queue as soon as they arrive, so senders
//! never wait. Recent segments are held in memory up to a small budget; beyond it they spill to
//! files in the sink's spool directory, and the sink reads them back when it catches up. When
//! memory and spool together exceed `spool_limit`, the oldest unsent segments are dropped and
//! a gap marker takes their place, so the playlist marks the hole with a discontinuity.
//!
//! Owns the spool directory's files and nothing else: it never calls the sink, never touches a
//! playlist plan (the worker does, when it meets a gap marker).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use crate::segmenter::Segment;

use super::sink_task::{PlaylistId, SinkCommand, SinkSetup};

/// Work for the sink's worker, in the order it must be done.
#[derive(Debug)]
pub enum Work {
    /// A command as it was sent (a spilled segment read back into memory).
    Command(SinkCommand),
    /// Segments of this playlist were dropped here: the next one starts a discontinuity.
    Gap {
        /// Which playlist.
        playlist: PlaylistId,
    },
}

/// A segment spilled to a file: everything but its bytes.
#[derive(Debug)]
struct Spilled {
    playlist: PlaylistId,
    key: String,
    segment: Segment,
    file: PathBuf,
    len: u64,
    wall_clock: SystemTime,
    cut: Instant,
}

#[derive(Debug)]
enum Entry {
    Held(SinkCommand),
    Spilled(Spilled),
    Gap { playlist: PlaylistId },
}

impl Entry {
    fn segment_bytes(&self) -> (u64, u64) {
        match self {
            Entry::Held(SinkCommand::Segment { segment, .. }) => (segment.data.len() as u64, 0),
            Entry::Spilled(spilled) => (0, spilled.len),
            Entry::Held(
                SinkCommand::End { .. } | SinkCommand::Plan { .. } | SinkCommand::Master { .. },
            )
            | Entry::Gap { .. } => (0, 0),
        }
    }
}

/// A sink's backlog as metrics: entries waiting and bytes in the spool.
#[derive(Debug, Clone)]
pub struct DepthGauges {
    queue_depth: metrics::Gauge,
    spool_bytes: metrics::Gauge,
}

impl DepthGauges {
    /// The gauges of sink `sink`.
    pub fn new(sink: &str) -> Self {
        let label = [("sink", sink.to_owned())];
        Self {
            queue_depth: metrics::gauge!("streamrouter_sink_queue_depth", &label),
            spool_bytes: metrics::gauge!("streamrouter_sink_spool_bytes", &label),
        }
    }

    /// Shows what `backlog` holds now.
    pub fn show(&self, backlog: &Backlog) {
        let depth = backlog.depth();
        self.queue_depth.set(depth.entries as f64);
        self.spool_bytes.set(depth.spooled_bytes as f64);
    }
}

/// How much a backlog may hold, and where it spills.
#[derive(Debug, Clone)]
pub struct BacklogLimits {
    /// Segment bytes held in memory before new segments spill to disk.
    pub memory_bytes: u64,
    /// Segment bytes held in all (memory and spool) before the oldest are dropped.
    pub spool_limit: u64,
    /// The sink's spool directory; `None` holds everything in memory.
    pub spool_dir: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct State {
    entries: VecDeque<Entry>,
    memory_bytes: u64,
    spooled_bytes: u64,
    closed: bool,
}

/// The shared backlog of one sink.
#[derive(Debug, Default)]
pub struct Backlog {
    state: Mutex<State>,
    ready: Notify,
}

/// What the backlog holds now, for logs and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogDepth {
    /// Entries waiting (segments, ends, gap markers).
    pub entries: usize,
    /// Segment bytes held in memory.
    pub memory_bytes: u64,
    /// Segment bytes in the spool.
    pub spooled_bytes: u64,
}

impl Backlog {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What waits now.
    pub fn depth(&self) -> BacklogDepth {
        let state = self.lock();
        BacklogDepth {
            entries: state.entries.len(),
            memory_bytes: state.memory_bytes,
            spooled_bytes: state.spooled_bytes,
        }
    }

    /// The next work in order, waiting for it; `None` once the queue is closed and drained.
    /// Cancel-safe: nothing is taken unless it is returned.
    pub async fn next(&self) -> Option<Work> {
        loop {
            let entry = {
                let mut state = self.lock();
                match state.entries.pop_front() {
                    Some(entry) => {
                        let (memory, spooled) = entry.segment_bytes();
                        state.memory_bytes -= memory;
                        state.spooled_bytes -= spooled;
                        Some(entry)
                    }
                    None if state.closed => return None,
                    None => None,
                }
            };
            match entry {
                Some(entry) => return Some(read_back(entry).await),
                None => self.ready.notified().await,
            }
        }
    }

    /// Drops everything still waiting (the sink is being given up): spool files are removed.
    /// Returns how many segments were dropped.
    pub async fn discard(&self) -> usize {
        let entries = {
            let mut state = self.lock();
            state.memory_bytes = 0;
            state.spooled_bytes = 0;
            std::mem::take(&mut state.entries)
        };
        let mut dropped = 0;
        let mut files = Vec::new();
        for entry in entries {
            match entry {
                Entry::Held(SinkCommand::Segment { .. }) => dropped += 1,
                Entry::Spilled(spilled) => {
                    dropped += 1;
                    files.push(spilled.file);
                }
                Entry::Held(
                    SinkCommand::End { .. } | SinkCommand::Plan { .. } | SinkCommand::Master { .. },
                )
                | Entry::Gap { .. } => {}
            }
        }
        remove_files(files).await;
        dropped
    }

    fn push(&self, entry: Entry, limits: &BacklogLimits, sink: &str) -> Vec<PathBuf> {
        let mut state = self.lock();
        let (memory, spooled) = entry.segment_bytes();
        state.memory_bytes += memory;
        state.spooled_bytes += spooled;
        state.entries.push_back(entry);
        let mut dropped_files = Vec::new();
        while state.memory_bytes + state.spooled_bytes > limits.spool_limit {
            let Some(oldest) =
                (state.entries.iter()).position(|entry| entry.segment_bytes() != (0, 0))
            else {
                break;
            };
            let (memory, spooled) = state.entries[oldest].segment_bytes();
            state.memory_bytes -= memory;
            state.spooled_bytes -= spooled;
            let (playlist, key, file) = match &state.entries[oldest] {
                Entry::Held(SinkCommand::Segment { playlist, key, .. }) => {
                    (Arc::clone(playlist), key.clone(), None)
                }
                Entry::Spilled(spilled) => (
                    Arc::clone(&spilled.playlist),
                    spilled.key.clone(),
                    Some(spilled.file.clone()),
                ),
                Entry::Held(
                    SinkCommand::End { .. } | SinkCommand::Plan { .. } | SinkCommand::Master { .. },
                )
                | Entry::Gap { .. } => break,
            };
            tracing::error!(
                sink,
                %key,
                held_bytes = state.memory_bytes + state.spooled_bytes,
                spool_limit = limits.spool_limit,
                "sink far behind: spool full, dropping its oldest unsent segment; the playlist marks the gap with a discontinuity"
            );
            state.entries[oldest] = Entry::Gap { playlist };
            dropped_files.extend(file);
        }
        drop(state);
        self.ready.notify_one();
        dropped_files
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    fn memory_bytes(&self) -> u64 {
        self.lock().memory_bytes
    }
}

/// Takes commands from the sink's queue into the backlog until every sender is gone, spilling
/// segments to the spool once the memory budget is used. The spool directory is emptied at
/// start (segments of an earlier run cannot be published into this run's playlists). The
/// limits are the sink's current ones (a reload may change them; the spool directory stays).
pub async fn run_intake(
    sink: String,
    mut receiver: mpsc::UnboundedReceiver<SinkCommand>,
    backlog: Arc<Backlog>,
    setup: watch::Receiver<SinkSetup>,
    depth: DepthGauges,
) {
    let mut spool_usable = true;
    let spool_dir = setup.borrow().limits.backlog.spool_dir.clone();
    if let Some(dir) = spool_dir
        && let Err(error) = prepare_spool(&dir).await
    {
        tracing::error!(sink, dir = %dir.display(), %error, "spool directory unusable: unsent segments stay in memory, up to spool_limit");
        spool_usable = false;
    }
    let mut spilled_files = 0u64;
    while let Some(command) = receiver.recv().await {
        let mut limits = setup.borrow().limits.backlog.clone();
        if !spool_usable {
            limits.spool_dir = None;
        }
        let spill_to = match &command {
            SinkCommand::Segment { segment, .. } => {
                spill_dir(&backlog, &limits, segment.data.len())
            }
            SinkCommand::End { .. } | SinkCommand::Plan { .. } | SinkCommand::Master { .. } => None,
        };
        let entry = match (command, spill_to) {
            (
                SinkCommand::Segment {
                    playlist,
                    key,
                    segment,
                    wall_clock,
                    cut,
                },
                Some(dir),
            ) => {
                spilled_files += 1;
                let file = dir.join(format!("{spilled_files:012}.ts"));
                match write_file(file.clone(), Arc::clone(&segment)).await {
                    Ok(()) => Entry::Spilled(Spilled {
                        playlist,
                        key,
                        len: segment.data.len() as u64,
                        segment: without_data(&segment),
                        file,
                        wall_clock,
                        cut,
                    }),
                    Err(error) => {
                        tracing::warn!(sink, file = %file.display(), %error, "cannot spill to the spool; holding the segment in memory");
                        Entry::Held(SinkCommand::Segment {
                            playlist,
                            key,
                            segment,
                            wall_clock,
                            cut,
                        })
                    }
                }
            }
            (command, _) => Entry::Held(command),
        };
        let dropped = backlog.push(entry, &limits, &sink);
        depth.show(&backlog);
        remove_files(dropped).await;
    }
    backlog.close();
}

/// Removes a sink's spool directory once its worker is done.
pub async fn remove_spool(dir: PathBuf) {
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
}

/// The spool directory, when a segment of `len` bytes no longer fits in the memory budget.
fn spill_dir(backlog: &Backlog, limits: &BacklogLimits, len: usize) -> Option<PathBuf> {
    let over_budget = backlog.memory_bytes() + len as u64 > limits.memory_bytes;
    limits.spool_dir.clone().filter(|_| over_budget)
}

fn without_data(segment: &Segment) -> Segment {
    Segment {
        data: Vec::new(),
        start_pts: segment.start_pts,
        duration_ticks: segment.duration_ticks,
        discontinuity: segment.discontinuity,
        independent: segment.independent,
    }
}

async fn prepare_spool(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_owned();
    blocking(move || {
        if dir.exists() {
            let stale = std::fs::read_dir(&dir)?.count();
            if stale > 0 {
                tracing::warn!(dir = %dir.display(), stale, "removing segments spooled by an earlier run");
            }
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)
    })
    .await
}

async fn write_file(file: PathBuf, segment: Arc<Segment>) -> std::io::Result<()> {
    blocking(move || std::fs::write(file, &segment.data)).await
}

async fn remove_files(files: Vec<PathBuf>) {
    if files.is_empty() {
        return;
    }
    let _ = blocking(move || {
        for file in files {
            let _ = std::fs::remove_file(file);
        }
        Ok(())
    })
    .await;
}

/// A spilled segment comes back into memory; its file goes.
async fn read_back(entry: Entry) -> Work {
    match entry {
        Entry::Held(command) => Work::Command(command),
        Entry::Gap { playlist } => Work::Gap { playlist },
        Entry::Spilled(spilled) => {
            let file = spilled.file.clone();
            let read = blocking(move || {
                let data = std::fs::read(&file)?;
                let _ = std::fs::remove_file(&file);
                Ok(data)
            })
            .await;
            match read {
                Ok(data) => Work::Command(SinkCommand::Segment {
                    playlist: spilled.playlist,
                    key: spilled.key,
                    segment: Arc::new(Segment {
                        data,
                        ..spilled.segment
                    }),
                    wall_clock: spilled.wall_clock,
                    cut: spilled.cut,
                }),
                Err(error) => {
                    tracing::error!(key = %spilled.key, file = %spilled.file.display(), %error, "spooled segment lost; the playlist marks the gap");
                    Work::Gap {
                        playlist: spilled.playlist,
                    }
                }
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(call)
        .await
        .unwrap_or_else(|join_error| Err(std::io::Error::other(join_error.to_string())))
}
