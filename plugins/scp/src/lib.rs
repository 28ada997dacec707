//! streamrouter-scp: publishes to a directory on an SSH server, over SFTP (OpenSSH's own scp
//! speaks SFTP since 9.0), through the shared OpenDAL core. OpenDAL's SFTP writer writes in
//! place, so objects go to a temporary name and are renamed. Host keys are verified strictly.
//!
//! Owns only the mapping from its settings to OpenDAL's SFTP service, which runs the OpenSSH
//! `ssh` client.

use std::path::{Path, PathBuf};

use streamrouter_opendal::opendal::services::Sftp;
use streamrouter_opendal::{OpendalSink, Replace};
use streamrouter_plugin::SinkError;

/// Settings of an SCP/SFTP sink.
#[derive(Debug, Clone, Default)]
pub struct ScpSettings {
    /// Server name or address.
    pub host: String,
    /// SSH port.
    pub port: u16,
    /// Login.
    pub user: String,
    /// Private key file (no passphrase).
    pub key_file: PathBuf,
    /// Directory on the server.
    pub directory: String,
    /// known_hosts file the host key must be in.
    pub known_hosts: PathBuf,
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

/// The SCP/SFTP sink as a plugin (`libstreamrouter_scp_plugin.so`, from `streamrouter-scp-plugin`).
/// Options: `host`, `user` and `key_file` (required), `port` (22), `directory`, `known_hosts`
/// (`~/.ssh/known_hosts`, the only one supported). `~/` is `$HOME`.
pub struct ScpBackend;

/// `[sinks.NAME.options]` of an SCP plugin sink.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScpOptions {
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    user: String,
    key_file: String,
    #[serde(default)]
    directory: String,
    known_hosts: Option<String>,
}

fn default_port() -> u16 {
    22
}

/// `~/` replaced by `home`.
fn expand_home(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(path),
    }
}

/// The settings an options text describes, with `~/` standing for `home`.
pub fn settings_from_options(options: &str, home: &Path) -> Result<ScpSettings, String> {
    let options: ScpOptions = streamrouter_opendal::parse_options(options)?;
    let known_hosts = options.known_hosts.map_or_else(
        || home.join(".ssh/known_hosts"),
        |file| expand_home(&file, home),
    );
    Ok(ScpSettings {
        host: options.host,
        port: options.port,
        user: options.user,
        key_file: expand_home(&options.key_file, home),
        directory: options.directory,
        known_hosts,
    })
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
        assert!(error.contains("missing field"), "{error}");
    }
}
