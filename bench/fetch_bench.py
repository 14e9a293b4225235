#!/usr/bin/env python3
"""Fetch benchmark: ibdriver fetch against the obvious shell pipeline, in the same run.

A file (default 400 MB) is served over HTTPS on 127.0.0.1 by Debian's nginx (sendfile, one worker), with a
test CA made for the run. Alternating, several rounds, medians:
  (a) ibdriver fetch --url URL --sha256 SUM   (download, hash while streaming, cache)
  (b) curl -o f URL && echo "SUM  f" | sha256sum -c
  (c) curl -o f URL                              (the floor: transfer and file write alone)
Prints the medians, a/b and a/c (the median of each round's ratio), and the peak RSS of (a). Targets (issue 4): a/b <= 0.5, a/c <= 1.2,
peak RSS <= 32 MiB. With --baseline OTHER_IBDRIVER, that binary runs (a) too, in the same rounds.
Usage: bench/fetch_bench.py [--size-mb 400] [--rounds 5] [--ibdriver build/src/ibdriver] [--baseline PATH]
                            [--out /dev/shm]
"""
import argparse
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cpu(server):
    """CPU seconds (user + system) used so far by the server's processes (nginx's master and workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [server.pid]
    try:
        with open("/proc/%d/task/%d/children" % (server.pid, server.pid)) as children:
            pids += [int(pid) for pid in children.read().split()]
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
        except OSError:
            pass
    return total / ticks


def timed(argv, cwd=None, server=None):
    """Wall seconds, peak RSS (KiB) and CPU seconds of one command, measured from outside; the CPU
    seconds include the server's while the command ran (its TLS and loopback TCP share these cores)."""
    server_before = server_cpu(server) if server else 0.0
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("benchmark command failed: %s\n%s" % (" ".join(argv), stderr))
    cpu = usage.ru_utime + usage.ru_stime + ((server_cpu(server) - server_before) if server else 0.0)
    return elapsed, usage.ru_maxrss, cpu


def baseline_line(binary, results):
    """The line comparing (a) with the same command by an older binary ("a0"), round by round: a ratio
    taken within each round stays meaningful when the machine's speed drifts."""
    ratios = [new / old for new, old in zip(results["a"], results["a0"])]
    return "  baseline %s: %.3f s; a/baseline = %.2f (median of the rounds' ratios)" % (
        binary, statistics.median(results["a0"]), statistics.median(ratios))


def make_file(path, size_mb):
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        for i in range(size_mb):
            chunk = bytes([i & 0xFF]) + block[1:]  # distinct blocks, cheap to make
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def start_nginx(work, files, certs, port):
    config = os.path.join(work, "nginx.conf")
    with open(config, "w") as out:
        out.write("""daemon off; worker_processes 1; pid %(w)s/nginx.pid; error_log %(w)s/error.log;
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path %(w)s/tmp; proxy_temp_path %(w)s/tmp; fastcgi_temp_path %(w)s/tmp;
  uwsgi_temp_path %(w)s/tmp; scgi_temp_path %(w)s/tmp;
  server { listen 127.0.0.1:%(p)d ssl; ssl_certificate %(c)s/good.pem; ssl_certificate_key %(c)s/good.key;
           root %(f)s; } }
""" % {"w": work, "p": port, "c": certs, "f": files})
    os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
    process = subprocess.Popen(["nginx", "-c", config, "-p", work], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("nginx did not start")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ibdriver", default=os.path.join(ROOT, "build", "src", "ibdriver"))
    parser.add_argument("--baseline", default=None,
                        help="another ibdriver binary (an older build) timed as (a) in the same rounds")
    parser.add_argument("--out", default=None, help="where the downloads are written (default: on disk, beside "
                                                    "the served file; /dev/shm takes the disk out)")
    args = parser.parse_args()
    for tool in ("nginx", "curl", "sha256sum", "openssl"):
        if shutil.which(tool) is None:
            sys.exit("bench needs %s (apt-get install nginx-light curl coreutils openssl)" % tool)

    work = tempfile.mkdtemp(prefix="ibdriver-bench-")
    os.chmod(work, 0o755)  # nginx workers run as www-data
    nginx = None
    try:
        certs = os.path.join(work, "certs")
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "servers", "make_test_certs.py"), certs], check=True)
        files = os.path.join(work, "files")
        os.makedirs(files)
        name = "MLNX_OFED_LINUX-bench-x86_64.tgz"
        sha = make_file(os.path.join(files, name), args.size_mb)
        port = free_port()
        nginx = start_nginx(work, files, certs, port)
        url = "https://127.0.0.1:%d/%s" % (port, name)
        ca = os.path.join(certs, "ca.pem")
        out = tempfile.mkdtemp(prefix="ibdriver-bench-out-", dir=args.out) if args.out else os.path.join(work, "out")
        os.makedirs(out, exist_ok=True)

        def ibdriver(binary):
            return [binary, "fetch", "--url", url, "--sha256", sha, "--ca-bundle", ca, "--cache-dir",
                    os.path.join(out, "cache"), "--log-file", "/dev/null", "-q"]

        commands = {
            "a": ibdriver(args.ibdriver),
            "b": ["sh", "-c", 'curl -sS --cacert "$1" -o f "$2" && echo "$3  f" | sha256sum -c --quiet -', "sh", ca, url, sha],
            "c": ["curl", "-sS", "--cacert", ca, "-o", "f", url],
        }
        if args.baseline:
            commands["a0"] = ibdriver(args.baseline)
        results = {key: [] for key in commands}
        peaks = []
        timed(commands["c"], cwd=out)  # warm-up: page cache, TLS session set-up
        for _ in range(args.rounds):
            for key in commands:
                shutil.rmtree(os.path.join(out, "cache"), ignore_errors=True)
                if os.path.exists(os.path.join(out, "f")):
                    os.remove(os.path.join(out, "f"))
                os.sync()  # the previous run's writes are not paid by this one
                elapsed, peak, _ = timed(commands[key], cwd=out)
                results[key].append(elapsed)
                if key == "a":
                    peaks.append(peak)
        medians = {key: statistics.median(values) for key, values in results.items()}
        print("fetch benchmark: %d MB over HTTPS on 127.0.0.1 (nginx), %d rounds, medians" % (args.size_mb, args.rounds))
        print("  (a) ibdriver fetch                      %.3f s  (%.0f MB/s)" % (medians["a"], args.size_mb / medians["a"]))
        print("  (b) curl -o f && sha256sum -c           %.3f s" % medians["b"])
        print("  (c) curl -o f (floor)                   %.3f s" % medians["c"])
        # Each round's own ratio, then their median: the machine's speed drifts between rounds.
        a_b = statistics.median(a / b for a, b in zip(results["a"], results["b"]))
        a_c = statistics.median(a / c for a, c in zip(results["a"], results["c"]))
        print("  a/b = %.2f   (target <= 0.5; ratio of the medians %.2f)" % (a_b, medians["a"] / medians["b"]))
        print("  a/c = %.2f   (target <= 1.2; ratio of the medians %.2f)" % (a_c, medians["a"] / medians["c"]))
        print("  peak RSS of (a) = %.1f MiB (max over rounds; target <= 32 MiB)" % (max(peaks) / 1024))
        if args.baseline:
            print(baseline_line(args.baseline, results))
    finally:
        if nginx:
            nginx.terminate()
            nginx.wait()
        shutil.rmtree(work, ignore_errors=True)
        if args.out:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
