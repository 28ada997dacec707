#!/usr/bin/env python3
"""Deterministic MPEG-TS damage tool used to build streamrouter's test inputs.

Needs: python3 (stdlib only).  Used by scripts/make-test-inputs.sh.

Every subcommand reads IN and writes OUT; everything random is driven by
--seed, so the same input and seed always give byte-identical output.

Subcommands:
  drop        remove a fraction of 188-byte packets (random, seeded)
  cc-corrupt  change the continuity counter of N payload packets
  garbage     insert N chunks of random junk (some containing 0x47 bytes,
              some even looking like a run of sync bytes) between packets
  truncate    cut the file at a byte offset that is not a multiple of 188
  skip-to     drop everything before a byte offset (rounded down to 188)
  not-ts      write random bytes that contain no 0x47 at all (OUT only)
  pes-pts     print "offset pid pts seconds [RAI]" for every PES start, as
              read from the raw headers without any wrap correction (for
              checking; resyncs over junk between packets)

Examples:
  damage_ts.py drop in.ts out.ts --fraction 0.01 --seed 1
  damage_ts.py truncate in.ts out.ts --fraction 0.7
  damage_ts.py pes-pts in.ts --pid 0x100
"""

import argparse
import random
import sys

TS = 188
SYNC = 0x47


