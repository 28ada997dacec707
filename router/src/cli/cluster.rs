//! `streamrouter cluster status CONFIG`: the cluster of the config's `[cluster]` as etcd has
//! it — live members, the feeds each owns, feeds nobody owns, moves in progress.
//!
//! Owns the command only; reading and rendering are `streamrouter::cluster::report`.

use anyhow::{Context, bail};
use streamrouter::supervisor::feed_names;

use super::daemon::load;

/// `cluster` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// List the live members, the feeds each owns, unowned feeds and moves in progress.
    Status(StatusArgs),
}

/// `cluster status` arguments.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Config file, or a directory whose *.toml files are merged (its `[cluster]` is read).
    config: std::path::PathBuf,
}

/// Runs a `cluster` subcommand.
pub fn run(command: ClusterCommand) -> anyhow::Result<()> {
    let ClusterCommand::Status(args) = command;
    let graph = load(&args.config)?;
    let Some(settings) = graph.router.cluster.clone() else {
        bail!("{}: no [cluster] in the config", args.config.display());
    };
    let feeds = feed_names(&graph);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let mut client = streamrouter::cluster::connect(&settings).await?;
        let endpoints = settings.endpoints.join(",");
        streamrouter::cluster::report::read(&mut client, &settings.name, &endpoints, &feeds).await
    })?;
    print!("{}", report.render());
    Ok(())
}
