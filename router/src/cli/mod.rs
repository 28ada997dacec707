//! The subcommands of the `streamrouter` binary, one file each; `main.rs` dispatches.

pub mod archive;
pub mod cluster;
pub mod daemon;
pub mod plugin;
pub mod segment;
pub mod status;
