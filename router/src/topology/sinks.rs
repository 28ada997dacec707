//! Sink instances from their config: the built-in local, S3, FTP and SCP sinks, and plugin
//! sinks (through `plugin_sinks`).
//!
//! A sink that cannot even be built (a refused setting) becomes a sink whose every operation
//! fails with that reason, so the problem is logged with each object and never takes the
//! daemon down. Reachability is checked at start in the background and reported clearly.

use std::path::PathBuf;
use std::sync::Arc;

use streamrouter_local::LocalSink;
use streamrouter_plugin::{ObjectMeta, Sink, SinkError};
use streamrouter_plugin_host::PluginSink;

use crate::config::model::{SinkKind, SinkNode};

/// The sink of a node, built on the blocking pool: a plugin's library is loaded and its
/// `create` runs there, never on the async threads.
pub async fn start(node: &SinkNode) -> Arc<dyn Sink> {
    let owned = node.clone();
    match tokio::task::spawn_blocking(move || build(&owned)).await {
        Ok(sink) => sink,
        Err(error) => {
            let error =
                SinkError::permanent(&node.name, format!("building the sink failed: {error}"));
            tracing::error!(sink = %node.name, %error, "sink cannot be used; every object sent to it will fail");
            Arc::new(Refused(error))
        }
    }
}

/// The sink of a node. Blocking.
fn build(node: &SinkNode) -> Arc<dyn Sink> {
    let built: Result<Arc<dyn Sink>, SinkError> = match &node.kind {
        // A directory that cannot be created fails this sink's writes (logged, retried),
        // never the rest of the graph.
        SinkKind::Local(local) => Ok(Arc::new(LocalSink::new(&local.path).unwrap_or_else(|error| {
            tracing::error!(sink = %node.name, %error, "sink directory unusable; its writes will fail until it is fixed");
            LocalSink::unchecked(&local.path)
        }))),
        SinkKind::S3(s3) => streamrouter_s3::build(s3).map(|sink| probed(&node.name, sink)),
        SinkKind::Ftp(ftp) => streamrouter_ftp::build(ftp).map(|sink| probed(&node.name, sink)),
        SinkKind::Scp(scp) => {
            streamrouter_scp::build(scp, &default_known_hosts()).map(|sink| probed(&node.name, sink))
        }
        SinkKind::Plugin(plugin) => match crate::plugin_sinks::instantiate(&node.name, plugin) {
            Ok(sink) => {
                let info = sink.plugin().info();
                tracing::info!(sink = %node.name, plugin = %info.name, version = %info.version, "plugin sink ready");
                Ok(Arc::new(Plugged(Some(sink))))
            }
            Err(error) => Err(SinkError::permanent(
                &plugin.library.display().to_string(),
                error.to_string(),
            )),
        },
    };
    built.unwrap_or_else(|error| {
        tracing::error!(sink = %node.name, %error, "sink cannot be used; every object sent to it will fail");
        Arc::new(Refused(error))
    })
}

/// Checks in the background that a remote sink answers, so a bad address, login or bucket is
/// reported at start rather than with the first segment.
fn probed(name: &str, sink: streamrouter_opendal::OpendalSink) -> Arc<dyn Sink> {
    let check = sink.clone();
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || match check.probe() {
        Ok(()) => tracing::info!(sink = %name, "sink reachable"),
        Err(error) => {
            tracing::error!(sink = %name, %error, "sink not reachable at start; publishing will retry")
        }
    });
    Arc::new(sink)
}

/// `~/.ssh/known_hosts` of the account the daemon runs as.
fn default_known_hosts() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".ssh/known_hosts")
}

/// A plugin's instance, destroyed on the blocking pool: `destroy` is a plugin call like the
/// others, which never run on the async threads (the last owner may be an async task).
struct Plugged(Option<PluginSink>);

impl Sink for Plugged {
    fn put(&self, key: &str, body: &[u8], meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        match &self.0 {
            Some(sink) => sink.put(key, body, meta),
            None => Err(SinkError::permanent(key, "the plugin sink is gone")),
        }
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        match &self.0 {
            Some(sink) => sink.delete(key),
            None => Err(SinkError::permanent(key, "the plugin sink is gone")),
        }
    }
}

impl Drop for Plugged {
    fn drop(&mut self) {
        let Some(sink) = self.0.take() else {
            return;
        };
        // Outside a runtime (or once it is shutting down) the instance is destroyed here.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn_blocking(move || drop(sink));
        }
    }
}

/// A sink that could not be built: every call reports why.
struct Refused(SinkError);

impl Sink for Refused {
    fn put(&self, key: &str, _body: &[u8], _meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        Err(SinkError::permanent(key, self.0.message.clone()))
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        Err(SinkError::permanent(key, self.0.message.clone()))
    }
}
