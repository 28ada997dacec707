//! HLS `METHOD=AES-128` (RFC 8216 §4.3.2.4, §5.2): a whole segment encrypted with AES-128-CBC
//! and PKCS#7 padding, its key a fresh 16-byte random value from the OS, its IV written in the
//! playlist's `#EXT-X-KEY`.
//!
//! [`Sealer`] applies the rotation rule (a new key every N segments) and makes the encrypted
//! segment with what its playlist entry and sinks need to know.
//!
//! Pure apart from reading the OS's random source for a new key: no files, no sinks, no
//! playlist state (which key objects exist and where they are stored belongs to the sink
//! tasks and the journal). A key's bytes never appear in `Debug` output or errors.

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};

use super::key_naming::KeyPattern;
use crate::segmenter::{KeyObject, Segment, SegmentEncryption};

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    /// The OS's random source failed.
    #[error("no random bytes from the OS for a new key: {0}")]
    Random(String),
    /// A segment was to be encrypted before any key was given.
    #[error("no key in use to encrypt a segment with")]
    NoKey,
    /// The thread encrypting segments stopped.
    #[error("the encryption thread stopped")]
    Stopped,
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

    /// Encrypts a whole segment in place: AES-128-CBC with `iv`, PKCS#7 padding (the output is
    /// 1 to 16 bytes longer than the input, a multiple of 16; no second buffer).
    pub fn encrypt(&self, mut segment: Vec<u8>, iv: &[u8; 16]) -> Vec<u8> {
        let len = segment.len();
        segment.resize((len / 16 + 1) * 16, 0);
        let cipher = Aes128CbcEnc::new(&self.bytes.into(), iv.into());
        match cipher.encrypt_padded_mut::<Pkcs7>(&mut segment, len) {
            Ok(sealed) => {
                let sealed_len = sealed.len();
                segment.truncate(sealed_len);
                segment
            }
            // Not reached: the buffer has room for the padding. Encrypt into a new one then.
            Err(_) => {
                let cipher = Aes128CbcEnc::new(&self.bytes.into(), iv.into());
                cipher.encrypt_padded_vec_mut::<Pkcs7>(&segment[..len])
            }
        }
    }
}

/// The IV of the segment with media sequence number `sequence`: the number as a 128-bit
/// big-endian integer, the IV RFC 8216 §5.2 gives a segment whose `#EXT-X-KEY` has none. It is
/// written explicitly anyway (`IV=0x…`), so players need not derive it.
pub fn iv_for(sequence: u64) -> [u8; 16] {
    u128::from(sequence).to_be_bytes()
}

/// How a playlist's segments are encrypted: a new key every `rotate_every` segments (0: one
/// key), the key objects named by `key_name`, `#EXT-X-KEY` naming `key_uri` when set (else the
/// key object, relative to each playlist); `beside` when the key object goes with each
/// segment to the sinks that store the segments (no key sink).
#[derive(Debug, Clone)]
pub struct Sealer {
    rotate_every: u64,
    key_name: KeyPattern,
    key_uri: Option<KeyPattern>,
    beside: bool,
    /// The key in use and how many segments it encrypted.
    current: Option<(SegmentKey, u64)>,
}

impl Sealer {
    /// A sealer with no key yet.
    pub fn new(
        rotate_every: u64,
        key_name: KeyPattern,
        key_uri: Option<KeyPattern>,
        beside: bool,
    ) -> Self {
        Self {
            rotate_every,
            key_name,
            key_uri,
            beside,
            current: None,
        }
    }

    /// Whether the next segment wants a new key (none yet, or the current one encrypted
    /// `rotate_every` segments).
    pub fn wants_key(&self) -> bool {
        match &self.current {
            None => true,
            Some((_, used)) => self.rotate_every > 0 && *used >= self.rotate_every,
        }
    }

    /// Whether keys rotate.
    pub fn rotates(&self) -> bool {
        self.rotate_every > 0
    }

    /// Encrypts the next segments with `key`.
    pub fn use_key(&mut self, key: SegmentKey) {
        self.current = Some((key, 0));
    }

    /// The number of the key in use, if there is one.
    pub fn key_number(&self) -> Option<u64> {
        self.current.as_ref().map(|(key, _)| key.number)
    }

    /// The object name of key `number`.
    pub fn key_name(&self, number: u64) -> String {
        self.key_name.render(number)
    }

    /// How the segment numbered `sequence` is encrypted, with the key in use (its IV the
    /// sequence number); `None` without a key. The encryption itself ([`Sealing::apply`]) may
    /// run elsewhere (it costs about a millisecond per megabyte).
    pub fn sealing(&mut self, sequence: u64) -> Option<Sealing> {
        let (key, used) = self.current.as_mut()?;
        *used += 1;
        let iv = iv_for(sequence);
        let number = key.number;
        let encryption = SegmentEncryption {
            key_number: number,
            iv,
            key_uri: (self.key_uri.as_ref()).map(|uri| uri.render(number)),
            key_object: self.beside.then(|| KeyObject {
                name: self.key_name.render(number),
                bytes: key.bytes,
            }),
        };
        Some(Sealing {
            key: key.clone(),
            encryption,
        })
    }
}

/// One segment's encryption, decided (key, IV, what its entry says), not yet done.
#[derive(Debug, Clone)]
pub struct Sealing {
    key: SegmentKey,
    encryption: SegmentEncryption,
}

impl Sealing {
    /// `segment` encrypted, in place.
    pub fn apply(self, segment: Segment) -> Segment {
        let Sealing { key, encryption } = self;
        Segment {
            data: key.encrypt(segment.data, &encryption.iv),
            encryption: Some(encryption),
            ..segment
        }
    }
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
            let sealed = key.encrypt(segment.clone(), &iv);
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

    #[test]
    fn the_sealer_wants_a_new_key_every_n_segments_and_names_it() {
        let name = KeyPattern::parse("k/{key:03}.key").unwrap();
        let mut sealer = Sealer::new(2, name, None, true);
        assert!(sealer.wants_key());
        let segment = crate::publish::plan::tests::segment();
        assert!(sealer.sealing(1).is_none(), "no key yet");
        sealer.use_key(SegmentKey::random(7).unwrap());
        let mut wanted = Vec::new();
        for sequence in 1..=4 {
            let sealed = sealer.sealing(sequence).unwrap().apply(segment.clone());
            let encryption = sealed.encryption.unwrap();
            assert_eq!(encryption.iv, iv_for(sequence));
            assert_eq!(encryption.key_number, 7);
            assert_eq!(encryption.key_object.unwrap().name, "k/007.key");
            assert_eq!(
                sealed.data.len(),
                16,
                "an empty segment is one padding block"
            );
            wanted.push(sealer.wants_key());
        }
        assert_eq!(wanted, [false, true, true, true]);
        let one = KeyPattern::parse("k/{key}.key").unwrap();
        let uri = KeyPattern::parse("https://k.example.com/{key}").unwrap();
        let mut for_life = Sealer::new(0, one, Some(uri), false);
        for_life.use_key(SegmentKey::random(0).unwrap());
        for sequence in 0..100 {
            let sealed = for_life.sealing(sequence).unwrap().apply(segment.clone());
            let encryption = sealed.encryption.unwrap();
            assert_eq!(
                encryption.key_uri.as_deref(),
                Some("https://k.example.com/0")
            );
            assert!(encryption.key_object.is_none());
            assert!(!for_life.wants_key());
        }
    }
}
