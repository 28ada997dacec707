"""bench/cluster.py - the driver of bench/cluster.sh (issue 19: feeds shared over several
routers through etcd). Starts a real etcd (/usr/bin/etcd) on free 127.0.0.1 ports with its
own data directory, N `streamrouter run` routers on one config (`NODE=a`, `b`...,
`--listen 127.0.0.1:0`), F feeds (the sample clip looped in real time, 2 s segments, local
sink into RUN/out), and measures:

  failover  K times: SIGKILL the router owning the most feeds, time until every feed is owned
            by exactly one survivor (/status cluster.owned) and every playlist listed a new
            number; the killed router is started again and the cluster settles before the
            next kill. min / median / p90 / max of both times.
  writes    for each F: etcd's write counters (/metrics) over SECONDS of a settled cluster,
            per feed per minute: key writes (etcd_mvcc_put_total + etcd_mvcc_delete_total),
            transactions (etcd_mvcc_txn_total), WAL fsyncs (each raft entry that reached
            disk), lease keep-alives (etcd_debugging_lease_renewed_total).
  scale     F feeds (template instances) over N routers for SECONDS once settled: each
            router's CPU (user+sys / wall, /proc/PID/stat) and RSS (VmRSS, VmHWM), feeds
            owned; etcd's CPU, RSS and write rates; the time the cluster took to settle.
  selftest  what can run without the cluster runtime: etcd starts and answers /health and
            /metrics, the configs check (`streamrouter check`, [cluster] removed), /proc reads.

Usage: cluster.py PART RUN_DIR BIN CLIP [options from the environment, see bench/cluster.sh]
Prints one result line per measurement (and progress on stderr)."""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

ETCD = "/usr/bin/etcd"
POLL = 0.1
CLK = os.sysconf("SC_CLK_TCK")
# Every process started, killed at exit whatever the exit (a failed wait, Ctrl-C, SIGTERM).
PROCS = []


@atexit.register
def cleanup():
    for proc in PROCS:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


signal.signal(signal.SIGTERM, lambda *_: sys.exit("cluster: terminated"))


