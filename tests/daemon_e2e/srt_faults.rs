//! SRT sources under faults: an encrypted caller to an open feed and datagrams that used to
//! panic srt-protocol's parser (both refused or dropped while the port's live caller goes on),
//! and a forwarder dropping 2 % of a caller's datagrams (SRT recovers; the loss shows in
//! `/metrics` and `/status`). The peers are ffmpeg (libsrt) callers.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::router;
use crate::daemon::{Daemon, free_udp_port, http_get, wait_until, write_config};
use crate::feeds::local_feed;
use crate::srt::{CAM1_KEY, assert_whole_clip, ffmpeg_push};

/// srt-protocol 0.4.4 panicked when an encrypted caller reached a feed without passphrase
/// (docs/srt-stack.md; patched in vendor/srt-protocol): the caller is refused in the handshake,
/// the port's listener goes on (not bound again), and the next caller is served.
#[test]
fn an_encrypted_caller_to_an_open_feed_does_not_take_the_port_down() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let source = format!("type = \"srt\"\nbind = \"127.0.0.1:{port}\"");
    let out = dir.path().join("out");
    let config = write_config(
        dir.path(),
        "open.toml",
        &local_feed("open", &source, &out, 0),
    );
    let daemon = Daemon::start(&config);
    wait_until("the daemon to listen", Duration::from_secs(10), || {
        daemon.logs().contains("SRT listening")
    });
    let encrypted = Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-i"])
        .arg(router::data("h264_aac.ts"))
        .args(["-t", "1", "-c", "copy", "-f", "mpegts"])
        .arg(format!(
            "srt://127.0.0.1:{port}?mode=caller&passphrase={CAM1_KEY}"
        ))
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg");
    assert!(!encrypted.status.success(), "an encrypted caller was taken");
    let mut plain = ffmpeg_push(&format!("srt://127.0.0.1:{port}?mode=caller"));
    assert!(plain.wait().unwrap().success());
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("SRT caller refused in the handshake"),
        "{logs}"
    );
    assert!(!logs.contains("SRT listener ended"), "{logs}");
    assert_whole_clip(&out.join("open.m3u8"));
}

