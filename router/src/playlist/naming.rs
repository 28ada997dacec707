//! Segment file names from a pattern such as `sample_128k-{seq:05}.ts`: `{seq}` is the media
//! sequence number, `{seq:0N}` the same zero-padded to N digits (N from 1 to 20).
//!
//! Owns the pattern's one parser (compile uses it for `segment_name`, and reports its
//! refusals as they are worded here) and rendering. Nothing else reads the pattern's text.

/// Widest zero padding of `{seq:0N}`.
const MAX_SEQ_WIDTH: usize = 20;

/// A parsed `segment_name` pattern; stored (in a sink's journal) as its text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SegmentNamePattern {
    /// As written.
    written: String,
    prefix: String,
    width: usize,
    suffix: String,
}

/// Why a pattern is refused: it needs exactly one `{seq}` or `{seq:0N}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A `{seq` without its `}`.
    #[error("has a `{{seq` that is not closed with `}}`")]
    Unclosed,
    /// `{seq…}` with something else than nothing or `:0N`.
    #[error(
        "has `{{seq{spec}}}`; write `{{seq}}` or `{{seq:0N}}` with N from 1 to {MAX_SEQ_WIDTH}"
    )]
    Spec {
        /// What follows `{seq` up to `}`.
        spec: String,
    },
    /// No placeholder, or several.
    #[error(
        "must contain `{{seq}}` or `{{seq:0N}}` exactly once (found {found}), like \
         `segment-{{seq:05}}.ts`"
    )]
    Count {
        /// How many there are.
        found: usize,
    },
}

impl SegmentNamePattern {
    /// Parses a pattern.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let mut found: Vec<(usize, usize, usize)> = Vec::new();
        let mut offset = 0;
        while let Some(start) = pattern[offset..].find("{seq") {
            let start = offset + start;
            let after = start + "{seq".len();
            let end = after + pattern[after..].find('}').ok_or(PatternError::Unclosed)?;
            let spec = &pattern[after..end];
            let width = match spec.strip_prefix(":0") {
                _ if spec.is_empty() => Some(0),
                Some(digits) => digits
                    .parse::<usize>()
                    .ok()
                    .filter(|width| (1..=MAX_SEQ_WIDTH).contains(width)),
                None => None,
            };
            let Some(width) = width else {
                return Err(PatternError::Spec {
                    spec: spec.to_owned(),
                });
            };
            found.push((start, end + 1, width));
            offset = end + 1;
        }
        match found[..] {
            [(start, end, width)] => Ok(Self {
                written: pattern.to_owned(),
                prefix: pattern[..start].to_owned(),
                width,
                suffix: pattern[end..].to_owned(),
            }),
            _ => Err(PatternError::Count { found: found.len() }),
        }
    }

    /// The pattern for `PREFIX-{seq:05}.ts`.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            written: format!("{prefix}-{{seq:05}}.ts"),
            prefix: format!("{prefix}-"),
            width: 5,
            suffix: ".ts".to_owned(),
        }
    }

    /// The name of segment `sequence`.
    pub fn render(&self, sequence: u64) -> String {
        format!(
            "{}{:0width$}{}",
            self.prefix,
            sequence,
            self.suffix,
            width = self.width
        )
    }

    /// The text before and after the sequence number: two patterns with the same parts can
    /// write the same file (`a-{seq}.ts` and `a-{seq:05}.ts` both write `a-123456.ts`).
    pub fn parts(&self) -> (&str, &str) {
        (&self.prefix, &self.suffix)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl std::fmt::Display for SegmentNamePattern {
    /// The pattern as written.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.written)
    }
}

impl From<SegmentNamePattern> for String {
    fn from(pattern: SegmentNamePattern) -> Self {
        pattern.written
    }
}

impl TryFrom<String> for SegmentNamePattern {
    type Error = PatternError;

    fn try_from(pattern: String) -> Result<Self, Self::Error> {
        Self::parse(&pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_padded_and_plain_numbers() {
        let padded = SegmentNamePattern::parse("sample_128k-{seq:05}.ts").unwrap();
        assert_eq!(padded.render(42), "sample_128k-00042.ts");
        assert_eq!(padded.render(1234567), "sample_128k-1234567.ts");
        let plain = SegmentNamePattern::parse("live/{seq}.ts").unwrap();
        assert_eq!(plain.render(7), "live/7.ts");
        assert_eq!(
            SegmentNamePattern::with_prefix("segment").render(1),
            "segment-00001.ts"
        );
        assert_eq!(
            SegmentNamePattern::with_prefix("segment"),
            SegmentNamePattern::parse("segment-{seq:05}.ts").unwrap()
        );
    }

    #[test]
    fn a_pattern_reads_back_from_its_text() {
        for text in ["sample_128k-{seq:05}.ts", "live/{seq}.ts", "{seq:020}"] {
            let pattern = SegmentNamePattern::parse(text).unwrap();
            assert_eq!(pattern.to_string(), text);
            assert_eq!(
                SegmentNamePattern::parse(&pattern.to_string()).unwrap(),
                pattern
            );
        }
        let parts = SegmentNamePattern::parse("a/b-{seq:03}.ts").unwrap();
        assert_eq!(parts.parts(), ("a/b-", ".ts"));
    }

    #[test]
    fn refuses_patterns_without_exactly_one_sequence() {
        let spec = |spec: &str| PatternError::Spec { spec: spec.into() };
        for (bad, why) in [
            ("x.ts", PatternError::Count { found: 0 }),
            ("{seq:5}.ts", spec(":5")),
            ("{seq:0}.ts", spec(":0")),
            ("{seq:021}.ts", spec(":021")),
            ("{seq}{seq}.ts", PatternError::Count { found: 2 }),
            ("{seq}-{seq:5}.ts", spec(":5")),
            ("{sequence}", spec("uence")),
            ("{seq", PatternError::Unclosed),
        ] {
            assert_eq!(SegmentNamePattern::parse(bad), Err(why), "{bad}");
        }
    }
}
