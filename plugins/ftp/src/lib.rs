//! streamrouter-ftp: publishes to a directory on an FTP server, through the shared OpenDAL
//! core. OpenDAL's FTP writer uploads to a temporary name and renames, so readers never see a
//! partial file. Plain FTP unless `tls` (explicit FTPS).
//!
//! Owns only the mapping from its settings to OpenDAL's FTP service.

use streamrouter_opendal::opendal::services::Ftp;
use streamrouter_opendal::{OpendalSink, Replace};
use streamrouter_plugin::SinkError;

/// Settings of an FTP sink.
#[derive(Clone, Default)]
pub struct FtpSettings {
    /// Server name or address.
    pub host: String,
    /// Control port.
    pub port: u16,
    /// Login.
    pub user: String,
    /// Password, if any.
    pub password: Option<String>,
    /// Directory on the server (relative to the login directory, or absolute).
    pub directory: String,
    /// Explicit FTPS.
    pub tls: bool,
}

impl std::fmt::Debug for FtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("directory", &self.directory)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
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
        builder = builder.password(password);
    }
    let what = format!(
        "{scheme}://{}:{}/{}",
        settings.host, settings.port, settings.directory
    );
    OpendalSink::new(builder, Replace::Native, &what)
}

/// The FTP sink as a plugin (`libstreamrouter_ftp_plugin.so`, from `streamrouter-ftp-plugin`).
/// Options: `host` (required), `port` (21), `user` (`anonymous`), `password`, `directory`,
/// `tls` (false).
pub struct FtpBackend;

/// `[sinks.NAME.options]` of an FTP plugin sink.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FtpOptions {
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default = "default_user")]
    user: String,
    password: Option<String>,
    #[serde(default)]
    directory: String,
    #[serde(default)]
    tls: bool,
}

fn default_port() -> u16 {
    21
}

fn default_user() -> String {
    "anonymous".to_owned()
}

/// The settings an options text describes.
pub fn settings_from_options(options: &str) -> Result<FtpSettings, String> {
    let options: FtpOptions = streamrouter_opendal::parse_options(options)?;
    Ok(FtpSettings {
        host: options.host,
        port: options.port,
        user: options.user,
        password: options.password,
        directory: options.directory,
        tls: options.tls,
    })
}

impl streamrouter_opendal::Backend for FtpBackend {
    const NAME: &'static str = "ftp";

    fn build(options: &str) -> Result<OpendalSink, String> {
        build(&settings_from_options(options)?).map_err(|e| e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_settings_with_the_built_in_defaults() {
        let settings = settings_from_options("host = \"ftp.example.com\"").unwrap();
        assert_eq!((settings.port, settings.user.as_str()), (21, "anonymous"));
        assert!(!settings.tls && settings.password.is_none());
        let error = settings_from_options("host = \"h\"\nport = 70000").unwrap_err();
        assert!(error.starts_with("bad options:"), "{error}");
    }
}
