//! `streamrouter run | check | graph`: the daemon and its config tools (`check` also loads the
//! plugin sinks).
//!
//! Owns the process-level concerns: loading the config, the tokio runtime, stop signals (the
//! first stops every feed in order, a second exits at once) and printing diagnostics.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use streamrouter::config::model::{Graph, Severity, SinkKind};
use streamrouter::config::{self, Loaded};
use streamrouter::http::{self, Mount};
use streamrouter::topology;
use tokio_util::sync::CancellationToken;

/// `run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Config file, or a directory whose *.toml files are merged.
    config: PathBuf,
    /// Serve local sinks on this address instead of `[router] serve` (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    serve: Option<std::net::SocketAddr>,
}

/// `check` arguments.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// Config file, or a directory whose *.toml files are merged.
    config: PathBuf,
}

/// `graph` arguments.
#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// Config file, or a directory whose *.toml files are merged.
    config: PathBuf,
    /// Print Graphviz (dot) instead of text.
    #[arg(long)]
    dot: bool,
}

/// Prints every diagnostic; returns the graph when there is no error.
fn load(path: &Path) -> anyhow::Result<Graph> {
    let Loaded { graph, diagnostics } = config::load(path);
    for diagnostic in &diagnostics {
        eprintln!("{diagnostic}");
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    match graph {
        Some(graph) if errors == 0 => Ok(graph),
        _ => bail!("{}: {errors} error(s) in the config", path.display()),
    }
}

/// `streamrouter check`: compile, then load every plugin sink's library and create its
/// instance (I/O compile does not do).
pub fn check(args: ConfigArgs) -> anyhow::Result<()> {
    let graph = load(&args.config)?;
    let plugin_errors = streamrouter::plugin_sinks::check(&graph);
    for diagnostic in &plugin_errors {
        eprintln!("{diagnostic}");
    }
    if !plugin_errors.is_empty() {
        bail!(
            "{}: {} error(s) in the config",
            args.config.display(),
            plugin_errors.len()
        );
    }
    println!(
        "{}: ok ({} sources, {} segmenters, {} playlists, {} sinks)",
        args.config.display(),
        graph.sources.len(),
        graph.segmenters.len(),
        graph.playlists.len(),
        graph.sinks.len()
    );
    Ok(())
}

/// `streamrouter graph`.
pub fn graph(args: GraphArgs) -> anyhow::Result<()> {
    let graph = load(&args.config)?;
    if args.dot {
        print!("{}", config::render_dot(&graph));
    } else {
        print!("{}", config::render_text(&graph));
    }
    Ok(())
}

/// `streamrouter run`.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut graph = load(&args.config)?;
    if args.serve.is_some() {
        graph.router.serve = args.serve;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("streamrouter")
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(run_graph(graph));
    // A stdin source leaves a blocking read parked; do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

async fn run_graph(graph: Graph) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signals(shutdown.clone()));
    let server = match graph.router.serve {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("[router] serve: cannot listen on {addr}"))?;
            let addr = listener.local_addr().unwrap_or(addr);
            let mounts = local_mounts(&graph);
            for mount in &mounts {
                for playlist in &mount.playlists {
                    tracing::info!(url = %http::playlist_url(addr, &mount.name, playlist), "serving");
                    println!("{}", http::playlist_url(addr, &mount.name, playlist));
                }
            }
            Some(tokio::spawn(http::serve(
                listener,
                mounts,
                shutdown.clone(),
            )))
        }
        None => None,
    };
    topology::run(&graph, shutdown.clone()).await?;
    if let Some(server) = server {
        shutdown.cancel();
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "HTTP server stopped with an error"),
            Err(error) => tracing::warn!(%error, "HTTP server task failed"),
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Local sinks and the playlist files they publish, for the HTTP server.
fn local_mounts(graph: &Graph) -> Vec<Mount> {
    graph
        .sinks
        .values()
        .filter_map(|sink| match &sink.kind {
            SinkKind::Local { path } => Some(Mount {
                name: sink.name.clone(),
                dir: path.clone(),
                playlists: sink
                    .inputs
                    .iter()
                    .filter_map(|input| graph.playlists.get(input))
                    .map(|playlist| playlist.file_name.clone())
                    .collect(),
            }),
            _ => None,
        })
        .collect()
}

/// The first SIGINT or SIGTERM stops the feeds in order; a second one exits at once.
async fn stop_on_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot listen for stop signals");
        return;
    };
    for round in 0..2 {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        if round == 0 {
            tracing::info!(
                "stopping: finishing open segments and publishing final playlists (signal again to exit now)"
            );
            shutdown.cancel();
        }
    }
    tracing::warn!("second stop signal: exiting now");
    std::process::exit(130);
}
