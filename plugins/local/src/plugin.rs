//! The local sink as a loadable plugin (`libstreamrouter_local_plugin.so`, exported by the
//! `streamrouter-local-plugin` crate): its options and their checks. Options: `path = "/absolute/directory"`. The
//! directory is created by the writes, like the built-in sink does when it cannot be created
//! at start, so `create` touches nothing and `streamrouter check` may call it freely.

use std::path::PathBuf;

use serde::Deserialize;
use streamrouter_plugin::SinkPlugin;

use crate::LocalSink;

/// `[sinks.NAME.options]` of a local plugin sink.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The directory to publish into; absolute, since the plugin cannot know where the config
    /// file is.
    path: PathBuf,
}

impl SinkPlugin for LocalSink {
    const NAME: &'static str = "local";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn create(options: &str) -> Result<Self, String> {
        let options: Options = toml::from_str(options).map_err(|e| e.message().to_owned())?;
        if !options.path.is_absolute() {
            return Err(format!(
                "`path` must be an absolute directory, got `{}`",
                options.path.display()
            ));
        }
        Ok(LocalSink::unchecked(options.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_name_an_absolute_directory() {
        let sink = LocalSink::create("path = \"/srv/live\"\n").unwrap();
        assert_eq!(sink.root(), std::path::Path::new("/srv/live"));
        let error = LocalSink::create("path = \"live\"").unwrap_err();
        assert_eq!(error, "`path` must be an absolute directory, got `live`");
        let error = LocalSink::create("").unwrap_err();
        assert!(error.contains("missing field `path`"), "{error}");
        let error = LocalSink::create("path = \"/x\"\npaht = 1").unwrap_err();
        assert!(error.contains("unknown field `paht`"), "{error}");
    }
}
