//! The `ftp` sink as a loadable sink plugin: `libstreamrouter_ftp_plugin.so`, built by every
//! build of the workspace (alone: `cargo build --release -p streamrouter-ftp-plugin`).
//!
//! Owns only the export of the entry symbol. The sink, its options and their checks live in
//! `streamrouter-ftp`, which the router links as its built-in `type = "ftp"`, so both
//! publish the same. Must hold nothing else, and must never become a dependency of the
//! router: every sink plugin defines the same symbol.

use streamrouter_ftp::FtpBackend;
use streamrouter_opendal::PluginSink;

streamrouter_plugin::export_sink_plugin!(PluginSink<FtpBackend>);
