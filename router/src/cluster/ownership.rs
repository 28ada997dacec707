//! The ownership loop: every tick it reads the live members and the owner keys, and claims
//! the feeds rendezvous hashing gives this router that nobody owns (a transaction that puts
//! the owner key on our lease only if it does not exist), notices feeds it lost, and hands
//! over, one at a time, a feed that hashing now gives to another live member (a join): it
//! stops running it here, waits until the supervisor says it has published all it had, then
//! deletes the owner key (only if still ours), and the other router claims it at its next
//! tick. A feed nobody claims for two leases (its router runs another config) is claimed by
//! any router that has it.
//!
//! Owns the owner keys of this router and the move keys; tells the supervisor what to run
//! through a watch. Writes nothing while the fence is not open.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Admission, Fence, Keys, placement};

/// What the loop needs.
pub(super) struct Owner {
    pub client: Client,
    pub keys: Keys,
    pub node: String,
    pub tick: Duration,
    pub unclaimed_grace: Duration,
    pub fence: Fence,
    pub lease: watch::Receiver<Option<i64>>,
    pub feeds: watch::Receiver<BTreeSet<String>>,
    pub run: watch::Sender<BTreeSet<String>>,
    pub released: mpsc::UnboundedReceiver<String>,
    pub leaving: CancellationToken,
    pub stop: CancellationToken,
}

/// What etcd said at one tick.
struct View {
    members: BTreeSet<String>,
    /// Feed → (owner node, owner key's lease).
    owners: BTreeMap<String, (String, i64)>,
}

/// A feed being handed over from here.
struct Handover {
    feed: String,
    to: String,
}

