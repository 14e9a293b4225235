#!/usr/bin/env python3
"""Fleet benchmark (issue 20): a scale set enables at once and pulls one bundle from one busy mirror.

One HTTPS mirror on 127.0.0.1 (tests/servers/https_server.py, mode "limited", its own test CA from
tests/servers/make_test_certs.py) answers at most --slots requests at once and 429 with Retry-After beyond
them. Against it, in the same run, --nodes concurrent processes of each, every one with its own folder:
  (a) ibdriver fetch --url URL --sha256 SUM --cache-dir DIR --ca-bundle CA   (the real binary, its defaults)
  (b) curl --retry 10 --retry-all-errors -o f URL && sha256sum -c            (curl honours Retry-After)
Prints per side: how many exited 0 with the bundle verified, wall time, the requests the mirror saw
(200/206/429), bytes served against the minimum (nodes x size), how busy the slots were, CPU time, the
waits ibdriver chose (its log), and when the 429s arrived (per second and per 100 ms: clients that all
wait exactly Retry-After come back in bursts), then the ratios a/b. Exit 1 when any (a) process failed.
Loopback only, TLS verified, each side bounded by --time-limit.
Usage: bench/fleet_bench.py [--nodes 100] [--size-mb 32] [--slots 8] [--retry-after 1] [--rounds 1]
                            [--ibdriver build/src/ibdriver] [--out DIR]
"""
import argparse
import collections
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVERS = os.path.join(ROOT, "tests", "servers")
NAME = "MLNX_OFED_LINUX-fleet-x86_64.tgz"
WAIT = re.compile(r"(?:asking again|attempt \d+ of \d+) in ([0-9.]+) s")  # ibdriver's log line for each retry


def make_file(path, size_mb):
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range(size_mb):
            chunk = os.urandom(1 << 20)
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


class Mirror:
    """tests/servers/https_server.py, started fresh for one side so that its statistics are that side's."""

    def __init__(self, work, files, certs, args, tag):
        self.stats = os.path.join(work, "stats-%s.jsonl" % tag)
        port_file = os.path.join(work, "ports-%s.json" % tag)
        with open(os.path.join(work, "server-%s.err" % tag), "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, os.path.join(SERVERS, "https_server.py"), "--dir", files, "--certs", certs,
                 "--port-file", port_file, "--log", os.path.join(work, "requests-%s.log" % tag), "--stats", self.stats,
                 "--max-active", str(args.slots), "--retry-after", str(args.retry_after)],
                stdout=subprocess.DEVNULL, stderr=err)
        for _ in range(200):
            if os.path.exists(port_file):
                with open(port_file) as ports:
                    self.url = "https://127.0.0.1:%d/limited/%s" % (json.load(ports)["good"], NAME)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        sys.exit("the HTTPS mirror did not start (see %s)" % os.path.join(work, "server-%s.err" % tag))

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()

    def requests(self):
        with open(self.stats) as lines:
            return [json.loads(line) for line in lines if line.strip()]


def run_fleet(argvs, dirs, time_limit):
    """Starts every command at once, each in its own folder; returns start time, [(exit, end time)].
    Whatever still runs at the time limit (or when this fails) is killed."""
    started = time.time()
    processes = []
    try:
        for argv, folder in zip(argvs, dirs):
            with open(os.path.join(folder, "stdout"), "w") as out, open(os.path.join(folder, "stderr"), "w") as err:
                processes.append(subprocess.Popen(argv, cwd=folder, stdout=out, stderr=err))
        deadline = time.monotonic() + time_limit
        ends = {}
        while len(ends) < len(processes):
            for i, process in enumerate(processes):
                if i not in ends and process.poll() is not None:
                    ends[i] = (process.returncode, time.time())
            if time.monotonic() > deadline:
                for i, process in enumerate(processes):
                    if i not in ends:
                        process.kill()
                        process.wait()
                        ends[i] = ("killed at the time limit", time.time())
            time.sleep(0.02)
        return started, [ends[i] for i in range(len(processes))]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def side_ibdriver(args, url, sha, ca, out):
    argvs, dirs = [], []
    for i in range(args.nodes):
        folder = os.path.join(out, "node%03d" % i)
        os.makedirs(folder)
        argvs.append([args.ibdriver, "fetch", "--url", url, "--sha256", sha, "--ca-bundle", ca,
                      "--cache-dir", os.path.join(folder, "cache"), "--log-file", os.path.join(folder, "log"),
                      "--timeout", str(args.time_limit), "--json"])
        dirs.append(folder)
    return argvs, dirs


def side_curl(args, url, sha, ca, out):
    script = ('curl -sS --retry 10 --retry-all-errors --cacert "$1" -o f "$2" && '
              'echo "$3  f" | sha256sum -c --quiet -')
    argvs, dirs = [], []
    for i in range(args.nodes):
        folder = os.path.join(out, "node%03d" % i)
        os.makedirs(folder)
        argvs.append(["sh", "-c", script, "sh", ca, url, sha])
        dirs.append(folder)
    return argvs, dirs


