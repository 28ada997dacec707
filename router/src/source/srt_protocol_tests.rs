//! srt-protocol as `vendor/srt-protocol` patches it (its `PATCHES.md`): what made 0.4.4's packet
//! parser and listener state machine panic (`docs/srt-stack.md`, found by the `srt_handshake`
//! fuzz target and real libsrt callers) is now a parse error the listener drops or a rejection
//! it sends, the listener goes on to take the next caller, and valid callers, with and without
//! passphrase, still connect. The callers are srt-protocol's own `Connect` (srt-tokio's caller),
//! their conclusions edited where a test needs a bad one, and libsrt's bytes as captured.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use srt_protocol::listener::{
    AccessControlResponse, Action, Input, MultiplexListener, NextInputContext, SessionId,
};
use srt_protocol::packet::{
    ControlPacket, ControlTypes, CoreRejectReason, HandshakeControlInfo, HandshakeVsInfo, Packet,
    PacketParseError, ReceivePacketError, RejectReason, SeqNumber, ShakeType, SrtControlPacket,
};
use srt_protocol::protocol::pending_connection::ConnectionResult;
use srt_protocol::protocol::pending_connection::connect::Connect;
use srt_protocol::settings::{ConnInitSettings, KeySettings, KeySize, Passphrase};

const LISTENER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9000);
const PASSPHRASE: &str = "secretpass1";

/// The conclusion of `srt-live-transmit "srt://...?mode=caller&streamid=cam1&transtype=file"`
/// (libsrt 1.5.1, captured by `fuzz/srt-capture.py`): a congestion extension (type 6, `file`).
const LIBSRT_FILE_CONCLUSION: &str = "80000000000000000000021a0000000000000005000000057c666f40\
     000005dc00002000ffffffff0788acebe35745b80100007f000000000000000000000000000100030001050100\
     0000e40000000000050001316d616300060001656c6966";

/// The smallest datagram with an empty extension (`docs/srt-stack.md`): a stream id of no words.
const EMPTY_STREAM_ID: &str = "80000000 00000000 00000000 00000000 00000005 00000004 00001234 \
     000005dc 00002000 ffffffff 00000007 00000000 00000000 00000000 00000000 00000000 \
     00050000 00000000";

