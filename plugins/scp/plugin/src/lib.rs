//! The `scp` sink as a loadable sink plugin: `libstreamrouter_scp_plugin.so`, built by every
//! build of the workspace (alone: `cargo build --release -p streamrouter-scp-plugin`).
//!
//! Owns only the export of the entry symbol. The sink, its options and their checks live in
//! `streamrouter-scp`, which the router links as its built-in `type = "scp"`, so both
//! publish the same. Must hold nothing else, and must never become a dependency of the
//! router: every sink plugin defines the same symbol.

use streamrouter_opendal::PluginSink;
use streamrouter_scp::ScpBackend;

streamrouter_plugin::export_sink_plugin!(PluginSink<ScpBackend>);
