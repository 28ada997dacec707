//! A sink's journal: what the sink still has to store, publish or delete, on disk, so that a
//! stop, a crash or an outage loses nothing that was cut.
//!
//! One directory per sink (`state_dir/journal/SINK/`) holds:
//! - `journal.redb`, a [redb](https://www.redb.org) database. redb was chosen over a hand-made
//!   log because it gives exactly what a journal needs and nothing more: atomic, checksummed
//!   commits (a write torn by a crash or a power loss is rolled back to the last commit when
//!   the file is opened), one file, no background threads, no dependencies, a file lock that
//!   keeps a second daemon off the same state. Its tables:
//!   - `queue`: the sink's work in arrival order (id → [`Record`] as JSON): playlist settings,
//!     segments, master versions, ends, and gaps (segments dropped for this sink).
//!   - `plans` and `entries`: each playlist's plan as this sink publishes it ([`PlanSnapshot`]
//!     without its entries, then one row per listed segment), so a restarted daemon goes on
//!     with what each playlist listed.
//!   - `deletions`: expired segments (key → when their deletion is due, Unix milliseconds).
//!   - `masters`: the latest version of each master playlist.
//!   - `archive_masters`: each archive master published and not yet deleted (key →
//!     [`ArchiveMasterRecord`] as JSON: its period, its variants, when it expires). A journal
//!     from before it gets the table empty.
//! - `segments/ID.ts`: the bytes of each queued segment, written and fsync'd before its record
//!   is committed; a record names its length and CRC-32, checked when it is read back.
//!
//! Work is done in queue order, and each item is completed in one commit: its record leaves the
//! queue together with the plan it changed and the deletions it scheduled, so after a crash the
//! item is simply done again (a store is idempotent). A record that cannot be read, a segment
//! file that is missing or damaged, a database that cannot be opened are reported and skipped
//! (the database is moved aside), never a refusal to start.
//!
//! Owns the files of one sink's journal directory. Blocking: callers run it off the async
//! threads. Knows nothing of sinks or tasks.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

mod archives;
mod records;

pub use archives::{ArchiveRecord, read_archives};
pub use records::{Completion, PlanChange, Record, Recovered, SegmentInfo};

use super::archive_master::ArchiveMasterRecord;
use super::plan::PlanSnapshot;
use crate::playlist::PlaylistEntry;

const QUEUE: TableDefinition<u64, &[u8]> = TableDefinition::new("queue");
const PLANS: TableDefinition<&str, &[u8]> = TableDefinition::new("plans");
const ENTRIES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("entries");
const DELETIONS: TableDefinition<&str, u64> = TableDefinition::new("deletions");
const MASTERS: TableDefinition<&str, &str> = TableDefinition::new("masters");
const ARCHIVE_MASTERS: TableDefinition<&str, &[u8]> = TableDefinition::new("archive_masters");

const DATABASE_FILE: &str = "journal.redb";
const SEGMENTS_DIR: &str = "segments";

/// Why the journal could not do something.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Another process (a running daemon) has the journal open.
    #[error("journal {path}: held by another process (a daemon running on this state_dir)")]
    Busy {
        /// The database file.
        path: PathBuf,
    },
    /// The database refused.
    #[error("journal {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: Box<redb::Error>,
    },
    /// A file could not be read or written.
    #[error("journal {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A queued segment's file is not what was written.
    #[error(
        "journal {path}: segment damaged ({found} bytes, CRC {found_crc:08x}; {len} bytes, CRC {crc:08x} were written)"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Its length now.
        found: u64,
        /// Its checksum now.
        found_crc: u32,
        /// The length written.
        len: u64,
        /// The checksum written.
        crc: u32,
    },
}

/// One sink's journal.
#[derive(Debug)]
pub struct Journal {
    db: Database,
    path: PathBuf,
    segments: PathBuf,
    durable: bool,
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and reads what it holds. `durable` commits and
    /// fsyncs every change (a journal under `state_dir`); otherwise the journal only spares
    /// memory and lasts one run. A database that cannot be opened is moved aside (its name
    /// logged) and a new one started.
    pub fn open(dir: &Path, durable: bool) -> Result<(Self, Recovered), JournalError> {
        Self::open_waiting(dir, durable, BUSY_WAIT)
    }

