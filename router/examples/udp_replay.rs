//! udp_replay: sends one MPEG-TS file to many UDP ports on 127.0.0.1 in real time, as a rack
//! of encoders would, for the many-feeds benchmark (`bench/feeds.sh`).
//!
//! Usage: `udp_replay FILE BASE_PORT COUNT SECONDS [SPEED]`: COUNT streams to
//! BASE_PORT..BASE_PORT+COUNT, each a copy of FILE looped, paced at the file's own bitrate (its
//! size over its PCR span) times SPEED (default 1: real time; `bench/views.sh` fills long views
//! faster), in 1316-byte datagrams (7 TS packets). Streams are staggered in time so their keyframes do not align.
//! Prints the datagrams sent and the longest sending round (a round much longer than its 2 ms
//! pause means the sender itself could not keep up).

use std::net::UdpSocket;
use std::time::{Duration, Instant};

const DATAGRAM: usize = 7 * 188;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (file, base_port, count, seconds, speed) = match args.as_slice() {
        [_, file, base_port, count, seconds] => (file, base_port, count, seconds, "1"),
        [_, file, base_port, count, seconds, speed] => (file, base_port, count, seconds, &**speed),
        _ => return Err("usage: udp_replay FILE BASE_PORT COUNT SECONDS [SPEED]".into()),
    };
    let speed: f64 = speed.parse()?;
    let data = std::fs::read(file)?;
    let base_port: u16 = base_port.parse()?;
    let count: u16 = count.parse()?;
    let seconds: f64 = seconds.parse()?;
    let span = pcr_span_seconds(&data).ok_or("no PCR span in the file")?;
    let bytes_per_second = data.len() as f64 / span;
    let datagrams_per_second = bytes_per_second * speed / DATAGRAM as f64;
    let chunks: Vec<&[u8]> = data.chunks(DATAGRAM).collect();
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut sent = vec![0u64; usize::from(count)];
    let mut longest_round = Duration::ZERO;
    let mut total = 0u64;
    while Instant::now() < end {
        let round = Instant::now();
        let elapsed = start.elapsed().as_secs_f64();
        for (stream, sent) in sent.iter_mut().enumerate() {
            // Staggered starts: stream k begins k/count of a second late.
            let offset = stream as f64 / f64::from(count);
            let due = ((elapsed - offset).max(0.0) * datagrams_per_second) as u64;
            let port = base_port + stream as u16;
            while *sent < due {
                let index = *sent as usize % chunks.len();
                // A full socket buffer on loopback means the receiver is behind: not counted.
                if socket.send_to(chunks[index], ("127.0.0.1", port)).is_ok() {
                    total += 1;
                }
                *sent += 1;
            }
        }
        longest_round = longest_round.max(round.elapsed());
        std::thread::sleep(Duration::from_millis(2));
    }
    println!(
        "sent {total} datagrams to {count} streams at {:.2} Mbit/s each; longest round {:?}",
        bytes_per_second * speed * 8.0 / 1e6,
        longest_round
    );
    Ok(())
}

/// Seconds between the first and last PCR of the file (its media duration).
fn pcr_span_seconds(data: &[u8]) -> Option<f64> {
    let mut first = None;
    let mut last = None;
    for packet in data.chunks_exact(188) {
        let has_adaptation = packet[3] & 0x20 != 0;
        if packet[0] != 0x47 || !has_adaptation || packet[4] < 7 || packet[5] & 0x10 == 0 {
            continue;
        }
        let b = &packet[6..12];
        let base = (u64::from(b[0]) << 25)
            | (u64::from(b[1]) << 17)
            | (u64::from(b[2]) << 9)
            | (u64::from(b[3]) << 1)
            | (u64::from(b[4]) >> 7);
        first.get_or_insert(base);
        last = Some(base);
    }
    let (first, last) = (first?, last?);
    (last > first).then(|| (last - first) as f64 / 90_000.0)
}
