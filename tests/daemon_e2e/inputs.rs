//! Every live input kind driven through the daemon with real traffic: ffmpeg over TCP, an HTTP
//! server, ffmpeg as a child process, stdin. Each interruption must show in the playlist as an
//! `#EXT-X-DISCONTINUITY` with numbering that goes on.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::m3u8::Playlist;
use crate::common::{ff, router};
use crate::daemon::{Daemon, read_if_exists, wait_until, write_config};
use crate::feeds::local_feed;

fn playlist_at(path: &Path) -> Option<Playlist> {
    read_if_exists(path).map(|text| Playlist::parse(&text))
}

/// Waits for a playlist with a discontinuity after at least `before` segments.
fn wait_for_discontinuity(playlist: &Path, timeout: Duration) -> Playlist {
    wait_until("a discontinuity in the playlist", timeout, || {
        playlist_at(playlist).is_some_and(|p| p.entries.iter().skip(1).any(|e| e.discontinuity))
    });
    playlist_at(playlist).expect("playlist")
}

/// Every listed segment decodes alone without an error. (Decoding the whole playlist across a
/// discontinuity makes ffmpeg 5.1 print a muxer timestamp warning, as it does for the inputs
/// themselves.)
fn assert_segments_decode(playlist_path: &Path) {
    let text = std::fs::read_to_string(playlist_path).unwrap();
    let dir = playlist_path.parent().unwrap();
    for uri in Playlist::parse(&text).uris() {
        ff::assert_decodes_cleanly(&dir.join(uri));
    }
}

/// Segment numbers (the digits after the last `-` of each name) go up by one, with no gap.
pub(crate) fn assert_numbering_goes_on(playlist: &Playlist) {
    let numbers: Vec<u64> = playlist
        .uris()
        .iter()
        .map(|uri| {
            uri.trim_end_matches(".ts")
                .rsplit('-')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    for pair in numbers.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "{numbers:?}");
    }
}

#[test]
fn tcp_senders_one_after_another_continue_the_playlist() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let source = format!("type = \"tcp\"\nlisten = \"127.0.0.1:{port}\"");
    let config = write_config(dir.path(), "tcp.toml", &local_feed("tcp", &source, &out, 0));
    let daemon = Daemon::start(&config);
    wait_until("the daemon to start", Duration::from_secs(10), || {
        daemon.logs().contains("graph running")
    });
    for _ in 0..2 {
        let sent = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(router::data("h264_aac.ts"))
            .args(["-c", "copy", "-f", "mpegts"])
            .arg(format!("tcp://127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .status()
            .expect("ffmpeg sender");
        assert!(sent.success());
    }
    let playlist = wait_for_discontinuity(&out.join("tcp.m3u8"), Duration::from_secs(10));
    assert_numbering_goes_on(&playlist);
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    let text = std::fs::read_to_string(out.join("tcp.m3u8")).unwrap();
    let last = Playlist::parse(&text);
    assert!(last.endlist);
    // Two copies of the 12 s clip.
    assert!((last.total_duration() - 24.0).abs() < 1.0, "{text}");
    assert_segments_decode(&out.join("tcp.m3u8"));
}

#[test]
fn http_pull_reconnects_when_the_body_ends() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let clip = std::fs::read(router::data("h264_aac.ts")).unwrap();
    std::thread::spawn(move || {
        for stream in server.incoming().take(3).flatten() {
            let mut stream = stream;
            let mut request = [0u8; 1024];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                clip.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&clip);
        }
    });
    let source = format!("type = \"http\"\nurl = \"http://127.0.0.1:{port}/live.ts\"");
    let config = write_config(
        dir.path(),
        "http.toml",
        &local_feed("web", &source, &out, 0),
    );
    let daemon = Daemon::start(&config);
    let playlist = wait_for_discontinuity(&out.join("web.m3u8"), Duration::from_secs(15));
    assert_numbering_goes_on(&playlist);
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    assert_segments_decode(&out.join("web.m3u8"));
}

#[test]
fn an_ffmpeg_child_process_is_restarted_when_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let clip = router::data("h264_aac.ts");
    let source = format!(
        "type = \"exec\"\ncommand = [\"ffmpeg\", \"-v\", \"error\", \"-i\", \"{}\", \"-c\", \"copy\", \"-f\", \"mpegts\", \"-\"]",
        clip.display()
    );
    let config = write_config(
        dir.path(),
        "exec.toml",
        &local_feed("enc", &source, &out, 0),
    );
    let daemon = Daemon::start(&config);
    let playlist = wait_for_discontinuity(&out.join("enc.m3u8"), Duration::from_secs(15));
    assert_numbering_goes_on(&playlist);
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    assert_segments_decode(&out.join("enc.m3u8"));
}

#[test]
fn stdin_feed_ends_with_endlist_at_end_of_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let config = write_config(
        dir.path(),
        "stdin.toml",
        &local_feed("pipe", "type = \"stdin\"", &out, 0),
    );
    let daemon =
        Daemon::start_with_stdin(&config, std::fs::read(router::data("h264_aac.ts")).unwrap());
    let path = out.join("pipe.m3u8");
    wait_until("the piped feed to end", Duration::from_secs(10), || {
        playlist_at(&path).is_some_and(|p| p.endlist)
    });
    let playlist = playlist_at(&path).unwrap();
    assert!((playlist.total_duration() - 12.0).abs() < 0.1);
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");
    ff::assert_decodes_cleanly(&path);
}

#[test]
fn a_broken_feed_or_sink_does_not_disturb_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A sink whose directory can never be created: its parent is a regular file.
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, b"not a directory").unwrap();
    let clip = format!(
        "type = \"file\"\npath = \"{}\"",
        router::data("h264_aac.ts").display()
    );
    let garbage = format!(
        "type = \"file\"\npath = \"{}\"",
        router::data("not_ts.bin").display()
    );
    let config = [
        local_feed("good", &clip, &out, 0),
        local_feed("garbage", &garbage, &out, 0),
        local_feed("blocked", &clip, &blocked.join("sub"), 0),
    ]
    .concat();
    let config = write_config(dir.path(), "mixed.toml", &config);
    let daemon = Daemon::start(&config);
    let good = out.join("good.m3u8");
    wait_until("the good feed to finish", Duration::from_secs(15), || {
        playlist_at(&good).is_some_and(|p| p.endlist)
    });
    assert!(!out.join("garbage.m3u8").exists());
    let (status, logs) = daemon.stop(Duration::from_secs(20));
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("blocked_web"),
        "the failing sink is reported:\n{logs}"
    );
    let playlist = playlist_at(&good).unwrap();
    assert!((playlist.total_duration() - 12.0).abs() < 0.1);
    assert_segments_decode(&good);
}
