//! `{{var}}` placeholders: splitting a string at them and replacing them with a feed's
//! variables, in every string of a node table (arrays and inline tables included). `{seq:05}`
//! and `${ENV}` have single braces: they are not placeholders and pass through untouched
//! (`env_vars` replaces `${ENV}` afterwards). No message quotes the text of a credential.

use std::collections::BTreeSet;

use super::diagnostics::{Diagnostics, FeedNote, did_you_mean};
use super::feeds::Variables;
use super::model::Severity;
use super::raw::{Entry, Item, Pos, Table, Value};
use super::sinks::is_credential_key;
use super::template::is_plain_name;

/// `{{var}}` replacement for one feed.
pub(super) struct Substitution<'a> {
    variables: &'a Variables,
    used: BTreeSet<String>,
    note: &'a FeedNote,
    diagnostics: &'a mut Diagnostics,
}

impl<'a> Substitution<'a> {
    pub(super) fn new(
        variables: &'a Variables,
        note: &'a FeedNote,
        diagnostics: &'a mut Diagnostics,
    ) -> Self {
        Substitution {
            variables,
            used: BTreeSet::new(),
            note,
            diagnostics,
        }
    }

    /// The table with every placeholder replaced (`key` is its dotted key, for errors), and
    /// whether a placeholder could not be (reported, in the feed's name).
    pub(super) fn table(&mut self, table: &Table, key: &str) -> (Table, bool) {
        let errors_before = self.diagnostics.error_count();
        let table = self.replace_in_table(table, key);
        (table, self.diagnostics.error_count() > errors_before)
    }

    /// The variables some placeholder used.
    pub(super) fn into_used(self) -> BTreeSet<String> {
        self.used
    }

    fn replace_in_table(&mut self, table: &Table, key: &str) -> Table {
        let entries = table.entries.iter().map(|entry| Entry {
            key: entry.key.clone(),
            key_pos: entry.key_pos,
            item: self.item(&entry.item, &format!("{key}.{}", entry.key)),
        });
        Table {
            entries: entries.collect(),
        }
    }

    fn item(&mut self, item: &Item, key: &str) -> Item {
        let value = match &item.value {
            Value::String(text) => self.string(text, item.pos, key),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|element| self.item(element, key))
                    .collect(),
            ),
            Value::Table(table) => Value::Table(self.replace_in_table(table, key)),
            other => other.clone(),
        };
        Item {
            value,
            pos: item.pos,
        }
    }

    /// The string with its placeholders replaced. A string that is exactly one placeholder
    /// takes the variable's type (`window = "{{window}}"` with `window = 6` gives 6).
    fn string(&mut self, text: &str, pos: Pos, key: &str) -> Value {
        let pieces = match placeholders(text) {
            Ok(pieces) => pieces,
            Err(problem) => {
                self.error(pos, key, problem);
                return Value::String(text.to_owned());
            }
        };
        if let [Piece::Variable(name)] = pieces.as_slice()
            && let Some((value, _)) = self.variables.get(*name)
        {
            self.used.insert((*name).to_owned());
            return value.clone();
        }
        let mut out = String::with_capacity(text.len());
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Variable(name) => match self.variables.get(name) {
                    Some((value, _)) => {
                        self.used.insert(name.to_owned());
                        out.push_str(&variable_text(value));
                    }
                    None => {
                        let defined: Vec<&str> =
                            self.variables.keys().map(String::as_str).collect();
                        let hint = if name == "name" {
                            "; the feed's name is `{{feed}}`".to_owned()
                        } else {
                            did_you_mean(name, defined.iter().copied())
                        };
                        let message = format!(
                            "`{}` is not a variable of this feed (it has: {}){hint}",
                            placeholder(name),
                            defined.join(", ")
                        );
                        self.error(pos, key, message);
                    }
                },
            }
        }
        Value::String(out)
    }

    /// Reports a problem; about a credential, without quoting any of its text.
    fn error(&mut self, pos: Pos, key: &str, message: String) {
        let credential = key.rsplit('.').next().is_some_and(is_credential_key);
        let message = if credential {
            "has a `{{` placeholder that cannot be replaced (not quoted: this is a credential)"
                .to_owned()
        } else {
            message
        };
        self.diagnostics.report(
            Severity::Error,
            pos,
            key.to_owned(),
            message,
            Some(self.note),
        );
    }
}

/// `{{name}}`, for messages.
fn placeholder(name: &str) -> String {
    format!("{{{{{name}}}}}")
}

/// A variable's value inside a longer string.
fn variable_text(value: &Value) -> String {
    match value {
        Value::String(text) | Value::Datetime(text) => text.clone(),
        Value::Integer(number) => number.to_string(),
        Value::Float(number) => number.to_string(),
        Value::Boolean(flag) => flag.to_string(),
        // Refused as variables by `feeds`.
        Value::Array(_) | Value::Table(_) => String::new(),
    }
}

#[derive(Debug, PartialEq)]
enum Piece<'s> {
    Text(&'s str),
    Variable(&'s str),
}

/// Splits `text` at its `{{name}}` placeholders (spaces inside the braces are allowed).
fn placeholders(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start + 2..].find("}}") else {
            return Err(format!(
                "`{}` opens `{{{{` without closing `}}}}`",
                &rest[start..]
            ));
        };
        let name = rest[start + 2..start + 2 + length].trim();
        if !is_plain_name(name) {
            return Err(format!(
                "`{}` is not a placeholder: a variable name uses letters, digits, `_` and `-`",
                placeholder(name)
            ));
        }
        if start > 0 {
            pieces.push(Piece::Text(&rest[..start]));
        }
        pieces.push(Piece::Variable(name));
        rest = &rest[start + 2 + length + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_split_but_leave_other_braces_alone() {
        let pieces = placeholders("{{ feed }}/seg-{seq:05}-${HOME}.ts").unwrap();
        assert_eq!(
            pieces,
            [
                Piece::Variable("feed"),
                Piece::Text("/seg-{seq:05}-${HOME}.ts")
            ]
        );
        assert_eq!(placeholders("a{{x}}b{{y}}").unwrap().len(), 4);
        assert!(
            placeholders("a{{x")
                .unwrap_err()
                .contains("without closing")
        );
        assert!(
            placeholders("{{a b}}")
                .unwrap_err()
                .contains("not a placeholder")
        );
    }
}