/// Forwards UDP between one client of `front` and `back`, dropping every 50th datagram from the
/// client (2 %) until the second returned flag is set; runs until the first is.
fn lossy_forwarder(back: SocketAddr) -> (u16, Arc<AtomicBool>, Arc<AtomicBool>) {
    let front = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = front.local_addr().unwrap().port();
    let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
    upstream.connect(back).unwrap();
    for socket in [&front, &upstream] {
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let lossless = Arc::new(AtomicBool::new(false));
    let lossless1 = lossless.clone();
    let client: Arc<std::sync::Mutex<Option<SocketAddr>>> = Arc::default();
    let (front2, upstream2) = (front.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (done1, done2, client2) = (done.clone(), done.clone(), client.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut count = 0u64;
        while !done1.load(Ordering::Relaxed) {
            if let Ok((n, from)) = front.recv_from(&mut buf) {
                *client.lock().unwrap() = Some(from);
                count += 1;
                if !count.is_multiple_of(50) || lossless1.load(Ordering::Relaxed) {
                    let _ = upstream.send(&buf[..n]);
                }
            }
        }
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !done2.load(Ordering::Relaxed) {
            if let Ok(n) = upstream2.recv(&mut buf)
                && let Some(to) = *client2.lock().unwrap()
            {
                let _ = front2.send_to(&buf[..n], to);
            }
        }
    });
    (port, done, lossless)
}

#[test]
fn srt_recovers_two_percent_loss_and_the_metrics_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    // A second of latency on both sides: time to repair every loss even with the machine busy
    // running the rest of the suite (at 120 ms a packet was once given up for good).
    let source = format!(
        "type = \"srt\"\nbind = \"127.0.0.1:{port}\"\nstream_id = \"cam1\"\n\
         passphrase = \"${{CAM1_KEY}}\"\nlatency = \"1s\""
    );
    let out = dir.path().join("out");
    let text =
        "[router]\nlisten = \"127.0.0.1:0\"\n".to_owned() + &local_feed("lossy", &source, &out, 0);
    let config = write_config(dir.path(), "lossy.toml", &text);
    let mut daemon = Daemon::start_with_env(&config, &[("CAM1_KEY", CAM1_KEY)]);
    let base = daemon.status_url(Duration::from_secs(10));
    wait_until("the daemon to listen", Duration::from_secs(10), || {
        daemon.logs().contains("SRT listening")
    });
    let (front, done, lossless) = lossy_forwarder(SocketAddr::from(([127, 0, 0, 1], port)));
    let mut caller = ffmpeg_push(&format!(
        "srt://127.0.0.1:{front}?mode=caller&streamid=cam1&passphrase={CAM1_KEY}&latency=1000000"
    ));
    // While the caller sends: the loss and its repair show in the feed's metrics.
    let metric = |scraped: &str, name: &str| {
        let prefix = format!("{name}{{source=\"lossy\"}} ");
        scraped
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|value| value.trim().parse::<f64>().ok())
    };
    let scrape = || String::from_utf8(http_get(&format!("{base}metrics")).2).unwrap();
    wait_until(
        "a repaired loss in the metrics",
        Duration::from_secs(12),
        || {
            let scraped = scrape();
            let above = |name: &str, floor: f64| metric(&scraped, name).is_some_and(|v| v > floor);
            above("streamrouter_srt_packets_retransmitted_total", 0.0)
                && above("streamrouter_srt_packets_received_total", 100.0)
                && above("streamrouter_srt_receive_bits_per_second", 100_000.0)
        },
    );
    let scraped = scrape();
    let sample =
        |name: &str| metric(&scraped, name).unwrap_or_else(|| panic!("no {name} in\n{scraped}"));
    assert!(
        sample("streamrouter_srt_packets_received_total") > 100.0,
        "{scraped}"
    );
    assert!(
        sample("streamrouter_srt_loss_reports_total") > 0.0,
        "{scraped}"
    );
    assert!(
        sample("streamrouter_srt_packets_retransmitted_total") > 0.0,
        "{scraped}"
    );
    assert!(sample("streamrouter_srt_connected") == 1.0, "{scraped}");
    assert!(
        sample("streamrouter_srt_receive_bits_per_second") > 100_000.0,
        "{scraped}"
    );
    let rtt = sample("streamrouter_srt_handshake_rtt_seconds");
    assert!(rtt > 0.0 && rtt < 1.0, "{scraped}");
    // `/status` shows the same link on the source's node, with the peer (the forwarder), and
    // no passphrase.
    let status_text = String::from_utf8(http_get(&format!("{base}status")).2).unwrap();
    assert!(
        !status_text.contains(CAM1_KEY),
        "/status shows the passphrase"
    );
    let status: serde_json::Value = serde_json::from_str(&status_text).unwrap();
    let nodes = status["nodes"].as_array().unwrap();
    let node = nodes.iter().find(|node| node["node"] == "sources.lossy");
    let link = &node.unwrap_or_else(|| panic!("no source in {status_text}"))["srt"];
    let count = |key: &str| {
        link[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key}: {link}"))
    };
    assert!(
        link["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{link}"
    );
    assert_eq!(count("connections"), 1, "{link}");
    assert!(count("packets_received") > 100, "{link}");
    assert!(
        count("loss_reports") > 0 && count("packets_retransmitted") > 0,
        "{link}"
    );
    assert!(count("receive_bits_per_second") > 100_000, "{link}");
    assert!(
        (1..1_000_000).contains(&count("handshake_rtt_us")),
        "{link}"
    );
    assert_eq!(
        sample("streamrouter_srt_packets_dropped_total"),
        0.0,
        "{scraped}"
    );
    // The repair was shown: the rest goes through whole. A live-mode caller that ends closes
    // without waiting for its last packets' acknowledgements, so a loss in its last
    // round trip cannot be repaired by any receiver (the clip was then once cut short).
    lossless.store(true, Ordering::Relaxed);
    assert!(caller.wait().unwrap().success());
    wait_until(
        "the caller's connection to close",
        Duration::from_secs(10),
        || daemon.logs().contains("SRT connection closed"),
    );
    done.store(true, Ordering::Relaxed);
    // Shown if a segment then fails to decode: whether SRT gave packets up (this test has
    // failed under the whole suite's load with one segment cut short, cause not found yet).
    let counters = scrape();
    let srt_lines = counters
        .lines()
        .filter(|line| line.starts_with("streamrouter_srt_"));
    eprintln!(
        "SRT counters at the end:\n{}",
        srt_lines.collect::<Vec<_>>().join("\n")
    );
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    eprintln!("daemon log tail:\n{}", crate::daemon::tail(&logs, 30));
    assert_whole_clip(&out.join("lossy.m3u8"));
}

