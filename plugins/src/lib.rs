//! streamrouter-plugin: the sink contract every publishing backend implements, and the stable C
//! ABI that lets a sink live in a shared library loaded at run time.
//!
//! A sink stores named objects (segments and playlists) and deletes them. Calls are blocking:
//! the router runs them off its async threads, so a sink needs no runtime of its own. Keys are
//! relative paths with `/` separators, checked by [`validate_key`].
//!
//! This crate must never depend on the router; built-in sinks and third-party plugins see only
//! what is here. Loading plugins is the host's business (`streamrouter-plugin-host`).
//!
//! # Writing a sink plugin
//!
//! A plugin is a `cdylib` (`[lib] crate-type = ["cdylib"]`) depending on this crate. Implement
//! [`Sink`] and [`SinkPlugin`], then export the type once:
//!
//! ```
//! use streamrouter_plugin::{ObjectMeta, Sink, SinkError, SinkPlugin, export_sink_plugin};
//!
//! struct Printer {
//!     prefix: String,
//! }
//!
//! impl Sink for Printer {
//!     fn put(&self, key: &str, body: &[u8], _meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
//!         println!("{}{key}: {} bytes", self.prefix, body.len());
//!         Ok(())
//!     }
//!
//!     fn delete(&self, key: &str) -> Result<(), SinkError> {
//!         println!("{}{key}: deleted", self.prefix);
//!         Ok(())
//!     }
//! }
//!
//! impl SinkPlugin for Printer {
//!     const NAME: &'static str = "printer";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!
//!     /// `options` is the sink's `[sinks.NAME.options]` table as TOML text.
//!     fn create(options: &str) -> Result<Self, String> {
//!         let prefix = options.lines().find_map(|line| line.strip_prefix("prefix = "));
//!         Ok(Printer { prefix: prefix.unwrap_or("").trim_matches('"').to_owned() })
//!     }
//! }
//!
//! export_sink_plugin!(Printer);
//! ```
//!
//! `cargo build --release` gives `target/release/libNAME.so`; a config uses it with
//! `type = "plugin"` and `library = "path/to/libNAME.so"`. The macro generates the entry symbol
//! and wrappers that catch every panic (it becomes a temporary error, `plugin panicked: …`, and
//! the call is retried); keep the default `panic = "unwind"` for plugins. A plugin in another
//! language implements [`abi`] directly: `plugins/examples/streamrouter_plugin.h` is the C
//! header and `plugins/examples/dir_sink.c` a complete plugin.
//!
//! # The ABI
//!
//! The library exports `streamrouter_sink_plugin` ([`abi::ENTRY_SYMBOL`]), a function without
//! arguments returning a pointer to a [`abi::PluginTable`]: [`abi::MAGIC`],
//! [`abi::ABI_VERSION`], the table's size, the plugin's name and version, and the functions
//! `create`, `put`, `delete_object`, `destroy` and `free_error`. The host checks the magic
//! value, the version and the size before it reads anything else. Functions are only ever
//! appended to the table: a host reads what the table's size says is there. Calls return
//! [`abi::STATUS_OK`], [`abi::STATUS_TEMPORARY`] (retried with backoff) or
//! [`abi::STATUS_PERMANENT`] (the object is given up); any other code counts as permanent.
//!
//! # Memory: who owns what
//!
//! - **The host owns everything it passes in**, borrowed for the duration of the call only:
//!   the options text (UTF-8 of the given length, followed by a NUL byte), keys, bodies, content
//!   types and cache controls (NUL-terminated; `cache_control` may be NULL). A plugin that needs
//!   them later copies them.
//! - **The plugin owns everything it hands out**: the table and the name and version strings
//!   (static: they must stay valid while the library is loaded, which is for the life of the
//!   process), instances (freed by the host calling `destroy` exactly once, after the last call
//!   on it) and error messages. On failure a function may set its `error` out-parameter to a
//!   NUL-terminated message it allocated; the host copies it at once and gives it back through
//!   the same table's `free_error`. Nothing allocated on one side is ever freed by the other.
//! - **A library is never unloaded**: the host keeps it loaded until the process exits
//!   (unloading Rust libraries is unsound), and loading the same path again reuses it.
//!
//! # Threads
//!
//! - Calls are blocking and run on the host's blocking threads, never on its async runtime: a
//!   plugin may block (network I/O), but should bound each call with timeouts, since a call
//!   that hangs holds up its sink. A plugin must not expect or use the host's async runtime;
//!   it brings its own if it needs one.
//! - The host never makes two calls on the same instance at once, but consecutive calls may
//!   come from different threads: an instance must not rely on thread-local state.
//! - Different instances of the same library (two sinks, or a reload) and `create` may run at
//!   the same time on different threads: state shared between instances must be thread-safe.
//! - Nothing may unwind out of a plugin function (a Rust panic or a C++ exception): Rust
//!   plugins get this from [`export_sink_plugin!`], others catch at the boundary.

