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
