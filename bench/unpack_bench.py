#!/usr/bin/env python3
"""Pipeline benchmark: ibdriver fetch --unpack-to against the serial shell, and against the floor.

A deterministic MOFED-shaped .tgz (MLNX_OFED_LINUX-<ver>-<os>-x86_64/DEBS/*.deb with already-compressed
payloads, as in the real bundles; tests/fixtures/make_archive.py bundle.tgz) is served over HTTPS on
127.0.0.1 by Debian's nginx. Alternating, several rounds, medians:
  (a) ibdriver fetch --url URL --sha256 SUM --unpack-to DIR
  (b) curl -o f URL && echo "SUM  f" | sha256sum -c && tar -xzf f -C DIR
  (c) the floor: the slowest of  curl -o /dev/null URL,  igzip -dc f > /dev/null,  and tar -xf of the
      already inflated tar into an empty folder (the file writes that cannot be avoided)
Also: gzip layer alone, igzip (ISA-L) against gzip (zlib); and the peak RSS of (a) at --rss-sizes.
  (d) (a)'s own CPU seconds, the server's share included, divided by the cores: (a) cannot finish sooner
      however well it overlaps; a/d = 1.0 means the cores never idled. Beside it, the CPU seconds of the
      parts done alone (curl with the server's share, openssl dgst -sha256, cat > the cache file, igzip -dc,
      tar -xf), to show where the work is.
a/b and a/c are the medians of each round's own ratio (the machine's speed drifts between rounds; a ratio
within a round does not), with the ratio of the medians beside them.
Targets (issue 5): a/b <= 0.25, a/c <= 1.6, peak RSS <= 64 MiB at 100 MB and at 1 GB.
With --baseline OTHER_IBDRIVER, that binary runs (a) too, in the same rounds, and a/baseline says what a
change bought on a machine whose speed drifts.
Usage: bench/unpack_bench.py [--size-mb 400] [--rounds 5] [--rss-sizes 100,1024] [--ibdriver PATH]
                             [--baseline PATH] [--out /dev/shm]
"""
import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from fetch_bench import baseline_line, free_port, start_nginx, timed  # noqa: E402

NAME = "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_bundle(path, size_mb):
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "fixtures", "make_archive.py"), "bundle.tgz", path,
                    str(size_mb)], check=True)
    return sha256(path)


