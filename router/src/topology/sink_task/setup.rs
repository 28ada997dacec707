//! How a sink task starts and what a reload changes of it: the instance, its settings and
//! limits, where its journal is, and the registry it reports key floors to.
//!
//! Plain types only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use streamrouter_plugin::Sink;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::super::backlog::BacklogLimits;
use super::super::key_floors::KeyFloors;
use crate::publish::ObjectHeaders;
use crate::status::NodeStatus;

/// How far a sink may fall behind, how long expired segments linger, which headers it stores.
#[derive(Debug, Clone)]
pub struct SinkLimits {
    /// Unsent segments held in memory besides the journal, and dropped beyond the limit.
    pub backlog: BacklogLimits,
    /// Extra time before an expired segment is deleted (`delete_grace`).
    pub delete_grace: Duration,
    /// Content-Type and Cache-Control of the objects.
    pub headers: Arc<ObjectHeaders>,
    /// In a cluster: every write waits at it (see `crate::cluster::fence`).
    pub fence: Option<crate::cluster::Fence>,
    /// In a cluster: where its plans are shared (see `crate::cluster::plans`).
    pub plans: Option<crate::cluster::Plans>,
}

/// What a sink is now; a reload sends a new one.
#[derive(Clone)]
pub struct SinkSetup {
    /// The instance.
    pub sink: Arc<dyn Sink>,
    /// Where it stores: a new value means a new place, where the plans' listed segments are not.
    pub destination: u64,
    /// Its limits and headers.
    pub limits: SinkLimits,
}

/// Where a sink keeps its journal.
#[derive(Debug, Clone)]
pub struct JournalPlace {
    /// The journal's directory.
    pub dir: PathBuf,
    /// Under `state_dir`: every change is fsync'd and kept across runs. Otherwise the journal
    /// only spares memory, and is removed when the sink is done.
    pub durable: bool,
}

/// How a sink task starts.
pub struct SinkStart {
    /// Node name.
    pub name: String,
    /// The instance and settings, changed by reloads.
    pub setup: watch::Receiver<SinkSetup>,
    /// Cancelled when the daemon stops or a reload removes the sink.
    pub stop: CancellationToken,
    /// How long it goes on publishing once stopped (`stop_timeout`).
    pub drain: Duration,
    /// Its journal.
    pub journal: JournalPlace,
    /// Its entry on the status board.
    pub status: NodeStatus,
    /// Where it says which key-sink keys its plans still name.
    pub key_floors: KeyFloors,
}
