//! The archives a sink's journal records, for `streamrouter archive list` and the daemon's
//! `/archives`: each playlist's finished archives and the open one, read from the journaled plans
//! (their views) and, for the open archive, the listed entries since its first.
//!
//! Two ways in: [`Journal::archives`] through the daemon's own handle (a read transaction beside
//! its writes), and [`read_archives`], a read-only open of a journal no daemon holds (refused with
//! [`JournalError::Busy`] while one does). Reads only; owns the listing's row type.

use std::path::Path;
use std::time::SystemTime;

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use super::{DATABASE_FILE, ENTRIES, Journal, JournalError, PLANS, database};
use crate::playlist::PlaylistEntry;
use crate::publish::plan::PlanSnapshot;

/// One archive a sink holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchiveRecord {
    /// The sink holding it.
    pub sink: String,
    /// The playlist it records.
    pub playlist: String,
    /// Its playlist's object key.
    pub key: String,
    /// The period's start (RFC 3339, UTC).
    pub start: String,
    /// The period's end (RFC 3339, UTC), when the archive settings are known.
    pub end: Option<String>,
    /// Finished (a VOD playlist with `#EXT-X-ENDLIST`), or still open (an EVENT playlist).
    pub finished: bool,
    /// Media seconds listed.
    pub duration: f64,
    /// Segments stored (gaps left out).
    pub segments: u64,
    /// The sequence numbers of its first and last entries.
    pub first: Option<u64>,
    /// See `first`.
    pub last: Option<u64>,
    /// When retention deletes it (RFC 3339, UTC); none: kept for ever, or still open.
    pub expires: Option<String>,
}

impl ArchiveRecord {
    /// Whether it belongs to feed `feed`: the playlist is the feed's (`FEED.NODE`) or named so.
    pub fn in_feed(&self, feed: &str) -> bool {
        self.playlist == feed
            || (self.playlist.strip_prefix(feed)).is_some_and(|rest| rest.starts_with('.'))
    }
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

impl Journal {
    /// The archives this journal records, as of its last commit.
    pub fn archives(&self, sink: &str) -> Result<Vec<ArchiveRecord>, JournalError> {
        let read = (self.db.begin_read()).map_err(|e| database(&self.path, e))?;
        archives_in(sink, &read).map_err(|e| database(&self.path, e))
    }
}

/// The archives recorded by the journal in `dir` (none when it has no journal), read without
/// changing it; [`JournalError::Busy`] while a daemon holds it. A journal left by a crash is
/// opened for writing once, to be repaired as the daemon would on its next start.
pub fn read_archives(dir: &Path, sink: &str) -> Result<Vec<ArchiveRecord>, JournalError> {
    let path = dir.join(DATABASE_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let busy = |error: &redb::DatabaseError| {
        matches!(error, redb::DatabaseError::DatabaseAlreadyOpen)
            .then(|| JournalError::Busy { path: path.clone() })
    };
    let records = match Database::builder().open_read_only(&path) {
        Ok(db) => read_from(&db, sink),
        Err(redb::DatabaseError::RepairAborted) => match Database::open(&path) {
            Ok(db) => read_from(&db, sink),
            Err(error) => return Err(busy(&error).unwrap_or_else(|| database(&path, error))),
        },
        Err(error) => return Err(busy(&error).unwrap_or_else(|| database(&path, error))),
    };
    match records {
        // A journal from before its first commit has no tables yet: it records nothing.
        Err(redb::Error::TableDoesNotExist(_)) => Ok(Vec::new()),
        result => result.map_err(|e| database(&path, e)),
    }
}

/// The archives in `db`, as of its last commit.
fn read_from(db: &impl ReadableDatabase, sink: &str) -> Result<Vec<ArchiveRecord>, redb::Error> {
    archives_in(sink, &db.begin_read()?)
}

/// Every playlist's archives in `read`: its finished ones, oldest first, then the open one.
fn archives_in(sink: &str, read: &ReadTransaction) -> Result<Vec<ArchiveRecord>, redb::Error> {
    let entries = read.open_table(ENTRIES)?;
    let mut records = Vec::new();
    for row in read.open_table(PLANS)?.iter()? {
        let (playlist, value) = row?;
        let playlist = playlist.value();
        // An unreadable plan is reported by the daemon when it opens the journal.
        let Ok(plan) = serde_json::from_slice::<PlanSnapshot>(value.value()) else {
            continue;
        };
        let views = &plan.views;
        let settings = views
            .archive_view
            .as_ref()
            .or(plan.settings.archive.as_ref());
        for archive in &views.finished_archives {
            records.push(ArchiveRecord {
                sink: sink.to_owned(),
                playlist: playlist.to_owned(),
                key: archive.key.clone(),
                start: rfc3339(archive.start),
                end: Some(rfc3339(archive.end)),
                finished: true,
                duration: archive.duration,
                segments: archive.segments.len(),
                first: Some(archive.first),
                last: Some(archive.last),
                expires: (settings.and_then(|view| view.retain))
                    .map(|keep| rfc3339(archive.end + keep)),
            });
        }
        let Some(open) = &views.open_archive else {
            continue;
        };
        let mut record = ArchiveRecord {
            sink: sink.to_owned(),
            playlist: playlist.to_owned(),
            key: open.view.key.clone(),
            start: rfc3339(open.start),
            end: settings.map(|view| rfc3339(view.period_end(open.start))),
            finished: false,
            duration: 0.0,
            segments: 0,
            first: None,
            last: None,
            expires: None,
        };
        if let Some(first) = open.view.first {
            for row in entries.range((playlist, first)..=(playlist, u64::MAX))? {
                let (_, value) = row?;
                let Ok((entry, _key)) =
                    serde_json::from_slice::<(PlaylistEntry, String)>(value.value())
                else {
                    continue;
                };
                record.first.get_or_insert(entry.sequence);
                record.last = Some(entry.sequence);
                record.duration += entry.duration;
                record.segments += u64::from(!entry.gap);
            }
        }
        records.push(record);
    }
    Ok(records)
}
