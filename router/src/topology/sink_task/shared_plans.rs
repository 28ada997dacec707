//! A sink in a cluster shares its plans: after every change of a playlist's plan it hands the
//! plan (and the expired segments whose deletion is pending) to the cluster, and a playlist
//! that starts here goes on from the plan its last owner left, when that plan numbers on to
//! where the playlist does (else it starts anew: never a number listed twice).
//!
//! Owns this exchange; the etcd side is `crate::cluster::plans`.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::super::links::PlaylistId;
use super::Worker;
use super::expiry::Expiring;
use crate::cluster::SharedPlan;
use crate::playlist::PlanSettings;
use crate::publish::PlaylistPlan;

/// Pending deletions are kept in the shared plan this long after they were due (a sink down
/// deletes late); deleting again what is gone is harmless.
const PENDING_AFTER_DUE: Duration = Duration::from_secs(60);

impl Worker<'_> {
    /// Hands `playlist`'s plan to the cluster, with `deletions` (just scheduled) pending.
    pub(super) fn share_plan(&mut self, playlist: &PlaylistId, deletions: &[(String, SystemTime)]) {
        let Some(plans) = self.setup.borrow().limits.plans.clone() else {
            return;
        };
        let Some(fence) = self.setup.borrow().limits.fence.clone() else {
            return;
        };
        let Some(plan) = self.plans.get(playlist) else {
            return;
        };
        let pending = self.shared_pending.entry(Arc::clone(playlist)).or_default();
        for (key, due) in deletions {
            pending.insert(key.clone(), SharedPlan::unix_ms(*due));
        }
        let cutoff = SharedPlan::unix_ms(SystemTime::now())
            .saturating_sub(u64::try_from(PENDING_AFTER_DUE.as_millis()).unwrap_or(u64::MAX));
        pending.retain(|_, due| *due >= cutoff);
        let shared = SharedPlan {
            snapshot: plan.snapshot(),
            pending: pending.clone(),
        };
        plans.save(self.name, &fence.feed_of(playlist), playlist, &shared);
    }

    /// The plan of `playlist`, starting here with `settings`: its last owner's, when there is
    /// one that numbers on to `settings.first_sequence`; with the deletions it left pending,
    /// now scheduled here.
    pub(super) async fn shared_start(
        &mut self,
        playlist: &PlaylistId,
        settings: PlanSettings,
    ) -> (PlaylistPlan, Vec<(String, SystemTime)>) {
        let plans = self.setup.borrow().limits.plans.clone();
        let Some(plans) = plans else {
            return (PlaylistPlan::new(settings), Vec::new());
        };
        let Some(shared) = plans.load(self.name, playlist).await else {
            return (PlaylistPlan::new(settings), Vec::new());
        };
        let left = shared.snapshot.next_sequence;
        if left != settings.first_sequence {
            tracing::info!(sink = %self.name, %playlist, left, next = settings.first_sequence, "cluster: the last owner's plan ends before the playlist's next number; the playlist starts anew here");
            return (PlaylistPlan::new(settings), Vec::new());
        }
        let Some(mut plan) = PlaylistPlan::restore(shared.snapshot) else {
            return (PlaylistPlan::new(settings), Vec::new());
        };
        let _ = plan.update(settings);
        let (sink, now, wall) = (
            Arc::clone(&self.setup.borrow().sink),
            Instant::now(),
            SystemTime::now(),
        );
        let mut deletions = Vec::new();
        let pending: BTreeMap<String, u64> = shared.pending;
        for (key, due_ms) in &pending {
            let due = SharedPlan::time_of(*due_ms);
            let wait = due.duration_since(wall).unwrap_or_default();
            self.expiring.push(Reverse(Expiring {
                due: now + wait,
                key: key.clone(),
                sink: Arc::clone(&sink),
            }));
            deletions.push((key.clone(), due));
        }
        self.shared_pending.insert(Arc::clone(playlist), pending);
        tracing::info!(sink = %self.name, %playlist, listed = plan.playlist().entries().len(), pending = deletions.len(), "cluster: the playlist goes on here from its last owner's plan");
        (plan, deletions)
    }
}
