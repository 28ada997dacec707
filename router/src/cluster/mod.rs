//! Clusters: feeds shared out over several routers through etcd (`[cluster]`). Each router
//! registers itself on a lease, the feeds are shared out by rendezvous hashing over the live
//! members (`placement`), and each feed is owned through an owner key on its owner's lease
//! (`ownership`): a dead router's keys vanish with its lease and its feeds are claimed by the
//! survivors; a router that joins is handed its share one feed at a time. Writes are fenced
//! (`fence`): a router whose lease may have expired writes nothing until it knows, and nothing
//! of a feed it no longer owns. Each playlist's next sequence number is kept in etcd, written
//! (only by the feed's owner, checked in the same transaction) before a segment is published
//! under it (`numbers`), so a feed that moves goes on without reusing a number.
//!
//! Owns the etcd client and the cluster tasks (`lease`, `ownership`). Must not touch the
//! topology or the config: the supervisor tells it the config's feeds and runs what it says
//! to run; the topology's sinks only read the [`Fence`].

pub mod fence;
pub mod keys;
mod lease;
pub mod numbers;
mod owner_put;
mod ownership;
pub mod placement;
pub mod plans;
pub mod report;

use std::collections::BTreeSet;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, TlsOptions};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::model::ClusterSettings;
pub use fence::{Admission, Fence};
pub use keys::Keys;
pub use numbers::Numbers;
pub use plans::{Plans, SharedPlan};

/// Why the cluster could not be joined or read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The CA file of `ca_file` could not be read.
    #[error("cluster.ca_file {path}: {source}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// etcd could not be reached or refused a request.
    #[error("etcd ({endpoints}): {source}")]
    Etcd {
        /// The endpoints tried.
        endpoints: String,
        /// What the client said.
        source: etcd_client::Error,
    },
    /// The host name (the default node name) could not be read.
    #[error("cannot read the host name for cluster.node: {0}")]
    HostName(String),
    /// This router no longer owns the feed.
    #[error("feed {0} is no longer owned here")]
    NotOwner(String),
}

/// This router's name: `node`, else the host name.
pub fn node_name(settings: &ClusterSettings) -> Result<String, ClusterError> {
    if let Some(node) = &settings.node {
        return Ok(node.clone());
    }
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|error| ClusterError::HostName(error.to_string()))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ClusterError::HostName("it is empty".to_owned()));
    }
    Ok(name.to_owned())
}

/// How long one etcd request may take: well inside the lease.
fn request_timeout(lease: Duration) -> Duration {
    (lease / 3).clamp(Duration::from_millis(500), Duration::from_secs(5))
}

/// A client of the cluster's etcd (connections are made lazily: etcd may be down now).
pub async fn connect(settings: &ClusterSettings) -> Result<Client, ClusterError> {
    let endpoints = settings.endpoints.join(",");
    let mut options = ConnectOptions::new()
        .with_connect_timeout(request_timeout(settings.lease))
        .with_timeout(request_timeout(settings.lease))
        .with_keep_alive(Duration::from_secs(2), request_timeout(settings.lease));
    if let (Some(user), Some(password)) = (&settings.user, &settings.password) {
        options = options.with_user(user.clone(), password.clone());
    }
    if let Some(path) = &settings.ca_file {
        let pem = tokio::fs::read(path)
            .await
            .map_err(|source| ClusterError::CaFile {
                path: path.display().to_string(),
                source,
            })?;
        options = options.with_tls(TlsOptions::new().ca_certificate(Certificate::from_pem(pem)));
    }
    let endpoints_list: Vec<String> = settings
        .endpoints
        .iter()
        .map(|endpoint| match endpoint.contains("://") {
            true => endpoint.clone(),
            false => format!("http://{endpoint}"),
        })
        .collect();
    Client::connect(endpoints_list, Some(options))
        .await
        .map_err(|source| ClusterError::Etcd { endpoints, source })
}

