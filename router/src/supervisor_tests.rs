//! The supervisor's reload in process, on tokio's paused clock: a config file is written,
//! compiled and started, then edited, and each reload's report and the graph running after it
//! are checked (refused with every error at its place and nothing changed, a router setting
//! refused at its key, a live change applied, nothing to do, an address the command line
//! overrides never refused).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::{DaemonOptions, override_addresses, reload};
use crate::reload::ReloadTrigger;
use crate::status::{Board, ReloadReport, ReloadResult};
use crate::topology::Topology;

/// A feed on the repo's sample, published to `DIR/out`; `window` and `extra` router keys.
fn config(dir: &Path, window: usize, router: &str) -> String {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/h264_aac.ts");
    format!(
        "[router]\nstate_dir = \"{state}\"\n{router}\n\
         [sources.cam]\ntype = \"file\"\npath = \"{sample}\"\nrealtime = true\nloop = true\n\
         [segmenters.cam]\ninput = \"cam\"\n\
         [playlists.cam]\ninput = \"cam\"\nwindow = {window}\n\
         [sinks.out]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{out}\"\n",
        state = dir.join("state").display(),
        sample = sample.display(),
        out = dir.join("out").display(),
    )
}

/// The daemon's state between reloads: its options, the running graph and the warnings seen.
struct Daemon {
    options: DaemonOptions,
    topology: Topology,
    shutdown: CancellationToken,
    warned: BTreeSet<String>,
}

impl Daemon {
    /// Writes `text` as the config and starts it the way `run_daemon` does.
    async fn start(path: &Path, text: &str, serve: Option<std::net::SocketAddr>) -> Self {
        std::fs::write(path, text).unwrap();
        let options = DaemonOptions {
            config: path.to_owned(),
            serve,
            listen: None,
            hls_js: None,
            warnings: Vec::new(),
        };
        let mut graph = crate::config::load(path).graph.unwrap();
        override_addresses(&mut graph, &options);
        let shutdown = CancellationToken::new();
        let topology = Topology::start(graph, shutdown.clone(), Board::default()).await;
        Self {
            options,
            topology,
            shutdown,
            warned: BTreeSet::new(),
        }
    }

    /// Writes `text` as the config and reloads.
    async fn reload(&mut self, text: &str) -> ReloadReport {
        std::fs::write(&self.options.config, text).unwrap();
        let trigger = ReloadTrigger::FileChanged(vec![self.options.config.clone()]);
        let mut full = self.topology.graph().clone();
        reload(
            &mut self.topology,
            &mut full,
            None,
            &self.options,
            &trigger,
            &mut self.warned,
        )
        .await
    }

    fn window(&self) -> usize {
        self.topology.graph().playlists["cam"].window
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.topology.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn reloads_are_refused_applied_or_unchanged_and_only_an_applied_one_changes_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.toml");
    let mut daemon = Daemon::start(&path, &config(dir.path(), 6, ""), None).await;
    let running = daemon.topology.graph().clone();

    // A config with errors: each at its file, line and column; nothing changes.
    let broken =
        config(dir.path(), 6, "").replace("input = \"cam\"\nwindow", "input = \"nope\"\nwindow");
    let broken = broken.replace("[sinks.out]", "[sinks.out]\nbogus = 1");
    let report = daemon.reload(&broken).await;
    assert_eq!(report.result, ReloadResult::Refused);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    let at = format!("{}:", path.display());
    assert!(
        report
            .errors
            .iter()
            .all(|e| e.starts_with(&at) && e.contains(": error: ")),
        "{:?}",
        report.errors
    );
    assert!(report.summary.is_empty());
    assert_eq!(daemon.topology.graph(), &running);

    // A router setting that cannot change live: refused at its key.
    let report = daemon
        .reload(&config(dir.path(), 8, "stop_timeout = \"9s\""))
        .await;
    assert_eq!(report.result, ReloadResult::Refused);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let line = format!(
        "{}:3:1: error: router.stop_timeout: cannot change",
        path.display()
    );
    assert!(report.errors[0].starts_with(&line), "{:?}", report.errors);
    assert_eq!(daemon.window(), 6);

    // A live change: applied, named in the summary.
    let report = daemon.reload(&config(dir.path(), 8, "")).await;
    assert_eq!(report.result, ReloadResult::Applied, "{:?}", report.errors);
    assert!(
        report.summary.ends_with("playlists.cam (window)"),
        "{}",
        report.summary
    );
    assert_eq!(daemon.window(), 8);

    // The same again: nothing to do.
    let report = daemon.reload(&config(dir.path(), 8, "# a comment")).await;
    assert_eq!(report.result, ReloadResult::Unchanged);
    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_address_the_command_line_overrides_is_never_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.toml");
    let serve = Some("127.0.0.1:1".parse().unwrap());
    let mut daemon = Daemon::start(
        &path,
        &config(dir.path(), 6, "serve = \"127.0.0.1:2\""),
        serve,
    )
    .await;
    let report = daemon
        .reload(&config(dir.path(), 6, "serve = \"127.0.0.1:3\""))
        .await;
    assert_eq!(
        report.result,
        ReloadResult::Unchanged,
        "{:?}",
        report.errors
    );
    assert_eq!(daemon.topology.graph().router.serve, serve);
    daemon.stop().await;
}