def cpu_of_children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(side, args, work, files, certs, sha, tag):
    out = os.path.join(work, "out-" + tag)
    mirror = Mirror(work, files, certs, args, tag)
    try:
        argvs, dirs = side(args, mirror.url, sha, os.path.join(certs, "ca.pem"), out)
        before = cpu_of_children()
        started, ends = run_fleet(argvs, dirs, args.time_limit)
        fleet_cpu = cpu_of_children() - before
    finally:
        mirror.stop()
    mirror_cpu = cpu_of_children() - before - fleet_cpu
    failed = []
    for folder, (code, _) in zip(dirs, ends):
        if code != 0:
            with open(os.path.join(folder, "stderr")) as err:
                failed.append("%s: exit %s: %s" % (os.path.basename(folder), code, err.read().strip()[-300:]))
    attempts, waits = [], []
    if side is side_ibdriver:
        for folder, (code, _) in zip(dirs, ends):
            if code == 0:
                with open(os.path.join(folder, "stdout")) as result:
                    attempts.append(json.load(result)["attempts"])
            with open(os.path.join(folder, "log")) as log:
                waits.extend(float(m.group(1)) for m in WAIT.finditer(log.read()))
    shutil.rmtree(out, ignore_errors=True)
    return {"started": started, "ends": [end for _, end in ends], "failed": failed, "requests": mirror.requests(),
            "attempts": attempts, "waits": waits, "fleet_cpu": fleet_cpu, "mirror_cpu": mirror_cpu}


def summarise(result, args, size):
    requests = result["requests"]
    started = result["started"]
    wall = max(result["ends"]) - started
    status = collections.Counter(r["status"] for r in requests)
    served = sum(r["bytes"] for r in requests if r["status"] in (200, 206))
    busy = sum(r["end"] - r["start"] for r in requests if r["status"] in (200, 206))
    rejected = sorted(r["start"] - started for r in requests if r["status"] == 429)
    return {"wall": wall, "requests": len(requests), "status": status, "served": served,
            "all_bytes": sum(r["bytes"] for r in requests), "minimum": args.nodes * size,
            "busy_slots": busy / wall if wall > 0 else 0.0, "rejected": rejected,
            "finish": sorted(end - started for end in result["ends"]),
            "failed": result["failed"], "attempts": result["attempts"], "waits": result["waits"],
            "verified": args.nodes - len(result["failed"]), "fleet_cpu": result["fleet_cpu"],
            "mirror_cpu": result["mirror_cpu"]}


def peak_share(times, window=0.1):
    """The largest share of the arrivals within one sliding window, and where that window starts."""
    best, at, low = 0, 0.0, 0
    for high, t in enumerate(times):
        while t - times[low] > window:
            low += 1
        if high - low + 1 > best:
            best, at = high - low + 1, times[low]
    return (best / len(times) if times else 0.0), at


def within_second_stdev(times):
    """The mean, over the seconds with at least 5 arrivals, of the arrivals' standard deviation inside that
    second: about 0.29 s when they are spread evenly, near 0 when they come together."""
    by_second = collections.defaultdict(list)
    for t in times:
        by_second[int(t)].append(t)
    values = [statistics.pstdev(v) for v in by_second.values() if len(v) >= 5]
    return "%.3f s" % statistics.mean(values) if values else "n/a"


