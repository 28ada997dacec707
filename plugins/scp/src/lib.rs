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
