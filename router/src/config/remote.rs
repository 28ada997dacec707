//! Sinks on a server reached by host and port: `ftp`, and `scp` (SFTP underneath). Owns the
//! checks of hosts, ports, users and remote directories, and reading an FTP `password_file`
//! through the environment's reader (its contents become a [`Secret`], never quoted).
//! `key_file` and `known_hosts` are only resolved: the runtime reports a file it cannot use.

use std::path::Path;

use super::Environment;
use super::fields::Fields;
use super::model::{FtpSink, ScpSink, Secret, SinkKind};
use super::raw::{Pos, Value};
use super::sinks::{has_parent_part, secret};

/// FTP's port.
const FTP_PORT: u16 = 21;
/// SSH's port.
const SSH_PORT: u16 = 22;
/// `user` of an FTP sink when none is written.
const ANONYMOUS: &str = "anonymous";
/// `known_hosts` when none is written, under the home directory.
const KNOWN_HOSTS: &str = ".ssh/known_hosts";

pub(super) fn ftp_sink(fields: &mut Fields<'_>, environment: &Environment<'_>) -> Option<SinkKind> {
    let host = host(fields);
    let port = port(fields, FTP_PORT);
    let user = fields.string("user");
    if let Some(user) = &user {
        check_user(fields, user.value, user.pos);
    }
    let password = password(fields, environment);
    let directory = directory(fields);
    let tls = fields.boolean("tls", false);
    Some(SinkKind::Ftp(FtpSink {
        host: host?,
        port,
        user: user.map_or(ANONYMOUS, |user| user.value).to_owned(),
        password,
        directory,
        tls,
    }))
}

pub(super) fn scp_sink(fields: &mut Fields<'_>, home: Option<&Path>) -> Option<SinkKind> {
    let host = host(fields);
    let port = port(fields, SSH_PORT);
    let user = fields.required_string("user", "the login name");
    if let Some(user) = &user {
        check_user(fields, user.value, user.pos);
    }
    let key_file = fields.required_path("key_file", "the private key to log in with", home);
    let directory = directory(fields);
    let known_hosts = if fields.pos_of("known_hosts") == fields.header() {
        let default = home.map(|home| home.join(KNOWN_HOSTS));
        if default.is_none() {
            let pos = fields.header();
            let message = format!(
                "`known_hosts` defaults to ~/{KNOWN_HOSTS}, but HOME is not set: write \
                 `known_hosts`"
            );
            fields.error(pos, "known_hosts", message);
        }
        default
    } else {
        fields.path("known_hosts", home)
    };
    Some(SinkKind::Scp(ScpSink {
        host: host?,
        port,
        user: user?.value.to_owned(),
        key_file: key_file?,
        directory,
        known_hosts: known_hosts?,
    }))
}

/// `host`: a name or an address, nothing more.
fn host(fields: &mut Fields<'_>) -> Option<String> {
    let host = fields.required_string("host", "the server's name or address")?;
    let text = host.value;
    let problem = if text.is_empty() {
        Some("must not be empty".to_owned())
    } else if text.contains(char::is_whitespace) {
        Some(format!("`{text}` must not contain spaces"))
    } else if text.contains('/') {
        Some(format!(
            "`{text}` is not a host name or address: no URL, and the directory goes in \
             `directory`"
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        fields.error(host.pos, "host", problem);
    }
    Some(text.to_owned())
}

/// `port`: 1 to 65535.
fn port(fields: &mut Fields<'_>, default: u16) -> u16 {
    let Some(entry) = fields.entry("port") else {
        return default;
    };
    let pos = entry.item.pos;
    let message = match &entry.item.value {
        Value::Integer(number) => match u16::try_from(*number) {
            Ok(port) if port > 0 => return port,
            _ => format!("must be from 1 to 65535, got {number}"),
        },
        other => format!("expected a port number, found {}", other.type_name()),
    };
    fields.error(pos, "port", message);
    default
}

fn check_user(fields: &mut Fields<'_>, user: &str, pos: Pos) {
    if user.is_empty() || user.contains(char::is_whitespace) {
        fields.error(
            pos,
            "user",
            "must be a login name, not empty and without spaces",
        );
    }
}

/// `directory` on the server: absolute, or relative to the login directory (default: it).
fn directory(fields: &mut Fields<'_>) -> String {
    let Some(directory) = fields.string("directory") else {
        return String::new();
    };
    if has_parent_part(directory.value) {
        let message = format!("`{}` must not contain `..`", directory.value);
        fields.error(directory.pos, "directory", message);
    }
    directory.value.to_owned()
}

/// `password`, or the contents of `password_file` (read through the environment, trailing line
/// ends removed); not both.
fn password(fields: &mut Fields<'_>, environment: &Environment<'_>) -> Option<Secret> {
    let password = secret(fields, "password");
    let file = fields.path("password_file", environment.home);
    let header = fields.header();
    let file_pos = fields
        .entry("password_file")
        .map_or(header, |entry| entry.item.pos);
    if fields.pos_of("password") != header && file_pos != header {
        let message = "`password` and `password_file` exclude each other: write one";
        fields.error(file_pos, "password_file", message);
        return None;
    }
    let Some(file) = file else {
        return password;
    };
    let shown = file.display();
    match (environment.read_file)(&file) {
        Err(error) => {
            let message = format!("cannot read the password file {shown}: {error}");
            fields.error(file_pos, "password_file", message);
            None
        }
        Ok(text) => {
            let password = text.trim_end_matches(['\n', '\r']);
            if password.is_empty() {
                let message = format!("the password file {shown} is empty");
                fields.error(file_pos, "password_file", message);
                return None;
            }
            Some(Secret::new(password))
        }
    }
}
