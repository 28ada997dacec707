//! Tests of the config layer through its public API: exact diagnostics (place, key, message),
//! template expansion, graph checks, directory merging, rendering and the shipped examples.

mod archive_masters;
mod backends;
mod cluster;
mod cluster_checks;
mod cluster_feeds;
mod diff;
mod diff_masters;
mod encryption;
mod env_vars;
mod errors;
mod examples;
mod files;
mod graph_checks;
mod master_sinks;
mod masters;
mod plugins;
mod remote_places;
mod render;
mod segment_format;
mod sinks;
mod srt;
mod templates;
mod values;
mod views;

use std::path::{Path, PathBuf};

use super::model::{Diagnostic, Graph, Severity};
use super::{Environment, Loaded, compile_sources_with};

/// The home directory the tests expand `~/` with.
const HOME: &str = "/home/tester";

/// Compiles one file named `conf/test.toml`.
fn compile(text: &str) -> Loaded {
    compile_files(&[("conf/test.toml", text)])
}

fn compile_files(files: &[(&str, &str)]) -> Loaded {
    compile_in(files, &[], &[])
}

/// Compiles `files` where `~/` is [`HOME`], the environment variables are `vars` and the only
/// readable files are `readable` (path, contents).
fn compile_in(files: &[(&str, &str)], vars: &[(&str, &str)], readable: &[(&str, &str)]) -> Loaded {
    let sources: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(path, text)| (PathBuf::from(path), (*text).to_owned()))
        .collect();
    let var = |name: &str| {
        let found = vars.iter().find(|(var, _)| *var == name);
        found.map(|(_, value)| (*value).to_owned())
    };
    let read_file = |path: &Path| {
        let found = readable.iter().find(|(file, _)| Path::new(file) == path);
        found.map(|(_, text)| (*text).to_owned()).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
        })
    };
    let environment = Environment {
        home: Some(Path::new(HOME)),
        var: &var,
        read_file: &read_file,
    };
    let loaded = compile_sources_with(&sources, &environment);
    let has_error = loaded.errors().next().is_some();
    assert_eq!(
        loaded.graph.is_some(),
        !has_error,
        "a graph exactly when there is no error:\n{}",
        listing(&loaded.diagnostics)
    );
    loaded
}

/// The graph, failing with every diagnostic when there is none.
fn graph(loaded: &Loaded) -> &Graph {
    match &loaded.graph {
        Some(graph) => graph,
        None => panic!("no graph:\n{}", listing(&loaded.diagnostics)),
    }
}

fn listing(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("{d}\n")).collect()
}

/// `(line, column, key)` of every diagnostic of one severity.
fn places(loaded: &Loaded, severity: Severity) -> Vec<(usize, usize, &str)> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .map(|d| (d.location.line, d.location.column, d.key.as_str()))
        .collect()
}

/// The only diagnostic, checking it is of `severity` and at `line`.
fn single(loaded: &Loaded, severity: Severity, line: usize) -> &Diagnostic {
    assert_eq!(
        loaded.diagnostics.len(),
        1,
        "{}",
        listing(&loaded.diagnostics)
    );
    let diagnostic = &loaded.diagnostics[0];
    assert_eq!(diagnostic.severity, severity, "{diagnostic}");
    assert_eq!(diagnostic.location.line, line, "{diagnostic}");
    diagnostic
}

/// The errors of a compile as (line, key, message), in the order reported.
fn errors_at(loaded: &Loaded) -> Vec<(usize, &str, &str)> {
    (loaded.diagnostics.iter())
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.location.line, d.key.as_str(), d.message.as_str()))
        .collect()
}

/// A minimal valid chain source → segmenter → playlist → sink, all named `cam`, for tests to
/// add to.
const CHAIN: &str = r#"
[sources.cam]
type = "udp"
bind = "0.0.0.0:40000"

[segmenters.cam]
input = "cam"

[playlists.cam]
input = "cam"

[sinks.web]
type = "local"
inputs = ["cam"]
path = "/srv/live"
"#;