pub mod abi;
#[doc(hidden)]
pub mod export;

pub use export::SinkPlugin;

use std::fmt;

/// Content type of HLS playlists (RFC 8216 §4).
pub const PLAYLIST_CONTENT_TYPE: &str = "application/vnd.apple.mpegurl";
/// Content type of MPEG-TS segments.
pub const SEGMENT_CONTENT_TYPE: &str = "video/mp2t";

/// How an object is to be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMeta<'a> {
    /// MIME type to store with the object, where the backend keeps one.
    pub content_type: &'a str,
    /// Cache-Control to store with the object, where the backend keeps one.
    pub cache_control: Option<&'a str>,
}

/// Whether retrying may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkErrorKind {
    /// Worth retrying (network, server busy).
    Temporary,
    /// Will fail again (bad key, permission, configuration).
    Permanent,
}

/// A failed sink operation, with the key it concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SinkError {
    /// Whether to retry.
    pub kind: SinkErrorKind,
    /// The object key.
    pub key: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            SinkErrorKind::Temporary => "temporary",
            SinkErrorKind::Permanent => "permanent",
        };
        write!(f, "{kind} failure on '{}': {}", self.key, self.message)
    }
}

impl SinkError {
    /// A failure that will not go away by retrying.
    pub fn permanent(key: &str, message: impl Into<String>) -> Self {
        Self {
            kind: SinkErrorKind::Permanent,
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// A failure worth retrying.
    pub fn temporary(key: &str, message: impl Into<String>) -> Self {
        Self {
            kind: SinkErrorKind::Temporary,
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// A place segments and playlists are published to.
pub trait Sink: Send + Sync {
    /// Stores `body` under `key`, replacing any previous object as atomically as the backend
    /// allows: a reader sees the old object or the new one, never a partial one.
    fn put(&self, key: &str, body: &[u8], meta: &ObjectMeta<'_>) -> Result<(), SinkError>;

    /// Removes the object under `key`. Removing an object that does not exist succeeds.
    fn delete(&self, key: &str) -> Result<(), SinkError>;
}

/// Checks that a key is a clean relative path: not empty, no leading `/`, no `.` or `..`
/// components, no empty components, no backslashes or NUL bytes.
pub fn validate_key(key: &str) -> Result<(), SinkError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key.contains('\0')
        || key
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        Err(SinkError::permanent(
            key,
            "object keys must be relative paths without '.', '..' or empty components",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_stay_inside_the_sink() {
        for good in ["index.m3u8", "live/cam1/segment-00001.ts"] {
            assert_eq!(validate_key(good), Ok(()), "{good}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a\\b"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_key() {
        let error = SinkError::temporary("a.ts", "connection reset");
        assert_eq!(
            error.to_string(),
            "temporary failure on 'a.ts': connection reset"
        );
    }
}
