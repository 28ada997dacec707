//! The `streamrouter` command line: argument parsing, logging set-up and exit codes. The only
//! place that uses `anyhow`; everything it runs lives in the library.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Live MPEG-TS to HLS: cuts at keyframes, keeps sliding-window playlists, publishes them.
#[derive(Debug, Parser)]
#[command(name = "streamrouter", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines on stderr as text, or as one JSON object per line (for log shippers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object per line: timestamp, level, fields (with the message), target, spans.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Cut one MPEG-TS input into HLS segments and a playlist in a directory.
    Segment(cli::segment::SegmentArgs),
    /// Run the router daemon on a config file or directory.
    Run(cli::daemon::RunArgs),
    /// Validate a config: every error at once, with file, line and key; exit 1 if any.
    Check(cli::daemon::ConfigArgs),
    /// Print the resolved graph of a config (text, or Graphviz with --dot).
    Graph(cli::daemon::GraphArgs),
    /// Show a running daemon's status: every node's state, the last reload, alerts.
    Status(cli::status::StatusArgs),
    /// List the archives (recordings) the sinks hold.
    #[command(subcommand)]
    Archive(cli::archive::ArchiveCommand),
    /// Look at the cluster of a config's `[cluster]` (etcd): members, owned feeds, moves.
    #[command(subcommand)]
    Cluster(cli::cluster::ClusterCommand),
    /// Inspect sink plugins (shared libraries).
    #[command(subcommand)]
    Plugin(cli::plugin::PluginCommand),
}

fn main() -> ExitCode {
    let parsed = Cli::parse();
    init_logging(parsed.log_format);
    let result = match parsed.command {
        Command::Segment(args) => cli::segment::segment(args),
        Command::Run(args) => cli::daemon::run(args),
        Command::Check(args) => cli::daemon::check(args),
        Command::Graph(args) => cli::daemon::graph(args),
        Command::Plugin(command) => cli::plugin::run(command),
        Command::Archive(command) => cli::archive::run(command),
        Command::Cluster(command) => cli::cluster::run(command),
        Command::Status(args) => cli::status::status(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            match parsed.log_format {
                LogFormat::Text => eprintln!("error: {error:#}"),
                // A log shipper reads every stderr line as JSON: the reason for the exit too.
                LogFormat::Json => tracing::error!("{error:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` with the credential-bearing crates capped (see
/// [`streamrouter::logging`]).
fn init_logging(format: LogFormat) {
    let rust_log = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    let filter = streamrouter::logging::log_filter(rust_log.as_deref());
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry();
    match format {
        LogFormat::Text => registry
            .with(
                logs.with_ansi(std::io::stderr().is_terminal())
                    .with_filter(filter),
            )
            .init(),
        LogFormat::Json => registry.with(logs.json().with_filter(filter)).init(),
    }
}
