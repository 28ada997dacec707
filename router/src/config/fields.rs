//! Typed reading of one table (`[router]`, a node, a feed): each getter checks a key's type and
//! value and reports at the key's position; `finish` reports the keys nobody asked for, with the
//! closest known key. Owns the value rules shared by every kind (addresses, paths, counts); knows
//! nothing of which keys a kind has — the callers in `nodes` do.

use std::fmt::Display;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::compile::TOP_LEVEL_KEYS;
use super::diagnostics::{Diagnostics, FeedNote, closest, did_you_mean};
use super::model::Severity;
use super::raw::{Entry, Item, Pos, Table, Value};

/// A value and where it was written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Located<T> {
    pub(super) value: T,
    pub(super) pos: Pos,
}

/// Reads the keys of one table, reporting into `diagnostics`.
pub(super) struct Fields<'a> {
    table: &'a Table,
    /// Dotted key of the table, e.g. `sources.cam1`.
    prefix: String,
    /// Where the table starts (for missing keys).
    header: Pos,
    feed: Option<&'a FeedNote>,
    known: Vec<&'static str>,
    /// Required keys not written, with their message; reported by `finish` or `abandon`,
    /// folded into the "unknown key" error of a misspelling of them.
    missing: Vec<(&'static str, String)>,
    errors_before: usize,
    /// Keys whose value is not what was meant (a `${VAR}` not set, already reported).
    muted: &'a [String],
    pub(super) diagnostics: &'a mut Diagnostics,
}

impl<'a> Fields<'a> {
    pub(super) fn new(
        table: &'a Table,
        prefix: String,
        header: Pos,
        feed: Option<&'a FeedNote>,
        diagnostics: &'a mut Diagnostics,
    ) -> Self {
        let errors_before = diagnostics.error_count();
        Fields {
            table,
            prefix,
            header,
            feed,
            known: Vec::new(),
            missing: Vec::new(),
            errors_before,
            muted: &[],
            diagnostics,
        }
    }

    /// Drops the findings about `keys` (see `muted`).
    pub(super) fn muting(mut self, keys: &'a [String]) -> Self {
        self.muted = keys;
        self
    }

    /// No error was found since this table was opened.
    pub(super) fn ok(&self) -> bool {
        self.diagnostics.error_count() == self.errors_before && self.missing.is_empty()
    }

