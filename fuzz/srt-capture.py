#!/usr/bin/env python3
"""Captures real SRT handshakes for the srt_handshake fuzz target's corpus.

libsrt callers (ffmpeg, srt-live-transmit) connect through a UDP relay on 127.0.0.1 to an
srt-live-transmit listener (with and without passphrase; stream ids plain and
`#!::r=cam1,m=publish`). Every caller->listener datagram of a caller's first second is saved as
one corpus file, and each caller's handshake datagrams (plus its first others) as one more, in
the target's input format: a flags byte, then each datagram as a big-endian u16 length and its
bytes (fuzz_targets/srt_handshake.rs says what the flags mean).

Usage: srt-capture.py OUT_DIR CLIP. Needs ffmpeg and srt-live-transmit (Debian srt-tools).
"""

import hashlib
import os
import selectors
import socket
import struct
import subprocess
import sys
import time

PASSPHRASE = "secretpass1"
ACCESS_ID = "#!::r=cam1,m=publish"
SECONDS = 1.0
MAX_CALLERS = 4
# Flags of the target: bit 0, feed cam1 has a passphrase; bit 1, a feed without stream id;
# bit 2, that feed has a passphrase; bit 3, conclusions carry the listener's cookie.
PATCH_COOKIE = 8


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def srt_url(port, query):
    return f"srt://127.0.0.1:{port}?mode=caller&" + "&".join(query)


def ffmpeg(clip, query):
    return lambda port: [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "quiet", "-re", "-i", clip, "-t", "3",
        "-c", "copy", "-f", "mpegts", srt_url(port, query),
    ]


def live_transmit(query):
    return lambda port: ["srt-live-transmit", "-q", "file://con", srt_url(port, query)]


def cases(clip):
    """(name, listener passphrase, target flags, caller command for the relay's port)."""
    secret = [f"passphrase={PASSPHRASE}"]
    return [
        ("ffmpeg-plain", None, 0, ffmpeg(clip, ["streamid=cam1"])),
        ("ffmpeg-access", None, 0, ffmpeg(clip, [f"streamid={ACCESS_ID}"])),
        ("ffmpeg-other-id", None, 2, ffmpeg(clip, ["streamid=open"])),
        ("ffmpeg-aes128", PASSPHRASE, 1, ffmpeg(clip, ["streamid=cam1", *secret, "pbkeylen=16"])),
        ("ffmpeg-aes256-access", PASSPHRASE, 1,
         ffmpeg(clip, [f"streamid={ACCESS_ID}", *secret, "pbkeylen=32"])),
        ("ffmpeg-aes-nokeylen", PASSPHRASE, 1, ffmpeg(clip, ["streamid=cam1", *secret])),
        ("ffmpeg-wrong-pass", PASSPHRASE, 1,
         ffmpeg(clip, ["streamid=cam1", "passphrase=wrongpass99", "pbkeylen=16"])),
        ("ffmpeg-no-pass-to-aes", PASSPHRASE, 1, ffmpeg(clip, ["streamid=cam1"])),
        ("slt-access-aes192", PASSPHRASE, 1,
         live_transmit([f"streamid={ACCESS_ID}", *secret, "pbkeylen=24"])),
        ("slt-no-id", None, 2, live_transmit([])),
        ("slt-no-id-aes", PASSPHRASE, 6, live_transmit([*secret, "pbkeylen=16"])),
        ("slt-fec", None, 0, live_transmit(["streamid=cam1", "packetfilter=fec,cols:4,rows:2"])),
        ("slt-file-congestion", None, 0, live_transmit(["streamid=cam1", "transtype=file"])),
    ]


def relay(listen_port, relay_sock, deadline_after_first):
    """Relays for a while after the first caller (at most MAX_CALLERS of them); returns each
    caller's datagrams in order."""
    selector = selectors.DefaultSelector()
    selector.register(relay_sock, selectors.EVENT_READ, None)
    upstream = {}  # caller address -> (socket to the listener, first datagram time, datagrams)
    start = time.monotonic()
    while True:
        now = time.monotonic()
        firsts = [first for _, first, _ in upstream.values()]
        # A refused libsrt caller retries from a new port at once: the first second of them.
        if firsts and now > min(firsts) + deadline_after_first:
            break
        if not firsts and now > start + 5:
            break
        for key, _ in selector.select(timeout=0.05):
            sock, caller = key.fileobj, key.data
            data, address = sock.recvfrom(65536)
            if caller is None:  # from a caller, to the listener
                if address not in upstream and len(upstream) >= MAX_CALLERS:
                    continue
                if address not in upstream:
                    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    up.connect(("127.0.0.1", listen_port))
                    selector.register(up, selectors.EVENT_READ, address)
                    upstream[address] = (up, time.monotonic(), [])
                up, first, datagrams = upstream[address]
                if time.monotonic() - first <= SECONDS:
                    datagrams.append(data)
                up.send(data)
            else:  # from the listener, back to its caller
                relay_sock.sendto(data, caller)
    for up, _, _ in upstream.values():
        up.close()
    return [datagrams for _, _, datagrams in upstream.values()]


def frame(flags, datagrams):
    return bytes([flags]) + b"".join(struct.pack(">H", len(d)) + d for d in datagrams)


def is_handshake(datagram):
    # Control bit set and control type 0 (handshake).
    return len(datagram) >= 4 and datagram[0] & 0x80 and (datagram[0] & 0x7F, datagram[1]) == (0, 0)


def save(out, name, content):
    digest = hashlib.sha1(content).hexdigest()[:12]
    with open(os.path.join(out, f"{name}-{digest}"), "wb") as file:
        file.write(content)


def main():
    out, clip = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    total = 0
    for name, passphrase, flags, caller in cases(clip):
        listen_port = free_udp_port()
        url = f"srt://:{listen_port}?mode=listener"
        if passphrase:
            url += f"&passphrase={passphrase}"
        listener = subprocess.Popen(
            ["srt-live-transmit", "-q", url, "file://con"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        relay_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        relay_sock.bind(("127.0.0.1", 0))
        time.sleep(0.3)
        # srt-live-transmit cannot poll a regular file on stdin: a pipe.
        feeder = subprocess.Popen(["cat", clip], stdout=subprocess.PIPE)
        peer = subprocess.Popen(caller(relay_sock.getsockname()[1]), stdin=feeder.stdout,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        feeder.stdout.close()
        sessions = relay(listen_port, relay_sock, SECONDS + 0.2)
        for process in (peer, feeder, listener):
            process.kill()
            process.wait()
        relay_sock.close()
        flags |= PATCH_COOKIE
        seen = set()
        for datagrams in sessions:
            for datagram in datagrams:
                if datagram not in seen:
                    seen.add(datagram)
                    save(out, name, frame(flags, [datagram]))
            handshake = [d for d in datagrams if is_handshake(d)]
            others = [d for d in datagrams if not is_handshake(d)][:4]
            save(out, name + "-session", frame(flags, handshake + others))
        count = sum(len(d) for d in sessions)
        total += count
        print(f"{name}: {len(sessions)} caller(s), {count} datagrams", file=sys.stderr)
    if total == 0:
        sys.exit("no datagram captured")


if __name__ == "__main__":
    main()
