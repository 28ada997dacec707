//! `streamrouter check` and `graph` as a user runs them.

use crate::common::router::streamrouter;
use crate::daemon::write_config;

#[test]
fn check_reports_every_error_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "broken.toml",
        r#"[sources.cam]
type = "udp"
bind = "127.0.0.1:40000"

[segmenters.cam]
input = "nope"

[playlists.cam]
input = "cam"
window = 2

[sinks.web]
type = "local"
inputs = ["cam"]
path = "/tmp/x"
"#,
    );
    let run = streamrouter(&["check", config.to_str().unwrap()]);
    run.assert_failure();
    let name = config.display().to_string();
    assert!(run.stderr.contains(&format!("{name}:6:")), "{}", run.stderr);
    assert!(
        run.stderr.contains("segmenters.cam.input"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("{name}:10:")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("playlists.cam.window"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_and_graph_accept_the_shipped_examples() {
    let configs = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs");
    for name in ["quickstart.toml", "many-feeds.toml"] {
        let path = format!("{configs}/{name}");
        streamrouter(&["check", &path]).assert_success();
        let graph = streamrouter(&["graph", &path]);
        graph.assert_success();
        assert!(!graph.stdout.trim().is_empty(), "{name}: empty graph");
        let dot = streamrouter(&["graph", "--dot", &path]);
        dot.assert_success();
        assert!(
            dot.stdout.trim_start().starts_with("digraph"),
            "{}",
            dot.stdout
        );
    }
    streamrouter(&["check", &format!("{configs}/conf.d")]).assert_success();
}