/// A running cluster membership: what the supervisor reads and tells.
pub struct Cluster {
    /// This router's name.
    pub node: String,
    /// The fence of every sink write.
    pub fence: Fence,
    /// The feeds to run here now (owned and not being handed over).
    pub run: watch::Receiver<BTreeSet<String>>,
    /// The config's feeds, for the ownership loop.
    feeds: watch::Sender<BTreeSet<String>>,
    released: mpsc::UnboundedSender<String>,
    leaving: CancellationToken,
    stop: CancellationToken,
    numbers: Numbers,
    plans: Plans,
    tasks: Vec<JoinHandle<()>>,
    /// The plans' writer (it ends with the last clone of the plans, held by the topology).
    writer: JoinHandle<()>,
}

impl Cluster {
    /// Joins the cluster of `settings` as `node`, to share out `feeds`. Fails only when the
    /// settings cannot be used (a CA file, the client); etcd being down is waited out.
    pub async fn join(
        settings: &ClusterSettings,
        node: String,
        feeds: BTreeSet<String>,
    ) -> Result<Self, ClusterError> {
        let client = connect(settings).await?;
        let keys = Keys::new(&settings.name);
        let fence = Fence::new();
        let stop = CancellationToken::new();
        let leaving = CancellationToken::new();
        let (lease_tx, lease_rx) = watch::channel(None);
        let (feeds_tx, feeds_rx) = watch::channel(feeds);
        let (run_tx, run_rx) = watch::channel(BTreeSet::new());
        let (released_tx, released_rx) = mpsc::unbounded_channel();
        let holder = lease::LeaseHolder {
            client: client.clone(),
            member_key: keys.member(&node),
            node: node.clone(),
            ttl: settings.lease,
            fence: fence.clone(),
            lease: lease_tx,
            leaving: leaving.clone(),
            stop: stop.clone(),
        };
        let owner = ownership::Owner {
            client: client.clone(),
            keys: keys.clone(),
            node: node.clone(),
            tick: (settings.lease / 6)
                .clamp(Duration::from_millis(100), Duration::from_millis(500)),
            unclaimed_grace: settings.lease * 2,
            fence: fence.clone(),
            lease: lease_rx.clone(),
            feeds: feeds_rx,
            run: run_tx,
            released: released_rx,
            leaving: leaving.clone(),
            stop: stop.clone(),
        };
        let owner_put = owner_put::OwnerPut {
            client,
            keys,
            node: node.clone(),
            lease: lease_rx,
            fence: fence.clone(),
        };
        let numbers = Numbers::new(owner_put.clone());
        let (plans, writer) = Plans::new(owner_put);
        let tasks = vec![tokio::spawn(holder.run()), tokio::spawn(owner.run())];
        let writer = tokio::spawn(writer);
        Ok(Self {
            node,
            fence,
            run: run_rx,
            feeds: feeds_tx,
            released: released_tx,
            leaving,
            stop,
            numbers,
            plans,
            tasks,
            writer,
        })
    }

    /// The config's feeds changed (a reload).
    pub fn set_feeds(&self, feeds: BTreeSet<String>) {
        self.feeds.send_replace(feeds);
    }

    /// `feed`, no longer run here, has published all it had: its owner key may go.
    pub fn released(&self, feed: &str) {
        let _ = self.released.send(feed.to_owned());
    }

    /// The shared sequence numbers.
    pub fn numbers(&self) -> Numbers {
        self.numbers.clone()
    }

    /// The shared plans.
    pub fn plans(&self) -> Plans {
        self.plans.clone()
    }

    /// Stops claiming and leaves the member list: every feed is to be handed over (the owner
    /// keys stay until [`Cluster::leave`], so nobody takes a feed still publishing here).
    pub fn begin_leaving(&self) {
        self.leaving.cancel();
    }

    /// Leaves: revokes the lease (every owner key of this router goes at once, so the others
    /// take its feeds now rather than after the lease) and stops the tasks.
    pub async fn leave(self) {
        self.leaving.cancel();
        self.plans.flush().await;
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.writer.abort();
    }
}
