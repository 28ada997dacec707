//! A sink's backlog: the work waiting for one sink, in arrival order, bounded in bytes, every
//! item in the sink's journal before the worker sees it.
//!
//! The intake side takes commands from the sink's queue as soon as they arrive, so senders
//! never wait, and writes each to the journal (a segment's bytes first; see
//! `publish::journal`). Recent segments are also held in memory up to a small budget; beyond
//! it only their journal file holds them, and the worker reads them back when it catches up.
//! When memory and disk together exceed `spool_limit`, the oldest unsent segments are dropped
//! for this sink and a gap takes their place, so its playlist lists them as EXT-X-GAP. At start
//! the backlog begins with what the journal held.
//!
//! Owns the in-memory queue; the journal's files are the journal's. Never calls the sink,
//! never touches a playlist plan (the worker does).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use crate::publish::journal::{Journal, Record, SegmentInfo};
use crate::segmenter::Segment;

use super::backlog_records::{JournalBytes, record_of};
use super::links::{PlaylistId, SinkCommand};
use super::sink_task::SinkSetup;

/// Work for the sink's worker, in the order it must be done; `id` is its journal record.
#[derive(Debug)]
pub struct Work {
    /// The journal record to complete once done.
    pub id: u64,
    /// What to do.
    pub item: WorkItem,
}

/// What a [`Work`] asks.
#[derive(Debug)]
pub enum WorkItem {
    /// A command as it was sent (a segment read back from the journal when needed).
    Command(SinkCommand),
    /// An init segment lost from the journal: the playlist's segments are gaps until the
    /// next init.
    InitLost {
        /// Which playlist.
        playlist: PlaylistId,
        /// Its object key.
        key: String,
    },
    /// A segment this sink will not hold: list it as EXT-X-GAP.
    Gap {
        /// Which playlist.
        playlist: PlaylistId,
        /// Its object key.
        key: String,
        /// Its timing (no bytes).
        segment: Segment,
        /// Wall-clock time of its first sample.
        wall_clock: SystemTime,
    },
}

#[derive(Debug)]
enum Queued {
    /// In memory as it was sent (and in the journal, when the sink has one).
    Held(SinkCommand),
    /// As the journal records it: a segment whose bytes are only in its file, a gap, or work
    /// recovered at start. `cut` is when it was queued (for the publish latency log).
    Recorded { record: Record, cut: Instant },
}

#[derive(Debug)]
struct Entry {
    id: u64,
    queued: Queued,
}

impl Entry {
    /// Segment bytes it holds in memory and on disk only.
    fn segment_bytes(&self) -> (u64, u64) {
        match &self.queued {
            Queued::Held(SinkCommand::Segment { segment, .. }) => (segment.data.len() as u64, 0),
            Queued::Recorded {
                record: Record::Segment { len, .. },
                ..
            } => (0, *len),
            Queued::Held(_) | Queued::Recorded { .. } => (0, 0),
        }
    }

