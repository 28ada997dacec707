//! The daemon's life: starts the graph of a config, serves local sinks and the status over HTTP
//! when asked, reloads the config when its files change or on SIGHUP, and stops in order.
//!
//! A reload compiles the new config fully (the checks of `streamrouter check`, plugin loading
//! included) before touching anything; with any error the running graph stays as it is and the
//! errors are logged and kept in the status. A valid config is diffed against the running one
//! and applied node by node by the topology. Owns the reload sequence and the status; does not
//! compile, diff or run nodes itself.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::diff::{GraphDiff, LiveChangeRefused, diff};
use crate::config::model::{Graph, Location, Severity, SinkKind};
use crate::config::{self, Loaded};
use crate::http::operator::Operated;
use crate::http::{self, Mount, Served};
use crate::reload::{ReloadTrigger, reload_triggers};
use crate::status::{Board, DaemonStatus, ReloadReport, ReloadResult, StreamLink};
use crate::topology::{ClusterLink, Topology};

#[path = "supervisor_cluster.rs"]
mod clustered;
pub use clustered::feed_names;
#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// An HTTP listener (`serve` or `listen`) could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The cluster of `[cluster]` could not be joined.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The config file or directory (watched for changes).
    pub config: PathBuf,
    /// `--serve`: overrides `[router] serve`, at start and in every reload.
    pub serve: Option<SocketAddr>,
    /// `--listen`: overrides `[router] listen`, likewise.
    pub listen: Option<SocketAddr>,
    /// `--hls-js`: hls.js for the watch page.
    pub hls_js: Option<PathBuf>,
    /// The warnings of the config at start (already reported): a reload logs only new ones.
    pub warnings: Vec<String>,
}

/// Runs `graph` (compiled from `options.config`) until `shutdown` is cancelled, reloading on
/// changes, then stops every feed in order.
pub async fn run_daemon(
    mut graph: Graph,
    options: DaemonOptions,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    override_addresses(&mut graph, &options);
    let (mounts, mounts_receiver) = watch::channel(Arc::new(local_mounts(&graph)));
    let (status, status_receiver) = watch::channel(DaemonStatus {
        generation: 1,
        ..DaemonStatus::default()
    });
    let board = Board::default();
    let mut servers = Vec::new();
    let mut serve_addr = None;
    if let Some(addr) = graph.router.serve {
        let listener = bind(addr).await?;
        let addr = listener.local_addr().unwrap_or(addr);
        serve_addr = Some(addr);
        for stream in streams_of(&mounts_receiver.borrow(), addr) {
            tracing::info!(url = %stream.url, "serving");
            println!("{}", stream.url);
        }
        let served = Served {
            mounts: mounts_receiver.clone(),
        };
        let server = http::serve(listener, served, shutdown.clone());
        servers.push(tokio::spawn(server));
    }
    if let Some(addr) = serve_addr {
        status.send_modify(|status| status.streams = streams_of(&mounts_receiver.borrow(), addr));
    }
    if let Some(addr) = graph.router.listen {
        let listener = bind(addr).await?;
        let addr = listener.local_addr().unwrap_or(addr);
        tracing::info!(url = %format!("http://{addr}/"), "status and metrics");
        println!("status: http://{addr}/");
        let operated = Operated {
            status: status_receiver,
            board: board.clone(),
            metrics: install_metrics(),
            hls_js: options.hls_js.clone().map(Arc::new),
        };
        let server = http::operator::serve_operator(listener, operated, shutdown.clone());
        servers.push(tokio::spawn(server));
    }
    let generation_gauge = metrics::gauge!("streamrouter_config_generation");
    generation_gauge.set(1.0);
    let mut full = graph.clone();
    let cluster = match &graph.router.cluster {
        Some(settings) => {
            let node = crate::cluster::node_name(settings)?;
            let joined =
                crate::cluster::Cluster::join(settings, node, clustered::feed_names(&graph))
                    .await?;
            clustered::share_feeds(&joined, &graph);
            tracing::info!(node = %joined.node, cluster = %settings.name, "cluster: joining; feeds start once claimed");
            Some(joined)
        }
        None => None,
    };
    let mut running_feeds = BTreeSet::new();
    // In a cluster the feeds do not stop with the daemon: they are handed over first.
    let topology_shutdown = match &cluster {
        Some(_) => CancellationToken::new(),
        None => shutdown.clone(),
    };
    let mut topology = match &cluster {
        Some(joined) => {
            clustered::show(&status, joined, &running_feeds);
            let link = ClusterLink {
                fence: joined.fence.clone(),
                numbers: joined.numbers(),
                plans: joined.plans(),
            };
            let part = clustered::running_part(&graph, &running_feeds);
            Topology::start_clustered(part, topology_shutdown.clone(), board, link).await
        }
        None => Topology::start(graph, topology_shutdown.clone(), board).await,
    };
    let mut ownership = cluster.as_ref().map(|joined| joined.run.clone());
    let mut warned: BTreeSet<String> = options.warnings.iter().cloned().collect();
    let mut triggers = match reload_triggers(&options.config) {
        Ok(triggers) => Some(triggers),
        Err(error) => {
            tracing::warn!(%error, "hot reload is off: config changes are not seen (SIGHUP neither)");
            None
        }
    };
    loop {
        let trigger = tokio::select! {
            () = shutdown.cancelled() => break,
            trigger = next_trigger(&mut triggers) => trigger,
            () = ownership_changed(&mut ownership) => {
                if let Some(joined) = &cluster {
                    clustered::follow(&mut topology, &full, joined, &mut running_feeds, &status).await;
                }
                continue;
            }
        };
        let started = Instant::now();
        let part = cluster.as_ref().map(|joined| (joined, &running_feeds));
        let report = reload(
            &mut topology,
            &mut full,
            part,
            &options,
            &trigger,
            &mut warned,
        )
        .await;
        let applied = report.result == ReloadResult::Applied;
        let streams = match serve_addr {
            Some(addr) if applied => {
                mounts.send_replace(Arc::new(local_mounts(topology.graph())));
                Some(streams_of(&mounts.borrow(), addr))
            }
            _ => None,
        };
        let elapsed_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
        let generation = status.borrow().generation + u64::from(applied);
        let result = match report.result {
            ReloadResult::Applied => {
                tracing::info!(generation, changes = ?report.summary, elapsed_ms, "config reloaded");
                "applied"
            }
            ReloadResult::Unchanged => {
                tracing::info!(generation, elapsed_ms, "config unchanged");
                "unchanged"
            }
            ReloadResult::Refused => {
                for error in &report.errors {
                    tracing::error!("config error: {error}");
                }
                tracing::error!(
                    errors = report.errors.len(),
                    generation,
                    "reload refused; the running graph is unchanged"
                );
                "refused"
            }
        };
        metrics::counter!("streamrouter_reloads_total", "result" => result).increment(1);
        generation_gauge.set(generation as f64);
        status.send_modify(|status| {
            status.generation = generation;
            status.last_reload = Some(report);
            if let Some(streams) = streams {
                status.streams = streams;
            }
        });
    }
    drop(triggers);
    if let Some(joined) = cluster {
        clustered::leave(&mut topology, &full, joined).await;
        topology_shutdown.cancel();
    }
    topology.stop().await;
    for server in servers {
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "HTTP server stopped with an error"),
            Err(error) => tracing::warn!(%error, "HTTP server task failed"),
        }
    }
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, DaemonError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Listen { addr, source })
}

