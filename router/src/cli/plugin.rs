//! `streamrouter plugin info PATH`: what a sink plugin library says about itself, or why it
//! cannot be loaded (then the exit code is 1). Loads the library; creates no instance.

use std::path::PathBuf;

use anyhow::Context;

/// `plugin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Print a plugin's name, version and ABI version, or why it cannot be loaded.
    Info {
        /// The shared library (.so).
        path: PathBuf,
    },
}

/// Runs a `plugin` subcommand.
pub fn run(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::Info { path } => {
            let plugin = streamrouter_plugin_host::load(&path).context("cannot load the plugin")?;
            let info = plugin.info();
            println!("name: {}", info.name);
            println!("version: {}", info.version);
            println!("abi: {}", info.abi_version);
            println!("path: {}", info.path.display());
            Ok(())
        }
    }
}