    /// Like [`Self::open`], waiting up to `wait` while another holder lets go of the journal
    /// (the sink before a reload's, draining for its `stop_timeout`); then
    /// [`JournalError::Busy`].
    pub fn open_waiting(
        dir: &Path,
        durable: bool,
        wait: Duration,
    ) -> Result<(Self, Recovered), JournalError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| JournalError::Io { path, source }
        };
        let segments = dir.join(SEGMENTS_DIR);
        fs::create_dir_all(&segments).map_err(io(&segments))?;
        let path = dir.join(DATABASE_FILE);
        let db = match create_waiting(&path, wait) {
            Ok(db) => db,
            // Held elsewhere: a second daemon on the same state, or a moment's read by
            // `archive list`. Never moved aside: it is in use, not unreadable.
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(JournalError::Busy { path });
            }
            Err(error) => {
                let aside = dir.join(format!(
                    "journal-unreadable-{}.redb",
                    unix_millis(SystemTime::now())
                ));
                tracing::warn!(journal = %path.display(), %error, moved_to = %aside.display(), "journal unreadable: moved aside, starting a new one");
                fs::rename(&path, &aside).map_err(io(&path))?;
                Database::create(&path).map_err(|e| database(&path, e))?
            }
        };
        let journal = Self {
            db,
            path,
            segments,
            durable,
        };
        let recovered = journal.recover()?;
        journal.remove_unlisted_segments(&recovered);
        Ok((journal, recovered))
    }

    fn recover(&self) -> Result<Recovered, JournalError> {
        self.read_all().map_err(|e| database(&self.path, e))
    }

    fn read_all(&self) -> Result<Recovered, redb::Error> {
        // Tables are created by a first commit, so that a read finds them.
        let txn = self.db.begin_write()?;
        txn.open_table(QUEUE)?;
        txn.open_table(PLANS)?;
        txn.open_table(ENTRIES)?;
        txn.open_table(DELETIONS)?;
        txn.open_table(MASTERS)?;
        txn.open_table(ARCHIVE_MASTERS)?;
        txn.commit()?;

        let journal = self.path.display();
        let mut recovered = Recovered::default();
        let read = self.db.begin_read()?;
        for row in read.open_table(QUEUE)?.iter()? {
            let (id, value) = row?;
            let id = id.value();
            recovered.next_id = recovered.next_id.max(id + 1);
            match serde_json::from_slice::<Record>(value.value()) {
                Ok(record) => recovered.queue.push((id, record)),
                Err(error) => {
                    tracing::warn!(%journal, id, %error, "journal record unreadable: skipped");
                    recovered.skipped += 1;
                }
            }
        }
        let entries = read.open_table(ENTRIES)?;
        for row in read.open_table(PLANS)?.iter()? {
            let (playlist, value) = row?;
            let playlist = playlist.value().to_owned();
            let Ok(mut plan) = serde_json::from_slice::<PlanSnapshot>(value.value()) else {
                tracing::warn!(%journal, %playlist, "journal plan unreadable: skipped");
                recovered.skipped += 1;
                continue;
            };
            let range = (playlist.as_str(), 0)..=(playlist.as_str(), u64::MAX);
            for row in entries.range(range)? {
                let (_, value) = row?;
                match serde_json::from_slice::<(PlaylistEntry, String)>(value.value()) {
                    Ok((entry, key)) => {
                        plan.playlist.entries.push(entry);
                        plan.keys.push(key);
                    }
                    Err(error) => {
                        tracing::warn!(%journal, %playlist, %error, "journal entry unreadable: skipped");
                        recovered.skipped += 1;
                    }
                }
            }
            recovered.plans.insert(playlist, plan);
        }
        for row in read.open_table(DELETIONS)?.iter()? {
            let (key, due) = row?;
            let due = UNIX_EPOCH + Duration::from_millis(due.value());
            recovered.deletions.push((key.value().to_owned(), due));
        }
        for row in read.open_table(MASTERS)?.iter()? {
            let (key, text) = row?;
            (recovered.masters).insert(key.value().to_owned(), text.value().to_owned());
        }
        for row in read.open_table(ARCHIVE_MASTERS)?.iter()? {
            let (key, value) = row?;
            let key = key.value().to_owned();
            match serde_json::from_slice::<ArchiveMasterRecord>(value.value()) {
                Ok(record) => {
                    recovered.archive_masters.insert(key, record);
                }
                Err(error) => {
                    tracing::warn!(%journal, %key, %error, "journal archive master unreadable: skipped");
                    recovered.skipped += 1;
                }
            }
        }
        Ok(recovered)
    }

    /// Segment files no queued record names (written by a run that crashed before their
    /// record was committed) are removed.
    fn remove_unlisted_segments(&self, recovered: &Recovered) {
        let listed: std::collections::BTreeSet<PathBuf> = (recovered.queue.iter())
            .map(|(id, _)| self.segment_file(*id))
            .collect();
        let Ok(files) = fs::read_dir(&self.segments) else {
            return;
        };
        for file in files.flatten().map(|entry| entry.path()) {
            if !listed.contains(&file) {
                let _ = fs::remove_file(file);
            }
        }
    }

    /// The file of segment record `id`.
    fn segment_file(&self, id: u64) -> PathBuf {
        self.segments.join(format!("{id:016}.ts"))
    }

    /// Queues `record` as `id`; a segment's `data` is written (and fsync'd when durable) first.
    pub fn append(
        &self,
        id: u64,
        record: &Record,
        data: Option<&[u8]>,
    ) -> Result<(), JournalError> {
        if let Some(data) = data {
            let file = self.segment_file(id);
            self.write_durably(&file, data)
                .map_err(|source| JournalError::Io { path: file, source })?;
        }
        self.commit(|txn| {
            let mut queue = txn.open_table(QUEUE)?;
            queue.insert(id, json(record).as_slice())?;
            Ok(())
        })
    }

    /// Record `id` (a segment) is given up for this sink: it stays queued as `gap`, its bytes go.
    pub fn replace(&self, id: u64, gap: &Record) -> Result<(), JournalError> {
        self.commit(|txn| {
            let mut queue = txn.open_table(QUEUE)?;
            queue.insert(id, json(gap).as_slice())?;
            Ok(())
        })?;
        let _ = fs::remove_file(self.segment_file(id));
        Ok(())
    }

    /// The bytes of segment record `id`, checked against what was written.
    pub fn read_segment(&self, id: u64, len: u64, crc: u32) -> Result<Vec<u8>, JournalError> {
        let path = self.segment_file(id);
        let data = fs::read(&path).map_err(|source| JournalError::Io {
            path: path.clone(),
            source,
        })?;
        let found_crc = crc32(&data);
        if data.len() as u64 != len || found_crc != crc {
            return Err(JournalError::Damaged {
                path,
                found: data.len() as u64,
                found_crc,
                len,
                crc,
            });
        }
        Ok(data)
    }

    /// Item `id` is done: it leaves the queue, with what it changed, in one commit; then its
    /// segment file goes.
    pub fn complete(&self, id: u64, done: Completion) -> Result<(), JournalError> {
        self.commit_done(Some(id), &done)?;
        let _ = fs::remove_file(self.segment_file(id));
        Ok(())
    }

    /// Keeps what a change made outside the queue (archives retired on their own) did.
    pub fn record(&self, done: Completion) -> Result<(), JournalError> {
        self.commit_done(None, &done)
    }

    fn commit_done(&self, id: Option<u64>, done: &Completion) -> Result<(), JournalError> {
        self.commit(|txn| {
            if let Some(id) = id {
                txn.open_table(QUEUE)?.remove(id)?;
            }
            if let Some(change) = &done.plan {
                let playlist = change.playlist.as_str();
                txn.open_table(PLANS)?
                    .insert(playlist, json(&change.header).as_slice())?;
                let mut entries = txn.open_table(ENTRIES)?;
                let below = change.first_listed.unwrap_or(u64::MAX);
                entries.retain_in((playlist, 0)..(playlist, below), |_, _| false)?;
                for (entry, key) in &change.added {
                    let row = json(&(entry, key));
                    entries.insert((playlist, entry.sequence), row.as_slice())?;
                }
            }
            if let Some(playlist) = &done.forget {
                txn.open_table(PLANS)?.remove(playlist.as_str())?;
                let mut entries = txn.open_table(ENTRIES)?;
                let playlist = playlist.as_str();
                entries.retain_in((playlist, 0)..=(playlist, u64::MAX), |_, _| false)?;
            }
            let mut deletions = txn.open_table(DELETIONS)?;
            for (key, due) in &done.deletions {
                deletions.insert(key.as_str(), unix_millis(*due))?;
            }
            if let Some((key, text)) = &done.master {
                txn.open_table(MASTERS)?
                    .insert(key.as_str(), text.as_str())?;
            }
            let mut archive_masters = txn.open_table(ARCHIVE_MASTERS)?;
            if let Some((key, record)) = &done.archive_master {
                archive_masters.insert(key.as_str(), json(record).as_slice())?;
            }
            for key in &done.archive_masters_gone {
                archive_masters.remove(key.as_str())?;
            }
            Ok(())
        })
    }

    /// An expired segment was deleted.
    pub fn deleted(&self, key: &str) -> Result<(), JournalError> {
        self.commit(|txn| {
            txn.open_table(DELETIONS)?.remove(key)?;
            Ok(())
        })
    }

    fn commit(
        &self,
        change: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), JournalError> {
        let run = || -> Result<(), redb::Error> {
            let mut txn = self.db.begin_write()?;
            if !self.durable {
                txn.set_durability(Durability::None)?;
            }
            change(&txn)?;
            txn.commit()?;
            Ok(())
        };
        run().map_err(|e| database(&self.path, e))
    }

    fn write_durably(&self, file: &Path, data: &[u8]) -> std::io::Result<()> {
        let mut out = File::create(file)?;
        out.write_all(data)?;
        if self.durable {
            out.sync_all()?;
            // The file's name must survive too.
            File::open(&self.segments)?.sync_all()?;
        }
        Ok(())
    }
}

/// CRC-32 of a segment's bytes, as a record names it.
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain data types cannot fail (no maps with non-string keys).
    serde_json::to_vec(value).unwrap_or_default()
}

/// How long [`Journal::open`] waits for another holder to let go of the journal (`archive
/// list` holds one for the moment it reads).
const BUSY_WAIT: Duration = Duration::from_secs(3);

/// Opens or creates the database at `path`, waiting up to `wait` while another holder (this
/// process or another) has it open.
fn create_waiting(path: &Path, wait: Duration) -> Result<Database, redb::DatabaseError> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match Database::create(path) {
            Err(redb::DatabaseError::DatabaseAlreadyOpen)
                if std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            result => return result,
        }
    }
}

fn database(path: &Path, error: impl Into<redb::Error>) -> JournalError {
    JournalError::Database {
        path: path.to_owned(),
        source: Box::new(error.into()),
    }
}

fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests;