    /// The gap this entry becomes when it is dropped (a segment).
    fn dropped(&self) -> Option<Record> {
        match &self.queued {
            Queued::Held(SinkCommand::Segment {
                playlist,
                key,
                segment,
                wall_clock,
                ..
            }) => Some(Record::Gap {
                playlist: playlist.to_string(),
                key: key.clone(),
                info: SegmentInfo::of(segment),
                wall_clock: *wall_clock,
            }),
            Queued::Recorded {
                record: record @ Record::Segment { .. },
                ..
            } => Some(record.clone().into_gap()),
            Queued::Held(_) | Queued::Recorded { .. } => None,
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

/// How much a backlog may hold.
#[derive(Debug, Clone)]
pub struct BacklogLimits {
    /// Segment bytes held in memory besides their journal files.
    pub memory_bytes: u64,
    /// Segment bytes held in all (memory and disk) before the oldest are dropped.
    pub spool_limit: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: VecDeque<Entry>,
    memory_bytes: u64,
    spooled_bytes: u64,
    closed: bool,
}

/// The shared backlog of one sink.
#[derive(Debug)]
pub struct Backlog {
    state: Mutex<State>,
    ready: Notify,
    journal: Option<Arc<Journal>>,
}

/// What the backlog holds now, for logs and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogDepth {
    /// Entries waiting (segments, ends, gaps).
    pub entries: usize,
    /// Segment bytes held in memory.
    pub memory_bytes: u64,
    /// Segment bytes only on disk.
    pub spooled_bytes: u64,
}

impl Backlog {
    /// A backlog that starts with `recovered`, the queue a journal held (`journal`; `None`:
    /// memory only).
    pub fn new(journal: Option<Arc<Journal>>, recovered: Vec<(u64, Record)>) -> Self {
        let mut state = State::default();
        let cut = Instant::now();
        for (id, record) in recovered {
            let entry = Entry {
                id,
                queued: Queued::Recorded { record, cut },
            };
            state.spooled_bytes += entry.segment_bytes().1;
            state.entries.push_back(entry);
        }
        Self {
            state: Mutex::new(state),
            ready: Notify::new(),
            journal,
        }
    }

    /// The journal, if the sink has one.
    pub fn journal(&self) -> Option<&Arc<Journal>> {
        self.journal.as_ref()
    }

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
    /// Cancel-safe: nothing is taken unless it is returned (a segment being read back when the
    /// caller gives up stays in the journal).
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
                Some(entry) => return Some(self.read_back(entry).await),
                None => self.ready.notified().await,
            }
        }
    }

    /// Queues `entry`; beyond `spool_limit` the oldest segments become gaps, returned with
    /// their records for the journal.
    fn push(&self, entry: Entry, limits: &BacklogLimits, sink: &str) -> Vec<(u64, Record)> {
        let mut state = self.lock();
        let (memory, spooled) = entry.segment_bytes();
        state.memory_bytes += memory;
        state.spooled_bytes += spooled;
        state.entries.push_back(entry);
        let mut dropped = Vec::new();
        while state.memory_bytes + state.spooled_bytes > limits.spool_limit {
            let Some(oldest) =
                (state.entries.iter()).position(|entry| entry.segment_bytes() != (0, 0))
            else {
                break;
            };
            let (memory, spooled) = state.entries[oldest].segment_bytes();
            let Some(gap) = state.entries[oldest].dropped() else {
                break;
            };
            state.memory_bytes -= memory;
            state.spooled_bytes -= spooled;
            if let Record::Gap { key, .. } = &gap {
                tracing::error!(
                    sink,
                    %key,
                    held_bytes = state.memory_bytes + state.spooled_bytes,
                    spool_limit = limits.spool_limit,
                    "sink far behind: spool full, dropping its oldest unsent segment; its playlist lists it as EXT-X-GAP"
                );
            }
            let entry = &mut state.entries[oldest];
            dropped.push((entry.id, gap.clone()));
            entry.queued = Queued::Recorded {
                record: gap,
                cut: Instant::now(),
            };
        }
        drop(state);
        self.ready.notify_one();
        dropped
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    fn memory_bytes(&self) -> u64 {
        self.lock().memory_bytes
    }

    /// The bytes of record `id` (a segment or an init segment) from the journal's files.
    async fn read_payload(&self, id: u64, len: u64, crc: u32) -> Result<Vec<u8>, String> {
        match self.journal.clone() {
            Some(journal) => blocking(move || journal.read_segment(id, len, crc)).await,
            None => Err("no journal".to_owned()),
        }
    }

    /// The work of an entry; a segment only on disk comes back into memory (a lost one is a
    /// gap).
    async fn read_back(&self, entry: Entry) -> Work {
        let Entry { id, queued } = entry;
        let (record, cut) = match queued {
            Queued::Held(command) => {
                let item = WorkItem::Command(command);
                return Work { id, item };
            }
            Queued::Recorded { record, cut } => (record, cut),
        };
        let item = match record {
            Record::Segment {
                playlist,
                key,
                info,
                wall_clock,
                len,
                crc,
            } => {
                let read = self.read_payload(id, len, crc).await;
                match read {
                    Ok(data) => WorkItem::Command(SinkCommand::Segment {
                        playlist: Arc::from(playlist),
                        key,
                        segment: Arc::new(info.with_data(data)),
                        wall_clock,
                        cut,
                    }),
                    Err(error) => {
                        tracing::error!(%key, %error, "queued segment lost from the journal; its playlist lists it as EXT-X-GAP");
                        WorkItem::Gap {
                            playlist: Arc::from(playlist),
                            key,
                            segment: info.with_data(Vec::new()),
                            wall_clock,
                        }
                    }
                }
            }
            Record::Init {
                playlist,
                key,
                len,
                crc,
            } => {
                let read = self.read_payload(id, len, crc).await;
                let playlist = Arc::from(playlist);
                match read {
                    Ok(data) => WorkItem::Command(SinkCommand::Init {
                        playlist,
                        key,
                        data: Arc::new(data),
                    }),
                    Err(error) => {
                        tracing::error!(%key, %error, "queued init segment lost from the journal; its playlist lists gaps until the next one");
                        WorkItem::InitLost { playlist, key }
                    }
                }
            }
            Record::Gap {
                playlist,
                key,
                info,
                wall_clock,
            } => WorkItem::Gap {
                playlist: Arc::from(playlist),
                key,
                segment: info.with_data(Vec::new()),
                wall_clock,
            },
            Record::Plan { playlist, settings } => WorkItem::Command(SinkCommand::Plan {
                playlist: Arc::from(playlist),
                settings,
            }),
            Record::Master { key, text } => WorkItem::Command(SinkCommand::Master { key, text }),
            Record::ArchiveMaster(version) => {
                WorkItem::Command(SinkCommand::ArchiveMaster(version))
            }
            Record::DeleteKey {
                playlist,
                key,
                keep_for,
            } => WorkItem::Command(SinkCommand::DeleteKey {
                playlist: Arc::from(playlist),
                name: key,
                keep_for,
            }),
            Record::End {
                playlist,
                endlist,
                forget,
            } => WorkItem::Command(SinkCommand::End {
                playlist: Arc::from(playlist),
                endlist,
                forget,
            }),
        };
        Work { id, item }
    }
}