/// The Prometheus recorder for `/metrics`, histogram buckets set for upload times; `None` when
/// the process already has a recorder.
fn install_metrics() -> Option<PrometheusHandle> {
    const UPLOAD_BUCKETS: &[f64] = &[
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("streamrouter_sink_upload_seconds".into()),
            UPLOAD_BUCKETS,
        )
        .unwrap_or_else(|_| PrometheusBuilder::new());
    match builder.install_recorder() {
        Ok(handle) => Some(handle),
        Err(error) => {
            tracing::warn!(%error, "metrics are off");
            None
        }
    }
}

/// The playlists of local sinks as served at `addr`.
fn streams_of(mounts: &[Mount], addr: SocketAddr) -> Vec<StreamLink> {
    mounts
        .iter()
        .flat_map(|mount| {
            mount.playlists.iter().map(move |(node, file)| StreamLink {
                playlist: node.clone(),
                sink: mount.name.clone(),
                url: http::playlist_url(addr, &mount.name, file),
            })
        })
        .collect()
}

/// Returns when the cluster changes what this router runs; never without a cluster.
async fn ownership_changed(ownership: &mut Option<watch::Receiver<BTreeSet<String>>>) {
    if let Some(receiver) = ownership {
        if receiver.changed().await.is_ok() {
            return;
        }
        *ownership = None;
    }
    std::future::pending().await
}

async fn next_trigger(triggers: &mut Option<crate::reload::ReloadTriggers>) -> ReloadTrigger {
    if let Some(found) = triggers {
        if let Some(trigger) = found.recv().await {
            return trigger;
        }
        *triggers = None;
    }
    std::future::pending().await
}

/// Loads, checks, diffs and applies the config again. `full` is the whole config's graph
/// (in a cluster the topology runs the part of it given in `cluster`); it becomes the new one.
async fn reload(
    topology: &mut Topology,
    full: &mut Graph,
    cluster: Option<(&crate::cluster::Cluster, &BTreeSet<String>)>,
    options: &DaemonOptions,
    trigger: &ReloadTrigger,
    warned: &mut BTreeSet<String>,
) -> ReloadReport {
    tracing::info!(?trigger, "reloading the config");
    let refused =
        |errors: Vec<String>| ReloadReport::now(ReloadResult::Refused, String::new(), errors);
    let (mut new, router_keys) = match compile(&options.config, warned).await {
        Ok(compiled) => compiled,
        Err(errors) => return refused(errors),
    };
    override_addresses(&mut new, options);
    if let Err(refusal) = diff(full, &new) {
        return refused(refusal_lines(&refusal, &router_keys));
    }
    let whole = new.clone();
    if let Some((_, running)) = cluster {
        new = clustered::running_part(&whole, running);
    }
    let share = |whole: &Graph| {
        if let Some((joined, _)) = cluster {
            clustered::share_feeds(joined, whole);
        }
    };
    let changes = match diff(topology.graph(), &new) {
        Ok(changes) => changes,
        Err(refusal) => return refused(refusal_lines(&refusal, &router_keys)),
    };
    if changes.is_empty() {
        share(&whole);
        *full = whole;
        return ReloadReport::now(ReloadResult::Unchanged, changes.summary(), Vec::new());
    }
    let plugin_errors = check_new_plugins(&new, &changes).await;
    if !plugin_errors.is_empty() {
        return refused(plugin_errors);
    }
    topology.apply(new, &changes).await;
    share(&whole);
    *full = whole;
    ReloadReport::now(ReloadResult::Applied, changes.summary(), Vec::new())
}