/// Datagrams that made srt-protocol 0.4.4's packet parser panic and drop every caller on the
/// port (docs/srt-stack.md, defects; patched in vendor/srt-protocol): the conclusion of libsrt's
/// `srt-live-transmit ...&streamid=cam1&transtype=file` (a congestion extension, captured by
/// fuzz/srt-capture.py), and the smallest datagram with an empty stream id extension.
const PANICKING_DATAGRAMS: [&str; 2] = [
    "80000000 00000000 0000021a 00000000 00000005 00000005 7c666f40 000005dc 00002000 ffffffff \
     0788aceb e35745b8 0100007f 00000000 00000000 00000000 00010003 00010501 000000e4 00000000 \
     00050001 316d6163 00060001 656c6966",
    "80000000 00000000 00000000 00000000 00000005 00000004 00001234 000005dc 00002000 ffffffff \
     00000007 00000000 00000000 00000000 00000000 00000000 00050000 00000000",
];

/// While ffmpeg pushes to a listener feed, another socket sends the datagrams that panicked
/// srt-protocol 0.4.4's parser: dropped, the caller's connection stays up, the port is never
/// bound again and the clip arrives whole.
#[test]
fn datagrams_that_panicked_the_srt_parser_leave_a_live_caller_connected() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let source = format!(
        "type = \"srt\"\nbind = \"127.0.0.1:{port}\"\nstream_id = \"cam1\"\n\
         passphrase = \"${{CAM1_KEY}}\""
    );
    let out = dir.path().join("out");
    let config = write_config(
        dir.path(),
        "attacked.toml",
        &local_feed("cam1", &source, &out, 0),
    );
    let daemon = Daemon::start_with_env(&config, &[("CAM1_KEY", CAM1_KEY)]);
    wait_until("the daemon to listen", Duration::from_secs(10), || {
        daemon.logs().contains("SRT listening")
    });
    let mut caller = ffmpeg_push(&format!(
        "srt://127.0.0.1:{port}?mode=caller&streamid=cam1&passphrase={CAM1_KEY}&pbkeylen=16"
    ));
    wait_until("the caller to connect", Duration::from_secs(15), || {
        daemon.logs().contains("SRT caller connected")
    });
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let datagrams = PANICKING_DATAGRAMS.map(|hex| {
        let digits: Vec<u8> = hex.bytes().filter(u8::is_ascii_hexdigit).collect();
        let byte = |pair: &[u8]| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16);
        digits
            .chunks(2)
            .map(|pair| byte(pair).unwrap())
            .collect::<Vec<u8>>()
    });
    assert_eq!(datagrams.each_ref().map(Vec::len), [96, 72]);
    // Each a few times, over a few seconds of the clip.
    for _ in 0..3 {
        for datagram in &datagrams {
            other.send_to(datagram, ("127.0.0.1", port)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(caller.wait().unwrap().success(), "ffmpeg's push failed");
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    assert!(!logs.contains("SRT listener ended"), "{logs}");
    assert_eq!(logs.matches("SRT listening").count(), 1, "{logs}");
    assert_eq!(logs.matches("SRT caller connected").count(), 1, "{logs}");
    assert_whole_clip(&out.join("cam1.m3u8"));
}
