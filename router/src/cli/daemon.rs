//! `streamrouter run | check | graph`: the daemon and its config tools (`check` also loads the
//! plugin sinks).
//!
//! Owns the process-level concerns: loading the config, the tokio runtime, stop signals (the
//! first stops every feed in order, a second exits at once) and printing diagnostics. The
//! daemon itself (serving, reloading) is `streamrouter::supervisor`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use streamrouter::config::model::{Diagnostic, Graph, Severity};
use streamrouter::config::{self, Loaded};
use streamrouter::supervisor::{DaemonOptions, run_daemon};
use tokio_util::sync::CancellationToken;

/// `run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Config file, or a directory whose *.toml files are merged.
    config: PathBuf,
    /// Serve local sinks on this address instead of `[router] serve` (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    serve: Option<std::net::SocketAddr>,
    /// Serve metrics, status and the watch page on this address instead of `[router] listen`
    /// (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// hls.js (hls.min.js) for the watch page's players, served at /hls.min.js.
    #[arg(long, value_name = "FILE")]
    hls_js: Option<PathBuf>,
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
pub fn load(path: &Path) -> anyhow::Result<Graph> {
    load_reporting(path, |diagnostic| eprintln!("{diagnostic}"))
}

/// Like [`load`], for the daemon: diagnostics go to the log (JSON with `--log-format json`).
/// Also returns the warnings, so that reloads do not repeat them.
fn load_logged(path: &Path) -> anyhow::Result<(Graph, Vec<String>)> {
    let warnings = std::cell::RefCell::new(Vec::new());
    let graph = load_reporting(path, |diagnostic| match diagnostic.severity {
        Severity::Error => tracing::error!("{diagnostic}"),
        Severity::Warning => {
            tracing::warn!("{diagnostic}");
            warnings.borrow_mut().push(diagnostic.to_string());
        }
    })?;
    Ok((graph, warnings.into_inner()))
}

fn load_reporting(path: &Path, report: impl Fn(&Diagnostic)) -> anyhow::Result<Graph> {
    let Loaded {
        graph, diagnostics, ..
    } = config::load(path);
    for diagnostic in &diagnostics {
        report(diagnostic);
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
    let masters = match graph.masters.len() {
        0 => String::new(),
        n => format!(", {n} masters"),
    };
    println!(
        "{}: ok ({} sources, {} segmenters, {} playlists, {} sinks{masters})",
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
    let (graph, warnings) = load_logged(&args.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("streamrouter")
        .build()
        .context("starting the async runtime")?;
    let options = DaemonOptions {
        config: args.config,
        serve: args.serve,
        listen: args.listen,
        hls_js: args.hls_js,
        warnings,
    };
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signals(shutdown.clone()));
        run_daemon(graph, options, shutdown).await
    });
    // A stdin source leaves a blocking read parked; do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result?;
    tracing::info!("stopped");
    Ok(())
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
