//! The `udp` source: datagrams on a bound address, optionally joining an IPv4 multicast group.
//! A UDP source never disconnects; a silence of a few seconds after data was flowing is logged
//! once as a stall, and the data that follows is announced with `Restarted`.
//!
//! Owns the socket (SO_REUSEADDR, a large receive buffer, the multicast join) and rebinding
//! with backoff, and the rule of what it may join ([`UdpSource`], made by compile). Must not reorder or drop datagrams; must not parse them.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::Stop;
use super::backoff::Backoff;
use super::emit::Emitter;

/// Silence after which a flowing UDP source counts as stalled.
#[cfg(not(test))]
const STALL: Duration = Duration::from_secs(5);
#[cfg(test)]
const STALL: Duration = Duration::from_millis(300);
/// Receive buffer asked for (the kernel may cap it at `net.core.rmem_max`).
const RECV_BUFFER: usize = 4 * 1024 * 1024;
/// Datagrams already waiting are batched into one chunk up to about this size.
const BATCH: usize = 32 * 1024;
/// Largest UDP payload.
const MAX_DATAGRAM: usize = 64 * 1024;

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("creating the socket: {0}")]
    Create(#[source] io::Error),
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("joining multicast group {group} on {interface}: {source}")]
    Join {
        group: Ipv4Addr,
        interface: Ipv4Addr,
        source: io::Error,
    },
    #[error("registering the socket: {0}")]
    Register(#[source] io::Error),
}

/// Receives as `source` says until shutdown (its group, if any, is a multicast address on an
/// IPv4 bind: compile made it a [`UdpSource`]).
pub(crate) async fn run(source: UdpSource, out: &mut Emitter) -> Stop {
    let (bind, group) = (source.bind(), source.group());
    let shutdown = out.shutdown().clone();
    let mut backoff = Backoff::default();
    loop {
        match open(bind, group, source.join_interface()) {
            Ok(socket) => {
                tracing::info!(%bind, group = ?group, "receiving UDP");
                backoff.up();
                match receive(&socket, out).await {
                    Ok(error) => {
                        tracing::warn!(%error, "UDP receive failed; reopening the socket");
                        out.new_stream("UDP socket reopened");
                    }
                    Err(stop) => return stop,
                }
            }
            Err(error) => tracing::warn!(%error, "cannot open UDP socket; will retry"),
        }
        if let Err(stop) = backoff.wait(&shutdown).await {
            return stop;
        }
    }
}

fn open(
    bind: SocketAddr,
    group: Option<Ipv4Addr>,
    interface: Ipv4Addr,
) -> Result<UdpSocket, OpenError> {
    let socket = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP))
        .map_err(OpenError::Create)?;
    socket.set_reuse_address(true).map_err(OpenError::Create)?;
    match socket.set_recv_buffer_size(RECV_BUFFER) {
        Err(error) => tracing::debug!(%error, "cannot enlarge the UDP receive buffer"),
        Ok(()) => {
            if let Ok(size) = socket.recv_buffer_size()
                && size < RECV_BUFFER
            {
                tracing::debug!(size, "UDP receive buffer capped (see net.core.rmem_max)");
            }
        }
    }
    socket.set_nonblocking(true).map_err(OpenError::Create)?;
    socket
        .bind(&bind.into())
        .map_err(|source| OpenError::Bind { addr: bind, source })?;
    if let Some(group) = group {
        socket
            .join_multicast_v4(&group, &interface)
            .map_err(|source| OpenError::Join {
                group,
                interface,
                source,
            })?;
    }
    UdpSocket::from_std(socket.into()).map_err(OpenError::Register)
}

