//! HLS `METHOD=AES-128` (RFC 8216 §4.3.2.4, §5.2): a whole segment encrypted with AES-128-CBC
//! and PKCS#7 padding, its key a fresh 16-byte random value from the OS, its IV written in the
//! playlist's `#EXT-X-KEY`. Which key a segment gets is the playlist's encryption stage's.
//!
//! Pure apart from reading the OS's random source for a new key: no files, no sinks, no
//! playlist state (which key objects exist and where they are stored belongs to the sink
//! tasks and the journal). A key's bytes never appear in `Debug` output or errors.

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    /// The OS's random source failed.
    #[error("no random bytes from the OS for a new key: {0}")]
    Random(String),
}

/// One content key: its number (`{key}` in `key_name` and `key_uri`) and its 16 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SegmentKey {
    /// The key's number: 0, 1, … in the playlist's life, never reused.
    pub number: u64,
    bytes: [u8; 16],
}

impl std::fmt::Debug for SegmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentKey")
            .field("number", &self.number)
            .field("bytes", &"<redacted>")
            .finish()
    }
}

impl SegmentKey {
    /// A new key numbered `number`, 16 bytes from the OS's random source (never from time).
    pub fn random(number: u64) -> Result<Self, EncryptionError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| EncryptionError::Random(e.to_string()))?;
        Ok(Self { number, bytes })
    }

    /// A key read back (from the state that keeps keys across restarts).
    pub fn from_bytes(number: u64, bytes: [u8; 16]) -> Self {
        Self { number, bytes }
    }

    /// The key file's content, as players fetch it from the key URI: the 16 bytes, raw.
    pub fn bytes(&self) -> &[u8; 16] {
        &self.bytes
    }

    /// Encrypts a whole segment: AES-128-CBC with `iv`, PKCS#7 padding (the output is 1 to 16
    /// bytes longer than the input, a multiple of 16).
    pub fn encrypt(&self, segment: &[u8], iv: &[u8; 16]) -> Vec<u8> {
        Aes128CbcEnc::new(&self.bytes.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(segment)
    }
}

/// The IV of the segment with media sequence number `sequence`: the number as a 128-bit
/// big-endian integer, the IV RFC 8216 §5.2 gives a segment whose `#EXT-X-KEY` has none. It is
/// written explicitly anyway (`IV=0x…`), so players need not derive it.
pub fn iv_for(sequence: u64) -> [u8; 16] {
    u128::from(sequence).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Decrypts with the openssl command-line tool: an implementation no one here wrote.
    fn openssl_decrypt(data: &[u8], key: &[u8; 16], iv: &[u8; 16]) -> Vec<u8> {
        let mut child = Command::new("openssl")
            .args([
                "enc",
                "-d",
                "-aes-128-cbc",
                "-K",
                &hex(key),
                "-iv",
                &hex(iv),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("openssl runs (Debian package openssl)");
        child.stdin.take().unwrap().write_all(data).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "openssl refused the ciphertext");
        output.stdout
    }

    #[test]
    fn segments_of_every_length_decrypt_with_openssl() {
        let key = SegmentKey::random(0).unwrap();
        for len in [0usize, 1, 15, 16, 17, 188, 188 * 7, 100_003] {
            let segment: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let iv = iv_for(len as u64);
            let sealed = key.encrypt(&segment, &iv);
            assert_eq!(sealed.len(), (len / 16 + 1) * 16, "PKCS#7 pads 1..16 bytes");
            if len > 0 {
                assert_ne!(&sealed[..len.min(16)], &segment[..len.min(16)]);
            }
            assert_eq!(
                openssl_decrypt(&sealed, key.bytes(), &iv),
                segment,
                "{len} bytes"
            );
        }
    }

    #[test]
    fn keys_are_random_and_never_printed() {
        let (a, b) = (
            SegmentKey::random(1).unwrap(),
            SegmentKey::random(2).unwrap(),
        );
        assert_ne!(a.bytes(), b.bytes());
        let shown = format!("{a:?}");
        assert!(shown.contains("redacted"), "{shown}");
        assert!(!shown.contains(&hex(a.bytes())), "{shown}");
        assert!(!shown.contains(&format!("{:?}", a.bytes())), "{shown}");
    }

    #[test]
    fn the_iv_is_the_sequence_number_big_endian() {
        let iv = iv_for(0x1234);
        assert_eq!(&iv[..14], &[0; 14]);
        assert_eq!(&iv[14..], &[0x12, 0x34]);
    }
}
