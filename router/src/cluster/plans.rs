//! Each sink's plan of each playlist (what it lists, its numbering, the expired segments whose
//! deletion is pending), kept in etcd so that the router a feed moves to goes on with the same
//! window and deletes what is still due, rather than starting the playlist again.
//!
//! The owner's sinks hand in a snapshot after every change; one writer task per router keeps
//! only the newest per key and writes it in a transaction that checks the feed's owner key is
//! still this router's (a router that lost a feed cannot overwrite the new owner's plan). A
//! handover waits for [`Plans::flush`] before it releases the feed. The new owner's sink reads
//! the plan once, when the playlist starts there.
//!
//! Owns the `plans/` keys. Knows plans only as serialised snapshots.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcd_client::Client;
use tokio::sync::{mpsc, oneshot};

use super::Keys;
use super::owner_put::OwnerPut;
use crate::publish::plan::PlanSnapshot;

/// What etcd keeps of one sink's plan of one playlist.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SharedPlan {
    /// The plan.
    pub snapshot: PlanSnapshot,
    /// Expired segments not yet deleted: key → when the deletion is due (Unix ms).
    #[serde(default)]
    pub pending: BTreeMap<String, u64>,
}

impl SharedPlan {
    /// Milliseconds since the Unix epoch of `time`.
    pub fn unix_ms(time: SystemTime) -> u64 {
        time.duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// The time of `ms` since the Unix epoch.
    pub fn time_of(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }
}

enum Message {
    Write {
        key: String,
        feed: String,
        value: Vec<u8>,
    },
    Flush(oneshot::Sender<()>),
}

/// The shared plans of one cluster: cheap to clone.
#[derive(Clone)]
pub struct Plans {
    client: Client,
    keys: Keys,
    writes: mpsc::UnboundedSender<Message>,
}

impl std::fmt::Debug for Plans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plans").finish_non_exhaustive()
    }
}

/// How long a new owner waits for etcd to give it a plan before it starts the playlist anew.
const LOAD_TIMEOUT: Duration = Duration::from_secs(2);

impl Plans {
    /// The plans, and their writer task (to be spawned).
    pub(super) fn new(owner_put: OwnerPut) -> (Self, impl std::future::Future<Output = ()>) {
        let (writes, receiver) = mpsc::unbounded_channel();
        let plans = Self {
            client: owner_put.client.clone(),
            keys: owner_put.keys.clone(),
            writes,
        };
        let writer = Writer { owner_put };
        (plans, writer.run(receiver))
    }

    /// Hands in `sink`'s plan of `playlist` (of `feed`), to be written soon.
    pub fn save(&self, sink: &str, feed: &str, playlist: &str, plan: &SharedPlan) {
        match serde_json::to_vec(plan) {
            Ok(value) => {
                let _ = self.writes.send(Message::Write {
                    key: self.keys.plan(playlist, sink),
                    feed: feed.to_owned(),
                    value,
                });
            }
            Err(error) => {
                tracing::warn!(%sink, %playlist, %error, "cluster: cannot encode the plan")
            }
        }
    }

    /// Returns once every plan handed in before is written (or given up: the feed is not
    /// owned here any more).
    pub async fn flush(&self) {
        let (done, waiting) = oneshot::channel();
        if self.writes.send(Message::Flush(done)).is_ok() {
            let _ = waiting.await;
        }
    }

    /// `sink`'s plan of `playlist` as the feed's last owner left it, if any.
    pub async fn load(&self, sink: &str, playlist: &str) -> Option<SharedPlan> {
        let key = self.keys.plan(playlist, sink);
        let mut client = self.client.clone();
        let answer = match tokio::time::timeout(LOAD_TIMEOUT, client.get(key, None)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                tracing::warn!(%sink, %playlist, %error, "cluster: cannot read the playlist's plan; it starts anew here");
                return None;
            }
            Err(_) => {
                tracing::warn!(%sink, %playlist, "cluster: no answer for the playlist's plan; it starts anew here");
                return None;
            }
        };
        let kv = answer.kvs().first()?;
        match serde_json::from_slice(kv.value()) {
            Ok(plan) => Some(plan),
            Err(error) => {
                tracing::warn!(%sink, %playlist, %error, "cluster: unreadable plan; the playlist starts anew here");
                None
            }
        }
    }
}

struct Writer {
    owner_put: OwnerPut,
}

impl Writer {
    async fn run(self, mut receiver: mpsc::UnboundedReceiver<Message>) {
        let mut newest: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
        let mut flushes = Vec::new();
        while let Some(message) = receiver.recv().await {
            let mut next = Some(message);
            while let Some(message) = next.take().or_else(|| receiver.try_recv().ok()) {
                match message {
                    Message::Write { key, feed, value } => {
                        newest.insert(key, (feed, value));
                    }
                    Message::Flush(done) => flushes.push(done),
                }
            }
            for (key, (feed, value)) in std::mem::take(&mut newest) {
                // A feed no longer owned here keeps the plan its new owner writes.
                let _ = self.owner_put.put(&feed, &key, value).await;
            }
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
        }
    }
}
