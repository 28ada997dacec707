//! Each playlist's next sequence number, kept in etcd so that the router a feed moves to goes
//! on after the last number any router took. The owner writes it before a segment is published
//! under a number, in a transaction that checks the feed's owner key is still its own (same
//! node, same lease): a router that lost the feed cannot move the number, and the new owner
//! never takes a number the old one used.
//!
//! Owns the `numbers/` keys. Retries while etcd does not answer, as long as the feed is owned.

use std::time::Duration;

use etcd_client::Client;

use super::owner_put::OwnerPut;
use super::{ClusterError, Fence, Keys};

/// The shared numbers of one cluster.
#[derive(Clone)]
pub struct Numbers {
    client: Client,
    keys: Keys,
    fence: Fence,
    writes: OwnerPut,
}

impl std::fmt::Debug for Numbers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Numbers")
            .field("node", &self.writes.node)
            .finish()
    }
}

/// Between tries while etcd does not answer.
const RETRY: Duration = Duration::from_millis(250);

impl Numbers {
    pub(super) fn new(writes: OwnerPut) -> Self {
        Self {
            client: writes.client.clone(),
            keys: writes.keys.clone(),
            fence: writes.fence.clone(),
            writes,
        }
    }

    /// The next number of `playlist` (of `feed`) as etcd has it; `None` when no router ever
    /// numbered it. Retried while `feed` is owned here and etcd does not answer.
    pub async fn load(&self, feed: &str, playlist: &str) -> Result<Option<u64>, ClusterError> {
        let key = self.keys.number(playlist);
        loop {
            let mut client = self.client.clone();
            match client.get(key.clone(), None).await {
                Ok(answer) => {
                    let next = answer
                        .kvs()
                        .first()
                        .and_then(|kv| std::str::from_utf8(kv.value()).ok())
                        .and_then(|text| text.trim().parse().ok());
                    return Ok(next);
                }
                Err(error) => {
                    if !self.fence.owns_feed(feed) {
                        return Err(ClusterError::NotOwner(feed.to_owned()));
                    }
                    tracing::debug!(%playlist, %error, "cluster: cannot read the sequence number; retrying");
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// Records that `playlist`'s numbers below `next` are taken, only while this router owns
    /// `feed`. Retried while etcd does not answer and the feed is owned here.
    pub async fn save(&self, feed: &str, playlist: &str, next: u64) -> Result<(), ClusterError> {
        let number = self.writes.keys.number(playlist);
        self.writes
            .put(feed, &number, next.to_string().into_bytes())
            .await
    }
}