/// One line per setting a reload may not change, at the key where it is written (a setting
/// removed from the file has no place and is named alone).
fn refusal_lines(refusal: &LiveChangeRefused, written: &BTreeMap<String, Location>) -> Vec<String> {
    let why = "cannot change while the daemon runs; restart the daemon to apply it (nothing \
               of this reload was applied)";
    refusal
        .settings
        .iter()
        .map(|setting| {
            let key = setting.strip_prefix("router.").unwrap_or(setting);
            match written.get(key) {
                Some(at) => format!(
                    "{}:{}:{}: error: {setting}: {why}",
                    at.file.display(),
                    at.line,
                    at.column
                ),
                None => format!("error: {setting}: {why}"),
            }
        })
        .collect()
}

/// The compiled config, or its errors as `FILE:LINE:COL: error: KEY: MESSAGE` lines. Warnings
/// not in `warned` (those of the config running) are logged; `warned` becomes this config's.
async fn compile(
    path: &Path,
    warned: &mut BTreeSet<String>,
) -> Result<(Graph, BTreeMap<String, Location>), Vec<String>> {
    let owned = path.to_owned();
    let loaded = tokio::task::spawn_blocking(move || config::load(&owned))
        .await
        .map_err(|error| vec![format!("{}: loading failed: {error}", path.display())])?;
    let Loaded {
        graph,
        diagnostics,
        router_keys,
    } = loaded;
    let mut errors = Vec::new();
    let mut warnings = BTreeSet::new();
    for diagnostic in diagnostics {
        match diagnostic.severity {
            Severity::Error => errors.push(diagnostic.to_string()),
            Severity::Warning => {
                let warning = diagnostic.to_string();
                if !warned.contains(&warning) {
                    tracing::warn!("config warning: {warning}");
                }
                warnings.insert(warning);
            }
        }
    }
    if errors.is_empty() {
        *warned = warnings;
    }
    match graph {
        Some(graph) if errors.is_empty() => Ok((graph, router_keys)),
        _ if errors.is_empty() => Err(vec![format!("{}: not a usable config", path.display())]),
        _ => Err(errors),
    }
}

/// Loads the plugin sinks a reload adds or changes (the others are running), as `check` does.
async fn check_new_plugins(new: &Graph, changes: &GraphDiff) -> Vec<String> {
    let sinks: BTreeMap<_, _> = new
        .sinks
        .iter()
        .filter(|(name, node)| {
            matches!(node.kind, SinkKind::Plugin(_))
                && (changes.sinks.added.contains(*name)
                    || changes.sinks.changed.contains_key(*name))
        })
        .map(|(name, node)| (name.clone(), node.clone()))
        .collect();
    if sinks.is_empty() {
        return Vec::new();
    }
    let only_plugins = Graph {
        router: new.router.clone(),
        sources: BTreeMap::new(),
        segmenters: BTreeMap::new(),
        playlists: BTreeMap::new(),
        sinks,
        masters: BTreeMap::new(),
    };
    match tokio::task::spawn_blocking(move || crate::plugin_sinks::check(&only_plugins)).await {
        Ok(diagnostics) => diagnostics.iter().map(ToString::to_string).collect(),
        Err(error) => vec![format!("loading the plugin sinks failed: {error}")],
    }
}

fn override_addresses(graph: &mut Graph, options: &DaemonOptions) {
    if options.serve.is_some() {
        graph.router.serve = options.serve;
    }
    if options.listen.is_some() {
        graph.router.listen = options.listen;
    }
}

/// Local sinks and the playlists (masters first) they publish, for the HTTP server.
pub fn local_mounts(graph: &Graph) -> Vec<Mount> {
    graph
        .sinks
        .values()
        .filter_map(|sink| match &sink.kind {
            SinkKind::Local(local) => Some(Mount {
                name: sink.name.clone(),
                dir: local.path.clone(),
                playlists: (sink.masters.iter())
                    .filter_map(|master| graph.masters.get(master))
                    .map(|master| (master.name.clone(), master.file_name.clone()))
                    .chain(
                        (sink.inputs.iter())
                            .filter_map(|input| graph.playlists.get(input))
                            .map(|playlist| (playlist.name.clone(), playlist.file_name.clone())),
                    )
                    .collect(),
            }),
            _ => None,
        })
        .collect()
}
