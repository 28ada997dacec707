//! streamrouter-local: the local-directory sink.
//!
//! Every object is written to a hidden temporary file in its final directory and renamed into
//! place, so a web server or player reading the directory sees the old object or the new one,
//! never a partial file. Owns only files under its root; never follows a key outside it.
//!
//! Also a sink plugin (`plugin`: its options): the `streamrouter-local-plugin` crate exports
//! it, and loading `libstreamrouter_local_plugin.so` with `type = "plugin"` publishes exactly
//! what `type = "local"` does.

mod plugin;

pub use plugin::{LocalSettings, settings_from_options};

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use streamrouter_plugin::{ObjectMeta, Sink, SinkError, validate_key};

/// Publishes into a directory on a local filesystem.
#[derive(Debug, Clone)]
pub struct LocalSink {
    root: PathBuf,
}

impl LocalSink {
    /// A sink writing under `root`, which is created if missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, SinkError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| io_error(&root.display().to_string(), &e))?;
        Ok(Self { root })
    }

    /// A sink writing under `root` without creating it now: every write creates the
    /// directories it needs, so a root that cannot be created yet fails per object (and is
    /// retried by the caller) instead of up front.
    pub fn unchecked(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory objects are written under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, SinkError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

impl Sink for LocalSink {
    fn put(&self, key: &str, body: &[u8], _meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        let path = self.path_of(key)?;
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(SinkError::permanent(key, "key has no file name"));
        };
        fs::create_dir_all(dir).map_err(|e| io_error(key, &e))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(".tmp");
        let temp = dir.join(temp_name);
        let written = fs::File::create(&temp).and_then(|mut file| file.write_all(body));
        if let Err(error) = written.and_then(|()| fs::rename(&temp, &path)) {
            let _ = fs::remove_file(&temp);
            return Err(io_error(key, &error));
        }
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        let path = self.path_of(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(key, &e)),
        }
    }
}

fn io_error(key: &str, error: &io::Error) -> SinkError {
    match error.kind() {
        io::ErrorKind::PermissionDenied
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::NotADirectory
        | io::ErrorKind::IsADirectory
        | io::ErrorKind::ReadOnlyFilesystem => SinkError::permanent(key, error.to_string()),
        _ => SinkError::temporary(key, error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamrouter_plugin::SEGMENT_CONTENT_TYPE;

    const META: ObjectMeta<'static> = ObjectMeta {
        content_type: SEGMENT_CONTENT_TYPE,
        cache_control: None,
    };

    #[test]
    fn put_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LocalSink::new(dir.path()).unwrap();
        sink.put("live/a.ts", b"first", &META).unwrap();
        sink.put("live/a.ts", b"second", &META).unwrap();
        assert_eq!(fs::read(dir.path().join("live/a.ts")).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path().join("live"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.ts")]);
    }

    #[test]
    fn delete_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LocalSink::new(dir.path()).unwrap();
        sink.put("a.ts", b"x", &META).unwrap();
        sink.delete("a.ts").unwrap();
        sink.delete("a.ts").unwrap();
        assert!(!dir.path().join("a.ts").exists());
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LocalSink::new(dir.path().join("root")).unwrap();
        let error = sink.put("../escape.ts", b"x", &META).unwrap_err();
        assert_eq!(error.kind, streamrouter_plugin::SinkErrorKind::Permanent);
        assert!(!dir.path().join("escape.ts").exists());
    }
}
