//! HLS AES-128 segments as a player sees them: the key each listed segment names in its
//! `#EXT-X-KEY` (URI and IV), and decryption by the `openssl` command-line tool (a real client,
//! not the code under test).

use std::io::Write;
use std::process::{Command, Stdio};

/// A listed segment and the key it is encrypted with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedSegment {
    /// The segment's URI.
    pub uri: String,
    /// The key's URI.
    pub key_uri: String,
    /// The IV, 32 hex digits.
    pub iv_hex: String,
}

/// Every listed segment of `text` with its key; panics on one in the clear.
pub fn keyed_segments(text: &str) -> Vec<KeyedSegment> {
    let mut key: Option<(String, String)> = None;
    let mut found = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#EXT-X-KEY:METHOD=AES-128,URI=\"") {
            let (uri, iv) = rest.split_once("\",IV=0x").expect("URI and IV");
            assert_eq!(iv.len(), 32, "{line}");
            key = Some((uri.to_owned(), iv.to_owned()));
        } else if line.starts_with("#EXT-X-KEY") {
            key = None;
        } else if !line.starts_with('#') && !line.is_empty() {
            let (key_uri, iv_hex) = key.clone().unwrap_or_else(|| panic!("{line} in the clear"));
            found.push(KeyedSegment {
                uri: line.to_owned(),
                key_uri,
                iv_hex,
            });
        }
    }
    found
}

/// `data` decrypted with AES-128-CBC (PKCS#7) by `openssl enc -d`.
pub fn openssl_decrypt(data: &[u8], key: &[u8], iv_hex: &str) -> Vec<u8> {
    let key_hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new("openssl")
        .args(["enc", "-d", "-aes-128-cbc", "-K", &key_hex, "-iv", iv_hex])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let output = child.wait_with_output().expect("openssl ends");
    writer.join().expect("writer").expect("written");
    assert!(output.status.success(), "openssl could not decrypt");
    output.stdout
}

/// Whether `data` reads as MPEG-TS: 188-byte packets, each starting with the sync byte.
pub fn is_transport_stream(data: &[u8]) -> bool {
    !data.is_empty() && data.len().is_multiple_of(188) && data.chunks(188).all(|p| p[0] == 0x47)
}