def read_packets(path):
    """Return the list of 188-byte packets of a clean, aligned TS file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % TS:
        sys.exit(f"{path}: size {len(data)} is not a multiple of {TS}")
    pkts = [data[i:i + TS] for i in range(0, len(data), TS)]
    for n, p in enumerate(pkts):
        if p[0] != SYNC:
            sys.exit(f"{path}: packet {n} has no sync byte")
    return pkts


def pid_of(p):
    return ((p[1] & 0x1F) << 8) | p[2]


def has_payload(p):
    return bool(p[3] & 0x10)


def write(path, chunks):
    with open(path, "wb") as f:
        for c in chunks:
            f.write(c)


def psi_pids(pkts):
    """PAT (0), SDT (0x11) and every PMT PID listed in the first PAT."""
    pids = {0x0000, 0x0011}
    for p in pkts:
        if pid_of(p) != 0 or not (p[1] & 0x40):
            continue
        i = 4 + (1 + p[4] if p[3] & 0x20 else 0)
        i += 1 + p[i]                      # pointer_field
        length = ((p[i + 1] & 0x0F) << 8) | p[i + 2]
        j, end = i + 8, i + 3 + length - 4  # program loop, minus CRC
        while j + 4 <= end:
            prog = (p[j] << 8) | p[j + 1]
            if prog != 0:
                pids.add(((p[j + 2] & 0x1F) << 8) | p[j + 3])
            j += 4
        break
    return pids


def protected(n, p, keep_first, psi):
    """Packets we never damage: the first few (so the first PAT/PMT and the
    start of the first keyframe survive) and all PSI packets."""
    return n < keep_first or pid_of(p) in psi


def cmd_drop(a):
    pkts = read_packets(a.input)
    rng = random.Random(a.seed)
    psi = psi_pids(pkts)
    out, dropped = [], 0
    for n, p in enumerate(pkts):
        if (not protected(n, p, a.keep_first, psi)
                and rng.random() < a.fraction):
            dropped += 1
            continue
        out.append(p)
    write(a.output, out)
    print(f"drop: removed {dropped} of {len(pkts)} packets "
          f"({100.0 * dropped / len(pkts):.2f}%)")


def cmd_cc_corrupt(a):
    pkts = read_packets(a.input)
    rng = random.Random(a.seed)
    psi = psi_pids(pkts)
    candidates = [n for n, p in enumerate(pkts)
                  if not protected(n, p, a.keep_first, psi)
                  and pid_of(p) != 0x1FFF and has_payload(p)]
    chosen = sorted(rng.sample(candidates, min(a.count, len(candidates))))
    for n in chosen:
        p = bytearray(pkts[n])
        cc = p[3] & 0x0F
        new = (cc + rng.randint(2, 15)) & 0x0F  # never cc or cc+1
        p[3] = (p[3] & 0xF0) | new
        pkts[n] = bytes(p)
    write(a.output, pkts)
    print(f"cc-corrupt: changed CC of {len(chosen)} packets: "
          + ",".join(str(n) for n in chosen))


def junk(rng, size, kind):
    b = bytearray(rng.getrandbits(8) for _ in range(size))
    if kind == 1:
        # a few stray sync bytes at random places
        for _ in range(max(1, size // 50)):
            b[rng.randrange(size)] = SYNC
    elif kind == 2:
        # fake sync pattern: 0x47 every 188 bytes (only up to `size`)
        start = rng.randrange(min(size, TS))
        for i in range(start, size, TS):
            b[i] = SYNC
    elif kind == 3:
        # starts with a sync byte, as if a packet started here
        b[0] = SYNC
    return bytes(b)


def cmd_garbage(a):
    pkts = read_packets(a.input)
    rng = random.Random(a.seed)
    # insertion points: before packet n (never before packet 0)
    points = sorted(rng.sample(range(max(1, a.keep_first), len(pkts)),
                               min(a.count, len(pkts) - 1)))
    chunks, total, nsync, pi = [], 0, 0, 0
    for n, p in enumerate(pkts):
        if pi < len(points) and points[pi] == n:
            size = rng.randint(a.min_size, a.max_size)
            kind = pi % 4  # 0: plain random, 1..3: with 0x47 bytes
            j = junk(rng, size, kind)
            if SYNC in j:
                nsync += 1
            chunks.append(j)
            total += size
            pi += 1
        chunks.append(p)
    write(a.output, chunks)
    print(f"garbage: inserted {len(points)} chunks, {total} bytes "
          f"({nsync} containing 0x47) before packets "
          + ",".join(str(n) for n in points))


def cmd_truncate(a):
    with open(a.input, "rb") as f:
        data = f.read()
    cut = a.offset if a.offset is not None else int(len(data) * a.fraction)
    if cut % TS == 0:
        cut += a.extra  # make sure we end mid-packet
    if not 0 < cut < len(data):
        sys.exit(f"truncate: bad offset {cut} for size {len(data)}")
    with open(a.output, "wb") as f:
        f.write(data[:cut])
    print(f"truncate: kept {cut} of {len(data)} bytes "
          f"(offset % 188 = {cut % TS})")


def cmd_skip_to(a):
    with open(a.input, "rb") as f:
        data = f.read()
    off = (a.offset // TS) * TS
    if not 0 <= off < len(data):
        sys.exit(f"skip-to: bad offset {a.offset} for size {len(data)}")
    if data[off] != SYNC:
        sys.exit(f"skip-to: no sync byte at {off}")
    with open(a.output, "wb") as f:
        f.write(data[off:])
    print(f"skip-to: dropped first {off} bytes ({off // TS} packets), "
          f"kept {len(data) - off}")


def cmd_not_ts(a):
    rng = random.Random(a.seed)
    b = bytearray(rng.getrandbits(8) for _ in range(a.size))
    for i, v in enumerate(b):
        if v == SYNC:
            b[i] = 0x00
    with open(a.output, "wb") as f:
        f.write(b)
    print(f"not-ts: wrote {a.size} random bytes without 0x47")


def parse_pts(b):
    return (((b[0] >> 1) & 0x07) << 30) | (b[1] << 22) | ((b[2] >> 1) << 15) \
        | (b[3] << 7) | (b[4] >> 1)


def cmd_pes_pts(a):
    with open(a.input, "rb") as f:
        data = f.read()
    want = int(a.pid, 0) if a.pid is not None else None
    off = 0
    while off + TS <= len(data):
        # resync: a packet is a 0x47 followed by another one 188 bytes on
        # (or by the end of the file), so junk between packets is skipped
        if data[off] != SYNC or (off + TS < len(data) and data[off + TS] != SYNC):
            off += 1
            continue
        p = data[off:off + TS]
        off += TS
        if not (p[1] & 0x40):  # need payload_unit_start
            continue
        pid = pid_of(p)
        if want is not None and pid != want:
            continue
        i = 4
        if p[3] & 0x20:
            i += 1 + p[4]
        if not (p[3] & 0x10) or i + 14 > TS:
            continue
        if p[i:i + 3] != b"\x00\x00\x01" or p[i + 3] < 0xBC:
            continue  # PSI or not a PES with optional header
        flags = p[i + 7]
        if not flags & 0x80:
            continue
        pts = parse_pts(p[i + 9:i + 14])
        rai = bool(p[3] & 0x20 and p[4] and p[5] & 0x40)
        print(f"{off - TS}\t0x{pid:x}\t{pts}\t{pts / 90000:.6f}"
              + ("\tRAI" if rai else ""))


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def io(name, **kw):
        s = sub.add_parser(name, **kw)
        s.add_argument("input")
        s.add_argument("output")
        return s

    s = io("drop", help="remove a random fraction of packets")
    s.add_argument("--fraction", type=float, default=0.01)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--keep-first", type=int, default=8)
    s.set_defaults(fn=cmd_drop)

    s = io("cc-corrupt", help="corrupt continuity counters")
    s.add_argument("--count", type=int, default=5)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--keep-first", type=int, default=8)
    s.set_defaults(fn=cmd_cc_corrupt)

    s = io("garbage", help="insert junk between packets")
    s.add_argument("--count", type=int, default=20)
    s.add_argument("--min-size", type=int, default=1)
    s.add_argument("--max-size", type=int, default=400)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--keep-first", type=int, default=8)
    s.set_defaults(fn=cmd_garbage)

    s = io("truncate", help="cut at a non-multiple of 188")
    s.add_argument("--fraction", type=float, default=0.7)
    s.add_argument("--offset", type=int, default=None)
    s.add_argument("--extra", type=int, default=97,
                   help="added if the cut would land on a packet boundary")
    s.set_defaults(fn=cmd_truncate)

    s = io("skip-to", help="drop the start, up to a packet boundary")
    s.add_argument("--offset", type=int, required=True,
                   help="byte offset, rounded down to a multiple of 188")
    s.set_defaults(fn=cmd_skip_to)

    s = sub.add_parser("not-ts", help="random bytes without 0x47")
    s.add_argument("output")
    s.add_argument("--size", type=int, default=65536)
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(fn=cmd_not_ts)

    s = sub.add_parser("pes-pts", help="dump raw PES PTS values")
    s.add_argument("input")
    s.add_argument("--pid", default=None, help="only this PID (e.g. 0x100)")
    s.set_defaults(fn=cmd_pes_pts)

    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
