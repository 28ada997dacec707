//! Datagrams from one SRT caller through the path a `listener` source runs them on: srt-protocol
//! 0.4.4's packet parser as `vendor/srt-protocol` patches it (`Packet::parse`, as srt-tokio's
//! socket calls it), its listener state machine (`MultiplexListener`: induction, cookie,
//! conclusion, access control, HSv5 and key material), the daemon's routing by stream id
//! (`srt_feed_id`, then the feed's passphrase with the caller's key size, as
//! `source::srt_listen` accepts) and the serializing of every reply.
//!
//! Input: a flags byte, then datagrams, each a big-endian u16 length and its bytes (the last one
//! takes what is left). Flags: bit 0, feed `cam1` has a passphrase; bit 1, a feed without stream
//! id takes other callers; bit 2, that feed has a passphrase; bit 3, a conclusion carries the
//! cookie the listener handed out (a caller that got the induction reply), so real conclusions
//! get past the cookie check; bit 4, the listener is bound to IPv6; bit 5, the access-control
//! answer comes after the next datagram, not at once; bit 6, feed `cam1` has `pbkeylen` 16. A
//! first datagram that is not an induction gets one sent before it, from the same caller.
//!
//! Checked: the feed id is a part of the stream id sent (the whole id unless it has the
//! access-control form); a feed with a passphrase never opens an unencrypted connection and
//! one without never an encrypted one; nothing panics, in srt-protocol or in our code (the
//! panics 0.4.4 has on remote input are patched: `docs/srt-stack.md`, defects).
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use srt_protocol::access::{RejectReason, ServerRejectReason};
use srt_protocol::listener::{
    AccessControlRequest, AccessControlResponse, Action, Input, MultiplexListener,
    NextInputContext, SessionId,
};
use srt_protocol::options::{KeySize, PacketCount, PacketSize};
use srt_protocol::packet::{
    ControlPacket, ControlTypes, HandshakeControlInfo, HandshakeVsInfo, Packet, PacketParseError,
    ReceivePacketError, SeqNumber, ShakeType, SocketId, SocketType, TimeStamp,
};
use srt_protocol::settings::{ConnInitSettings, KeySettings, Passphrase};
use streamrouter::source::{SRT_DEFAULT_LATENCY, srt_feed_id};

const PASSPHRASE: &str = "secretpass1";

/// One feed the port routes to, as `srt_listen` registers it.
struct Route {
    stream_id: Option<&'static str>,
    passphrase: bool,
    /// The feed's `pbkeylen`: a caller announcing another is refused.
    key_size: Option<KeySize>,
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let mut datagrams = Vec::new();
    while let [high, low, tail @ ..] = rest {
        let length = usize::from(u16::from_be_bytes([*high, *low])).min(tail.len());
        let (datagram, tail) = tail.split_at(length);
        datagrams.push(datagram);
        rest = tail;
    }
    run(flags, &datagrams);
});

fn run(flags: u8, datagrams: &[&[u8]]) {
    let mut routes = vec![Route {
        stream_id: Some("cam1"),
        passphrase: flags & 1 != 0,
        key_size: (flags & 64 != 0).then_some(KeySize::AES128),
    }];
    if flags & 2 != 0 {
        routes.push(Route {
            stream_id: None,
            passphrase: flags & 4 != 0,
            key_size: None,
        });
    }
    let ipv6 = flags & 16 != 0;
    let loopback = if ipv6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    };
    let peer = SocketAddr::new(loopback, 40000);
    let settings = ConnInitSettings {
        send_latency: SRT_DEFAULT_LATENCY,
        recv_latency: SRT_DEFAULT_LATENCY,
        ..ConnInitSettings::default()
    };
    let mut now = Instant::now();
    let mut listener = MultiplexListener::new(now, SocketAddr::new(loopback, 9000), settings);
    let mut harness = Harness {
        routes,
        patch_cookie: flags & 8 != 0,
        answer_late: flags & 32 != 0,
        cookie: None,
        answer: None,
        accepted: None,
    };

    let packets: Vec<_> = datagrams
        .iter()
        .map(|datagram| {
            let mut buf: &[u8] = datagram;
            Packet::parse(&mut buf, ipv6)
        })
        .collect();
    let starts_with_induction = matches!(
        packets.first(),
        Some(Ok(Packet::Control(ControlPacket {
            control_type: ControlTypes::Handshake(HandshakeControlInfo {
                shake_type: ShakeType::Induction,
                ..
            }),
            ..
        })))
    );
    if !packets.is_empty() && !starts_with_induction {
        harness.feed(&mut listener, now, Ok(induction(peer)), peer);
    }
    for packet in packets {
        now += Duration::from_millis(10);
        harness.feed(&mut listener, now, packet, peer);
    }
    // A late answer still arrives.
    if let Some(answer) = harness.answer.take() {
        harness.drive(&mut listener, now, Input::AccessResponse(Some(answer)));
    }
    // `feed_id` on its own too: stream ids the handshake parser would not pass.
    if let Some(Ok(text)) = datagrams
        .first()
        .map(|datagram| std::str::from_utf8(datagram))
    {
        check_feed_id(text);
    }
}

/// The daemon's side of the port: routes, and what the listener handed out.
struct Harness {
    routes: Vec<Route>,
    patch_cookie: bool,
    answer_late: bool,
    /// The cookie of the last induction reply.
    cookie: Option<i32>,
    /// The access-control answer not yet given.
    answer: Option<(SessionId, AccessControlResponse)>,
    /// Whether the last caller accepted was given a passphrase.
    accepted: Option<bool>,
}