fn bytes(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn parse(datagram: &[u8]) -> Result<Packet, PacketParseError> {
    let mut buf = datagram;
    Packet::parse(&mut buf, false)
}

fn wire(packet: &Packet) -> Vec<u8> {
    let mut out = Vec::new();
    packet.serialize(&mut out);
    out
}

/// What the listener did with a caller's conclusion.
#[derive(Debug, PartialEq)]
enum Outcome {
    Opened {
        encrypted: bool,
    },
    Refused(RejectReason),
    /// Dropped: no connection, no rejection (a datagram that does not parse).
    Nothing,
}

/// A listener as srt-tokio runs it (every send succeeds), answering access requests as the
/// daemon's routing would with `accept`.
struct Harness {
    listener: MultiplexListener,
    now: Instant,
    accept: Option<KeySettings>,
    sent: Vec<Packet>,
    outcome: Option<Outcome>,
}

impl Harness {
    fn new() -> Self {
        let now = Instant::now();
        Harness {
            listener: MultiplexListener::new(now, LISTENER, ConnInitSettings::default()),
            now,
            accept: None,
            sent: Vec::new(),
            outcome: None,
        }
    }

    /// One datagram from `from`, parsed as srt-tokio parses it; what the listener did.
    fn receive(&mut self, datagram: &[u8], from: SocketAddr) -> Outcome {
        self.now += Duration::from_millis(10);
        let packet = parse(datagram)
            .map(|packet| (packet, from))
            .map_err(ReceivePacketError::from);
        self.outcome = None;
        let mut input = Input::Packet(packet);
        let mut pending: Option<SessionId> = None;
        loop {
            let action = self.listener.handle_input(self.now, input);
            let next = NextInputContext::for_action(&action);
            input = match action {
                Action::SendPacket((packet, _)) => {
                    self.sent.push(packet);
                    next.input_from(Ok::<(), ()>(()))
                }
                Action::RequestAccess(session, _) => {
                    pending = Some(session);
                    next.input_from(Ok::<(), ()>(()))
                }
                Action::RejectConnection(_, packet) => {
                    let reason = packet.and_then(|(packet, _)| match shake(&packet)?.shake_type {
                        ShakeType::Rejection(reason) => Some(reason),
                        _ => None,
                    });
                    self.outcome = reason.map(Outcome::Refused);
                    next.input_from(Ok::<(), ()>(()))
                }
                Action::OpenConnection(_, opened) => {
                    let encrypted = opened.1.settings.cipher.is_some();
                    self.outcome = Some(Outcome::Opened { encrypted });
                    next.input_from(Ok::<(), ()>(()))
                }
                Action::DelegatePacket(..)
                | Action::DropConnection(_)
                | Action::UpdateStatistics(_) => next.input_from(Ok::<(), ()>(())),
                Action::WaitForInput => match pending.take() {
                    Some(session) => {
                        let answer = AccessControlResponse::Accepted(self.accept.clone());
                        Input::AccessResponse(Some((session, answer)))
                    }
                    None => break,
                },
                Action::Close => break,
            };
        }
        self.outcome.take().unwrap_or(Outcome::Nothing)
    }

    /// A caller from `from` with `key` (srt-protocol's `Connect`) through the induction; its
    /// conclusion, edited by `edit`, goes to the listener.
    fn call(
        &mut self,
        from: SocketAddr,
        key: Option<KeySize>,
        edit: impl FnOnce(&mut Packet),
    ) -> Outcome {
        let settings = ConnInitSettings {
            key_settings: key.map(|key_size| KeySettings {
                key_size,
                passphrase: Passphrase::from(PASSPHRASE),
            }),
            ..ConnInitSettings::default()
        };
        let start = SeqNumber::new_truncate(1);
        let mut caller = Connect::new(LISTENER, from.ip(), settings, Some("cam1".into()), start);
        let ConnectionResult::SendPacket((induction, _)) = caller.handle_tick(self.now) else {
            panic!("no induction");
        };
        assert_eq!(self.receive(&wire(&induction), from), Outcome::Nothing);
        let reply = self.sent.pop().expect("an induction reply");
        let reply = parse(&wire(&reply)).unwrap();
        let ConnectionResult::SendPacket((mut conclusion, _)) =
            caller.handle_packet(Ok((reply, LISTENER)), self.now)
        else {
            panic!("no conclusion");
        };
        edit(&mut conclusion);
        self.receive(&wire(&conclusion), from)
    }
}

fn shake(packet: &Packet) -> Option<&HandshakeControlInfo> {
    match packet {
        Packet::Control(ControlPacket {
            control_type: ControlTypes::Handshake(shake),
            ..
        }) => Some(shake),
        _ => None,
    }
}

fn caller(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

fn key(key_size: KeySize) -> Option<KeySettings> {
    Some(KeySettings {
        key_size,
        passphrase: Passphrase::from(PASSPHRASE),
    })
}

fn refused(reason: CoreRejectReason) -> Outcome {
    Outcome::Refused(RejectReason::Core(reason))
}

#[test]
fn valid_callers_still_connect() {
    let mut listener = Harness::new();
    let plain = listener.call(caller(40000), None, |_| ());
    assert_eq!(plain, Outcome::Opened { encrypted: false });
    listener.accept = key(KeySize::AES128);
    let encrypted = listener.call(caller(40001), Some(KeySize::AES128), |_| ());
    assert_eq!(encrypted, Outcome::Opened { encrypted: true });
    // The key size as libsrt's caller without pbkeylen announces it, accepted with that size.
    listener.accept = key(KeySize::Unspecified);
    let unspecified = listener.call(caller(40002), Some(KeySize::Unspecified), |_| ());
    assert_eq!(unspecified, Outcome::Opened { encrypted: true });
}

#[test]
fn handshakes_that_panicked_are_refused_and_the_listener_goes_on() {
    let mut listener = Harness::new();
    // hsv5.rs:94 "expected no secrets": an encrypted caller to a feed without passphrase.
    let encrypted_to_open = listener.call(caller(40000), Some(KeySize::AES128), |_| ());
    assert_eq!(encrypted_to_open, refused(CoreRejectReason::Unsecure));
    // hsv5.rs:72 "Key size mismatch": accepted with another key size than the caller's.
    listener.accept = key(KeySize::AES256);
    let mismatch = listener.call(caller(40001), Some(KeySize::AES128), |_| ());
    assert_eq!(mismatch, refused(CoreRejectReason::BadSecret));
    // hsv5.rs:88 "Expected kmreq": a key material response where the request belongs.
    listener.accept = key(KeySize::AES128);
    let response_for_request = listener.call(caller(40002), Some(KeySize::AES128), |packet| {
        let Packet::Control(ControlPacket {
            control_type: ControlTypes::Handshake(shake),
            ..
        }) = packet
        else {
            panic!("not a handshake");
        };
        let HandshakeVsInfo::V5(info) = &mut shake.info else {
            panic!("not HSv5");
        };
        let Some(SrtControlPacket::KeyRefreshRequest(km)) = info.ext_km.take() else {
            panic!("no key material request");
        };
        info.ext_km = Some(SrtControlPacket::KeyRefreshResponse(km));
    });
    assert_eq!(response_for_request, refused(CoreRejectReason::BadSecret));
    // The port goes on: the next caller connects.
    let next = listener.call(caller(40003), Some(KeySize::AES128), |_| ());
    assert_eq!(next, Outcome::Opened { encrypted: true });
}

/// libsrt's conclusion with `extension` (hex: type, length in words, payload) in place of its
/// congestion extension.
fn conclusion_with(extension: &str) -> Vec<u8> {
    let mut datagram = bytes(LIBSRT_FILE_CONCLUSION);
    datagram.truncate(datagram.len() - 8);
    datagram.extend(bytes(extension));
    datagram
}

#[test]
fn extensions_that_panicked_the_parser_are_parse_errors() {
    use PacketParseError::{NotEnoughData, UnsupportedSrtExtensionType};
    // mod.rs:635 "Implement other kinds": libsrt's `transtype=file`, and each other extension
    // the handshake has no place for (reject, filter, group).
    // An extension is parsed while more than its 4-byte header is left: the empty ones have a
    // word after them.
    let cases = [
        (
            bytes(LIBSRT_FILE_CONCLUSION),
            UnsupportedSrtExtensionType(6),
        ),
        (
            conclusion_with("0000 0001 00000000"),
            UnsupportedSrtExtensionType(0),
        ),
        (
            conclusion_with("0007 0001 623a6100"),
            UnsupportedSrtExtensionType(7),
        ),
        (
            conclusion_with("0008 0001 01000000"),
            UnsupportedSrtExtensionType(8),
        ),
        // srt.rs:286, bytes' "advance out of bounds": empty string extensions, and a group
        // extension shorter than its word.
        (bytes(EMPTY_STREAM_ID), NotEnoughData),
        (conclusion_with("0006 0000 00000000"), NotEnoughData),
        (conclusion_with("0007 0000 00000000"), NotEnoughData),
        (conclusion_with("0008 0000 00000000"), NotEnoughData),
    ];
    assert_eq!(bytes(EMPTY_STREAM_ID).len(), 72);
    let mut listener = Harness::new();
    for (port, (datagram, error)) in (40000..).zip(cases) {
        assert_eq!(parse(&datagram).err(), Some(error), "{datagram:02x?}");
        assert_eq!(listener.receive(&datagram, caller(port)), Outcome::Nothing);
    }
    // The port goes on: the next caller connects.
    let next = listener.call(caller(41000), None, |_| ());
    assert_eq!(next, Outcome::Opened { encrypted: false });
}
