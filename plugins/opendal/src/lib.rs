//! streamrouter-opendal: the publishing core shared by the remote sinks (S3, FTP, SFTP), on
//! Apache OpenDAL.
//!
//! Owns the OpenDAL operator of one sink and the rules every backend follows: explicit
//! Content-Type and Cache-Control where the backend stores them (OpenDAL's guessing maps
//! `.m3u8` and `.ts` wrongly), atomic replace through a temporary name where the backend writes
//! in place, deleting a missing object counts as done, and errors classified as temporary
//! (retry) or permanent. Calls are blocking, run on a small runtime owned by this crate, so a
//! plugin build never touches its host's runtime. Must not know about playlists or segments.
//!
//! [`PluginSink`] is what the backend crates export as a sink plugin: one [`Backend`] each
//! (its name and how its options become an operator). [`settings`] is what the backends'
//! settings types share: the secret and finding types, and reading a table with every problem.

use std::sync::LazyLock;
use std::time::Duration;

use opendal::blocking;
use opendal::layers::TimeoutLayer;
use opendal::options::WriteOptions;
use opendal::{Builder, ErrorKind, Operator};
use streamrouter_plugin::{ObjectMeta, Sink, SinkError, validate_key};

pub use streamrouter_sink_settings as settings;

pub use opendal;

/// The runtime OpenDAL's async services run on (two workers; sink calls block on it).
static RUNTIME: LazyLock<Result<tokio::runtime::Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("streamrouter-opendal")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
});

/// Whole operation timeout, and the timeout of each I/O step.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// How a backend replaces an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// The backend swaps objects atomically itself (an S3 PutObject, OpenDAL's FTP writer
    /// which uploads to a temporary name and renames).
    Native,
    /// The backend writes in place (SFTP): upload to a hidden temporary name, then rename.
    ViaTemporary,
}

/// A sink over one OpenDAL operator.
#[derive(Debug, Clone)]
pub struct OpendalSink {
    operator: blocking::Operator,
    key_prefix: String,
    replace: Replace,
    sets_content_type: bool,
    sets_cache_control: bool,
}

impl OpendalSink {
    /// Builds the operator of a configured OpenDAL service. `what` names the sink in errors
    /// (never include secrets in it).
    pub fn new(builder: impl Builder, replace: Replace, what: &str) -> Result<Self, SinkError> {
        // The HTTP transport (for S3) is process-wide; installing it again is a no-op.
        opendal::install_default();
        let operator = Operator::new(builder)
            .map_err(|e| classify(what, &e))?
            .layer(
                TimeoutLayer::new()
                    .with_timeout(OPERATION_TIMEOUT)
                    .with_io_timeout(IO_TIMEOUT),
            );
        let capability = operator.info().capability();
        let runtime = RUNTIME
            .as_ref()
            .map_err(|e| SinkError::permanent(what, format!("cannot start a runtime: {e}")))?;
        let _entered = runtime.enter();
        let operator = blocking::Operator::new(operator).map_err(|e| classify(what, &e))?;
        Ok(Self {
            operator,
            key_prefix: String::new(),
            replace,
            sets_content_type: capability.write_with_content_type,
            sets_cache_control: capability.write_with_cache_control,
        })
    }

    /// Prepends `prefix` to every key as plain text (an S3 prefix such as `stream0001/` or
    /// `cam-`); it is not a directory unless it ends with `/`.
    pub fn with_key_prefix(mut self, prefix: &str) -> Self {
        self.key_prefix = prefix.trim_start_matches('/').to_owned();
        self
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    /// Checks that the backend answers (a listing of the root), for a clear report at start.
    pub fn probe(&self) -> Result<(), SinkError> {
        self.operator
            .list("/")
            .map(|_| ())
            .map_err(|e| classify("/", &e))
    }

    fn write(&self, key: &str, body: &[u8], meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        let options = WriteOptions {
            content_type: self.sets_content_type.then(|| meta.content_type.to_owned()),
            cache_control: self
                .sets_cache_control
                .then(|| meta.cache_control.map(str::to_owned))
                .flatten(),
            ..WriteOptions::default()
        };
        self.operator
            .write_options(key, body.to_vec(), options)
            .map(|_| ())
            .map_err(|e| classify(key, &e))
    }
}

impl Sink for OpendalSink {
    fn put(&self, key: &str, body: &[u8], meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        validate_key(key)?;
        let key = &self.full_key(key);
        match self.replace {
            Replace::Native => self.write(key, body, meta),
            Replace::ViaTemporary => {
                let temporary = temporary_key(key);
                self.write(&temporary, body, meta)?;
                if let Err(first) = self.operator.rename(&temporary, key) {
                    // Servers whose rename does not overwrite: remove the old object first.
                    if self.operator.exists(key).unwrap_or(false) {
                        self.operator.delete(key).map_err(|e| classify(key, &e))?;
                        self.operator
                            .rename(&temporary, key)
                            .map_err(|e| classify(key, &e))?;
                    } else {
                        return Err(classify(key, &first));
                    }
                }
                Ok(())
            }
        }
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        validate_key(key)?;
        let key = &self.full_key(key);
        match self.operator.delete(key) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(classify(key, &e)),
        }
    }
}