/// Receives until shutdown (`Err`) or a receive error (`Ok`, to reopen the socket).
async fn receive(socket: &UdpSocket, out: &mut Emitter) -> Result<io::Error, Stop> {
    let shutdown = out.shutdown().clone();
    // Datagrams land back to back in one reusable buffer; each batch is copied out at its
    // exact size, so a trickle of single datagrams never pins big allocations downstream.
    let mut buf = vec![0u8; BATCH + MAX_DATAGRAM];
    let mut flowing = false;
    let mut stalled = false;
    loop {
        let watch = flowing && !stalled;
        let recv = async {
            if watch {
                tokio::time::timeout(STALL, socket.recv_from(&mut buf))
                    .await
                    .ok()
            } else {
                Some(socket.recv_from(&mut buf).await)
            }
        };
        let received = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Err(Stop::Shutdown),
            received = recv => received,
        };
        let (len, peer) = match received {
            Some(Ok(received)) => received,
            Some(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
            Some(Err(error)) => return Ok(error),
            None => {
                tracing::warn!(silence = ?STALL, "no UDP data; source stalled");
                stalled = true;
                out.new_stream("resumed after gap");
                continue;
            }
        };
        if stalled {
            tracing::info!(%peer, "UDP data resumed");
            stalled = false;
        } else if !flowing {
            tracing::info!(%peer, "UDP data flowing");
        }
        flowing = true;
        let mut filled = len;
        while filled < BATCH {
            match socket.try_recv_from(&mut buf[filled..]) {
                Ok((len, _)) => filled += len,
                // WouldBlock: nothing waiting; other errors show up at the next recv.
                Err(_) => break,
            }
        }
        out.data(Bytes::copy_from_slice(&buf[..filled])).await?;
    }
}

/// Where a udp source receives: `bind`, and the IPv4 multicast `group` it joins, if any, on
/// `interface` (any when not set). A group is always a multicast address and comes with an
/// IPv4 `bind`. An `interface` without a group is kept as written (compile warns that it is
/// ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpSource {
    bind: SocketAddr,
    group: Option<Ipv4Addr>,
    interface: Option<Ipv4Addr>,
}

/// Why a multicast `group` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MulticastError {
    /// Reported at `group`.
    #[error("`{0}` is not a multicast address (224.0.0.0/4)")]
    NotMulticast(Ipv4Addr),
    /// Reported at `bind`.
    #[error("an IPv4 multicast `group` needs an IPv4 `bind` address")]
    Ipv6Bind,
}

impl UdpSource {
    /// Receives on `bind`, joining `group` on `interface` when there is a group.
    pub fn new(
        bind: SocketAddr,
        group: Option<Ipv4Addr>,
        interface: Option<Ipv4Addr>,
    ) -> Result<Self, MulticastError> {
        if let Some(group) = group {
            Self::check_group(group)?;
            if bind.is_ipv6() {
                return Err(MulticastError::Ipv6Bind);
            }
        }
        Ok(Self {
            bind,
            group,
            interface,
        })
    }

    /// Whether `group` may be joined at all (whatever the bind address).
    pub fn check_group(group: Ipv4Addr) -> Result<(), MulticastError> {
        if group.is_multicast() {
            Ok(())
        } else {
            Err(MulticastError::NotMulticast(group))
        }
    }

    /// `bind`.
    pub fn bind(&self) -> SocketAddr {
        self.bind
    }

    /// The multicast group joined, if any.
    pub fn group(&self) -> Option<Ipv4Addr> {
        self.group
    }

    /// `interface` as written (it only matters with a group).
    pub fn interface(&self) -> Option<Ipv4Addr> {
        self.interface
    }

