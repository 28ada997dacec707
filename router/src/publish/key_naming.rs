//! The `{key}` pattern of an encrypted playlist's `key_name` (how a key object is named in the
//! key sink) and `key_uri` (what `#EXT-X-KEY` says): `{key}` or `{key:0N}` (zero-padded to N
//! digits), the key's number. Pure; owns nothing else.

/// The placeholder, without its width.
const PLACEHOLDER: &str = "{key";
/// The widest zero padding accepted.
const MAX_KEY_WIDTH: usize = 20;

/// Why a key pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyPatternError {
    /// A `{key` without its `}`.
    #[error("has a `{{key` that is not closed with `}}`")]
    Unclosed,
    /// `{key…}` with something else than nothing or `:0N`.
    #[error(
        "has `{{key{spec}}}`; write `{{key}}` or `{{key:0N}}` with N from 1 to {MAX_KEY_WIDTH}"
    )]
    Spec {
        /// What follows `{key` up to `}`.
        spec: String,
    },
    /// More than one placeholder.
    #[error("contains `{{key}}` {found} times; write it once")]
    Repeated {
        /// How many there are.
        found: usize,
    },
}

/// A parsed `key_name` or `key_uri`: text around at most one `{key}` / `{key:0N}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    written: String,
    /// The text before the placeholder, its width and the text after; `None`: no placeholder.
    parts: Option<(String, usize, String)>,
}

impl KeyPattern {
    /// Parses a pattern; one without `{key}` is accepted (the caller decides whether it may be).
    pub fn parse(pattern: &str) -> Result<Self, KeyPatternError> {
        let found = pattern.matches(PLACEHOLDER).count();
        if found > 1 {
            return Err(KeyPatternError::Repeated { found });
        }
        let Some(start) = pattern.find(PLACEHOLDER) else {
            return Ok(Self {
                written: pattern.to_owned(),
                parts: None,
            });
        };
        let after = start + PLACEHOLDER.len();
        let close = pattern[after..]
            .find('}')
            .ok_or(KeyPatternError::Unclosed)?
            + after;
        let spec = &pattern[after..close];
        let width = match spec {
            "" => 0,
            _ => spec
                .strip_prefix(":0")
                .and_then(|digits| digits.parse::<usize>().ok())
                .filter(|width| (1..=MAX_KEY_WIDTH).contains(width))
                .ok_or_else(|| KeyPatternError::Spec {
                    spec: spec.to_owned(),
                })?,
        };
        Ok(Self {
            written: pattern.to_owned(),
            parts: Some((
                pattern[..start].to_owned(),
                width,
                pattern[close + 1..].to_owned(),
            )),
        })
    }

    /// Whether the pattern has the key's number in it.
    pub fn has_number(&self) -> bool {
        self.parts.is_some()
    }

    /// The name or URI of key `number`.
    pub fn render(&self, number: u64) -> String {
        match &self.parts {
            Some((before, width, after)) => format!("{before}{number:0width$}{after}"),
            None => self.written.clone(),
        }
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl std::fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_padded_as_asked() {
        let name = KeyPattern::parse("cam-{key:04}.key").unwrap();
        assert_eq!(name.render(7), "cam-0007.key");
        assert_eq!(name.render(123_456), "cam-123456.key");
        let uri = KeyPattern::parse("https://k.example.com/{key}.bin").unwrap();
        assert_eq!(uri.render(12), "https://k.example.com/12.bin");
        assert!(uri.has_number());
        let fixed = KeyPattern::parse("https://k.example.com/the.key").unwrap();
        assert!(!fixed.has_number());
        assert_eq!(fixed.render(3), "https://k.example.com/the.key");
    }

    #[test]
    fn malformed_placeholders_are_refused() {
        assert_eq!(KeyPattern::parse("a{key"), Err(KeyPatternError::Unclosed));
        assert!(matches!(
            KeyPattern::parse("a{key:5}"),
            Err(KeyPatternError::Spec { .. })
        ));
        assert!(matches!(
            KeyPattern::parse("a{key:021}"),
            Err(KeyPatternError::Spec { .. })
        ));
        assert_eq!(
            KeyPattern::parse("{key}-{key}"),
            Err(KeyPatternError::Repeated { found: 2 })
        );
    }
}