def say(*args):
    print("cluster:", *args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=1.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def ticks(pid):
    """user + system CPU of pid so far, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def vm_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Etcd:
    def __init__(self, run):
        self.dir = f"{run}/etcd"
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.client, self.peer = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.client}"
        self.proc = None
        self.start()

    def start(self):
        peer = f"http://127.0.0.1:{self.peer}"
        log = open(f"{self.dir}/etcd.log", "a")
        self.proc = subprocess.Popen(
            [ETCD, "--name", "default", "--data-dir", f"{self.dir}/data",
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"default={peer}", "--logger", "zap", "--log-outputs", "stderr"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        PROCS.append(self.proc)
        deadline = time.time() + 20
        while True:
            try:
                if json.loads(get(f"{self.url}/health")).get("health") == "true":
                    return
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                sys.exit(f"etcd did not become healthy; see {self.dir}/etcd.log")
            time.sleep(0.05)

    def metrics(self):
        samples = {}
        for line in get(f"{self.url}/metrics", timeout=5).decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    samples[name] = float(value)
                except ValueError:
                    pass
        return samples

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


# The write counters of etcd 3.4 (both etcd_mvcc_* and etcd_debugging_mvcc_* exist there; the
# former are the stable names).
COUNTERS = {
    "key writes": ["etcd_mvcc_put_total", "etcd_mvcc_delete_total"],
    "txns": ["etcd_mvcc_txn_total"],
    "WAL fsyncs": ["etcd_disk_wal_fsync_duration_seconds_count"],
    "lease renewals": ["etcd_debugging_lease_renewed_total"],
}


def counters(samples):
    return {what: sum(samples.get(name, 0.0) for name in names) for what, names in COUNTERS.items()}


def write_config(run, etcd, feeds, lease, template):
    """The one config of every router: F feeds f0001.. (plain sources, or one template line
    each with `template`), 2 s segments, 6-entry windows, one local sink into RUN/out."""
    clip = os.environ["CLUSTER_CLIP"]
    names = [f"f{i:04d}" for i in range(1, feeds + 1)]
    head = []
    if template:
        head.append("feeds = [")
        head += [f'  {{ template = "feed", name = "{name}" }},' for name in names]
        head.append("]\n")
    head.append(f'[router]\nstate_dir = "{run}/state-${{NODE}}"\nstop_timeout = "5s"\n')
    cluster = (f'[cluster]\netcd = ["{etcd}"]\nnode = "${{NODE}}"\nlease = "{lease}"\n'
               f'name = "bench"\n')
    body = []
    if template:
        body.append(f'''[templates.feed]
sources.in = {{ type = "file", path = "{clip}", realtime = true, loop = true }}
segmenters.seg = {{ input = "in", target_duration = 2 }}
playlists.hls = {{ input = "seg", name = "{{{{feed}}}}.m3u8", segment_name = "{{{{feed}}}}-{{seq:05}}.ts", window = 6 }}
sinks.out = {{ type = "local", inputs = ["hls"], path = "{run}/out" }}
''')
    else:
        for name in names:
            body.append(f'''[sources.{name}]
type = "file"
path = "{clip}"
realtime = true
loop = true

[segmenters.{name}]
input = "{name}"
target_duration = 2

[playlists.{name}]
input = "{name}"
name = "{name}.m3u8"
segment_name = "{name}-{{seq:05}}.ts"
window = 6
''')
        inputs = ", ".join(f'"{name}"' for name in names)
        body.append(f'[sinks.out]\ntype = "local"\ninputs = [{inputs}]\npath = "{run}/out"\n')
    text = "\n".join(head) + "\n" + cluster + "\n" + "\n".join(body)
    with open(f"{run}/cluster.toml", "w") as f:
        f.write(text)
    with open(f"{run}/graph-only.toml", "w") as f:
        f.write("\n".join(head) + "\n" + "\n".join(body))
    return names


class Router:
    def __init__(self, bin_, run, node):
        self.node = node
        self.log = open(f"{run}/router-{node}.log", "a")
        env = dict(os.environ, NODE=node, RUST_LOG=os.environ.get("RUST_LOG", "info"))
        self.proc = subprocess.Popen(
            [bin_, "run", f"{run}/cluster.toml", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, env=env, text=True)
        PROCS.append(self.proc)
        self.base = None
        found = threading.Event()

        def read():
            for line in self.proc.stdout:
                if line.startswith("status: ") and self.base is None:
                    self.base = line[len("status: "):].strip()
                    found.set()
        threading.Thread(target=read, daemon=True).start()
        deadline = time.time() + 30
        while not found.wait(0.1):
            if self.proc.poll() is not None or time.time() > deadline:
                self.proc.kill()
                tail = open(f"{run}/router-{node}.log").read().splitlines()[-5:]
                sys.exit(f"router {node} printed no status URL ({run}/router-{node}.log):\n"
                         + "\n".join(tail))

    def owned(self):
        status = json.loads(get(f"{self.base}status"))
        return status["cluster"]["owned"]

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def last_number(run, feed):
    """The last number listed by FEED.m3u8, or None."""
    try:
        text = open(f"{run}/out/{feed}.m3u8").read()
    except OSError:
        return None
    match = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    count = text.count("#EXTINF")
    if not match or count == 0:
        return None
    return int(match.group(1)) + count - 1


def lasts(run, feeds):
    return {feed: last_number(run, feed) for feed in feeds}


def ownership(routers, feeds):
    """feed -> node when every feed is owned by exactly one of routers, else None."""
    owners = {}
    for router in routers:
        try:
            owned = router.owned()
        except (OSError, ValueError, KeyError):
            return None
        for feed in owned:
            if feed in owners:
                return None
            owners[feed] = router.node
    return owners if len(owners) == len(feeds) and set(owners) == set(feeds) else None


def advanced(before, now, feeds):
    return all(now[f] is not None and (before.get(f) is None or now[f] > before[f]) for f in feeds)


def settle(run, routers, feeds, timeout):
    """Waits until every feed is owned once and advanced since then; (owners, seconds)."""
    start = time.time()
    while True:
        owners = ownership(routers, feeds)
        if owners:
            break
        if time.time() - start > timeout:
            sys.exit(f"the cluster did not settle in {timeout} s (logs in {run})")
        time.sleep(POLL)
    base = lasts(run, feeds)
    while not advanced(base, lasts(run, feeds), feeds):
        if time.time() - start > timeout:
            sys.exit(f"the feeds did not advance in {timeout} s (logs in {run})")
        time.sleep(POLL)
    return owners, time.time() - start


def summary(values):
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return (f"min {values[0]:.2f} s, median {statistics.median(values):.2f} s, "
            f"p90 {p90:.2f} s, max {values[-1]:.2f} s")


def start_cluster(bin_, run, nodes, feeds, lease, template=False):
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(f"{run}/out")
    etcd = Etcd(run)
    names = write_config(run, etcd.url, feeds, lease, template)
    routers = [Router(bin_, run, node) for node in nodes]
    return etcd, names, routers


def failover(bin_, run, env):
    kills, lease = int(env.get("CLUSTER_KILLS", "20")), env.get("CLUSTER_LEASE", "3s")
    etcd, feeds, routers = start_cluster(bin_, run, ["a", "b", "c"], 6, lease)
    try:
        owners, took = settle(run, routers, feeds, 60)
        say(f"failover: settled in {took:.1f} s: {owners}")
        owned_times, advancing_times = [], []
        for k in range(1, kills + 1):
            counts = {}
            for node in owners.values():
                counts[node] = counts.get(node, 0) + 1
            victim = max(sorted(counts), key=lambda node: counts[node])
            router = next(r for r in routers if r.node == victim)
            router.kill()
            killed = time.time()
            before = lasts(run, feeds)  # after the kill: the dead router's last numbers
            survivors = [r for r in routers if r is not router]
            owned_at = None
            while True:
                if owned_at is None and ownership(survivors, feeds):
                    owned_at = time.time() - killed
                if owned_at is not None and advanced(before, lasts(run, feeds), feeds):
                    break
                if time.time() - killed > 120:
                    sys.exit(f"failover {k}: no recovery in 120 s (logs in {run})")
                time.sleep(POLL)
            advancing = time.time() - killed
            owned_times.append(owned_at)
            advancing_times.append(advancing)
            say(f"failover {k}/{kills}: killed {victim} ({counts[victim]} feeds): owned "
                f"{owned_at:.2f} s, advancing {advancing:.2f} s")
            routers = survivors + [Router(bin_, run, victim)]
            owners, _ = settle(run, routers, feeds, 60)
        print(f"failover, 3 routers, 6 feeds, lease {lease}, {kills} kills: every feed owned "
              f"again: {summary(owned_times)}; every feed advancing again: "
              f"{summary(advancing_times)}")
    finally:
        for router in routers:
            router.stop()
        etcd.stop()


def rates(before, after, seconds, feeds):
    parts = []
    for what in COUNTERS:
        delta = after[what] - before[what]
        parts.append(f"{what} {delta:.0f} ({delta / feeds / (seconds / 60):.2f}/feed/min)")
    return ", ".join(parts)


def writes(bin_, run, env):
    seconds = float(env.get("CLUSTER_WRITE_SECONDS", "60"))
    lease = env.get("CLUSTER_LEASE", "3s")
    for feeds in [int(n) for n in env.get("CLUSTER_WRITE_FEEDS", "6 100").split()]:
        etcd, names, routers = start_cluster(bin_, f"{run}-{feeds}", ["a", "b", "c"], feeds, lease)
        try:
            _, took = settle(f"{run}-{feeds}", routers, names, 120)
            before = counters(etcd.metrics())
            time.sleep(seconds)
            after = counters(etcd.metrics())
            print(f"writes, 3 routers, {feeds} feeds, lease {lease}, {seconds:.0f} s (settled in "
                  f"{took:.1f} s): {rates(before, after, seconds, feeds)}")
        finally:
            for router in routers:
                router.stop()
            etcd.stop()


def scale(bin_, run, env):
    feeds = int(env.get("CLUSTER_SCALE_FEEDS", "1000"))
    nodes = [chr(ord("a") + i) for i in range(int(env.get("CLUSTER_SCALE_ROUTERS", "4")))]
    seconds = float(env.get("CLUSTER_SCALE_SECONDS", "120"))
    lease = env.get("CLUSTER_LEASE", "3s")
    etcd, names, routers = start_cluster(bin_, run, nodes, feeds, lease, template=True)
    try:
        owners, took = settle(run, routers, names, 300)
        pids = {r.node: r.proc.pid for r in routers}
        pids["etcd"] = etcd.proc.pid
        t0, c0 = time.time(), {who: ticks(pid) for who, pid in pids.items()}
        before = counters(etcd.metrics())
        time.sleep(seconds)
        t1, c1 = time.time(), {who: ticks(pid) for who, pid in pids.items()}
        after = counters(etcd.metrics())
        now = ownership(routers, names) or {}
        print(f"scale: {feeds} feeds over {len(nodes)} routers, lease {lease}: settled in "
              f"{took:.1f} s; {seconds:.0f} s measured")
        for who, pid in pids.items():
            cores = (c1[who] - c0[who]) / CLK / (t1 - t0)
            owned = sum(1 for node in now.values() if node == who)
            what = "etcd" if who == "etcd" else f"router {who} ({owned} feeds)"
            print(f"  {what}: CPU {cores:.3f} cores, RSS {vm_kb(pid, 'VmRSS') / 1024:.1f} MB, "
                  f"peak {vm_kb(pid, 'VmHWM') / 1024:.1f} MB")
        print(f"  etcd writes: {rates(before, after, seconds, feeds)}")
        print(f"  etcd db size: {etcd.metrics().get('etcd_mvcc_db_total_size_in_bytes', 0) / 1e6:.2f} MB")
    finally:
        for router in routers:
            router.stop()
        etcd.stop()


def selftest(bin_, run, env):
    """Everything but the cluster runtime: etcd, the configs, the readings."""
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(f"{run}/out")
    etcd = Etcd(run)
    try:
        samples = etcd.metrics()
        missing = [n for names in COUNTERS.values() for n in names if n not in samples]
        if missing:
            sys.exit(f"etcd /metrics lacks {missing}")
        for template, feeds in [(False, 6), (True, 1000)]:
            write_config(run, etcd.url, feeds, "3s", template)
            result = subprocess.run([bin_, "check", f"{run}/graph-only.toml"],
                                    env=dict(os.environ, NODE="a"), capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"config of {feeds} feeds does not check:\n{result.stderr}")
            say(f"selftest: {result.stdout.strip()}")
        print(f"selftest: etcd {etcd.url} healthy, counters {counters(samples)}, "
              f"CPU {ticks(etcd.proc.pid)} ticks, RSS {vm_kb(etcd.proc.pid, 'VmRSS') / 1024:.1f} MB; "
              f"configs of 6 and 1000 feeds check")
    finally:
        etcd.stop()


if __name__ == "__main__":
    part, run, bin_, clip = sys.argv[1:5]
    os.environ["CLUSTER_CLIP"] = clip
    {"failover": failover, "writes": writes, "scale": scale, "selftest": selftest}[part](
        bin_, run, os.environ)