/// Takes commands from the sink's queue into the journal (see [`journaled`]) and the backlog
/// until every sender is gone; record ids start at `next_id`. The limits are the sink's current
/// ones.
pub async fn run_intake(
    sink: String,
    mut receiver: mpsc::UnboundedReceiver<SinkCommand>,
    backlog: Arc<Backlog>,
    setup: watch::Receiver<SinkSetup>,
    depth: DepthGauges,
    mut next_id: u64,
) {
    while let Some(command) = receiver.recv().await {
        let limits = setup.borrow().limits.backlog.clone();
        let id = next_id;
        next_id += 1;
        let queued = match backlog.journal() {
            Some(journal) => {
                journaled(&sink, Arc::clone(journal), id, command, &backlog, &limits).await
            }
            None => Queued::Held(command),
        };
        let dropped = backlog.push(Entry { id, queued }, &limits, &sink);
        depth.show(&backlog);
        if let Some(journal) = backlog.journal()
            && !dropped.is_empty()
        {
            let journal = Arc::clone(journal);
            let replaced = blocking(move || {
                for (id, gap) in dropped {
                    journal.replace(id, &gap)?;
                }
                Ok::<(), crate::publish::journal::JournalError>(())
            })
            .await;
            if let Err(error) = replaced {
                tracing::warn!(sink, %error, "journal: a dropped segment stays recorded");
            }
        }
    }
    backlog.close();
}

/// Writes `command` to the journal as record `id`; a segment over the memory budget is then
/// queued as its record alone (its bytes in the journal file). What the journal refuses is held
/// in memory (logged): it is published all the same, but would not survive a crash.
async fn journaled(
    sink: &str,
    journal: Arc<Journal>,
    id: u64,
    command: SinkCommand,
    backlog: &Backlog,
    limits: &BacklogLimits,
) -> Queued {
    let Some(record) = record_of(&command) else {
        return Queued::Held(command);
    };
    let (data, over_budget) = match &command {
        SinkCommand::Segment { segment, .. } => {
            let len = segment.data.len() as u64;
            let over = backlog.memory_bytes() + len > limits.memory_bytes;
            (Some(JournalBytes::Segment(Arc::clone(segment))), over)
        }
        // Small, and never dropped for the spool: held in memory too.
        SinkCommand::Init { data, .. } => (Some(JournalBytes::Init(Arc::clone(data))), false),
        _ => (None, false),
    };
    let written = {
        let record = record.clone();
        blocking(move || journal.append(id, &record, data.as_ref().map(JournalBytes::bytes))).await
    };
    match (written, command) {
        (Ok(()), SinkCommand::Segment { cut, .. }) if over_budget => {
            Queued::Recorded { record, cut }
        }
        (Ok(()), command) => Queued::Held(command),
        (Err(error), command) => {
            tracing::error!(sink, %error, "journal write failed: holding the item in memory only (a crash would lose it)");
            Queued::Held(command)
        }
    }
}

/// Runs `call` on the blocking pool; its error (or the pool's) as text.
pub async fn blocking<T, E>(
    call: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, String>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    match tokio::task::spawn_blocking(call).await {
        Ok(result) => result.map_err(|error| error.to_string()),
        Err(join_error) => Err(join_error.to_string()),
    }
}
