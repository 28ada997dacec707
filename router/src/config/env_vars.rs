//! `${VAR}` references: replaced by the environment variable `VAR` in every string of `[router]`
//! and of every node (arrays and inline tables included), after templates are expanded, so
//! that `${KEY_{{feed}}}` reads one variable per feed. `$${` is a literal `${`.
//!
//! The environment comes in as a lookup function: this module does no I/O. A variable that is
//! not set is an error at the value that names it; the value is then left as written and the
//! key is returned as unresolved, so that the checks of the key stay silent (its value is not
//! what the user meant). No message quotes a variable's value: it may be a secret.

use super::raw::{Item, Pos, Table, Value};

/// One problem found in a string: where the string is, the top-level key it is under, what.
pub(super) struct Problem {
    pub(super) pos: Pos,
    pub(super) key: String,
    pub(super) message: String,
}

/// Replaces every `${VAR}` in the strings of `table`. Returns the problems, each under the
/// top-level key of `table` that holds the string; a string with a problem is left as written.
pub(super) fn expand_table(
    table: &mut Table,
    var: &dyn Fn(&str) -> Option<String>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for entry in &mut table.entries {
        expand_item(&mut entry.item, &entry.key, var, &mut problems);
    }
    problems
}

fn expand_item(
    item: &mut Item,
    key: &str,
    var: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) {
    match &mut item.value {
        Value::String(text) => match expand(text, var) {
            Ok(expanded) => *text = expanded,
            Err(messages) => problems.extend(messages.into_iter().map(|message| Problem {
                pos: item.pos,
                key: key.to_owned(),
                message,
            })),
        },
        Value::Array(items) => {
            for element in items {
                expand_item(element, key, var, problems);
            }
        }
        Value::Table(table) => {
            for entry in &mut table.entries {
                expand_item(&mut entry.item, key, var, problems);
            }
        }
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Datetime(_) => {}
    }
}

/// `text` with its `${VAR}` replaced, or every problem found in it.
pub(super) fn expand(
    text: &str,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let from_dollar = &rest[at..];
        if let Some(after) = from_dollar.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = from_dollar.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                problems
                    .push("`${` is not closed with `}`; write `$${` for a literal `${`".to_owned());
                break;
            };
            let name = &after[..end];
            if !is_variable_name(name) {
                problems.push(
                    "`${` must be followed by an environment variable name (letters, digits and \
                     `_`, not starting with a digit) and `}`; write `$${` for a literal `${`"
                        .to_owned(),
                );
            } else if let Some(value) = var(name) {
                out.push_str(&value);
            } else {
                problems.push(format!("environment variable {name} is not set"));
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &from_dollar[1..];
        }
    }
    if problems.is_empty() {
        out.push_str(rest);
        Ok(out)
    } else {
        Err(problems)
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".to_owned()),
            "EMPTY" => Some(String::new()),
            "DOLLAR" => Some("${A}".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn variables_are_replaced_and_dollars_escaped() {
        let expand = |text| expand(text, &lookup);
        assert_eq!(
            expand("x-${A}-${EMPTY}-${A}"),
            Ok("x-alpha--alpha".to_owned())
        );
        assert_eq!(
            expand("$${A} costs $5 {seq:05}"),
            Ok("${A} costs $5 {seq:05}".to_owned())
        );
        assert_eq!(
            expand("$$${A}"),
            Ok("$${A}".to_owned()),
            "`$$` then a literal `${{`"
        );
        assert_eq!(
            expand("${DOLLAR}"),
            Ok("${A}".to_owned()),
            "values are not expanded again"
        );
        assert_eq!(expand("end$"), Ok("end$".to_owned()));
    }

    #[test]
    fn every_problem_of_a_string_is_found() {
        let problems = expand("${NOPE}/${A}/${ALSO_NOPE}", &lookup).unwrap_err();
        assert_eq!(
            problems,
            [
                "environment variable NOPE is not set",
                "environment variable ALSO_NOPE is not set"
            ]
        );
        let problems = expand("${1X}", &lookup).unwrap_err();
        assert!(
            problems[0].starts_with("`${` must be followed by"),
            "{problems:?}"
        );
        let problems = expand("a${A", &lookup).unwrap_err();
        assert_eq!(
            problems,
            ["`${` is not closed with `}`; write `$${` for a literal `${`"]
        );
    }
}
