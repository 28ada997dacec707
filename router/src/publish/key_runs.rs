//! The object keys of a finished recording, kept compactly: a week of hourly archives at 2 s
//! segments is 300,000 keys, and they are journaled with the plan. Consecutive segments named
//! by a counter (`seg/cam-00041.ts`, `seg/cam-00042.ts`, …) make one run; anything else (a key
//! without digits, a renamed pattern after a reload, a gap in the numbers) starts a new run,
//! so every key comes back exactly as it was written.
//!
//! Pure data. Owns the encoding only.

use serde::{Deserialize, Serialize};

/// Keys by sequence number, in runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyRuns(Vec<KeyRun>);

/// `count` keys `PREFIX{number:0width}SUFFIX` for consecutive numbers and sequence numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeyRun {
    first_sequence: u64,
    count: u64,
    prefix: String,
    /// The counter of the first key; `None` for a key without digits (a run of one).
    first_number: Option<u64>,
    width: usize,
    suffix: String,
}

impl KeyRun {
    fn key(&self, offset: u64) -> String {
        match self.first_number {
            Some(number) => {
                let (prefix, suffix, width) = (&self.prefix, &self.suffix, self.width);
                format!("{prefix}{:0width$}{suffix}", number + offset)
            }
            None => self.prefix.clone(),
        }
    }
}

/// `key` split at its last run of digits: prefix, number, digit count, suffix.
fn split(key: &str) -> Option<(&str, u64, usize, &str)> {
    let end = key.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = key[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let number = key[start..end].parse().ok()?;
    Some((&key[..start], number, end - start, &key[end..]))
}

impl KeyRuns {
    /// Adds the key of segment `sequence` (numbered after every key added before).
    pub fn push(&mut self, sequence: u64, key: &str) {
        if let Some(last) = self.0.last_mut()
            && last.first_sequence + last.count == sequence
            && last.first_number.is_some()
            && last.key(last.count) == key
        {
            last.count += 1;
            return;
        }
        let run = match split(key) {
            Some((prefix, number, width, suffix)) => KeyRun {
                first_sequence: sequence,
                count: 1,
                prefix: prefix.to_owned(),
                first_number: Some(number),
                width,
                suffix: suffix.to_owned(),
            },
            None => KeyRun {
                first_sequence: sequence,
                count: 1,
                prefix: key.to_owned(),
                first_number: None,
                width: 0,
                suffix: String::new(),
            },
        };
        self.0.push(run);
    }

    /// Every key with its sequence number, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, String)> + '_ {
        (self.0.iter())
            .flat_map(|run| (0..run.count).map(move |i| (run.first_sequence + i, run.key(i))))
    }

    /// How many keys.
    pub fn len(&self) -> u64 {
        self.0.iter().map(|run| run.count).sum()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many runs hold them (what the journal stores).
    pub fn runs(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::KeyRuns;

    #[test]
    fn every_key_comes_back_as_written_and_counters_make_one_run() {
        let mut written = Vec::new();
        for sequence in 7..1007 {
            written.push((sequence, format!("seg/cam-{:05}.ts", sequence + 98_993)));
        }
        // The counter outgrows its padding, a gap, a renamed pattern, a key without digits.
        written.push((1007, "seg/cam-100000.ts".to_owned()));
        written.push((1009, "seg/cam-100002.ts".to_owned()));
        written.push((1010, "v2/part0001.ts".to_owned()));
        written.push((1011, "v2/part0002.ts".to_owned()));
        written.push((1012, "last.ts".to_owned()));
        written.push((1013, "9".to_owned()));
        let mut runs = KeyRuns::default();
        for (sequence, key) in &written {
            runs.push(*sequence, key);
        }
        assert_eq!(runs.iter().collect::<Vec<_>>(), written);
        assert_eq!(runs.len(), written.len() as u64);
        assert_eq!(runs.runs(), 5);
        let json = serde_json::to_string(&runs).unwrap();
        assert!(json.len() < 1000, "{json}");
        let read: KeyRuns = serde_json::from_str(&json).unwrap();
        assert_eq!(read, runs);
    }
}
