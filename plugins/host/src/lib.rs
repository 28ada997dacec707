//! streamrouter-plugin-host: loads sink plugins (shared libraries implementing the C ABI of
//! `streamrouter_plugin::abi`) and wraps their instances as [`Sink`](streamrouter_plugin::Sink)s.
//!
//! ```no_run
//! use streamrouter_plugin::{ObjectMeta, Sink};
//!
//! let plugin = streamrouter_plugin_host::load("/usr/lib/streamrouter/libsink_mycdn.so".as_ref())?;
//! println!("{} {}", plugin.info().name, plugin.info().version);
//! let sink = plugin.create("endpoint = \"https://cdn.example.com\"\n")?;
//! let meta = ObjectMeta { content_type: "video/mp2t", cache_control: None };
//! sink.put("live/a.ts", b"...", &meta)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - `load`: checks the file (exists, is a shared library), loads it, finds the entry symbol,
//!   checks the table (magic value, ABI version, size, then functions and strings) and keeps the
//!   library loaded for the life of the process; the same path is loaded once.
//! - `sink`: [`Plugin::create`] and [`PluginSink`], the instance as a `Send + Sync` sink whose
//!   calls never overlap.
//! - `error`: [`LoadError`] and [`CreateError`].
//!
//! Calls are blocking: run them off async runtime threads. The router is the only user; this
//! crate must not depend on it, and plugin authors never need it.

mod error;
mod load;
mod sink;

pub use error::{CreateError, LoadError};
pub use load::{Plugin, PluginInfo, load};
pub use sink::PluginSink;
