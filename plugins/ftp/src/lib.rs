//! streamrouter-ftp: publishes to a directory on an FTP server, through the shared OpenDAL
//! core. OpenDAL's FTP writer uploads to a temporary name and renames, so readers never see a
//! partial file. Plain FTP unless `tls` (explicit FTPS).
//!
//! Owns the FTP sink's settings (their keys, defaults and checks, for the router's config and
//! the plugin build alike; a `password_file` is read through the reader its host gives) and
//! their mapping to OpenDAL's FTP service.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use streamrouter_opendal::opendal::services::Ftp;
use streamrouter_opendal::settings::{self, Finding, Secret, SinkSettings};
use streamrouter_opendal::{OpendalSink, Replace};
use streamrouter_plugin::SinkError;

/// The keys of `type = "ftp"` (and of the FTP plugin's options).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FtpSettings {
    /// `host` (required): the server's name or address.
    pub host: String,
    /// `port` (default 21).
    #[serde(default = "default_port", deserialize_with = "settings::port")]
    pub port: u16,
    /// `user` (default `anonymous`).
    #[serde(default = "default_user")]
    pub user: String,
    /// `password`, or the contents of `password_file` (trailing line ends removed).
    pub password: Option<Secret>,
    /// `password_file`: a file holding the password, instead of `password`; read (and then
    /// `None`) by [`FtpSettings::read_password_file`].
    pub password_file: Option<PathBuf>,
    /// `directory` on the server (default the login directory).
    #[serde(default)]
    pub directory: String,
    /// `tls`: explicit FTPS (default false: plain FTP).
    #[serde(default)]
    pub tls: bool,
}

fn default_port() -> u16 {
    21
}

fn default_user() -> String {
    "anonymous".to_owned()
}

impl SinkSettings for FtpSettings {
    const REQUIRED: &'static [(&'static str, &'static str)] =
        &[("host", "the server's name or address")];
    const SECRET_KEYS: &'static [&'static str] = &["password"];
    const DESTINATION_KEYS: &'static [&'static str] = &["host", "port", "user", "directory"];

    fn check(&self) -> Vec<Finding> {
        let mut findings = settings::check_server(&self.host, &self.user, &self.directory);
        if self
            .password
            .as_ref()
            .is_some_and(|p| p.expose().is_empty())
        {
            findings.push(Finding::error("password", "must not be empty"));
        }
        if self.password.is_some() && self.password_file.is_some() {
            let message = "`password` and `password_file` exclude each other: write one";
            findings.push(Finding::error("password_file", message));
        }
        findings
    }

    fn paths_mut(&mut self) -> Vec<(&'static str, &mut PathBuf)> {
        (self.password_file.iter_mut())
            .map(|path| ("password_file", path))
            .collect()
    }
}

impl FtpSettings {
    /// Reads `password_file` (already resolved) with `read` into `password`, trailing line ends
    /// removed; a file that cannot be read or is empty is a finding naming the file.
    pub fn read_password_file(
        &mut self,
        read: impl FnOnce(&Path) -> std::io::Result<String>,
    ) -> Result<(), Finding> {
        let Some(file) = self.password_file.take() else {
            return Ok(());
        };
        let shown = file.display();
        let text = read(&file).map_err(|error| {
            let message = format!("cannot read the password file {shown}: {error}");
            Finding::error("password_file", message)
        })?;
        let password = text.trim_end_matches(['\n', '\r']);
        if password.is_empty() {
            let message = format!("the password file {shown} is empty");
            return Err(Finding::error("password_file", message));
        }
        self.password = Some(Secret::new(password));
        Ok(())
    }
}

/// Builds the sink. OpenDAL reads an endpoint without scheme as FTPS: the scheme is explicit.
pub fn build(settings: &FtpSettings) -> Result<OpendalSink, SinkError> {
    let scheme = if settings.tls { "ftps" } else { "ftp" };
    let mut builder = Ftp::default()
        .endpoint(&format!("{scheme}://{}:{}", settings.host, settings.port))
        .user(&settings.user)
        .root(&format!("/{}", settings.directory.trim_start_matches('/')));
    if let Some(password) = &settings.password {
        builder = builder.password(password.expose());
    }
    let what = format!(
        "{scheme}://{}:{}/{}",
        settings.host, settings.port, settings.directory
    );
    OpendalSink::new(builder, Replace::Native, &what)
}

/// The FTP sink as a plugin (`libstreamrouter_ftp_plugin.so`, from `streamrouter-ftp-plugin`): its
/// options are the keys of [`FtpSettings`]; `~/` is `$HOME`.
pub struct FtpBackend;

/// The settings an options text describes, read and checked as the router's config does,
/// with `~/` standing for `home` and the password file read with `read`.
pub fn settings_from_options(
    options: &str,
    home: Option<&Path>,
    read: impl FnOnce(&Path) -> std::io::Result<String>,
) -> Result<FtpSettings, String> {
    let mut settings: FtpSettings = settings::from_options(options, home)?;
    (settings.read_password_file(read))
        .map_err(|finding| format!("bad options: {}: {}", finding.key, finding.message))?;
    Ok(settings)
}

impl streamrouter_opendal::Backend for FtpBackend {
    const NAME: &'static str = "ftp";

    fn build(options: &str) -> Result<OpendalSink, String> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let settings = settings_from_options(options, home.as_deref(), |path| {
            std::fs::read_to_string(path)
        })?;
        build(&settings).map_err(|e| e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_file(_: &Path) -> std::io::Result<String> {
        Err(std::io::ErrorKind::NotFound.into())
    }

    #[test]
    fn options_become_settings_with_the_built_in_defaults() {
        let settings = settings_from_options("host = \"ftp.example.com\"", None, no_file).unwrap();
        assert_eq!((settings.port, settings.user.as_str()), (21, "anonymous"));
        assert!(!settings.tls && settings.password.is_none());
        let error = settings_from_options("host = \"h\"\nport = 70000", None, no_file).unwrap_err();
        assert_eq!(
            error,
            "bad options: port: must be from 1 to 65535, got 70000"
        );
    }

    #[test]
    fn a_password_file_becomes_the_password() {
        let options = "host = \"h\"\npassword_file = \"~/pass\"";
        let home = Path::new("/home/u");
        let read = |path: &Path| {
            assert_eq!(path, Path::new("/home/u/pass"));
            Ok("pa55\n".to_owned())
        };
        let settings = settings_from_options(options, Some(home), read).unwrap();
        assert_eq!(settings.password, Some(Secret::new("pa55")));
        assert_eq!(settings.password_file, None);
    }
}
