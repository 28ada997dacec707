//! A sink's deletions over time: expired segments deleted when due (RFC 8216 §6.2.2, kept in
//! the journal until done), and archives (with the archive masters naming them) retired once
//! past their retention, by the wall clock.
//!
//! Owns the expiry queue's entries and the retirement timer; the plans decide what expires.

use std::cmp::Reverse;
use std::sync::Arc;

use streamrouter_plugin::Sink;
use tokio::time::Instant;

use super::super::backlog::blocking;
use super::super::links::PlaylistId;
use super::super::seams::wall_now;
use super::Worker;
use super::perform::Pin;
use crate::publish::PlaylistPlan;
use crate::publish::journal::Completion;

/// One expired segment, deleted when due from the sink that stored it.
pub(super) struct Expiring {
    pub(super) due: Instant,
    pub(super) key: String,
    pub(super) sink: Arc<dyn Sink>,
}

impl PartialEq for Expiring {
    fn eq(&self, other: &Self) -> bool {
        (self.due, &self.key) == (other.due, &other.key)
    }
}

impl Eq for Expiring {}

impl PartialOrd for Expiring {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Expiring {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, &self.key).cmp(&(other.due, &other.key))
    }
}

impl Worker<'_> {
    /// When the next archive of a plan (or an archive master) is past its retention.
    pub(super) fn next_retirement(&self) -> Option<Instant> {
        let now = wall_now();
        let plans = self
            .plans
            .values()
            .filter_map(PlaylistPlan::next_retirement);
        let due = plans.chain(self.archive_masters.next_expiry()).min()?;
        let wait = due.duration_since(now).unwrap_or_default();
        Some(Instant::now() + wait)
    }

    /// Deletes the archives past their retention (the archive masters naming them first),
    /// keeping the plans' change in the journal.
    pub(super) async fn retire_archives(&mut self) {
        let now = wall_now();
        self.retire_archive_masters(now).await;
        let due: Vec<PlaylistId> = (self.plans.iter())
            .filter(|(_, plan)| plan.next_retirement().is_some_and(|at| at <= now))
            .map(|(playlist, _)| Arc::clone(playlist))
            .collect();
        for playlist in due {
            let Some(plan) = self.plans.get_mut(&playlist) else {
                continue;
            };
            let operations = plan.retire(now);
            let mut done = Completion {
                deletions: self.carry_out(operations, None).await,
                ..Completion::default()
            };
            done.plan = self.plan_change(&playlist);
            if let Some(journal) = self.backlog.journal() {
                let journal = Arc::clone(journal);
                if let Err(error) = blocking(move || journal.record(done)).await {
                    tracing::error!(sink = %self.name, %error, "journal: cannot record retired archives; a restart deletes them again");
                }
            }
        }
    }

    /// Deletes the expired segments that are due.
    pub(super) async fn delete_due(&mut self) {
        while let Some(Reverse(expiring)) = self.expiring.pop() {
            if expiring.due > Instant::now() {
                self.expiring.push(Reverse(expiring));
                break;
            }
            let Expiring { key, sink, .. } = expiring;
            let target = key.clone();
            let pin = Pin::Sink(sink);
            // Done or refused for good: either way it is no longer pending.
            self.perform(&key, pin, move |sink, _| sink.delete(&target))
                .await;
            if let Some(journal) = self.backlog.journal() {
                let journal = Arc::clone(journal);
                let deleted = blocking(move || journal.deleted(&key));
                if let Err(error) = deleted.await {
                    tracing::warn!(sink = %self.name, %error, "journal: a deletion done stays recorded; the next run does it again");
                }
            }
        }
    }
}
