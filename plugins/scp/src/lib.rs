//! streamrouter-scp: publishes to a directory on an SSH server, over SFTP (OpenSSH's own scp
//! speaks SFTP since 9.0), through the shared OpenDAL core. OpenDAL's SFTP writer writes in
//! place, so objects go to a temporary name and are renamed. Host keys are verified strictly.
//!
//! Owns the SCP sink's settings (their keys, defaults and checks, for the router's config and
//! the plugin build alike) and their mapping to OpenDAL's SFTP service, which runs the OpenSSH
//! `ssh` client.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use streamrouter_opendal::opendal::services::Sftp;
use streamrouter_opendal::settings::{self, Finding, SinkSettings};
use streamrouter_opendal::{OpendalSink, Replace};
use streamrouter_plugin::SinkError;

/// The keys of `type = "scp"` (and of the SCP plugin's options).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScpSettings {
    /// `host` (required): the server's name or address.
    pub host: String,
    /// `port` (default 22).
    #[serde(default = "default_port", deserialize_with = "settings::port")]
    pub port: u16,
    /// `user` (required): the login name.
    pub user: String,
    /// `key_file` (required): the private key to log in with, without passphrase.
    pub key_file: PathBuf,
    /// `directory` on the server: absolute, or relative to the login directory (default it).
    #[serde(default)]
    pub directory: String,
    /// `known_hosts`: the file host keys are verified against (default `~/.ssh/known_hosts`);
    /// strict: an unknown or changed host key is refused.
    #[serde(default = "default_known_hosts")]
    pub known_hosts: PathBuf,
}

fn default_port() -> u16 {
    22
}

fn default_known_hosts() -> PathBuf {
    PathBuf::from("~/.ssh/known_hosts")
}

impl SinkSettings for ScpSettings {
    const REQUIRED: &'static [(&'static str, &'static str)] = &[
        ("host", "the server's name or address"),
        ("user", "the login name"),
        ("key_file", "the private key to log in with"),
    ];
    const DESTINATION_KEYS: &'static [&'static str] = &["host", "port", "user", "directory"];

    fn check(&self) -> Vec<Finding> {
        settings::check_server(&self.host, &self.user, &self.directory)
    }

    fn paths_mut(&mut self) -> Vec<(&'static str, &mut PathBuf)> {
        vec![
            ("key_file", &mut self.key_file),
            ("known_hosts", &mut self.known_hosts),
        ]
    }
}

/// Builds the sink. The ssh client reads `~/.ssh/known_hosts` of the account the daemon runs
/// as (from the password database, not `$HOME`); another file cannot be handed to it yet, so a
/// different `known_hosts` is refused rather than silently ignored.
pub fn build(settings: &ScpSettings, default_known_hosts: &Path) -> Result<OpendalSink, SinkError> {
    let what = format!(
        "sftp://{}@{}:{}/{}",
        settings.user, settings.host, settings.port, settings.directory
    );
    if settings.known_hosts != default_known_hosts {
        return Err(SinkError::permanent(
            &what,
            format!(
                "known_hosts {} is not supported yet: the SFTP backend verifies host keys against {} only",
                settings.known_hosts.display(),
                default_known_hosts.display()
            ),
        ));
    }
    let builder = Sftp::default()
        .endpoint(&format!(
            "ssh://{}@{}:{}",
            settings.user, settings.host, settings.port
        ))
        .user(&settings.user)
        .key(&settings.key_file.to_string_lossy())
        .known_hosts_strategy("strict")
        .root(&settings.directory);
    OpendalSink::new(builder, Replace::ViaTemporary, &what)
}

/// The SCP/SFTP sink as a plugin (`libstreamrouter_scp_plugin.so`, from `streamrouter-scp-plugin`):
/// its options are the keys of [`ScpSettings`]; `~/` is `$HOME` (and `known_hosts` must be the
/// default, the only one supported).
pub struct ScpBackend;

/// The settings an options text describes, read and checked as the router's config does,
/// with `~/` standing for `home`.
pub fn settings_from_options(options: &str, home: &Path) -> Result<ScpSettings, String> {
    settings::from_options(options, Some(home))
}

impl streamrouter_opendal::Backend for ScpBackend {
    const NAME: &'static str = "scp";

    fn build(options: &str) -> Result<OpendalSink, String> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let settings = settings_from_options(options, &home)?;
        build(&settings, &home.join(".ssh/known_hosts")).map_err(|e| e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_settings_with_home_expanded() {
        let home = Path::new("/home/live");
        let text = "host = \"origin\"\nuser = \"deploy\"\nkey_file = \"~/.ssh/id_ed25519\"";
        let settings = settings_from_options(text, home).unwrap();
        assert_eq!(settings.port, 22);
        assert_eq!(settings.key_file, home.join(".ssh/id_ed25519"));
        assert_eq!(settings.known_hosts, home.join(".ssh/known_hosts"));
        let error = settings_from_options("host = \"origin\"", home).unwrap_err();
        assert_eq!(
            error,
            "bad options: user: missing `user` (the login name); key_file: missing `key_file` \
             (the private key to log in with)"
        );
    }
}
