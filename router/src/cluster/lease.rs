//! The router's lease: granted, renewed every quarter of its TTL, and the [`Fence`] moved on
//! after every renewal etcd acknowledged. Registers the member key on it. A renewal etcd
//! answers with "expired" (or "not found") means the lease is lost: the fence says so (every
//! write begun under it is abandoned), and a new lease is granted. While etcd does not answer,
//! nothing is decided: writes wait at the fence until it does.
//!
//! Owns the lease and the member key; nothing else.

use std::time::{Duration, Instant};

use etcd_client::{Client, PutOptions};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Fence;

/// What the lease task needs.
pub(super) struct LeaseHolder {
    pub client: Client,
    pub member_key: String,
    pub node: String,
    pub ttl: Duration,
    pub fence: Fence,
    /// The lease held now, for the other tasks.
    pub lease: watch::Sender<Option<i64>>,
    /// Once cancelled the member key is deleted (the lease stays: it holds the owner keys).
    pub leaving: CancellationToken,
    /// Once cancelled the lease is revoked and the task ends.
    pub stop: CancellationToken,
}

/// How a renewal went.
enum Renewal {
    /// etcd renewed it.
    Renewed,
    /// etcd says it has expired.
    Lost,
    /// No answer (etcd down, a timeout): try again.
    NoAnswer(String),
}

impl LeaseHolder {
    /// The writes' margin inside the TTL: renewals are sent every quarter of it, so a fifth
    /// (at least half a second) leaves room for one late answer and the clocks' drift.
    fn margin(&self) -> Duration {
        (self.ttl / 5).max(Duration::from_millis(500))
    }

    pub async fn run(mut self) {
        let ttl_secs = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX).max(2);
        let mut left = false;
        loop {
            let Some(id) = self.grant(ttl_secs).await else {
                return;
            };
            tracing::info!(node = %self.node, lease = id, ttl_secs, "cluster: member of the cluster");
            self.lease.send_replace(Some(id));
            let lost = self.renew(id, &mut left).await;
            if !lost {
                // Stopping: revoke, so that the owner keys go now.
                let mut client = self.client.clone();
                match client.lease_revoke(id).await {
                    Ok(_) => {
                        tracing::info!(node = %self.node, "cluster: lease revoked; the feeds go to the other routers now")
                    }
                    Err(error) => {
                        tracing::warn!(node = %self.node, %error, "cluster: cannot revoke the lease; the others take the feeds when it expires")
                    }
                }
                self.fence.close();
                self.lease.send_replace(None);
                return;
            }
            tracing::warn!(node = %self.node, lease = id, "cluster: lease lost (expired while etcd was unreachable or this process was paused): every feed is dropped here and nothing more is written for them; joining again");
            self.fence.lease_lost();
            self.lease.send_replace(None);
        }
    }

    /// A new lease with the member key on it, retried until etcd answers; `None` once stopped.
    async fn grant(&mut self, ttl_secs: i64) -> Option<i64> {
        let mut delay = Duration::from_millis(200);
        loop {
            let attempt = async {
                let granted = self.client.lease_grant(ttl_secs, None).await?;
                let id = granted.id();
                if !self.leaving.is_cancelled() {
                    let options = PutOptions::new().with_lease(id);
                    let value = self.node.clone();
                    self.client
                        .put(self.member_key.clone(), value, Some(options))
                        .await?;
                }
                Ok::<i64, etcd_client::Error>(id)
            };
            let sent = Instant::now();
            tokio::select! {
                () = self.stop.cancelled() => return None,
                result = attempt => match result {
                    Ok(id) => {
                        self.fence.renewed(sent + self.ttl.saturating_sub(self.margin()));
                        return Some(id);
                    }
                    Err(error) => {
                        tracing::warn!(node = %self.node, %error, "cluster: cannot reach etcd; retrying");
                    }
                },
            }
            tokio::select! {
                () = self.stop.cancelled() => return None,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// Renews lease `id` until it is lost (`true`) or the task stops (`false`).
    async fn renew(&mut self, id: i64, left: &mut bool) -> bool {
        let every = self.ttl / 4;
        let mut silent_since: Option<Instant> = None;
        loop {
            if self.leaving.is_cancelled() && !*left {
                *left = true;
                let _ = self.client.delete(self.member_key.clone(), None).await;
            }
            let sent = Instant::now();
            match self.renew_once(id).await {
                Renewal::Renewed => {
                    if silent_since.take().is_some() {
                        tracing::info!(node = %self.node, "cluster: etcd answers again; lease renewed");
                    }
                    self.fence
                        .renewed(sent + self.ttl.saturating_sub(self.margin()));
                }
                Renewal::Lost => return true,
                Renewal::NoAnswer(error) => {
                    if silent_since.is_none() {
                        silent_since = Some(sent);
                        tracing::warn!(node = %self.node, %error, "cluster: cannot renew the lease; writes stop once it may have expired, until etcd answers");
                    }
                }
            }
            tokio::select! {
                () = self.stop.cancelled() => return false,
                () = self.leaving.cancelled(), if !*left => {}
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// One renewal, answered within a quarter of the TTL or not at all.
    async fn renew_once(&mut self, id: i64) -> Renewal {
        let wait = (self.ttl / 4).max(Duration::from_millis(300));
        let attempt = async {
            let (mut keeper, mut stream) = self.client.lease_keep_alive(id).await?;
            keeper.keep_alive().await?;
            stream.message().await
        };
        match tokio::time::timeout(wait, attempt).await {
            Ok(Ok(Some(answer))) if answer.ttl() > 0 => Renewal::Renewed,
            Ok(Ok(Some(_))) => Renewal::Lost,
            Ok(Ok(None)) => Renewal::NoAnswer("the renewal stream ended".to_owned()),
            Ok(Err(error)) if error.to_string().contains("lease not found") => Renewal::Lost,
            Ok(Err(error)) => Renewal::NoAnswer(error.to_string()),
            Err(_) => Renewal::NoAnswer(format!("no answer within {wait:?}")),
        }
    }
}
