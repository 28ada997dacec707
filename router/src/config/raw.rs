//! Raw TOML: one file's text in, an owned tree of values that remember where they were written.
//!
//! Owns TOML parsing (through `toml::de::DeTable`, which keeps byte spans) and turning byte
//! offsets into 1-based line and column. Knows nothing of the config's keys: it checks TOML
//! syntax only, and leaves every meaning to `compile`.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Where something was written: index of the file in the compiled sources, line and column
/// (both 1-based, the column counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Pos {
    pub(super) file: usize,
    pub(super) line: usize,
    pub(super) column: usize,
}

/// A TOML value with its children located.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    /// Kept as written; no key of the config takes a date.
    Datetime(String),
    Array(Vec<Item>),
    Table(Table),
}

impl Value {
    /// The type as a message says it: "a string", "an integer", ...
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// A value and where it starts (for a table written as `[header]`, the header).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Item {
    pub(super) value: Value,
    pub(super) pos: Pos,
}

/// One `key = value` of a table.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    pub(super) key: String,
    pub(super) key_pos: Pos,
    pub(super) item: Item,
}

/// A TOML table, entries in the order they were written.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Table {
    pub(super) entries: Vec<Entry>,
}

impl Table {
    pub(super) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.key == key)
    }

    /// Replaces the entry with the same key, or appends it.
    pub(super) fn set(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|old| old.key == entry.key) {
            Some(old) => *old = entry,
            None => self.entries.push(entry),
        }
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<Entry> {
        let index = self.entries.iter().position(|entry| entry.key == key)?;
        Some(self.entries.remove(index))
    }
}

/// A TOML syntax error, or an integer TOML accepts but 64 bits cannot hold.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SyntaxError {
    pub(super) pos: Pos,
    pub(super) message: String,
}

/// Parses one file. `file` is the index used in every [`Pos`] of the result. On error, the
/// first one in the file.
pub(super) fn parse(file: usize, text: &str) -> Result<Table, SyntaxError> {
    let lines = LineIndex::new(file, text);
    let (document, toml_errors) = DeTable::parse_recoverable(text);
    let mut errors: Vec<SyntaxError> = toml_errors
        .iter()
        .map(|error| SyntaxError {
            pos: lines.pos(error.span().map_or(0, |span| span.start)),
            message: error.message().to_owned(),
        })
        .collect();
    let table = convert_table(document.get_ref(), &lines, &mut errors);
    // After a syntax error, toml's recovery guesses (an unclosed `[` swallows the rest of the
    // file and every line after it is "missing a comma"): only the first error is certain.
    match errors.into_iter().min_by_key(|error| error.pos) {
        None => Ok(table),
        Some(first) => Err(first),
    }
}

/// Byte offset → line and column.
struct LineIndex<'t> {
    file: usize,
    text: &'t str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    fn new(file: usize, text: &'t str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        LineIndex { file, text, starts }
    }

    fn pos(&self, offset: usize) -> Pos {
        let line_index = self.starts.partition_point(|&start| start <= offset).max(1) - 1;
        let line_start = self.starts.get(line_index).copied().unwrap_or(0);
        let column = self
            .text
            .get(line_start..offset.min(self.text.len()))
            .map_or(0, |prefix| prefix.chars().count());
        Pos {
            file: self.file,
            line: line_index + 1,
            column: column + 1,
        }
    }
}

fn convert_table(
    table: &DeTable<'_>,
    lines: &LineIndex<'_>,
    errors: &mut Vec<SyntaxError>,
) -> Table {
    let mut entries: Vec<Entry> = table
        .iter()
        .map(|(key, value)| Entry {
            key: key.get_ref().to_string(),
            key_pos: lines.pos(key.span().start),
            item: convert_item(value, lines, errors),
        })
        .collect();
    entries.sort_by_key(|entry| entry.key_pos);
    Table { entries }
}

