//! Why a plugin could not be loaded or could not create an instance. Plain data with the path
//! (and the plugin's name where known) in every message; no I/O.

use std::path::PathBuf;

/// A library that cannot be used as a sink plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Nothing at that path.
    #[error("{}: no such file", path.display())]
    NotFound {
        /// The library path.
        path: PathBuf,
    },
    /// The file exists but cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    Unreadable {
        /// The library path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not a shared library at all (a text file, a misnamed archive).
    #[error("{}: not a shared library ({reason})", path.display())]
    NotALibrary {
        /// The library path.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The system's loader refused the library (wrong architecture, a dependency missing).
    #[error("{}: cannot be loaded: {reason}", path.display())]
    Open {
        /// The library path.
        path: PathBuf,
        /// What the loader said.
        reason: String,
    },
    /// A shared library, but without the entry symbol: not a streamrouter plugin.
    #[error(
        "{}: no `{symbol}` symbol: not a streamrouter sink plugin",
        path.display()
    )]
    MissingEntry {
        /// The library path.
        path: PathBuf,
        /// The symbol looked for.
        symbol: &'static str,
    },
    /// The entry point gave no usable table.
    #[error("{}: the entry point {reason}", path.display())]
    NoTable {
        /// The library path.
        path: PathBuf,
        /// What it returned instead.
        reason: &'static str,
    },
    /// The table does not start with the magic value.
    #[error(
        "{}: bad magic value {found:#018x} in the plugin table: not a streamrouter sink plugin",
        path.display()
    )]
    BadMagic {
        /// The library path.
        path: PathBuf,
        /// What was there instead.
        found: u64,
    },
    /// Built for another version of the ABI.
    #[error(
        "{}: wrong plugin ABI version {found}: this streamrouter loads version {expected} \
         (rebuild the plugin against streamrouter-plugin {expected})",
        path.display()
    )]
    WrongAbiVersion {
        /// The library path.
        path: PathBuf,
        /// The version the plugin reports.
        found: u32,
        /// The version this host speaks.
        expected: u32,
    },
    /// The table is shorter than this ABI version's.
    #[error(
        "{}: plugin table too small: {size} bytes, ABI version {version} needs {needed}",
        path.display()
    )]
    TableTooSmall {
        /// The library path.
        path: PathBuf,
        /// The size the plugin states.
        size: u32,
        /// The size this host needs.
        needed: u32,
        /// The ABI version.
        version: u32,
    },
    /// A function of the table is NULL.
    #[error("{}: the plugin table has no `{function}` function", path.display())]
    MissingFunction {
        /// The library path.
        path: PathBuf,
        /// The missing function.
        function: &'static str,
    },
    /// The name or version is NULL or not UTF-8.
    #[error("{}: the plugin's {field} is not a UTF-8 string", path.display())]
    BadString {
        /// The library path.
        path: PathBuf,
        /// `name` or `version`.
        field: &'static str,
    },
}

/// A loaded plugin that refused to create an instance.
#[derive(Debug, thiserror::Error)]
#[error("plugin `{plugin}` ({}) refused its options: {message}", path.display())]
pub struct CreateError {
    /// The plugin's name.
    pub plugin: String,
    /// The library path.
    pub path: PathBuf,
    /// What the plugin said.
    pub message: String,
}
