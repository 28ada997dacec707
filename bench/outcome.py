"""bench/outcome.py - what the feeds of one live-feed bench run produced (bench/feeds.sh,
bench/srt.sh): continuity-counter errors summed over the segmenters' stop lines in the
daemon's log (a datagram lost anywhere shows there), segmenters stopped cleanly, feeds
without a playlist, and "late" feeds whose playlist did not reach the segment number a run
of that length allows (4 s segments, minus the first keyframe and the open segment). Also
sums metrics from a saved /metrics text, and counts the datagrams the kernel dropped on the
UDP sockets of given processes (/proc/net/udp `drops`: a full receive buffer). Used as a
module, or as `outcome.py RUN N SECONDS` (prints JSON) and `outcome.py drops PID...`."""

import glob
import json
import os
import re
import sys


def segments(run, n, seconds):
    """The segment outcome of the run in directory `run` (daemon.log, out/FEED/index.m3u8)."""
    log = open(f"{run}/daemon.log").read()
    cc = sum(int(m) for m in re.findall(r"continuity_errors=(\d+)", log))
    stopped = len(re.findall(r"segmenter stopped", log))
    expected = int(seconds // 4) - 2
    playlists = glob.glob(f"{run}/out/*/index.m3u8")
    late = 0
    for playlist in playlists:
        last = re.findall(r"s-(\d+)\.ts", open(playlist).read())
        if not last or int(last[-1]) < expected:
            late += 1
    return {"cc": cc, "stopped": stopped, "missing": n - len(playlists), "late": late}


def metric_sums(path):
    """Each metric name of a Prometheus text file, summed over its labels."""
    sums = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(None, 1)
        name = name.split("{", 1)[0]
        sums[name] = sums.get(name, 0.0) + float(value)
    return sums


def udp_drops(pids):
    """Datagrams dropped so far on the UDP sockets (IPv4 and IPv6) the processes `pids` hold."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in open(table).readlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                drops += int(fields[-1])
    return drops


if __name__ == "__main__":
    if sys.argv[1] == "drops":
        print(udp_drops(sys.argv[2:]))
    else:
        print(json.dumps(segments(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))))