def fresh(*paths):
    """Removes the previous run's output and waits for the kernel to write back what is dirty, so one
    command's file writes are not paid by the next one."""
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
        if os.path.isfile(path):
            os.remove(path)
    os.sync()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rss-sizes", default="100,1024")
    parser.add_argument("--ibdriver", default=os.path.join(ROOT, "build", "src", "ibdriver"))
    parser.add_argument("--baseline", default=None,
                        help="another ibdriver binary (an older build) timed as (a) in the same rounds")
    parser.add_argument("--out", default=None,
                        help="where the outputs are written (default: beside the served file, on disk; "
                             "/dev/shm takes the disk out of the comparison)")
    args = parser.parse_args()
    for tool in ("nginx", "curl", "sha256sum", "openssl", "igzip", "gzip", "tar"):
        if shutil.which(tool) is None:
            sys.exit("bench needs %s (apt-get install nginx-light curl isal gzip tar openssl)" % tool)

    work = tempfile.mkdtemp(prefix="ibdriver-unpack-bench-")
    os.chmod(work, 0o755)  # nginx workers run as www-data
    nginx = None
    try:
        certs = os.path.join(work, "certs")
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "servers", "make_test_certs.py"), certs], check=True)
        files = os.path.join(work, "files")
        os.makedirs(files)
        os.chmod(files, 0o755)
        bundle = os.path.join(files, NAME)
        print("making a %d MB bundle ..." % args.size_mb, flush=True)
        sha = make_bundle(bundle, args.size_mb)
        os.chmod(bundle, 0o644)
        port = free_port()
        nginx = start_nginx(work, files, certs, port)
        url = "https://127.0.0.1:%d/%s" % (port, NAME)
        ca = os.path.join(certs, "ca.pem")
        out = tempfile.mkdtemp(prefix="ibdriver-unpack-out-", dir=args.out) if args.out else os.path.join(work, "out")
        os.makedirs(out, exist_ok=True)
        inflated = os.path.join(work, "inflated.tar")
        with open(inflated, "wb") as target:
            subprocess.run(["igzip", "-dc", bundle], stdout=target, check=True)

        def ibdriver(url_, sha_, into, binary=args.ibdriver):
            return [binary, "fetch", "--url", url_, "--sha256", sha_, "--ca-bundle", ca, "--cache-dir",
                    os.path.join(out, "cache"), "--unpack-to", into, "--log-file", "/dev/null", "-q"]

        commands = {
            "a": ibdriver(url, sha, os.path.join(out, "dir")),
            "b": ["sh", "-c", 'curl -sS --cacert "$1" -o f "$2" && echo "$3  f" | sha256sum -c --quiet - && '
                  'mkdir dir && tar -xzf f -C dir', "sh", ca, url, sha],
            "curl": ["curl", "-sS", "--cacert", ca, "-o", "/dev/null", url],
            "igzip": ["sh", "-c", 'igzip -dc "$1" > /dev/null', "sh", bundle],
            "tar": ["sh", "-c", 'mkdir dir && tar -xf "$1" -C dir', "sh", inflated],
            "gzip": ["sh", "-c", 'gzip -dc "$1" > /dev/null', "sh", bundle],
            # the parts of (a) the floor leaves out: hashing (OpenSSL, as ibdriver) and the cache file's write
            "sha256": ["openssl", "dgst", "-sha256", bundle],
            "cache": ["sh", "-c", 'cat "$1" > f', "sh", bundle],
        }
        if args.baseline:
            commands["a0"] = ibdriver(url, sha, os.path.join(out, "dir"), binary=args.baseline)
        results = {key: [] for key in commands}
        cpu = {key: [] for key in commands}
        timed(commands["curl"], cwd=out)  # warm-up
        for _ in range(args.rounds):
            for key in commands:
                fresh(os.path.join(out, "cache"), os.path.join(out, "dir"), os.path.join(out, "f"))
                elapsed, peak, seconds = timed(commands[key], cwd=out, server=nginx)
                results[key].append(elapsed)
                cpu[key].append(seconds)
        medians = {key: statistics.median(values) for key, values in results.items()}
        cpu_medians = {key: statistics.median(values) for key, values in cpu.items()}
        floor = max(medians["curl"], medians["igzip"], medians["tar"])
        print("pipeline benchmark: %d MB MOFED-shaped .tgz over HTTPS on 127.0.0.1 (nginx), %d rounds, medians, "
              "outputs in %s" % (args.size_mb, args.rounds, out))
        print("  (a) ibdriver fetch --unpack-to                        %.3f s" % medians["a"])
        print("  (b) curl -o f && sha256sum -c && tar -xzf f           %.3f s" % medians["b"])
        print("  (c) floor = max(curl -o /dev/null %.3f, igzip -dc %.3f, tar -xf inflated %.3f) = %.3f s"
              % (medians["curl"], medians["igzip"], medians["tar"], floor))
        rounds = range(args.rounds)
        floors = [max(results["curl"][i], results["igzip"][i], results["tar"][i]) for i in rounds]
        a_b = statistics.median(results["a"][i] / results["b"][i] for i in rounds)
        a_c = statistics.median(results["a"][i] / floors[i] for i in rounds)
        print("  a/b = %.2f   (target <= 0.25; ratio of the medians %.2f)" % (a_b, medians["a"] / medians["b"]))
        print("  a/c = %.2f   (target <= 1.6; ratio of the medians %.2f)" % (a_c, medians["a"] / floor))
        if args.baseline:
            print(baseline_line(args.baseline, results))
        # What the cores allow: (a)'s own work (the server's share included) spread perfectly over them.
        # The server shares these cores, so on few cores this, not (c), is what (a) is up against.
        cores = len(os.sched_getaffinity(0))
        bound = cpu_medians["a"] / cores
        parts = ["curl", "sha256", "cache", "igzip", "tar"]
        print("  (d) (a)'s CPU %.3f s (with the server's) / %d cores = %.3f s   a/d = %.2f   parts alone, CPU s: %s"
              % (cpu_medians["a"], cores, bound, medians["a"] / bound,
                 ", ".join("%s %.3f" % ("curl+server" if key == "curl" else key, cpu_medians[key]) for key in parts)))
        if 1.6 * floor < bound:
            print("  the a/c target needs (a) <= 1.6 c = %.3f s, less than its own work takes on %d cores (d): it needs "
                  "less work, not better overlap" % (1.6 * floor, cores))
        print("  gzip layer alone: igzip (ISA-L) %.3f s, gzip (zlib) %.3f s: ISA-L %.1fx faster"
              % (medians["igzip"], medians["gzip"], medians["gzip"] / medians["igzip"]))

        for size in [int(s) for s in args.rss_sizes.split(",") if s]:
            name = "rss-%d.tgz" % size
            path = os.path.join(files, name)
            rss_sha = make_bundle(path, size)
            os.chmod(path, 0o644)
            fresh(os.path.join(out, "cache"), os.path.join(out, "dir"))
            elapsed, peak, _ = timed(ibdriver("https://127.0.0.1:%d/%s" % (port, name), rss_sha, os.path.join(out, "dir")),
                                     cwd=out)
            print("  peak RSS of (a) at %d MB: %.1f MiB (%.2f s; target <= 64 MiB)" % (size, peak / 1024, elapsed))
            fresh(os.path.join(out, "cache"), os.path.join(out, "dir"), path)
    finally:
        if nginx:
            nginx.terminate()
            nginx.wait()
        shutil.rmtree(work, ignore_errors=True)
        if args.out:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
