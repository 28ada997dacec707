//! A put only a feed's owner can make: one transaction that checks the feed's owner key is
//! still this router's (same node, same lease) and writes the key, retried while etcd does
//! not answer and the feed is owned here. The shared numbers and plans both write this way,
//! so a router that lost a feed can move neither.
//!
//! Owns this transaction only.

use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};
use tokio::sync::watch;

use super::{ClusterError, Fence, Keys};

/// Between tries while etcd does not answer.
const RETRY: Duration = Duration::from_millis(250);

/// What an owner's put needs; cheap to clone.
#[derive(Clone)]
pub(super) struct OwnerPut {
    pub client: Client,
    pub keys: Keys,
    pub node: String,
    pub lease: watch::Receiver<Option<i64>>,
    pub fence: Fence,
}

impl OwnerPut {
    /// Writes `value` at `key` while this router owns `feed`; `NotOwner` once it does not.
    pub async fn put(&self, feed: &str, key: &str, value: Vec<u8>) -> Result<(), ClusterError> {
        let owner = self.keys.owner(feed);
        loop {
            if !self.fence.owns_feed(feed) {
                return Err(ClusterError::NotOwner(feed.to_owned()));
            }
            let Some(lease) = *self.lease.borrow() else {
                return Err(ClusterError::NotOwner(feed.to_owned()));
            };
            let txn = Txn::new()
                .when([
                    Compare::value(owner.clone(), CompareOp::Equal, self.node.clone()),
                    Compare::lease(owner.clone(), CompareOp::Equal, lease),
                ])
                .and_then([TxnOp::put(key.to_owned(), value.clone(), None)]);
            let mut client = self.client.clone();
            match client.txn(txn).await {
                Ok(answer) if answer.succeeded() => return Ok(()),
                Ok(_) => return Err(ClusterError::NotOwner(feed.to_owned())),
                Err(error) => {
                    tracing::debug!(%key, %error, "cluster: cannot write to etcd; retrying");
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}
