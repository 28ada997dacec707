//! The local sink's settings ([`LocalSettings`], read by the router's config and by the
//! plugin alike) and the sink as a loadable plugin (`libstreamrouter_local_plugin.so`,
//! exported by the `streamrouter-local-plugin` crate). The directory is created by the writes,
//! like the built-in sink does when it cannot be created at start, so `create` touches nothing
//! and `streamrouter check` may call it freely.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use streamrouter_plugin::SinkPlugin;
use streamrouter_sink_settings::{Finding, SinkSettings, from_options};

use crate::LocalSink;

/// Settings of a local sink (`type = "local"`, or the plugin's options).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSettings {
    /// `path`: the directory to publish into (in the router's config relative to the config
    /// file; in a plugin's options absolute, since the plugin cannot know where that file is).
    pub path: PathBuf,
}

impl SinkSettings for LocalSettings {
    const REQUIRED: &'static [(&'static str, &'static str)] =
        &[("path", "the directory to publish into")];
    const DESTINATION_KEYS: &'static [&'static str] = &["path"];

    fn check(&self) -> Vec<Finding> {
        Vec::new()
    }

    fn paths_mut(&mut self) -> Vec<(&'static str, &mut PathBuf)> {
        vec![("path", &mut self.path)]
    }
}

/// The settings an options text describes, read and checked as the router's config reads a
/// `type = "local"` table; `~/` is `home`.
pub fn settings_from_options(
    options: &str,
    home: Option<&std::path::Path>,
) -> Result<LocalSettings, String> {
    from_options(options, home)
}

impl SinkPlugin for LocalSink {
    const NAME: &'static str = "local";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn create(options: &str) -> Result<Self, String> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let settings = settings_from_options(options, home.as_deref())?;
        if !settings.path.is_absolute() {
            return Err(format!(
                "`path` must be an absolute directory, got `{}`",
                settings.path.display()
            ));
        }
        Ok(LocalSink::unchecked(settings.path))
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
        assert!(error.contains("missing `path` (the directory"), "{error}");
        let error = LocalSink::create("path = \"/x\"\npaht = 1").unwrap_err();
        assert!(
            error.contains("unknown key `paht`; did you mean `path`?"),
            "{error}"
        );
    }
}