fn convert_item(
    value: &Spanned<DeValue<'_>>,
    lines: &LineIndex<'_>,
    errors: &mut Vec<SyntaxError>,
) -> Item {
    let pos = lines.pos(value.span().start);
    let value = match value.get_ref() {
        DeValue::String(text) => Value::String(text.to_string()),
        DeValue::Integer(integer) => match i64::from_str_radix(integer.as_str(), integer.radix()) {
            Ok(number) => Value::Integer(number),
            Err(_) => {
                errors.push(SyntaxError {
                    pos,
                    message: format!("integer {integer} does not fit in 64 bits"),
                });
                Value::Integer(0)
            }
        },
        DeValue::Float(float) => match float.as_str().parse::<f64>() {
            Ok(number) => Value::Float(number),
            Err(_) => {
                errors.push(SyntaxError {
                    pos,
                    message: format!("float {float} cannot be read"),
                });
                Value::Float(0.0)
            }
        },
        DeValue::Boolean(flag) => Value::Boolean(*flag),
        DeValue::Datetime(datetime) => Value::Datetime(datetime.to_string()),
        DeValue::Array(array) => Value::Array(
            array
                .iter()
                .map(|element| convert_item(element, lines, errors))
                .collect(),
        ),
        DeValue::Table(table) => Value::Table(convert_table(table, lines, errors)),
    };
    Item { value, pos }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Pos {
        Pos {
            file: 3,
            line,
            column,
        }
    }

    #[test]
    fn keys_values_and_headers_keep_their_positions() {
        let text = "[router]\nserve = \"x\"\n\n[sources.cam1]\n  type = \"udp\"\n";
        let root = parse(3, text).unwrap();
        let router = root.get("router").unwrap();
        assert_eq!(router.item.pos, at(1, 1));
        let Value::Table(router) = &router.item.value else {
            panic!("router is a table")
        };
        let serve = router.get("serve").unwrap();
        assert_eq!((serve.key_pos, serve.item.pos), (at(2, 1), at(2, 9)));
        let Value::Table(sources) = &root.get("sources").unwrap().item.value else {
            panic!("sources is a table")
        };
        let cam1 = sources.get("cam1").unwrap();
        assert_eq!(
            cam1.item.pos,
            at(4, 1),
            "a [header] table is located at its header"
        );
        let Value::Table(cam1) = &cam1.item.value else {
            panic!("cam1 is a table")
        };
        assert_eq!(cam1.get("type").unwrap().key_pos, at(5, 3));
    }

    #[test]
    fn entries_stay_in_written_order_and_numbers_are_read() {
        let root = parse(0, "b = 0x10\na = -2_000\nc = 2.5e1\nd = [\"é\", \"x\"]").unwrap();
        let keys: Vec<&str> = root.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c", "d"]);
        assert_eq!(root.get("b").unwrap().item.value, Value::Integer(16));
        assert_eq!(root.get("a").unwrap().item.value, Value::Integer(-2000));
        assert_eq!(root.get("c").unwrap().item.value, Value::Float(25.0));
        let Value::Array(items) = &root.get("d").unwrap().item.value else {
            panic!("d is an array")
        };
        assert_eq!(
            items[1].pos.column, 11,
            "columns count characters, not bytes"
        );
    }

    #[test]
    fn the_first_syntax_error_is_reported_not_the_cascade() {
        let error = parse(0, "a = 1\nb = [1, 2\nc = 3\nd = \"open\n").unwrap_err();
        assert_eq!((error.pos.line, error.pos.column), (3, 1), "{error:?}");
        let error = parse(0, "a = 1\nb = \"open\nc = [1, 2\n").unwrap_err();
        assert_eq!((error.pos.line, error.pos.column), (2, 10), "{error:?}");
        assert!(error.message.contains("string"), "{error:?}");
        let error = parse(0, "\n\nc = 99999999999999999999\n").unwrap_err();
        assert_eq!((error.pos.line, error.pos.column), (3, 5), "{error:?}");
        assert!(error.message.contains("64 bits"), "{error:?}");
    }
}
