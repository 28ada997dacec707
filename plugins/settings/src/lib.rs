//! streamrouter-sink-settings: what every sink backend's settings type shares: [`Secret`],
//! [`Finding`], the [`SinkSettings`] trait (checks, paths, destination keys), and [`read`], which
//! turns a TOML table into a settings type reporting every problem at once. The router's config
//! and each backend's plugin build both read settings through [`read`], so the two accept the
//! same keys with the same defaults and the same messages.
//!
//! A crate of its own (serde and toml only, no I/O, no runtime) so that every backend can use it,
//! the local sink included, without the OpenDAL core. Owns no backend's keys (each backend crate
//! declares its own next to its fields) and no positions (the router maps a finding's key to
//! where it is written).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A credential: its value is never printed (`Debug` and `Display` show `***`). It serializes
/// as its value, only so that two settings can be compared key by key ([`changed_keys`]).
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that hands it to a backend.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Whether a finding refuses the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The settings are refused.
    Error,
    /// Accepted, but probably not what was meant.
    Warning,
}

/// One problem with one key of a sink's settings. A message never quotes a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The key, as written in the config (`bucket`).
    pub key: &'static str,
    /// Error or warning.
    pub level: Level,
    /// What is wrong, in plain words.
    pub message: String,
}

impl Finding {
    /// An error about `key`.
    pub fn error(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            level: Level::Error,
            message: message.into(),
        }
    }

    /// A warning about `key`.
    pub fn warning(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            level: Level::Warning,
            message: message.into(),
        }
    }
}

/// A backend's settings type: serde (with `deny_unknown_fields` and its defaults), its checks,
/// which of its keys are file paths and which say where objects are stored.
pub trait SinkSettings: DeserializeOwned + Serialize + Default {
    /// The required keys, each with what it is (for "missing `bucket` (the bucket to publish
    /// into)"). Which keys are required is serde's (a field without default); a required key
    /// not listed here is reported without the explanation.
    const REQUIRED: &'static [(&'static str, &'static str)] = &[];

    /// The keys holding a credential (a [`Secret`]): no message ever quotes their text.
    const SECRET_KEYS: &'static [&'static str] = &[];

    /// The keys that say where objects are stored: when one changes, the sink stores somewhere
    /// the objects already published are not.
    const DESTINATION_KEYS: &'static [&'static str];

    /// Every problem with the values (their types and presence are serde's).
    fn check(&self) -> Vec<Finding>;

    /// The file paths among the settings, by key, for the host to resolve (`~/`, relative
    /// paths). An absent optional path is not listed.
    fn paths_mut(&mut self) -> Vec<(&'static str, &mut PathBuf)> {
        Vec::new()
    }
}

/// The keys of `T`, from its serde derive.
pub fn keys<T: SinkSettings>() -> &'static [&'static str] {
    serde_aux::serde_introspection::serde_introspect::<T>()
}

/// Reads `table` as `T`: a key `T` does not have, a value of the wrong type, a required key
/// not written and every finding of [`SinkSettings::check`], all at once (findings about a key
/// whose value was refused are left out: they would be about a stand-in). The settings are
/// `None` when a key was refused or missing.
pub fn read<T: SinkSettings>(table: &toml::Table) -> (Option<T>, Vec<Finding>) {
    let keys = keys::<T>();
    let mut findings = Vec::new();
    let mut table = table.clone();
    table.retain(|key, _| {
        let known = keys.contains(&key);
        if !known {
            let message = match closest(key, keys.iter().copied()) {
                Some(close) => format!("unknown key `{key}`; did you mean `{close}`?"),
                None => format!("unknown key `{key}` (valid: {})", quoted(keys)),
            };
            // `unknown` has no 'static key of `T`: the finding is about the table.
            findings.push(Finding::error("", message));
        }
        known
    });
    // Stand-ins of the right type for refused or missing keys, so the other keys are read too.
    let stand_ins = toml::Table::try_from(T::default()).unwrap_or_default();
    let mut refused: Vec<&'static str> = Vec::new();
    let mut stood_in: Vec<&'static str> = Vec::new();
    loop {
        let value = toml::Value::Table(table.clone());
        let error = match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(settings) => {
                let checked = settings.check().into_iter();
                findings.extend(checked.filter(|finding| !refused.contains(&finding.key)));
                let settings = refused.is_empty().then_some(settings);
                return (settings, findings);
            }
            Err(error) => error,
        };
        let (name, message) = refusal(&error, &table);
        let Some(key) = keys.iter().copied().find(|key| *key == name) else {
            findings.push(Finding::error("", message.unwrap_or_default()));
            return (None, findings);
        };
        if stood_in.contains(&key) {
            // Even its stand-in is refused: nothing more can be read.
            return (None, findings);
        }
        match message {
            // A refused value: without it, its default (if it has one) is read.
            Some(message) => {
                findings.push(Finding::error(key, message));
                table.remove(key);
            }
            // Missing (or refused and required): a stand-in, to read the others.
            None => {
                if !refused.contains(&key) {
                    findings.push(Finding::error(key, missing_message::<T>(key)));
                }
                let Some(stand_in) = stand_ins.get(key) else {
                    return (None, findings);
                };
                table.insert(key.to_owned(), stand_in.clone());
                stood_in.push(key);
            }
        }
        if !refused.contains(&key) {
            refused.push(key);
        }
    }
}

