//! A sink's archive masters (see `publish::archive_master`): publishing a period's version
//! over the archives this sink's plans hold for the period (skipped while one is missing, so
//! none names an archive that is not there), and deleting each once its retention is due, no
//! later than the first archive it names: in the retirement pass that retires that archive,
//! before it, at once (no `delete_grace`: players reach the archives through it, not the other
//! way round), and after a restart from the journal's `archive_masters` table.
//!
//! The sink's timer wakes for the earliest journaled expiry (kept up to date here, so the work
//! loop does not go through the records); a pass also deletes those whose archives are due
//! sooner by the plans' settings now (a shortened `retain`) or are gone (a sink that moved
//! forgets its archives: their masters go with them). Owns these steps of the sink's worker.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;

use super::super::backlog::blocking;
use super::{Expiring, MASTER_CACHE_CONTROL, Worker};
use crate::publish::archive_master::{ArchiveMasterRecord, ArchiveMasterVersion, ArchiveRef};
use crate::publish::journal::Completion;

/// The archive masters a sink published and has not deleted, and the earliest expiry.
#[derive(Debug, Default)]
pub(super) struct ArchiveMasters {
    records: BTreeMap<String, ArchiveMasterRecord>,
    next: Option<SystemTime>,
}

impl ArchiveMasters {
    /// Those the journal kept.
    pub(super) fn new(records: BTreeMap<String, ArchiveMasterRecord>) -> Self {
        let mut masters = Self {
            records,
            next: None,
        };
        masters.update_next();
        masters
    }

    /// The earliest journaled expiry.
    pub(super) fn next_expiry(&self) -> Option<SystemTime> {
        self.next
    }

    fn update_next(&mut self) {
        self.next = self.records.values().filter_map(|r| r.expires).min();
    }

    fn insert(&mut self, key: String, record: ArchiveMasterRecord) {
        self.records.insert(key, record);
        self.update_next();
    }
}

impl Worker<'_> {
    /// Each variant's archive of the period starting at `start`, as this sink's plans hold it.
    fn archive_ref(&self, playlist: &str, start: SystemTime) -> Option<ArchiveRef> {
        self.plans.get(playlist)?.archive_of(start)
    }

    /// Publishes `version` over this sink's archives of its period; what the journal keeps of
    /// it, or `None` when a variant has no archive of the period here (nothing published).
    pub(super) async fn put_archive_master(
        &mut self,
        version: ArchiveMasterVersion,
    ) -> Option<(String, ArchiveMasterRecord)> {
        let start = version.start;
        let Some((text, record)) = version.resolve(|playlist| self.archive_ref(playlist, start))
        else {
            tracing::info!(sink = %self.name, key = %version.key, "archive master not published: a variant has no archive of the period here");
            return None;
        };
        let key = version.key;
        let cache_control = MASTER_CACHE_CONTROL.to_owned();
        if !self.store_playlist(&key, text, cache_control).await {
            return None;
        }
        tracing::info!(sink = %self.name, %key, "archive master published");
        self.archive_masters.insert(key.clone(), record.clone());
        Some((key, record))
    }

    fn archive_master_due(
        &self,
        record: &ArchiveMasterRecord,
        now: SystemTime,
    ) -> Option<SystemTime> {
        record.due(now, |playlist| self.archive_ref(playlist, record.start))
    }

    /// Deletes the archive masters due at `now` (at once), keeping that in the journal.
    pub(super) async fn retire_archive_masters(&mut self, now: SystemTime) {
        let due: Vec<String> = (self.archive_masters.records.iter())
            .filter(|(_, record)| {
                self.archive_master_due(record, now)
                    .is_some_and(|at| at <= now)
            })
            .map(|(key, _)| key.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        let sink = Arc::clone(&self.setup.borrow().sink);
        let mut done = Completion::default();
        for key in due {
            self.archive_masters.records.remove(&key);
            tracing::info!(sink = %self.name, %key, "archive master past its retention: deleted");
            done.deletions.push((key.clone(), SystemTime::now()));
            let due = Instant::now();
            let sink = Arc::clone(&sink);
            (self.expiring).push(Reverse(Expiring {
                due,
                key: key.clone(),
                sink,
            }));
            done.archive_masters_gone.push(key);
        }
        self.archive_masters.update_next();
        if let Some(journal) = self.backlog.journal() {
            let journal = Arc::clone(journal);
            if let Err(error) = blocking(move || journal.record(done)).await {
                tracing::error!(sink = %self.name, %error, "journal: cannot record retired archive masters; a restart deletes them again");
            }
        }
    }
}
