//! Config: TOML files in, a validated [`model::Graph`] out.
//!
//! Two steps, as the whole project does it: `raw` reads the TOML (keeping spans), then `compile`
//! expands templates, resolves names and checks every value, collecting every error at once,
//! each with file, line and key. Nothing here starts anything. What compile needs from outside
//! the texts (`HOME`, `${VAR}` variables, password files) comes in as an [`Environment`]:
//! [`compile_sources_with`] is pure, [`load`] and [`compile_sources`] use the process's.
//!
//! - `raw`: TOML text → located values. `diagnostics`: findings, sorted and merged.
//! - `fields`: typed reading of one table. `nodes` (and `sources`, `masters`, `sinks`,
//!   `backend`, `plugin_sink`): one table → one node; a remote sink's own keys are its backend
//!   crate's settings type. Values with a rule of their own are made by the stage that runs
//!   them (a source's URL, multicast join and command in [`crate::source`], a segment name
//!   pattern in [`crate::playlist`]), which words the refusals compile reports.
//! - `template`: templates and their chain; `feeds`: one feed → its nodes; `placeholder`:
//!   `{{var}}` substitution; `env_vars`: `${VAR}` substitution in every node.
//! - `playlist_views`: a playlist's `dvr` and `archive` tables, and their checks against the
//!   segmenter the playlist reads.
//! - `link`: references between nodes; `graph_checks`: checks over the linked graph.
//! - `compile`: the steps in order. `render`: a graph as text or Graphviz DOT.
//! - `diff`: what a new graph changes against the running one, for hot reload (pure).
//! - `cluster_settings`: the `[cluster]` table; `cluster_feeds`: the feeds (units a cluster of
//!   routers shares out) of a graph, and a graph restricted to some of them (pure);
//!   `cluster_checks`: the warnings a cluster adds (sources that cannot follow their feed).

mod backend;
mod cluster_checks;
mod cluster_feeds;
mod cluster_settings;
mod compile;
mod diagnostics;
pub mod diff;
mod encryption;
mod env_vars;
mod feeds;
mod fields;
mod graph_checks;
mod link;
mod masters;
pub mod model;
mod nodes;
mod placeholder;
mod playlist_views;
mod plugin_sink;
mod raw;
mod render;
pub mod segment_format;
mod sinks;
mod sources;
mod template;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use model::{Diagnostic, Location, Severity};

pub use cluster_feeds::{FeedId, FeedMembers, feeds_of, restrict};
pub use render::{render_dot, render_text};

/// The outcome of loading a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The graph, present exactly when no diagnostic is an error.
    pub graph: Option<model::Graph>,
    /// Errors and warnings, sorted by file (in load order), line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// Where each `[router]` key is written, by key, and each `[cluster]` key as `cluster.KEY`
    /// (the table itself as `cluster`), for messages about settings.
    pub router_keys: std::collections::BTreeMap<String, Location>,
}

impl Loaded {
    /// The error-severity diagnostics.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error)
    }
}

/// What compiling reads besides the config text, handed in so that compile itself stays pure
/// and tests choose it: the home directory, environment variables and password files. [`load`]
/// and [`compile_sources`] use the process's: `HOME`, [`std::env::var`] and
/// [`std::fs::read_to_string`].
#[derive(Clone, Copy)]
pub struct Environment<'a> {
    /// The directory `~/` in paths stands for; none when unknown (a `~/` path is then an error).
    pub home: Option<&'a Path>,
    /// `${VAR}` in string values: the variable's value, `None` when it is not set.
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// The contents of a sink's `password_file`.
    pub read_file: &'a dyn Fn(&Path) -> std::io::Result<String>,
}

/// Runs `f` with the process's environment.
fn with_process_environment<T>(f: impl FnOnce(&Environment<'_>) -> T) -> T {
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from);
    f(&Environment {
        home: home.as_deref(),
        var: &process_var,
        read_file: &read_text,
    })
}

fn process_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn read_text(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// Reads one `.toml` file, or every `*.toml` file directly in a directory (sorted by name,
/// merged as one configuration), and compiles it in the process's environment. A file or
/// directory that cannot be read is an error diagnostic at line 0, column 0.
pub fn load(path: &Path) -> Loaded {
    with_process_environment(|environment| load_with(path, environment))
}

/// [`load`] in a given environment.
pub fn load_with(path: &Path, environment: &Environment<'_>) -> Loaded {
    let (sources, mut read_errors) = read_sources(path);
    let mut loaded = compile_sources_with(&sources, environment);
    if !read_errors.is_empty() {
        read_errors.append(&mut loaded.diagnostics);
        loaded = Loaded {
            graph: None,
            diagnostics: read_errors,
            router_keys: std::collections::BTreeMap::new(),
        };
    }
    loaded
}

/// Compiles already-read sources: `(file path for messages and relative paths, text)`, in the
/// process's environment: `~/` is `HOME`, `${VAR}` the variable, and a sink's `password_file`
/// is read. No config file is read.
pub fn compile_sources(sources: &[(PathBuf, String)]) -> Loaded {
    with_process_environment(|environment| compile_sources_with(sources, environment))
}

/// [`compile_sources`] in a given environment: pure, everything outside the texts comes from
/// `environment`.
pub fn compile_sources_with(
    sources: &[(PathBuf, String)],
    environment: &Environment<'_>,
) -> Loaded {
    let (graph, diagnostics, router_keys) = compile::compile(sources, environment);
    Loaded {
        graph,
        diagnostics,
        router_keys,
    }
}

fn read_error(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        location: Location {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
        },
        key: String::new(),
        message,
    }
}

/// The texts to compile, and a diagnostic for each file that could not be read.
fn read_sources(path: &Path) -> (Vec<(PathBuf, String)>, Vec<Diagnostic>) {
    let mut errors = Vec::new();
    let files = if path.is_dir() {
        match toml_files_in(path) {
            Ok(files) if files.is_empty() => {
                let message = "the directory has no .toml file".to_owned();
                return (Vec::new(), vec![read_error(path, message)]);
            }
            Ok(files) => files,
            Err(error) => {
                return (
                    Vec::new(),
                    vec![read_error(
                        path,
                        format!("cannot read the directory: {error}"),
                    )],
                );
            }
        }
    } else {
        vec![path.to_path_buf()]
    };
    let mut sources = Vec::with_capacity(files.len());
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => sources.push((file, text)),
            Err(error) => errors.push(read_error(&file, format!("cannot read: {error}"))),
        }
    }
    (sources, errors)
}

/// `*.toml` files directly in `dir`, sorted by file name.
fn toml_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "toml")
            && path.is_file()
        {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}
