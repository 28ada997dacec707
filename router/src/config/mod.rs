//! Config: TOML files in, a validated [`model::Graph`] out.
//!
//! Two steps, as the whole project does it: `raw` reads the TOML (keeping spans), then `compile`
//! expands templates, resolves names and checks every value, collecting every error at once,
//! each with file, line and key. Nothing here starts anything; only [`load`] touches the file
//! system, [`compile_sources`] is pure.
//!
//! - `raw`: TOML text → located values. `diagnostics`: findings, sorted and merged.
//! - `fields`: typed reading of one table. `nodes` (and `sources`): one table → one node.
//! - `template`: templates and their chain; `feeds`: one feed → its nodes; `placeholder`:
//!   `{{var}}` substitution.
//! - `link`: references between nodes; `graph_checks`: checks over the linked graph.
//! - `compile`: the steps in order. `render`: a graph as text or Graphviz DOT.

mod compile;
mod diagnostics;
mod feeds;
mod fields;
mod graph_checks;
mod link;
pub mod model;
mod nodes;
mod placeholder;
mod raw;
mod render;
mod sources;
mod template;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use model::{Diagnostic, Location, Severity};

pub use render::{render_dot, render_text};

/// The outcome of loading a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The graph, present exactly when no diagnostic is an error.
    pub graph: Option<model::Graph>,
    /// Errors and warnings, sorted by file (in load order), line and column.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// The error-severity diagnostics.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error)
    }
}

/// Reads one `.toml` file, or every `*.toml` file directly in a directory (sorted by name,
/// merged as one configuration), and compiles it. A file or directory that cannot be read is
/// an error diagnostic at line 0, column 0.
pub fn load(path: &Path) -> Loaded {
    let (sources, mut read_errors) = read_sources(path);
    let mut loaded = compile_sources(&sources);
    if !read_errors.is_empty() {
        read_errors.append(&mut loaded.diagnostics);
        loaded = Loaded {
            graph: None,
            diagnostics: read_errors,
        };
    }
    loaded
}

/// Compiles already-read sources: `(file path for messages and relative paths, text)`. Pure:
/// reads no file; `~/` in paths is expanded with the `HOME` environment variable.
pub fn compile_sources(sources: &[(PathBuf, String)]) -> Loaded {
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from);
    compile_with_home(sources, home.as_deref())
}

/// [`compile_sources`] with the home directory given.
fn compile_with_home(sources: &[(PathBuf, String)], home: Option<&Path>) -> Loaded {
    let (graph, diagnostics) = compile::compile(sources, home);
    Loaded { graph, diagnostics }
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
