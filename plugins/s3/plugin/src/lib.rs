//! The `s3` sink as a loadable sink plugin: `libstreamrouter_s3_plugin.so`, built by every
//! build of the workspace (alone: `cargo build --release -p streamrouter-s3-plugin`).
//!
//! Owns only the export of the entry symbol. The sink, its options and their checks live in
//! `streamrouter-s3`, which the router links as its built-in `type = "s3"`, so both
//! publish the same. Must hold nothing else, and must never become a dependency of the
//! router: every sink plugin defines the same symbol.

use streamrouter_opendal::PluginSink;
use streamrouter_s3::S3Backend;

streamrouter_plugin::export_sink_plugin!(PluginSink<S3Backend>);
