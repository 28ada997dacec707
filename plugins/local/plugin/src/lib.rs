//! The `local` sink as a loadable sink plugin: `libstreamrouter_local_plugin.so`, built by every
//! build of the workspace (alone: `cargo build --release -p streamrouter-local-plugin`).
//!
//! Owns only the export of the entry symbol. The sink, its options and their checks live in
//! `streamrouter-local`, which the router links as its built-in `type = "local"`, so both
//! publish the same. Must hold nothing else, and must never become a dependency of the
//! router: every sink plugin defines the same symbol.

use streamrouter_local::LocalSink;

streamrouter_plugin::export_sink_plugin!(LocalSink);