/// One OpenDAL backend as a sink plugin: its name, and its `[sinks.NAME.options]` (TOML text)
/// turned into a sink.
pub trait Backend: Send + Sync + 'static {
    /// The plugin's name (`s3`, `ftp`, `scp`).
    const NAME: &'static str;

    /// The sink from its options; an error says what is wrong with them.
    fn build(options: &str) -> Result<OpendalSink, String>;
}

/// A backend's sink, exported with `streamrouter_plugin::export_sink_plugin!(PluginSink<B>)`.
pub struct PluginSink<B> {
    sink: OpendalSink,
    backend: std::marker::PhantomData<fn() -> B>,
}

impl<B: Backend> Sink for PluginSink<B> {
    fn put(&self, key: &str, body: &[u8], meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        self.sink.put(key, body, meta)
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        self.sink.delete(key)
    }
}

impl<B: Backend> streamrouter_plugin::SinkPlugin for PluginSink<B> {
    const NAME: &'static str = B::NAME;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn create(options: &str) -> Result<Self, String> {
        Ok(Self {
            sink: B::build(options)?,
            backend: std::marker::PhantomData,
        })
    }
}

/// `dir/.name.tmp` for `dir/name`.
fn temporary_key(key: &str) -> String {
    match key.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/.{name}.tmp"),
        None => format!(".{key}.tmp"),
    }
}

/// Maps an OpenDAL error. A refusal by the server (no such bucket, login refused, permission
/// denied) can be fixed by an operator while the daemon runs, so like network trouble it is
/// worth retrying; only what this side can never do (an unsupported operation, a key that is a
/// directory) is permanent.
fn classify(key: &str, error: &opendal::Error) -> SinkError {
    // OpenDAL shows its direct source only; the root cause ("Connection refused") is deeper.
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = inner.source();
    }
    match error.kind() {
        ErrorKind::Unsupported | ErrorKind::IsADirectory | ErrorKind::NotADirectory => {
            SinkError::permanent(key, message)
        }
        _ => SinkError::temporary(key, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_stay_in_the_same_directory() {
        assert_eq!(
            temporary_key("live/cam/index.m3u8"),
            "live/cam/.index.m3u8.tmp"
        );
        assert_eq!(temporary_key("index.m3u8"), ".index.m3u8.tmp");
    }

    #[test]
    fn fs_backend_stores_replaces_and_deletes_through_a_temporary_name() {
        let dir = std::env::temp_dir().join(format!("sr-opendal-{}", std::process::id()));
        let root = dir.to_string_lossy().into_owned();
        let sink = OpendalSink::new(
            opendal::services::Fs::default().root(&root),
            Replace::ViaTemporary,
            "fs",
        )
        .expect("fs sink");
        let meta = ObjectMeta {
            content_type: "video/mp2t",
            cache_control: None,
        };
        sink.put("a/b.ts", b"one", &meta).expect("put");
        sink.put("a/b.ts", b"two", &meta).expect("replace");
        assert_eq!(std::fs::read(dir.join("a/b.ts")).expect("read"), b"two");
        assert!(!dir.join("a/.b.ts.tmp").exists());
        sink.delete("a/b.ts").expect("delete");
        sink.delete("a/b.ts").expect("delete again");
        assert!(!dir.join("a/b.ts").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