    /// The dotted key of `key` in this table.
    pub(super) fn key(&self, key: &str) -> String {
        if key.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    pub(super) fn header(&self) -> Pos {
        self.header
    }

    /// Where `key` is written, or the table header when it is not.
    pub(super) fn pos_of(&self, key: &str) -> Pos {
        self.table
            .get(key)
            .map_or(self.header, |entry| entry.key_pos)
    }

    pub(super) fn error(&mut self, pos: Pos, key: &str, message: impl Display) {
        self.report(Severity::Error, pos, key, message);
    }

    pub(super) fn warning(&mut self, pos: Pos, key: &str, message: impl Display) {
        self.report(Severity::Warning, pos, key, message);
    }

    /// Drops findings about a muted key, but not that it is unknown (whatever its value).
    fn report(&mut self, severity: Severity, pos: Pos, key: &str, message: impl Display) {
        if self.known.contains(&key) && self.muted.iter().any(|muted| muted == key) {
            return;
        }
        let key = self.key(key);
        let feed = self.feed;
        self.diagnostics
            .report(severity, pos, key, message.to_string(), feed);
    }

    /// The entry for `key`, marking the key as known.
    pub(super) fn entry(&mut self, key: &'static str) -> Option<&'a Entry> {
        self.mark_known(key);
        self.table.get(key)
    }

    fn mark_known(&mut self, key: &'static str) {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
    }

    fn wrong_type(&mut self, key: &str, item: &Item, expected: &str) {
        let found = item.value.type_name();
        self.error(item.pos, key, format!("expected {expected}, found {found}"));
    }

    /// Records that required `key` is not written; `what` says what it is.
    fn missing(&mut self, key: &'static str, what: &str) {
        self.missing_with(key, format!("missing `{key}` ({what})"));
    }

    /// Records that required `key` is not written, with the whole message.
    pub(super) fn missing_with(&mut self, key: &'static str, message: String) {
        self.mark_known(key);
        self.missing.push((key, message));
    }

    pub(super) fn string(&mut self, key: &'static str) -> Option<Located<&'a str>> {
        let item = &self.entry(key)?.item;
        match &item.value {
            Value::String(text) => Some(Located {
                value: text.as_str(),
                pos: item.pos,
            }),
            _ => {
                self.wrong_type(key, item, "a string");
                None
            }
        }
    }

    /// A string that must be there; `what` says what it is, for the "missing" message.
    pub(super) fn required_string(
        &mut self,
        key: &'static str,
        what: &str,
    ) -> Option<Located<&'a str>> {
        if self.table.get(key).is_none() {
            self.missing(key, what);
            return None;
        }
        self.string(key)
    }

    pub(super) fn boolean(&mut self, key: &'static str, default: bool) -> bool {
        let Some(entry) = self.entry(key) else {
            return default;
        };
        match entry.item.value {
            Value::Boolean(flag) => flag,
            _ => {
                self.wrong_type(key, &entry.item, "true or false");
                default
            }
        }
    }

    /// A whole number, 0 or more.
    pub(super) fn count(&mut self, key: &'static str, default: usize) -> Located<usize> {
        let header = self.header;
        let Some(entry) = self.entry(key) else {
            return Located {
                value: default,
                pos: header,
            };
        };
        let pos = entry.item.pos;
        match entry.item.value {
            Value::Integer(number) => match usize::try_from(number) {
                Ok(value) => return Located { value, pos },
                Err(_) => self.error(pos, key, format!("must be 0 or more, got {number}")),
            },
            _ => self.wrong_type(key, &entry.item, "a whole number"),
        }
        Located {
            value: default,
            pos,
        }
    }

    /// A duration in seconds: an integer or a float, finite and above 0.
    pub(super) fn seconds(&mut self, key: &'static str, default: f64) -> f64 {
        let Some(entry) = self.entry(key) else {
            return default;
        };
        let seconds = match entry.item.value {
            Value::Integer(number) => number as f64,
            Value::Float(number) => number,
            _ => {
                self.wrong_type(key, &entry.item, "a number of seconds");
                return default;
            }
        };
        if seconds.is_finite() && seconds > 0.0 {
            seconds
        } else {
            let pos = entry.item.pos;
            self.error(
                pos,
                key,
                format!("must be more than 0 seconds, got {seconds}"),
            );
            default
        }
    }

    /// A number of bytes: a string with units (`"1GiB"`, `"512 MB"`) or an integer. Absent:
    /// `default`.
    pub(super) fn byte_size(&mut self, key: &'static str, default: u64) -> u64 {
        let Some(entry) = self.entry(key) else {
            return default;
        };
        let pos = entry.item.pos;
        let parsed = match &entry.item.value {
            Value::String(text) => text
                .trim()
                .parse::<bytesize::ByteSize>()
                .map(|size| size.as_u64()),
            Value::Integer(bytes) if *bytes >= 0 => Ok(bytes.unsigned_abs()),
            Value::Integer(_) => Err("must not be negative".to_owned()),
            _ => {
                self.wrong_type(key, &entry.item, "a size like \"1GiB\"");
                return default;
            }
        };
        parsed.unwrap_or_else(|problem| {
            let message = format!("not a size like \"1GiB\" or \"500MB\": {problem}");
            self.error(pos, key, message);
            default
        })
    }

    /// A length of time as [`Self::duration`] reads it; absent: `default`.
    pub(super) fn duration_or(
        &mut self,
        key: &'static str,
        default: std::time::Duration,
    ) -> std::time::Duration {
        if self.table.get(key).is_some() {
            self.duration(key)
        } else {
            self.mark_known(key);
            default
        }
    }

    /// A length of time: a string with units (`"30s"`, `"2m"`, `"1h 30m"`) or a number of
    /// seconds, not negative. Absent: zero.
    pub(super) fn duration(&mut self, key: &'static str) -> std::time::Duration {
        let Some(entry) = self.entry(key) else {
            return std::time::Duration::ZERO;
        };
        let pos = entry.item.pos;
        let parsed = match &entry.item.value {
            Value::String(text) => humantime::parse_duration(text).map_err(|e| e.to_string()),
            Value::Integer(seconds) if *seconds >= 0 => {
                Ok(std::time::Duration::from_secs(seconds.unsigned_abs()))
            }
            Value::Float(seconds) if seconds.is_finite() && *seconds >= 0.0 => {
                Ok(std::time::Duration::from_secs_f64(*seconds))
            }
            Value::Integer(_) | Value::Float(_) => Err("must not be negative".to_owned()),
            _ => {
                self.wrong_type(key, &entry.item, "a duration like \"30s\"");
                return std::time::Duration::ZERO;
            }
        };
        parsed.unwrap_or_else(|problem| {
            let message = format!("not a duration like \"30s\" or \"2m\": {problem}");
            self.error(pos, key, message);
            std::time::Duration::ZERO
        })
    }

    /// An IP address and port, like `0.0.0.0:40000` or `[::1]:8080` (no host names).
    pub(super) fn socket_addr(&mut self, key: &'static str) -> Option<Located<SocketAddr>> {
        let text = self.string(key)?;
        match text.value.parse::<SocketAddr>() {
            Ok(value) => Some(Located {
                value,
                pos: text.pos,
            }),
            Err(_) => {
                let message = format!(
                    "`{}` is not an IP address and port like 0.0.0.0:40000 (host names are not \
                     resolved)",
                    text.value
                );
                self.error(text.pos, key, message);
                None
            }
        }
    }

    pub(super) fn required_socket_addr(
        &mut self,
        key: &'static str,
        what: &str,
    ) -> Option<Located<SocketAddr>> {
        if self.table.get(key).is_none() {
            self.missing(key, what);
            return None;
        }
        self.socket_addr(key)
    }

    pub(super) fn ipv4(&mut self, key: &'static str) -> Option<Located<Ipv4Addr>> {
        let text = self.string(key)?;
        match text.value.parse::<Ipv4Addr>() {
            Ok(value) => Some(Located {
                value,
                pos: text.pos,
            }),
            Err(_) => {
                let message = format!("`{}` is not an IPv4 address", text.value);
                self.error(text.pos, key, message);
                None
            }
        }
    }

    /// A file system path: `~/` is the home directory, a relative path starts at the directory
    /// of the file it is written in.
    pub(super) fn path(&mut self, key: &'static str, home: Option<&Path>) -> Option<PathBuf> {
        let text = self.string(key)?;
        self.resolve_path(key, text.value, text.pos, home)
    }

    /// `written`, a path at `pos`, resolved as [`Self::path`] does.
    pub(super) fn resolve_path(
        &mut self,
        key: &str,
        written: &str,
        pos: Pos,
        home: Option<&Path>,
    ) -> Option<PathBuf> {
        let home_relative = written
            .strip_prefix("~/")
            .or((written == "~").then_some(""));
        if written.is_empty() {
            self.error(pos, key, "must not be empty");
            None
        } else if let Some(rest) = home_relative {
            match home {
                Some(home) => Some(home.join(rest)),
                None => {
                    self.error(pos, key, "starts with `~/` but HOME is not set");
                    None
                }
            }
        } else {
            Some(self.diagnostics.dir_of(pos).join(written))
        }
    }

    pub(super) fn required_path(
        &mut self,
        key: &'static str,
        what: &str,
        home: Option<&Path>,
    ) -> Option<PathBuf> {
        if self.table.get(key).is_none() {
            self.missing(key, what);
            return None;
        }
        self.path(key, home)
    }

    /// A table, kept as written; `None` (reported) when the value is not one.
    pub(super) fn table(&mut self, key: &'static str) -> Option<Located<&'a Table>> {
        let item = &self.entry(key)?.item;
        match &item.value {
            Value::Table(table) => Some(Located {
                value: table,
                pos: item.pos,
            }),
            _ => {
                self.wrong_type(key, item, "a table");
                None
            }
        }
    }

    /// An array of strings; `None` (reported) when it is not one.
    pub(super) fn strings(&mut self, key: &'static str) -> Option<Vec<Located<&'a str>>> {
        let item = &self.entry(key)?.item;
        let Value::Array(elements) = &item.value else {
            self.wrong_type(key, item, "an array of strings");
            return None;
        };
        let mut strings = Vec::with_capacity(elements.len());
        for element in elements {
            match &element.value {
                Value::String(text) => strings.push(Located {
                    value: text.as_str(),
                    pos: element.pos,
                }),
                _ => self.wrong_type(key, element, "a string"),
            }
        }
        (strings.len() == elements.len()).then_some(strings)
    }

    /// Reports the missing keys and every key no getter asked for; `what` names the table,
    /// e.g. "a udp source".
    pub(super) fn finish(mut self, what: &str) {
        let unknown = self.report_missing(what);
        for entry in unknown {
            let hint = did_you_mean(&entry.key, self.known.iter().copied());
            let message = if TOP_LEVEL_KEYS.contains(&entry.key.as_str()) {
                format!(
                    "`{}` is a top-level key, but TOML puts it in `{}` because it comes after \
                     that table's [header]: move it above the first [header]{}",
                    entry.key,
                    self.prefix,
                    if entry.key == "feeds" {
                        ", or write [[feeds]] tables"
                    } else {
                        ""
                    }
                )
            } else if hint.is_empty() {
                let valid: Vec<String> = self.known.iter().map(|key| format!("`{key}`")).collect();
                format!(
                    "unknown key `{}` for {what} (valid: {})",
                    entry.key,
                    valid.join(", ")
                )
            } else {
                format!("unknown key `{}` for {what}{hint}", entry.key)
            };
            self.error(entry.key_pos, &entry.key, message);
        }
    }

    /// Reports the missing keys only, when the table's other keys cannot be judged (its
    /// `type` is missing or unknown).
    pub(super) fn abandon(mut self, what: &str) {
        self.report_missing(what);
    }

    /// Reports each missing key, as a misspelling when an unknown key is close to it; returns
    /// the other unknown keys.
    fn report_missing(&mut self, what: &str) -> Vec<&'a Entry> {
        let table = self.table;
        let mut unknown: Vec<&'a Entry> = table
            .entries
            .iter()
            .filter(|entry| !self.known.contains(&entry.key.as_str()))
            .collect();
        for (key, message) in std::mem::take(&mut self.missing) {
            let misspelt = unknown
                .iter()
                .position(|entry| closest(&entry.key, [key]).is_some());
            match misspelt.map(|index| unknown.remove(index)) {
                Some(entry) => {
                    let message = format!(
                        "unknown key `{}` for {what}; did you mean `{key}`? (`{key}` is required)",
                        entry.key
                    );
                    self.error(entry.key_pos, &entry.key, message);
                }
                None => {
                    let header = self.header;
                    self.error(header, key, message);
                }
            }
        }
        unknown
    }
}
