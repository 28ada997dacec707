//! The keys of a built-in remote sink (`s3`, `ftp`, `scp`) that are its backend's: the table
//! is read into the backend crate's settings type by `streamrouter_opendal::settings::read`
//! (the same reading its plugin build does), and each finding is reported at its key's
//! position. Paths are resolved here like every path of the config, and an FTP
//! `password_file` is read through the environment's reader.
//!
//! Knows no backend's keys, defaults or checks: they are the settings type's. The keys that
//! are the router's own (`type`, `inputs`, limits, headers) are `sinks`'.

use std::path::{Path, PathBuf};

use streamrouter_ftp::FtpSettings;
use streamrouter_opendal::settings::{self, Level, SinkSettings};

use super::Environment;
use super::fields::Fields;
use super::plugin_sink::toml_value;

/// The backend's settings from the sink's table, every finding reported; `None` when a key is
/// missing, of the wrong type or a path cannot be resolved.
pub(super) fn backend<T: SinkSettings>(fields: &mut Fields<'_>, home: Option<&Path>) -> Option<T> {
    let header = fields.header();
    let mut table = toml::Table::new();
    for &key in settings::keys::<T>() {
        if let Some(entry) = fields.entry(key) {
            table.insert(key.to_owned(), toml_value(&entry.item.value));
        }
    }
    let (settings, findings) = settings::read::<T>(&table);
    for finding in findings {
        let key = finding.key;
        let value_pos = fields.entry(key).map(|entry| entry.item.pos);
        match (finding.level, value_pos) {
            // Not written: reported like every missing key, and folded into a misspelling.
            (Level::Error, None) if !key.is_empty() => fields.missing_with(key, finding.message),
            (Level::Error, pos) => fields.error(pos.unwrap_or(header), key, finding.message),
            (Level::Warning, pos) => fields.warning(pos.unwrap_or(header), key, finding.message),
        }
    }
    let mut settings = settings?;
    let mut resolved = true;
    for (key, path) in settings.paths_mut() {
        match resolve(fields, key, path, home) {
            Some(full) => *path = full,
            None => resolved = false,
        }
    }
    resolved.then_some(settings)
}

/// A path as written at `key` (`~/`, or relative to its file's directory), or its default.
fn resolve(
    fields: &mut Fields<'_>,
    key: &'static str,
    path: &Path,
    home: Option<&Path>,
) -> Option<PathBuf> {
    let text = path.to_string_lossy();
    match fields.entry(key) {
        Some(entry) => {
            let pos = entry.item.pos;
            fields.resolve_path(key, &text, pos, home)
        }
        None if home.is_none() && text.starts_with("~/") => {
            let message = format!("`{key}` defaults to {text}, but HOME is not set: write `{key}`");
            let header = fields.header();
            fields.error(header, key, message);
            None
        }
        None => {
            let header = fields.header();
            fields.resolve_path(key, &text, header, home)
        }
    }
}

/// An FTP sink's settings, its `password_file` read through the environment (its contents
/// become the password).
pub(super) fn ftp(fields: &mut Fields<'_>, environment: &Environment<'_>) -> Option<FtpSettings> {
    let mut ftp: FtpSettings = backend(fields, environment.home)?;
    if ftp.password.is_some() && ftp.password_file.is_some() {
        // Both written: already refused.
        return None;
    }
    match ftp.read_password_file(environment.read_file) {
        Ok(()) => Some(ftp),
        Err(finding) => {
            let header = fields.header();
            let pos = (fields.entry(finding.key)).map_or(header, |entry| entry.item.pos);
            fields.error(pos, finding.key, finding.message);
            None
        }
    }
}
