//! The fence between a router's ownership in etcd and its sink writes: whether this router may
//! write now (its lease is certainly still alive) and which feeds it owns.
//!
//! The lease task moves the deadline forward after every renewal etcd acknowledged, to the
//! renewal's send time plus the lease's TTL minus a margin: etcd counts the TTL from when it
//! received the renewal, so until the deadline no other router can have been given one of our
//! feeds. Past it (a partition, a pause such as SIGSTOP, etcd down) writes wait; once the lease
//! is known lost the epoch changes and every write begun under the old one is abandoned. The
//! owned feeds are those whose owner key this router holds, written by the ownership loop.
//!
//! Owns this shared state only: no etcd, no tasks. Read by the topology's sinks (through
//! [`Fence::admit`] and [`Fence::owns`]) on every operation, so it is a mutex held for
//! microseconds and a watch for waiting.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::watch;

/// Whether a write may go ahead now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The lease is certainly alive: write.
    Open,
    /// The lease may have expired (not renewed in time): wait for a renewal.
    Wait,
    /// The lease this write began under is lost: give the write up.
    Abandon,
}

#[derive(Debug, Default)]
struct FenceState {
    /// Counts lost leases: a write remembers the epoch it began under.
    epoch: u64,
    /// Writes are safe until then; `None` before the first renewal and after a loss.
    safe_until: Option<Instant>,
    /// The feeds whose owner key this router holds.
    owned: BTreeSet<String>,
    /// Which feed each playlist and master belongs to.
    feed_of: BTreeMap<String, String>,
    /// The router left the cluster: nothing more is written.
    closed: bool,
}

/// Shared by the cluster tasks (writers) and the sink tasks (readers); cheap to clone.
#[derive(Debug, Clone)]
pub struct Fence {
    state: Arc<Mutex<FenceState>>,
    changes: watch::Sender<u64>,
}

impl Default for Fence {
    fn default() -> Self {
        Self::new()
    }
}

impl Fence {
    /// A closed fence: nothing owned, no renewal yet.
    pub fn new() -> Self {
        Self {
            state: Arc::default(),
            changes: watch::Sender::new(0),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut FenceState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The current epoch, for [`Fence::admit`].
    pub fn epoch(&self) -> u64 {
        self.with(|state| state.epoch)
    }

    /// Whether a write begun under `epoch` may go ahead now.
    pub fn admit(&self, epoch: u64) -> Admission {
        self.with(|state| {
            if state.closed || state.epoch != epoch {
                Admission::Abandon
            } else if state.safe_until.is_some_and(|until| Instant::now() < until) {
                Admission::Open
            } else {
                Admission::Wait
            }
        })
    }

    /// A receiver of its changes (a renewal, a loss, an ownership change).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Whether the feed of `node` (a playlist or a master) is owned here. A node of no feed
    /// known to the fence is not.
    pub fn owns(&self, node: &str) -> bool {
        self.with(|state| {
            state
                .feed_of
                .get(node)
                .is_some_and(|feed| state.owned.contains(feed))
        })
    }

    /// The feed of `node` (a playlist or a master); the node's own name when the fence does
    /// not know it.
    pub fn feed_of(&self, node: &str) -> String {
        self.with(|state| state.feed_of.get(node).cloned())
            .unwrap_or_else(|| node.to_owned())
    }

    /// Whether `feed` is owned here.
    pub fn owns_feed(&self, feed: &str) -> bool {
        self.with(|state| state.owned.contains(feed))
    }

    /// Which feed each playlist and master belongs to (after every config change).
    pub fn set_feeds(&self, feed_of: BTreeMap<String, String>) {
        self.with(|state| state.feed_of = feed_of);
        self.changed();
    }

    /// The lease was renewed: writes are safe until `until`.
    pub(crate) fn renewed(&self, until: Instant) {
        let grew = self.with(|state| {
            let grew = state.safe_until.is_none_or(|old| until > old);
            if grew {
                state.safe_until = Some(until);
            }
            grew
        });
        if grew {
            self.changed();
        }
    }

    /// The lease is lost: nothing is owned, every write begun so far is abandoned.
    pub(crate) fn lease_lost(&self) {
        self.with(|state| {
            state.epoch += 1;
            state.safe_until = None;
            state.owned.clear();
        });
        self.changed();
    }

    /// The router has left the cluster: every write is abandoned from now on.
    pub(crate) fn close(&self) {
        self.with(|state| {
            state.closed = true;
            state.epoch += 1;
            state.safe_until = None;
            state.owned.clear();
        });
        self.changed();
    }

    /// `feed`'s owner key is now held here.
    pub(crate) fn own(&self, feed: &str) {
        self.with(|state| state.owned.insert(feed.to_owned()));
        self.changed();
    }

    /// `feed`'s owner key is no longer held here (released or taken).
    pub(crate) fn disown(&self, feed: &str) {
        self.with(|state| state.owned.remove(feed));
        self.changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fence_of(feeds: &[(&str, &str)]) -> Fence {
        let fence = Fence::new();
        fence.set_feeds(
            feeds
                .iter()
                .map(|(node, feed)| ((*node).to_owned(), (*feed).to_owned()))
                .collect(),
        );
        fence
    }

    #[test]
    fn closed_until_renewed_and_again_after_the_deadline() {
        let fence = Fence::new();
        let epoch = fence.epoch();
        assert_eq!(fence.admit(epoch), Admission::Wait);
        fence.renewed(Instant::now() + Duration::from_secs(60));
        assert_eq!(fence.admit(epoch), Admission::Open);
        let passed = Fence::new();
        passed.renewed(Instant::now() - Duration::from_millis(1));
        assert_eq!(passed.admit(passed.epoch()), Admission::Wait);
    }

    #[test]
    fn a_lost_lease_abandons_writes_begun_before_and_disowns_everything() {
        let fence = fence_of(&[("cam1", "cam1"), ("cam1-master", "cam1")]);
        fence.renewed(Instant::now() + Duration::from_secs(60));
        fence.own("cam1");
        assert!(fence.owns("cam1") && fence.owns("cam1-master"));
        let before = fence.epoch();
        fence.lease_lost();
        assert_eq!(fence.admit(before), Admission::Abandon);
        assert_eq!(fence.admit(fence.epoch()), Admission::Wait);
        assert!(!fence.owns("cam1"));
    }

    #[test]
    fn a_closed_fence_abandons_every_write() {
        let fence = fence_of(&[("cam1", "cam1")]);
        fence.renewed(Instant::now() + Duration::from_secs(60));
        fence.own("cam1");
        fence.close();
        assert_eq!(fence.admit(fence.epoch()), Admission::Abandon);
        assert!(!fence.owns("cam1"));
    }

    #[test]
    fn owns_only_nodes_of_owned_feeds() {
        let fence = fence_of(&[("a.live", "a"), ("b.live", "b")]);
        fence.own("a");
        assert!(fence.owns("a.live"));
        assert!(!fence.owns("b.live"));
        assert!(!fence.owns("unknown"));
        fence.disown("a");
        assert!(!fence.owns("a.live"));
    }

    #[test]
    fn a_renewal_never_moves_the_deadline_back() {
        let fence = Fence::new();
        fence.renewed(Instant::now() + Duration::from_secs(60));
        fence.renewed(Instant::now() - Duration::from_secs(1));
        assert_eq!(fence.admit(fence.epoch()), Admission::Open);
    }
}
