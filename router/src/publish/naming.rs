//! Segment file names from a pattern such as `sample_128k-{seq:05}.ts`: `{seq}` is the media
//! sequence number, `{seq:0N}` the same zero-padded to N digits.
//!
//! Owns pattern parsing and rendering only.

/// A parsed `segment_name` pattern; stored (in a sink's journal) as its pattern text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SegmentNamePattern {
    prefix: String,
    width: usize,
    suffix: String,
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "segment name pattern {pattern:?} must contain {{seq}} or {{seq:0N}} (N from 1 to 20) exactly once"
)]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
}

impl SegmentNamePattern {
    /// Parses a pattern.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let error = || PatternError {
            pattern: pattern.to_owned(),
        };
        let start = pattern.find("{seq").ok_or_else(error)?;
        let end = start + pattern[start..].find('}').ok_or_else(error)?;
        let spec = &pattern[start + 4..end];
        let width = match spec {
            "" => 0,
            _ => match spec.strip_prefix(":0") {
                Some(digits) => digits.parse::<usize>().map_err(|_| error())?,
                None => return Err(error()),
            },
        };
        let suffix = &pattern[end + 1..];
        if !(width <= 20 && (spec.is_empty() || width >= 1)) || suffix.contains("{seq") {
            return Err(error());
        }
        Ok(Self {
            prefix: pattern[..start].to_owned(),
            width,
            suffix: suffix.to_owned(),
        })
    }

    /// The pattern for `PREFIX-{seq:05}.ts`.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
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
}

impl std::fmt::Display for SegmentNamePattern {
    /// The pattern as it would be written in a config.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.width {
            0 => write!(f, "{}{{seq}}{}", self.prefix, self.suffix),
            width => write!(f, "{}{{seq:0{width}}}{}", self.prefix, self.suffix),
        }
    }
}

impl From<SegmentNamePattern> for String {
    fn from(pattern: SegmentNamePattern) -> Self {
        pattern.to_string()
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
    }

    #[test]
    fn refuses_patterns_without_exactly_one_sequence() {
        for bad in [
            "x.ts",
            "{seq:5}.ts",
            "{seq:0}.ts",
            "{seq:021}.ts",
            "{seq}{seq}.ts",
            "{seq",
        ] {
            assert!(SegmentNamePattern::parse(bad).is_err(), "{bad}");
        }
    }
}
