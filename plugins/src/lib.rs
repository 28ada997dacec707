//! streamrouter-plugin: the sink contract every publishing backend implements.
//!
//! A sink stores named objects (segments and playlists) and deletes them. Calls are blocking:
//! the router runs them off its async threads, so a sink needs no runtime of its own. Keys are
//! relative paths with `/` separators, checked by [`validate_key`].
//!
//! This crate must never depend on the router; built-in sinks and third-party plugins see only
//! what is here.

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
