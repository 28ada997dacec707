//! Test plugin `scripted`: a directory sink whose misbehaviour is scripted by its options, for
//! the tests of the plugin host and of the daemon. Depends on nothing but the plugin API, so it
//! builds in seconds. Options, one `key = value` per line (the TOML the host hands over):
//!
//! - `directory = "/abs/dir"`: where objects are written (required);
//! - `fail_create = "why"`: `create` fails with this message;
//! - `panic_puts = N`: the first N puts panic;
//! - `fail_puts = N`: the N puts after those fail;
//! - `fail_kind = "permanent"`: those failures are permanent (default temporary);
//! - `destroyed = "/abs/file"`: written when the instance is destroyed.
//!
//! Must stay a test fixture: never shipped, never used by the router itself.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use streamrouter_plugin::{
    ObjectMeta, Sink, SinkError, SinkErrorKind, SinkPlugin, export_sink_plugin, validate_key,
};

/// The scripted sink.
pub struct Scripted {
    directory: PathBuf,
    panic_puts: usize,
    fail_puts: usize,
    fail_kind: SinkErrorKind,
    puts: AtomicUsize,
    destroyed: Option<PathBuf>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        if let Some(marker) = &self.destroyed {
            let puts = self.puts.load(Ordering::SeqCst);
            let _ = std::fs::write(marker, format!("destroyed after {puts} puts\n"));
        }
    }
}

/// The value of `key = value` in `options`, quotes removed.
fn option<'a>(options: &'a str, key: &str) -> Option<&'a str> {
    options.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == key).then(|| value.trim().trim_matches('"'))
    })
}

fn count(options: &str, key: &str) -> Result<usize, String> {
    option(options, key).map_or(Ok(0), |value| {
        value
            .parse()
            .map_err(|_| format!("`{key}` must be a whole number, got `{value}`"))
    })
}

impl SinkPlugin for Scripted {
    const NAME: &'static str = "scripted";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn create(options: &str) -> Result<Self, String> {
        if let Some(message) = option(options, "fail_create") {
            return Err(message.to_owned());
        }
        let directory = option(options, "directory").ok_or("missing `directory`")?;
        let fail_kind = match option(options, "fail_kind") {
            None | Some("temporary") => SinkErrorKind::Temporary,
            Some("permanent") => SinkErrorKind::Permanent,
            Some(other) => return Err(format!("unknown fail_kind `{other}`")),
        };
        Ok(Self {
            directory: PathBuf::from(directory),
            panic_puts: count(options, "panic_puts")?,
            fail_puts: count(options, "fail_puts")?,
            fail_kind,
            puts: AtomicUsize::new(0),
            destroyed: option(options, "destroyed").map(PathBuf::from),
        })
    }
}

impl Sink for Scripted {
    fn put(&self, key: &str, body: &[u8], _meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        let number = self.puts.fetch_add(1, Ordering::SeqCst);
        if number < self.panic_puts {
            #[allow(clippy::panic)]
            {
                panic!("scripted panic {} of {}", number + 1, self.panic_puts);
            }
        }
        if number < self.panic_puts + self.fail_puts {
            let message = format!("scripted failure {}", number + 1 - self.panic_puts);
            return Err(SinkError {
                kind: self.fail_kind,
                key: key.to_owned(),
                message,
            });
        }
        validate_key(key)?;
        let path = self.directory.join(key);
        let temporary = path.with_extension("partial");
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&temporary, body))
            .and_then(|()| std::fs::rename(&temporary, &path));
        written.map_err(|e| SinkError::temporary(key, e.to_string()))
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        validate_key(key)?;
        match std::fs::remove_file(self.directory.join(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(SinkError::temporary(key, e.to_string()))
            }
            _ => Ok(()),
        }
    }
}

export_sink_plugin!(Scripted);