def print_side(label, s, args):
    print(label)
    print("  verified: %d of %d exit 0%s" % (s["verified"], args.nodes, "" if not s["failed"] else
                                           ", FAILED: %d, e.g.:" % len(s["failed"])))
    for line in s["failed"][:3]:
        print("    " + " | ".join(part.strip() for part in line.splitlines() if part.strip()))
    finish = s["finish"]
    print("  wall time: %.2f s (first node done at %.2f s, median %.2f s)" % (
        s["wall"], finish[0], statistics.median(finish)))
    print("  requests the mirror saw: %d (200: %d, 206: %d, 429: %d, other: %d)" % (
        s["requests"], s["status"][200], s["status"][206], s["status"][429],
        s["requests"] - s["status"][200] - s["status"][206] - s["status"][429]))
    print("  bytes served: %.1f MB, minimum %.1f MB (x%.3f), per verified node x%.3f of the bundle; "
          "429 pages: %d bytes" % (s["served"] / 1e6, s["minimum"] / 1e6, s["served"] / s["minimum"],
                                   s["served"] / max(s["verified"], 1) / (s["minimum"] / args.nodes),
                                   s["all_bytes"] - s["served"]))
    print("  slots busy on average: %.2f of %d; CPU time (user+sys): the %d processes %.1f s, the mirror %.1f s" % (
        s["busy_slots"], args.slots, args.nodes, s["fleet_cpu"], s["mirror_cpu"]))
    if s["attempts"]:
        spread = collections.Counter(s["attempts"])
        print("  requests per verified node: median %g, max %d (%s)" % (
            statistics.median(s["attempts"]), max(s["attempts"]),
            ", ".join("%dx%d" % (spread[k], k) for k in sorted(spread))))
    if s["waits"]:
        waits = s["waits"]
        print("  waits before a retry (ibdriver's log): %d, min %.1f s, median %.1f s, max %.1f s, stdev %.2f s" % (
            len(waits), min(waits), statistics.median(waits), max(waits), statistics.pstdev(waits)))
    rejected = s["rejected"]
    share, at = peak_share(rejected)
    print("  429 arrivals: largest share in one 100 ms window %.0f%% (at %.1f s); stdev inside each second %s" % (
        share * 100, at, within_second_stdev(rejected)))
    print("  429 arrivals per second (and per 100 ms):")
    per_second = collections.Counter(int(t) for t in rejected)
    tenths = collections.Counter(int(t * 10) for t in rejected)
    for second in range(int(s["wall"]) + 1):
        count = per_second.get(second, 0)
        fine = " ".join("%2d" % tenths.get(second * 10 + k, 0) for k in range(10))
        print("    %3d s %4d %-40s %s" % (second, count, "#" * min(count, 40), fine))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100, help="concurrent processes per side (default 100)")
    parser.add_argument("--size-mb", type=int, default=32, help="bundle size in MiB (default 32)")
    parser.add_argument("--slots", type=int, default=8, help="requests the mirror answers at once (default 8)")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds in the mirror's 429 answers (default 1)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds of (a) and (b); medians (default 1)")
    parser.add_argument("--time-limit", type=int, default=300, help="seconds each side may take (default 300)")
    parser.add_argument("--ibdriver", default=os.path.join(ROOT, "build", "src", "ibdriver"))
    parser.add_argument("--out", default=None, help="work folder's parent (default $TMPDIR); needs nodes x size free")
    args = parser.parse_args()
    for tool in ("curl", "sha256sum", "openssl", "sh"):
        if shutil.which(tool) is None:
            sys.exit("bench needs %s (apt-get install curl coreutils openssl)" % tool)
    if not os.access(args.ibdriver, os.X_OK):
        sys.exit("no ibdriver binary at %s (build it, or pass --ibdriver)" % args.ibdriver)

    work = os.path.abspath(tempfile.mkdtemp(prefix="ibdriver-fleet-", dir=args.out))
    try:
        certs = os.path.join(work, "certs")
        subprocess.run([sys.executable, os.path.join(SERVERS, "make_test_certs.py"), certs], check=True)
        files = os.path.join(work, "files")
        os.makedirs(files)
        sha = make_file(os.path.join(files, NAME), args.size_mb)
        size = os.path.getsize(os.path.join(files, NAME))
        load_before = os.getloadavg()[0]
        runs = {"a": [], "b": []}
        for round_number in range(args.rounds):
            for key, side in (("a", side_ibdriver), ("b", side_curl)):
                runs[key].append(summarise(measure(side, args, work, files, certs, sha, "%s%d" % (key, round_number)),
                                           args, size))
        print("fleet benchmark: %d nodes at once, %d MiB bundle, one HTTPS mirror on 127.0.0.1 answering %d at once "
              "(429, Retry-After: %d beyond), %d round(s); load average %.1f before, %.1f after, %d cores" % (
                  args.nodes, args.size_mb, args.slots, args.retry_after, args.rounds, load_before, os.getloadavg()[0],
                  os.cpu_count()))
        labels = (("a", "(a) ibdriver fetch"), ("b", "(b) curl --retry 10 --retry-all-errors && sha256sum -c"))
        for key, label in labels:
            for round_number, s in enumerate(runs[key]):
                print_side("%s%s" % (label, "" if args.rounds == 1 else ", round %d" % (round_number + 1)), s, args)

        def median(key, field):
            return statistics.median(s[field] for s in runs[key])

        def per_node(key):
            return statistics.median(s["served"] / max(s["verified"], 1) for s in runs[key])
        print("ratios a/b%s:" % ("" if args.rounds == 1 else " (medians)"))
        print("  wall time  %.2f   (%.2f s / %.2f s)" % (median("a", "wall") / median("b", "wall"), median("a", "wall"),
                                                         median("b", "wall")))
        print("  requests   %.2f   (%g / %g)" % (median("a", "requests") / median("b", "requests"),
                                                 median("a", "requests"), median("b", "requests")))
        print("  bytes      %.3f  (%.1f MB / %.1f MB); per verified node %.3f" % (
            median("a", "served") / median("b", "served"), median("a", "served") / 1e6, median("b", "served") / 1e6,
            per_node("a") / per_node("b")))
        print("  verified   %d / %d nodes" % (median("a", "verified"), median("b", "verified")))
        failures = sum(len(s["failed"]) for s in runs["a"])
        if failures:
            print("FAIL: %d ibdriver fetch process(es) did not finish with the bundle verified" % failures)
            return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