impl Harness {
    /// One received datagram (parsed, or the parse error srt-tokio hands on).
    fn feed(
        &mut self,
        listener: &mut MultiplexListener,
        now: Instant,
        packet: Result<Packet, PacketParseError>,
        peer: SocketAddr,
    ) {
        let packet = packet.map(|mut packet| {
            if self.patch_cookie
                && let Some(cookie) = self.cookie
                && let Some(shake) = handshake(&mut packet)
                && shake.shake_type == ShakeType::Conclusion
            {
                shake.syn_cookie = cookie;
            }
            (packet, peer)
        });
        let late = self.answer.take();
        self.drive(
            listener,
            now,
            Input::Packet(packet.map_err(ReceivePacketError::from)),
        );
        if let Some(answer) = late {
            self.drive(listener, now, Input::AccessResponse(Some(answer)));
        }
    }

    /// Runs the listener from `input` until it waits, as srt-tokio's listener loop does (every
    /// send succeeds).
    fn drive(&mut self, listener: &mut MultiplexListener, now: Instant, mut input: Input) {
        loop {
            let action = listener.handle_input(now, input);
            let next = NextInputContext::for_action(&action);
            let done = Ok::<(), ()>(());
            input = match action {
                Action::SendPacket((mut packet, _)) => {
                    if let Some(shake) = handshake(&mut packet)
                        && shake.shake_type == ShakeType::Induction
                    {
                        self.cookie = Some(shake.syn_cookie);
                    }
                    serialize(&packet);
                    next.input_from(done)
                }
                Action::RequestAccess(session, request) => {
                    // Given at the next wait (srt-tokio's channel), or after the next datagram.
                    self.answer = Some((session, self.answer_for(&request)));
                    next.input_from(done)
                }
                Action::RejectConnection(_, packet) => {
                    if let Some((packet, _)) = packet {
                        serialize(&packet);
                    }
                    next.input_from(done)
                }
                Action::OpenConnection(_, opened) => {
                    let (packet, connection) = *opened;
                    if let Some((packet, _)) = packet {
                        serialize(&packet);
                    }
                    let encrypted = connection.settings.cipher.is_some();
                    assert_eq!(
                        self.accepted,
                        Some(encrypted),
                        "a feed's passphrase and the connection's encryption disagree"
                    );
                    next.input_from(done)
                }
                Action::DelegatePacket(..)
                | Action::DropConnection(_)
                | Action::UpdateStatistics(_) => next.input_from(done),
                Action::WaitForInput if !self.answer_late => match self.answer.take() {
                    Some(answer) => Input::AccessResponse(Some(answer)),
                    None => return,
                },
                Action::WaitForInput | Action::Close => return,
            };
        }
    }

    /// What `srt_listen::route` answers: the feed for the id, else the feed without id, with
    /// its passphrase at the caller's key size; no feed, or a key size other than the feed's
    /// `pbkeylen`, a rejection.
    fn answer_for(&mut self, request: &AccessControlRequest) -> AccessControlResponse {
        let sent = request.stream_id.as_ref().map_or("", |id| id.as_str());
        let wanted = check_feed_id(sent);
        let chosen = self
            .routes
            .iter()
            .find(|route| route.stream_id == Some(wanted))
            .or_else(|| self.routes.iter().find(|route| route.stream_id.is_none()))
            .filter(
                |route| match (route.passphrase, route.key_size, request.key_size) {
                    (true, Some(wanted), asked) => asked == KeySize::Unspecified || asked == wanted,
                    _ => true,
                },
            );
        self.accepted = chosen.map(|route| route.passphrase);
        match chosen {
            None => AccessControlResponse::Rejected(RejectReason::Server(
                ServerRejectReason::BadRequest,
            )),
            Some(route) => AccessControlResponse::Accepted(route.passphrase.then(|| KeySettings {
                key_size: request.key_size,
                passphrase: Passphrase::from(PASSPHRASE),
            })),
        }
    }
}

/// Our part: the feed id is the whole id, or a piece of an access-control id without a comma.
fn check_feed_id(sent: &str) -> &str {
    let id = srt_feed_id(sent);
    if !id.is_empty() {
        let whole = sent.as_bytes().as_ptr_range();
        let part = id.as_bytes().as_ptr_range();
        assert!(
            whole.start <= part.start && part.end <= whole.end,
            "feed id {id:?} is not a part of {sent:?}"
        );
    }
    if sent.starts_with("#!::") {
        assert!(!id.contains(','), "feed id {id:?} of {sent:?} spans pairs");
    } else {
        assert_eq!(id, sent, "a plain stream id is its own feed id");
    }
    id
}

/// The handshake a packet carries.
fn handshake(packet: &mut Packet) -> Option<&mut HandshakeControlInfo> {
    match packet {
        Packet::Control(ControlPacket {
            control_type: ControlTypes::Handshake(shake),
            ..
        }) => Some(shake),
        _ => None,
    }
}

/// What srt-tokio's socket does with every reply.
fn serialize(packet: &Packet) {
    let mut out = Vec::new();
    packet.serialize(&mut out);
}

/// A libsrt-like HSv5 caller's induction.
fn induction(peer: SocketAddr) -> Packet {
    Packet::Control(ControlPacket {
        timestamp: TimeStamp::from_micros(0),
        dest_sockid: SocketId(0),
        control_type: ControlTypes::Handshake(HandshakeControlInfo {
            init_seq_num: SeqNumber::new_truncate(0x1234_5678),
            max_packet_size: PacketSize(1500),
            max_flow_size: PacketCount(8192),
            shake_type: ShakeType::Induction,
            socket_id: SocketId(0x0bad_cafe),
            syn_cookie: 0,
            peer_addr: peer.ip(),
            info: HandshakeVsInfo::V4(SocketType::Datagram),
        }),
    })
}
