#!/usr/bin/env python3
"""Kernels side by side (issue 20): is building the driver for two kernels at once worth it here?

The module is the bundle's real RDMA driver of the VM fixture: Soft-RoCE (rdma_rxe, 20 C files) from
Debian's linux-source-6.1, as ci/build-rxe takes it (the newest one, cached in
$IBDRIVER_ROOTS/linux-source/bench/rxe, fetched with apt-get download when missing). DKMS builds a module with Kbuild (`make -C <headers> M=<build>`)
in one build folder per module that Debian 12's dkms shares between kernels, which is why two kernels
of one module are never built at once there; side by side here means private build copies, the only
safe way. Each round, alternating:
  (a) serial: kernel 1 then kernel 2, each `make -j<cores>`    (what ibdriver's dkms stage does)
  (b) side by side: both at once, each in its own copy, `make -j<cores/2 rounded up>`
The two kernels are the host's installed headers; with one installed kernel, the second is an alias of
the same headers under another name (the compiler's work is the same as for a second kernel: every
file is compiled again into its own folder). Prints medians, the ratio b/a, when the running kernel is
ready either way, and the choice it supports for this machine (side by side only where it saves time
for all kernels without making the running kernel later).
Usage: bench/kernels_bench.py [--rounds 3] [--headers /lib/modules/K/build ...]
"""
import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def rxe_source():
    cache = os.path.join(os.environ.get("IBDRIVER_ROOTS", "/var/tmp/ibdriver-roots"), "linux-source", "bench")
    rxe = os.path.join(cache, "rxe")
    if os.path.exists(os.path.join(rxe, "Makefile")):
        return rxe
    os.makedirs(cache, exist_ok=True)
    for old in glob.glob(os.path.join(cache, "linux-source-6.1_*.deb")):
        os.remove(old)
    subprocess.run(["apt-get", "download", "-q", "linux-source-6.1"], cwd=cache, check=True, stdout=subprocess.DEVNULL)
    deb = glob.glob(os.path.join(cache, "linux-source-6.1_*.deb"))[0]
    partial = rxe + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    # dpkg-deb | tar -O | xz -d | tar -x: the rxe folder only, as ci/build-rxe does.
    tarfile = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    inner = subprocess.Popen(["tar", "-xO", "./usr/src/linux-source-6.1.tar.xz"], stdin=tarfile.stdout, stdout=subprocess.PIPE)
    inflate = subprocess.Popen(["xz", "-dc"], stdin=inner.stdout, stdout=subprocess.PIPE)
    extract = subprocess.run(["tar", "-x", "-C", partial, "--strip-components=5", "--wildcards",
                              "linux-source-6.1/drivers/infiniband/sw/rxe/*"], stdin=inflate.stdout)
    for process in (tarfile, inner, inflate):
        process.wait()
    if extract.returncode != 0:
        sys.exit("cannot extract rdma_rxe from %s" % deb)
    os.remove(deb)
    shutil.rmtree(rxe, ignore_errors=True)
    os.rename(partial, rxe)
    return rxe


def build(headers, source, work, jobs):
    """Starts one Kbuild of the module in a private copy; returns the process."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    log = open(os.path.join(work, "build.log"), "w")
    process = subprocess.Popen(["make", "-s", "-j%d" % jobs, "-C", headers, "M=" + work, "CONFIG_RDMA_RXE=m", "modules"],
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return process


def finish(process, work):
    if process.wait() != 0:
        with open(os.path.join(work, "build.log")) as log:
            sys.exit("the build in %s failed:\n%s" % (work, log.read()[-2000:]))
    if not os.path.exists(os.path.join(work, "rdma_rxe.ko")):
        sys.exit("the build in %s made no rdma_rxe.ko" % work)


def serial(kernels, source, scratch, cores):
    started = time.monotonic()
    each = []
    for index, headers in enumerate(kernels):
        began = time.monotonic()
        work = os.path.join(scratch, "serial-%d" % index)
        finish(build(headers, source, work, cores), work)
        each.append(time.monotonic() - began)
    return time.monotonic() - started, each


def side_by_side(kernels, source, scratch, cores):
    started = time.monotonic()
    jobs = max(1, -(-cores // len(kernels)))
    running = []
    for index, headers in enumerate(kernels):
        work = os.path.join(scratch, "side-%d" % index)
        running.append((build(headers, source, work, jobs), work))
    for process, work in running:
        finish(process, work)
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--headers", nargs="*", help="two kernels' build folders (default: the installed ones)")
    args = parser.parse_args()
    kernels = args.headers or sorted(path for path in glob.glob("/lib/modules/*/build")
                                     if os.path.exists(os.path.join(path, "Makefile")))
    if not kernels:
        sys.exit("no kernel headers under /lib/modules/*/build: apt-get install linux-headers-amd64")
    note = ""
    if len(kernels) == 1:
        kernels = [kernels[0], kernels[0]]
        note = " (one installed kernel: the second is an alias of its headers, compiled again into its own folder)"
    kernels = kernels[:2]
    cores = os.cpu_count() or 1
    source = rxe_source()
    files = len(glob.glob(os.path.join(source, "*.c")))
    print("module: rdma_rxe from Debian's linux-source-6.1, %d C files; kernels: %s%s; %d cores" %
          (files, ", ".join(kernels), note, cores))
    serial_times, side_times, firsts = [], [], []
    with tempfile.TemporaryDirectory(prefix="kernels-bench-") as scratch:
        for round_number in range(args.rounds):
            order = [serial, side_by_side] if round_number % 2 == 0 else [side_by_side, serial]
            for method in order:
                if method is serial:
                    total, each = serial(kernels, source, scratch, cores)
                    serial_times.append(total)
                    firsts.append(each[0])
                else:
                    side_times.append(side_by_side(kernels, source, scratch, cores))
            print("round %d: serial %.1f s (first kernel %.1f s), side by side %.1f s" %
                  (round_number + 1, serial_times[-1], firsts[-1], side_times[-1]))
    a = statistics.median(serial_times)
    b = statistics.median(side_times)
    first = statistics.median(firsts)
    print("(a) serial, each make -j%d:          median %.1f s (the first kernel ready after %.1f s)" % (cores, a, first))
    print("(b) side by side, private copies:     median %.1f s (both kernels ready together)" % b)
    print("ratio b/a: %.2f (all kernels); the running kernel ready: serial %.1f s, side by side %.1f s (%.2f)" %
          (b / a, first, b, first / b))
    # What a user waits for is the running kernel (issue 20): serial builds it first, at full speed.
    if b / a < 0.9 and b <= first:
        print("choice: side by side pays here (%.0f%% less wall time, the running kernel no later), with private "
              "build copies" % (100 * (1 - b / a)))
    else:
        print("choice: serial, the running kernel first, on %d cores (measured): side by side would save %.0f%% of the "
              "wall time for all kernels but have the running kernel ready %.0f%% later" %
              (cores, 100 * (1 - b / a), 100 * (b / first - 1)))


if __name__ == "__main__":
    main()