impl Owner {
    pub async fn run(mut self) {
        let mut owned: BTreeSet<String> = BTreeSet::new();
        let mut handover: Option<Handover> = None;
        let mut unclaimed_since: BTreeMap<String, Instant> = BTreeMap::new();
        let mut held_lease: Option<i64> = None;
        // After a lost lease nothing is claimed for a while: what the lost feeds still had
        // queued here is dropped first (their sinks check ownership per item).
        let mut claim_after = Instant::now();
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(self.tick) => {}
                Some(feed) = self.released.recv() => {
                    self.finish_handover(&feed, &mut owned, &mut handover).await;
                    continue;
                }
            }
            let lease = *self.lease.borrow();
            if lease != held_lease {
                // A new lease (or none): whatever the old one held is gone.
                if !owned.is_empty() {
                    tracing::warn!(node = %self.node, feeds = owned.len(), "cluster: lease changed; dropping every feed");
                }
                if held_lease.is_some() {
                    claim_after = Instant::now() + self.unclaimed_grace;
                }
                owned.clear();
                handover = None;
                held_lease = lease;
                self.publish_run(&owned, handover.as_ref());
            }
            let Some(lease) = lease else { continue };
            if self.fence.admit(self.fence.epoch()) != Admission::Open {
                continue;
            }
            let view = match self.read().await {
                Ok(view) => view,
                Err(error) => {
                    tracing::debug!(node = %self.node, %error, "cluster: cannot read the members");
                    continue;
                }
            };
            let feeds = self.feeds.borrow().clone();
            self.notice_losses(&view, lease, &mut owned, &mut handover);
            self.release_removed(&feeds, &mut owned).await;
            if !self.leaving.is_cancelled() && Instant::now() >= claim_after {
                self.claim(&view, lease, &feeds, &mut owned, &mut unclaimed_since)
                    .await;
                if handover.is_none() {
                    handover = self.start_handover(&view, lease, &owned).await;
                }
            }
            self.publish_run(&owned, handover.as_ref());
        }
    }

    /// The feeds to run: owned, minus the one being handed over.
    fn publish_run(&self, owned: &BTreeSet<String>, handover: Option<&Handover>) {
        let run: BTreeSet<String> = owned
            .iter()
            .filter(|feed| handover.is_none_or(|h| &h.feed != *feed))
            .cloned()
            .collect();
        self.run.send_if_modified(|current| {
            let changed = *current != run;
            *current = run;
            changed
        });
    }

    async fn read(&mut self) -> Result<View, etcd_client::Error> {
        let prefix = Some(GetOptions::new().with_prefix());
        let members_prefix = self.keys.members();
        let answer = self
            .client
            .get(members_prefix.clone(), prefix.clone())
            .await?;
        let members = answer
            .kvs()
            .iter()
            .filter_map(|kv| Keys::name_after(&members_prefix, kv.key()))
            .map(str::to_owned)
            .collect();
        let owners_prefix = self.keys.owners();
        let answer = self.client.get(owners_prefix.clone(), prefix).await?;
        let owners = answer
            .kvs()
            .iter()
            .filter_map(|kv| {
                let feed = Keys::name_after(&owners_prefix, kv.key())?;
                let node = std::str::from_utf8(kv.value()).ok()?;
                Some((feed.to_owned(), (node.to_owned(), kv.lease())))
            })
            .collect();
        Ok(View { members, owners })
    }

    /// Feeds whose owner key is no longer ours (deleted by someone, or on another lease).
    fn notice_losses(
        &self,
        view: &View,
        lease: i64,
        owned: &mut BTreeSet<String>,
        handover: &mut Option<Handover>,
    ) {
        let lost: Vec<String> = owned
            .iter()
            .filter(|feed| view.owners.get(*feed) != Some(&(self.node.clone(), lease)))
            .cloned()
            .collect();
        for feed in lost {
            tracing::warn!(node = %self.node, %feed, "cluster: feed no longer owned here (its owner key changed); dropped");
            self.fence.disown(&feed);
            owned.remove(&feed);
            if handover.as_ref().is_some_and(|h| h.feed == feed) {
                *handover = None;
            }
        }
    }

    /// Owned feeds the config no longer has: their keys go at once.
    async fn release_removed(&mut self, feeds: &BTreeSet<String>, owned: &mut BTreeSet<String>) {
        let removed: Vec<String> = owned.difference(feeds).cloned().collect();
        for feed in removed {
            self.fence.disown(&feed);
            owned.remove(&feed);
            self.delete_owner_key(&feed).await;
            tracing::info!(node = %self.node, %feed, "cluster: feed removed from the config; released");
        }
    }

    /// Claims the unowned feeds hashing gives this router (or that nobody claimed for long).
    async fn claim(
        &mut self,
        view: &View,
        lease: i64,
        feeds: &BTreeSet<String>,
        owned: &mut BTreeSet<String>,
        unclaimed_since: &mut BTreeMap<String, Instant>,
    ) {
        let mut members = view.members.clone();
        members.insert(self.node.clone());
        unclaimed_since.retain(|feed, _| feeds.contains(feed) && !view.owners.contains_key(feed));
        for feed in feeds {
            if view.owners.contains_key(feed) || owned.contains(feed) {
                continue;
            }
            let since = *unclaimed_since
                .entry(feed.clone())
                .or_insert_with(Instant::now);
            let mine = placement::owner_of(feed, members.iter().map(String::as_str))
                == Some(self.node.as_str());
            if !mine && since.elapsed() < self.unclaimed_grace {
                continue;
            }
            match self.try_claim(feed, lease).await {
                Ok(true) => {
                    tracing::info!(node = %self.node, %feed, "cluster: feed claimed; running it here");
                    self.fence.own(feed);
                    owned.insert(feed.clone());
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::debug!(node = %self.node, %feed, %error, "cluster: claim failed");
                    return;
                }
            }
        }
    }

    async fn try_claim(&mut self, feed: &str, lease: i64) -> Result<bool, etcd_client::Error> {
        let key = self.keys.owner(feed);
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                self.node.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )]);
        Ok(self.client.txn(txn).await?.succeeded())
    }

    /// Starts handing over one owned feed that hashing gives another live member.
    async fn start_handover(
        &mut self,
        view: &View,
        lease: i64,
        owned: &BTreeSet<String>,
    ) -> Option<Handover> {
        let mut members = view.members.clone();
        members.insert(self.node.clone());
        let (feed, to) = owned.iter().find_map(|feed| {
            let best = placement::owner_of(feed, members.iter().map(String::as_str))?;
            (best != self.node).then(|| (feed.clone(), best.to_owned()))
        })?;
        let put = self
            .client
            .put(
                self.keys.moving(&feed),
                format!("{} {to}", self.node),
                Some(PutOptions::new().with_lease(lease)),
            )
            .await;
        if let Err(error) = put {
            tracing::debug!(node = %self.node, %feed, %error, "cluster: cannot record the move");
            return None;
        }
        tracing::info!(node = %self.node, %feed, %to, "cluster: handing the feed over");
        Some(Handover { feed, to })
    }

    /// The supervisor has published all `feed` had here: its owner key goes.
    async fn finish_handover(
        &mut self,
        feed: &str,
        owned: &mut BTreeSet<String>,
        handover: &mut Option<Handover>,
    ) {
        let to = handover
            .take_if(|h| h.feed == feed)
            .map(|h| h.to)
            .unwrap_or_default();
        self.fence.disown(feed);
        if owned.remove(feed) {
            self.delete_owner_key(feed).await;
            let _ = self.client.delete(self.keys.moving(feed), None).await;
            tracing::info!(node = %self.node, %feed, %to, "cluster: feed handed over");
        }
        self.publish_run(owned, handover.as_ref());
    }

    /// Deletes `feed`'s owner key if it is still this router's.
    async fn delete_owner_key(&mut self, feed: &str) {
        let key = self.keys.owner(feed);
        let txn = Txn::new()
            .when([Compare::value(
                key.clone(),
                CompareOp::Equal,
                self.node.clone(),
            )])
            .and_then([TxnOp::delete(key, None)]);
        if let Err(error) = self.client.txn(txn).await {
            tracing::warn!(node = %self.node, %feed, %error, "cluster: cannot release the feed; it goes when the lease does");
        }
    }
}
