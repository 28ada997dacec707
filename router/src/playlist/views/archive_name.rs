//! Archive file names from a pattern such as `archive/{start:%Y%m%dT%H%M%SZ}.m3u8`: each
//! `{start:FMT}` field is the start of the archive's period formatted with the strftime format
//! FMT in UTC (by [`jiff::fmt::strtime`]); `{start}` alone is `{start:%Y%m%dT%H%M%SZ}`.
//!
//! Owns the pattern's one parser (compile reports its refusals as they are worded here) and
//! rendering. Parsing renders a sample time, so that a format strftime cannot print, a field
//! that prints nothing or blanks, or a name that is not a relative file path is refused once,
//! there; a parsed pattern then renders every time.

use std::fmt;
use std::time::SystemTime;

/// The format `{start}` stands for: compact ISO 8601 in UTC, sortable, no `:`.
pub const DEFAULT_START_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// A parsed archive name pattern; stored (in a sink's journal) as its text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArchiveNamePattern {
    /// As written.
    written: String,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// A strftime format of the period's start.
    Start(String),
}

/// Why a pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveNameError {
    /// A `{` without its `}`.
    #[error("has a `{{` that is not closed with `}}`; write `{{start}}` or `{{start:FMT}}`")]
    Unclosed,
    /// `{…}` that is not a `{start…}` field.
    #[error(
        "has `{{{field}}}`; the only field is `{{start}}` or `{{start:FMT}}` (the period's \
         start, FMT in strftime, in UTC), like `{{start:%Y%m%dT%H%M%SZ}}`"
    )]
    Field {
        /// What is between the braces.
        field: String,
    },
    /// No `{start…}` field: every period would get the same name.
    #[error(
        "must contain a `{{start}}` or `{{start:FMT}}` field (the period's start, FMT in \
         strftime, in UTC) so that each period gets its own name, like \
         `archive/{{start:%Y%m%dT%H%M%SZ}}.m3u8`"
    )]
    NoStart,
    /// `{start:}`.
    #[error(
        "has `{{start:}}` with no format; write `{{start}}` or `{{start:FMT}}` like `{{start:%Y%m%d}}`"
    )]
    EmptyFormat,
    /// FMT cannot be printed.
    #[error(
        "has `{{start:{format}}}`, which strftime cannot print for a UTC time ({reason}); use \
         specifiers like %Y %m %d %H %M %S (and %% for `%`)"
    )]
    Format {
        /// FMT as written.
        format: String,
        /// strftime's reason.
        reason: String,
    },
    /// FMT prints nothing, a blank or a control character.
    #[error(
        "has `{{start:{format}}}`, which prints {printed:?}: a field must print visible \
         characters without spaces; use specifiers like %Y %m %d %H %M %S"
    )]
    Printed {
        /// FMT as written.
        format: String,
        /// What it printed for a sample time.
        printed: String,
    },
    /// The names are not relative file paths.
    #[error(
        "gives names like `{sample}`, which {problem}; a name is a file path relative to the \
         sink's directory, like `archive/{{start:%Y%m%dT%H%M%SZ}}.m3u8`"
    )]
    Path {
        /// The name of a sample time.
        sample: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// The time parse renders to judge a pattern: every field differs from its neighbours' and
/// from zero (2026-12-31T23:59:58.5Z, a Thursday).
fn sample_time() -> jiff::Timestamp {
    jiff::Timestamp::new(1_798_761_598, 500_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

impl ArchiveNamePattern {
    /// Parses a pattern.
    pub fn parse(text: &str) -> Result<Self, ArchiveNameError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or(ArchiveNameError::Unclosed)? + open;
            let field = &rest[open + 1..close];
            let format = match field.strip_prefix("start") {
                Some("") => DEFAULT_START_FORMAT,
                Some(spec) => match spec.strip_prefix(':') {
                    Some("") => return Err(ArchiveNameError::EmptyFormat),
                    Some(format) => format,
                    None => return Err(field_error(field)),
                },
                None => return Err(field_error(field)),
            };
            check_format(format)?;
            pieces.push(Piece::Start(format.to_owned()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        if !pieces.iter().any(|piece| matches!(piece, Piece::Start(_))) {
            return Err(ArchiveNameError::NoStart);
        }
        let pattern = Self {
            written: text.to_owned(),
            pieces,
        };
        let sample = pattern.render_at(sample_time());
        if let Some(problem) = path_problem(&sample) {
            return Err(ArchiveNameError::Path { sample, problem });
        }
        Ok(pattern)
    }

    /// The name of the archive whose period starts at `start` (in UTC). Times outside what
    /// strftime prints (before year -9999 or after 9999) are taken as the nearest it does.
    pub fn render(&self, start: SystemTime) -> String {
        let timestamp = jiff::Timestamp::try_from(start).unwrap_or_else(|_| {
            if start < SystemTime::UNIX_EPOCH {
                jiff::Timestamp::MIN
            } else {
                jiff::Timestamp::MAX
            }
        });
        self.render_at(timestamp)
    }

    fn render_at(&self, timestamp: jiff::Timestamp) -> String {
        let mut name = String::with_capacity(self.written.len() + 16);
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => name.push_str(text),
                Piece::Start(format) => {
                    // Checked by parse: the same format prints every timestamp.
                    let printed = jiff::fmt::strtime::format(format, timestamp)
                        .unwrap_or_else(|_| timestamp.strftime(DEFAULT_START_FORMAT).to_string());
                    name.push_str(&printed);
                }
            }
        }
        name
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

fn field_error(field: &str) -> ArchiveNameError {
    ArchiveNameError::Field {
        field: field.to_owned(),
    }
}

/// Refuses a format strftime cannot print, or one printing nothing, blanks or control
/// characters (`%n`, `%t`, `%c`).
fn check_format(format: &str) -> Result<(), ArchiveNameError> {
    let printed = jiff::fmt::strtime::format(format, sample_time()).map_err(|error| {
        let reason = error.to_string();
        let reason = reason
            .strip_prefix("strftime formatting failed: ")
            .unwrap_or(&reason)
            .to_owned();
        ArchiveNameError::Format {
            format: format.to_owned(),
            reason,
        }
    })?;
    if printed.is_empty() || printed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ArchiveNameError::Printed {
            format: format.to_owned(),
            printed,
        });
    }
    Ok(())
}

/// Why `name` is not a file path relative to a sink's directory.
fn path_problem(name: &str) -> Option<&'static str> {
    if name.starts_with('/') {
        Some("are absolute")
    } else if name.ends_with('/') {
        Some("name a directory, not a file")
    } else if name.split('/').any(|part| part == "..") {
        Some("contain `..`")
    } else if name.split('/').any(|part| part.is_empty() || part == ".") {
        Some("contain empty or `.` parts")
    } else {
        None
    }
}

impl fmt::Display for ArchiveNamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl TryFrom<String> for ArchiveNamePattern {
    type Error = ArchiveNameError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<ArchiveNamePattern> for String {
    fn from(pattern: ArchiveNamePattern) -> Self {
        pattern.written
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// 2026-12-01T13:05:09Z.
    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_130_309)
    }

    #[test]
    fn fields_render_the_start_in_utc() {
        let pattern = ArchiveNamePattern::parse("archive/{start:%Y%m%dT%H%M%SZ}.m3u8").unwrap();
        assert_eq!(pattern.render(at()), "archive/20261201T130509Z.m3u8");
        let pattern = ArchiveNamePattern::parse("{start}.m3u8").unwrap();
        assert_eq!(pattern.render(at()), "20261201T130509Z.m3u8", "the default");
        let pattern =
            ArchiveNamePattern::parse("cam/{start:%Y/%m/%d}/{start:%H-%M}-100%.m3u8").unwrap();
        assert_eq!(pattern.render(at()), "cam/2026/12/01/13-05-100%.m3u8");
        assert_eq!(
            pattern.as_str(),
            "cam/{start:%Y/%m/%d}/{start:%H-%M}-100%.m3u8"
        );
        let pattern = ArchiveNamePattern::parse("a/{start:%s}.m3u8").unwrap();
        assert_eq!(pattern.render(at()), "a/1796130309.m3u8");
        assert_eq!(pattern.render(SystemTime::UNIX_EPOCH), "a/0.m3u8");
    }

    #[test]
    fn times_strftime_cannot_print_are_clamped() {
        let pattern = ArchiveNamePattern::parse("{start:%Y}").unwrap();
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(pattern.render(far), "9999");
    }

    #[test]
    fn bad_patterns_say_what_to_write() {
        let refused = |text: &str| ArchiveNamePattern::parse(text).unwrap_err();
        assert_eq!(refused("archive.m3u8"), ArchiveNameError::NoStart);
        assert!(
            refused("x.m3u8")
                .to_string()
                .contains("{start:%Y%m%dT%H%M%SZ}")
        );
        assert_eq!(refused("a/{start:%Y"), ArchiveNameError::Unclosed);
        assert_eq!(
            refused("{date:%Y}.m3u8").to_string(),
            "has `{date:%Y}`; the only field is `{start}` or `{start:FMT}` (the period's start, \
             FMT in strftime, in UTC), like `{start:%Y%m%dT%H%M%SZ}`"
        );
        assert_eq!(
            refused("{starts}"),
            ArchiveNameError::Field {
                field: "starts".to_owned()
            }
        );
        assert_eq!(refused("{start:}"), ArchiveNameError::EmptyFormat);
        let ArchiveNameError::Format { format, reason } = refused("{start:%Y%}") else {
            panic!("a format error")
        };
        assert_eq!(format, "%Y%");
        assert!(reason.contains('%'), "{reason}");
        assert!(matches!(
            refused("{start:%!}"),
            ArchiveNameError::Format { .. }
        ));
        for blank in ["{start:%n}", "{start:%c}", "{start:%Y %m}"] {
            assert!(
                matches!(refused(blank), ArchiveNameError::Printed { .. }),
                "{blank}"
            );
        }
        for (text, problem) in [
            ("/srv/{start}.m3u8", "are absolute"),
            ("{start}/", "name a directory, not a file"),
            ("../{start}.m3u8", "contain `..`"),
            ("a//{start}.m3u8", "contain empty or `.` parts"),
        ] {
            let ArchiveNameError::Path { problem: found, .. } = refused(text) else {
                panic!("{text}: a path error")
            };
            assert_eq!(found, problem, "{text}");
        }
        assert!(
            refused("/{start:%Y}")
                .to_string()
                .starts_with("gives names like `/2026`, which are absolute;")
        );
    }

    #[test]
    fn serde_keeps_the_text_and_parses_it_again() {
        let pattern = ArchiveNamePattern::parse("cam/{start:%Y%m%d}.m3u8").unwrap();
        let json = serde_json::to_string(&pattern).unwrap();
        assert_eq!(json, "\"cam/{start:%Y%m%d}.m3u8\"");
        let back: ArchiveNamePattern = serde_json::from_str(&json).unwrap();
        assert_eq!(back, pattern);
        assert_eq!(back.render(at()), "cam/20261201.m3u8");
        let error = serde_json::from_str::<ArchiveNamePattern>("\"cam.m3u8\"").unwrap_err();
        assert!(error.to_string().contains("{start}"), "{error}");
    }
}