/// The key serde stopped at, and why: `None` for a missing key, else the message.
fn refusal(
    error: &serde_path_to_error::Error<toml::de::Error>,
    table: &toml::Table,
) -> (String, Option<String>) {
    let message = error.inner().message();
    let written = error
        .path()
        .iter()
        .next()
        .and_then(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            _ => None,
        });
    match (written, message.strip_prefix("missing field `")) {
        (None, Some(rest)) => (rest.trim_end_matches('`').to_owned(), None),
        (Some(name), _) => {
            let message = wrong_value(message, table.get(&name));
            (name, Some(message))
        }
        (None, None) => (String::new(), Some(message.to_owned())),
    }
}

/// "missing `bucket` (the bucket to publish into)".
fn missing_message<T: SinkSettings>(key: &str) -> String {
    match T::REQUIRED.iter().find(|(required, _)| *required == key) {
        Some((_, what)) => format!("missing `{key}` ({what})"),
        None => format!("missing `{key}`"),
    }
}

/// A refused value's message: "expected a string, found an integer" for a wrong type (serde's
/// wording, naming the value, is not used: it may be a credential), else the type's own.
fn wrong_value(message: &str, value: Option<&toml::Value>) -> String {
    let expected = message
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.rsplit_once(", expected "));
    let (Some((_, expected)), Some(value)) = (expected, value) else {
        return message.to_owned();
    };
    let expected = match expected {
        "a boolean" => "true or false",
        "path string" => "a string",
        other => other,
    };
    let found = match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    };
    format!("expected {expected}, found {found}")
}

/// `text` (a plugin's options) as `T`, its paths starting `~/` in `home`; one line naming every
/// error, or the settings (warnings are dropped: a plugin has nowhere to show them).
pub fn from_options<T: SinkSettings>(text: &str, home: Option<&Path>) -> Result<T, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("bad options: {}", e.message().trim_end()))?;
    let (settings, findings) = read::<T>(&table);
    let errors: Vec<String> = (findings.iter())
        .filter(|finding| finding.level == Level::Error)
        .map(|finding| match finding.key {
            "" => finding.message.clone(),
            key => format!("{key}: {}", finding.message),
        })
        .collect();
    match settings {
        Some(mut settings) if errors.is_empty() => {
            for (_, path) in settings.paths_mut() {
                if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), home) {
                    *path = home.join(rest);
                }
            }
            Ok(settings)
        }
        _ => Err(format!("bad options: {}", errors.join("; "))),
    }
}

/// The keys whose values differ between `old` and `new`, in the order `T` declares them;
/// values are compared, never returned.
pub fn changed_keys<T: SinkSettings>(old: &T, new: &T) -> Vec<&'static str> {
    let table = |settings: &T| toml::Table::try_from(settings).unwrap_or_default();
    let (old, new) = (table(old), table(new));
    (keys::<T>().iter().copied())
        .filter(|key| old.get(*key) != new.get(*key))
        .collect()
}

/// `port`: 1 to 65535 (`#[serde(deserialize_with = "port")]`).
pub fn port<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    struct Port;
    impl serde::de::Visitor<'_> for Port {
        type Value = u16;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a port number")
        }
        fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<u16, E> {
            match u16::try_from(number) {
                Ok(port) if port > 0 => Ok(port),
                _ => Err(E::custom(format!("must be from 1 to 65535, got {number}"))),
            }
        }
        fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<u16, E> {
            self.visit_i64(i64::try_from(number).unwrap_or(i64::MAX))
        }
    }
    deserializer.deserialize_any(Port)
}

/// The candidate closest to a misspelt `word`, if one is close enough to be what was meant (at
/// most a third of its letters off, 1 to 3). Distance by characters, a swap of two neighbours
/// counting as one edit (optimal string alignment), so that `upd` is one edit from `udp`.
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).clamp(1, 3);
    (candidates.into_iter())
        .map(|candidate| {
            let distance = strsim::osa_distance(&word, &candidate.to_ascii_lowercase());
            (distance, candidate)
        })
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// `; did you mean `x`?` for the closest candidate, or nothing.
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    closest(word, candidates).map_or_else(String::new, |found| format!("; did you mean `{found}`?"))
}

/// `` `a`, `b` ``.
fn quoted(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|key| format!("`{key}`")).collect();
    quoted.join(", ")
}

/// A `..` part in a `/`-separated path.
pub fn has_parent_part(path: &str) -> bool {
    path.split('/').any(|part| part == "..")
}

/// The checks of a server reached by host and port (FTP, SSH): `host` a name or an address,
/// `user` a login name, `directory` without `..`.
pub fn check_server(host: &str, user: &str, directory: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    if host.is_empty() {
        findings.push(Finding::error("host", "must not be empty"));
    } else if host.contains(char::is_whitespace) {
        findings.push(Finding::error(
            "host",
            format!("`{host}` must not contain spaces"),
        ));
    } else if host.contains('/') {
        let message = format!(
            "`{host}` is not a host name or address: no URL, and the directory goes in \
             `directory`"
        );
        findings.push(Finding::error("host", message));
    }
    if user.is_empty() || user.contains(char::is_whitespace) {
        let message = "must be a login name, not empty and without spaces";
        findings.push(Finding::error("user", message));
    }
    if has_parent_part(directory) {
        let message = format!("`{directory}` must not contain `..`");
        findings.push(Finding::error("directory", message));
    }
    findings
}