    /// The interface of the join: `interface`, or any.
    pub fn join_interface(&self) -> Ipv4Addr {
        self.interface.unwrap_or(Ipv4Addr::UNSPECIFIED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::SourceKind;
    use crate::source::SourceEvent;
    use crate::source::testutil::Harness;

    const DATAGRAM: usize = 1316;

    fn datagram(seq: u32) -> Vec<u8> {
        let mut d = vec![(seq % 251) as u8; DATAGRAM];
        d[..4].copy_from_slice(&seq.to_be_bytes());
        d
    }

    fn seqs(bytes: &[u8]) -> Vec<u32> {
        assert_eq!(bytes.len() % DATAGRAM, 0);
        bytes
            .chunks(DATAGRAM)
            .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
            .collect()
    }

    fn free_port() -> SocketAddr {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    #[tokio::test]
    async fn receives_in_order_and_restarts_after_a_gap() {
        let bind = free_port();
        let mut h = Harness::start(SourceKind::Udp(UdpSource::new(bind, None, None).unwrap()));
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // Probe (seq 0) until the source is bound and delivering.
        let mut got = loop {
            sender.send_to(&datagram(0), bind).unwrap();
            if let Ok(Some(event)) =
                tokio::time::timeout(Duration::from_millis(50), h.next(Duration::from_secs(5)))
                    .await
            {
                match event {
                    SourceEvent::Data(bytes) => break bytes.to_vec(),
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
        for seq in 1..=60 {
            sender.send_to(&datagram(seq), bind).unwrap();
            if seq % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        while seqs(&got).last() != Some(&60) {
            got.extend_from_slice(&h.data(Duration::from_secs(2)).await);
        }
        let data: Vec<u32> = seqs(&got).into_iter().filter(|&s| s != 0).collect();
        assert_eq!(data, (1..=60).collect::<Vec<_>>());

        h.nothing_for(STALL + Duration::from_millis(200)).await;
        sender.send_to(&datagram(61), bind).unwrap();
        assert_eq!(
            h.restarted(Duration::from_secs(2)).await,
            "resumed after gap"
        );
        assert_eq!(seqs(&h.data(Duration::from_secs(2)).await), vec![61]);
        h.stop_promptly().await;
    }

    /// Multicast over the loopback interface only (join and send both on 127.0.0.1).
    #[tokio::test]
    async fn joins_a_multicast_group_on_an_interface() {
        let port = free_port().port();
        let group = Ipv4Addr::new(239, 255, 42, 1);
        let bind = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
        let udp = UdpSource::new(bind, Some(group), Some(Ipv4Addr::LOCALHOST)).unwrap();
        let mut h = Harness::start(SourceKind::Udp(udp));
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket2::SockRef::from(&sender)
            .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
            .unwrap();
        let got = loop {
            sender.send_to(&datagram(7), (group, port)).unwrap();
            let next = h.next(Duration::from_secs(5));
            if let Ok(event) = tokio::time::timeout(Duration::from_millis(50), next).await {
                break event;
            }
        };
        assert!(matches!(got, Some(SourceEvent::Data(b)) if seqs(&b)[0] == 7));
        h.stop_promptly().await;
    }

    #[tokio::test]
    async fn a_failing_join_is_retried_until_shutdown() {
        let bind = SocketAddr::from((Ipv4Addr::UNSPECIFIED, free_port().port()));
        let group = Some(Ipv4Addr::new(239, 255, 42, 2));
        // TEST-NET-1: no local interface has it.
        let interface = Some(Ipv4Addr::new(192, 0, 2, 1));
        let udp = UdpSource::new(bind, group, interface).unwrap();
        let mut h = Harness::start(SourceKind::Udp(udp));
        h.nothing_for(Duration::from_millis(700)).await;
        h.stop_promptly().await;
    }

    #[test]
    fn a_group_is_multicast_on_an_ipv4_bind() {
        let v4: SocketAddr = "0.0.0.0:5000".parse().unwrap();
        let v6: SocketAddr = "[::]:5000".parse().unwrap();
        let group = Ipv4Addr::new(239, 1, 1, 1);
        let joined = UdpSource::new(v4, Some(group), None).unwrap();
        assert_eq!(joined.group(), Some(group));
        assert_eq!(joined.join_interface(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            UdpSource::new(v4, Some(Ipv4Addr::LOCALHOST), None),
            Err(MulticastError::NotMulticast(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(
            UdpSource::new(v6, Some(group), None),
            Err(MulticastError::Ipv6Bind)
        );
        assert!(UdpSource::new(v6, None, Some(Ipv4Addr::LOCALHOST)).is_ok());
    }
}
