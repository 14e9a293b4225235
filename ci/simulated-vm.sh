# shellcheck shell=bash
# Sourced by ci/demo and ci/chroot-test: the simulated VM. A Debian 12 root (ci/make-root, copied so the
# base stays clean) with the fake sysfs of a Standard_HB120rs_v3 at its sys/ and an Azure-style
# waagent.conf; a local IMDS and a local HTTPS server (test CA) serving generated MOFED-shaped bundles;
# a catalog overlay with the bundle's row. Only the hardware and IMDS are simulated.
# Needs: root, $build (the build folder), and it sets: $work $root $imds $port $good, sim_ib, sim_overlay.
# IBDRIVER_SIM_LOGS=DIR keeps the logs and JSON outputs of the run there (the work folder is removed).
# IBDRIVER_SIM_ARCH=aarch64 simulates a Standard_ND128isr_NDR_GB200_v6 instead, in an arm64 Debian 12
# root run under qemu-user (ci/make-root ... arm64), with IBDRIVER_SIM_BINARY, an aarch64 ibdriver.
build=${build:?set build (the build folder) before sourcing ci/simulated-vm.sh}
sim_arch=${IBDRIVER_SIM_ARCH:-x86_64}
case $sim_arch in
  x86_64) sim_dpkg_arch=amd64 sim_vm=hb120rs_v3 sim_size=Standard_HB120rs_v3 sim_binary=${IBDRIVER_SIM_BINARY:-$build/src/ibdriver} ;;
  aarch64) sim_dpkg_arch=arm64 sim_vm=nd128isr_gb200_v6 sim_size=Standard_ND128isr_NDR_GB200_v6
    sim_binary=${IBDRIVER_SIM_BINARY:?IBDRIVER_SIM_ARCH=aarch64 needs IBDRIVER_SIM_BINARY, an aarch64 ibdriver (ci/portable)} ;;
  *) echo "ci/simulated-vm.sh: IBDRIVER_SIM_ARCH is x86_64 or aarch64, not $sim_arch" >&2; exit 2 ;;
esac
ci_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ci/check.sh
source "$ci_dir/check.sh"

sim_pids=()
https_pid=""
work=""
root=""
sim_cleanup() {
  local pid
  [ -n "$work" ] || return 0
  if [ -n "${IBDRIVER_SIM_LOGS:-}" ]; then  # keep the logs, the JSON outputs and the root's journal and log
    mkdir -p "$IBDRIVER_SIM_LOGS"
    find "$work" -maxdepth 1 -type f \( -name '*.log' -o -name '*.json' -o -name '*.err' \) -exec cp {} "$IBDRIVER_SIM_LOGS/" \;
    cp "$root/var/log/ibdriver.log" "$root/var/lib/ibdriver/state.json" "$IBDRIVER_SIM_LOGS/" 2>/dev/null || true
  fi
  for pid in "${sim_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sim_kill_root_processes
  umount -l "$root/proc" 2>/dev/null || true
  umount -l "$root/var/lib/ibdriver" 2>/dev/null || true
  rm -rf "$work"
}

sim_root_pids() {  # sim_root_pids REGEX: the processes running in $root whose command line matches
  local pid
  [ -n "$root" ] || return 0
  for pid in $(pgrep -f -- "$1"); do
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" != "$root" ] || echo "$pid"
  done
  return 0
}

sim_root_idle() { [ -z "$(sim_root_pids .)" ]; }  # no process runs in $root

sim_kill_root_processes() {  # what a killed or failed run left running in $root (an orphaned apt-get)
  local pid
  for pid in $(sim_root_pids .); do kill -9 "$pid" 2>/dev/null || true; done
}

sim_fresh_root() {
  sim_kill_root_processes
  umount -l "$root/proc" 2>/dev/null || true
  umount -l "$root/var/lib/ibdriver" 2>/dev/null || true
  rm -rf "$root"
  cp -a "$base" "$root"
  sim_fake_sysfs "$sim_vm"
  printf '# Microsoft Azure Linux Agent Configuration\nProvisioning.Enabled=y\nOS.EnableRDMA=n\nLogs.Verbose=n\n' >"$root/etc/waagent.conf"
  mount -t proc proc "$root/proc"
  cp "$sim_binary" "$root/usr/local/bin/ibdriver"
  cp "$work/certs/ca.pem" "$root/tmp/ca.pem"
}

sim_fake_sysfs() {  # sim_fake_sysfs VM: the root's sys/ becomes that of a fake VM (build/tests/make-fake-vm's names)
  rm -rf "$work/fakevm" "$root/sys" && mkdir "$root/sys" &&
    "$build/tests/make-fake-vm" "$1" debian12 "$work/fakevm" >/dev/null && cp -a "$work/fakevm/sys/." "$root/sys/" &&
    rm -rf "$work/fakevm"
}

sim_start_imds() {  # sim_start_imds NAME SIZE: an IMDS answering SIZE (log $work/imds-NAME.log); sets sim_imds_url
  local imds_pid
  python3 tests/servers/imds_server.py --port-file "$work/imds-$1.port" --vm-size "$2" >"$work/imds-$1.log" 2>&1 &
  imds_pid=$!
  sim_pids+=("$imds_pid")
  wait_until 30 sim_ready "$work/imds-$1.port" "$imds_pid" || { cat "$work/imds-$1.log" >&2; return 1; }
  sim_imds_url="http://127.0.0.1:$(cat "$work/imds-$1.port")/metadata/instance/compute?api-version=2021-02-01"
}

sim_bundle() {  # sim_bundle NAME [make_mofed_bundle.py options]: a .tgz into the served folder
  local name=$1 made
  shift
  made=$(python3 tests/fixtures/make_mofed_bundle.py "$work/build-$name" --tgz "$@") || return 1
  mv "$made" "$work/files/$name"
  rm -rf "$work/build-$name"
}

sim_ready() { [ -s "$1" ] && kill -0 "$2" 2>/dev/null; }  # sim_ready FILE PID: the server wrote FILE and runs

sim_start_https() {  # (re)starts the bundle server; sets $port and $https_pid once it wrote its ports
  rm -f "$work/ports.json"
  python3 tests/servers/https_server.py --dir "$work/files" --certs "$work/certs" --port-file "$work/ports.json" \
    --log "$work/requests.log" >"$work/https.log" 2>&1 &
  https_pid=$!
  sim_pids+=("$https_pid")
  wait_until 30 sim_ready "$work/ports.json" "$https_pid" || { cat "$work/https.log" >&2; return 1; }
  port=$("$ci_dir/json-assert" --print "$work/ports.json" 'd["good"]')
}

sim_stop_https() {
  [ -n "$https_pid" ] || return 0
  kill "$https_pid" 2>/dev/null || true
  wait "$https_pid" 2>/dev/null || true
  https_pid=""
}

sim_https_running() { [ -n "$https_pid" ] && kill -0 "$https_pid" 2>/dev/null; }

sim_overlay() {  # sim_overlay FILE [MODES]: the catalog row (debian 12) of a served bundle, at the root's /tmp/overlay.json
  local sha modes=${2:-files}  # MODES: the server's fault modes for this URL (tests/servers/https_server.py)
  sha=$(sha256sum "$work/files/$1" | cut -d' ' -f1)
  cat >"$root/tmp/overlay.json" <<JSON
{"schema": 1, "releases": [{"kind": "mofed-tgz", "arch": "$sim_arch", "version": "24.10-1.1.4.0", "os": {"id": "debian", "version": "12"},
 "label": "debian12.1", "url": "https://127.0.0.1:$port/$modes/$1", "sha256": "$sha",
 "min_generation": "connectx-4", "source": "tests/fixtures/make_mofed_bundle.py"}]}
JSON
}

sim_ib() { chroot "$root" /usr/local/bin/ibdriver "$@"; }

sim_setup() {
  local imds_pid
  base=${IBDRIVER_ROOTS:-/var/tmp/ibdriver-roots}/bookworm
  [ "$sim_arch" = x86_64 ] || base+=-$sim_dpkg_arch
  "$ci_dir/make-root" bookworm "$base" "$sim_dpkg_arch" || { echo "cannot make the Debian 12 root ($sim_dpkg_arch)" >&2; return 1; }
  work=$(mktemp -d /var/tmp/ibdriver-sim.XXXXXX)
  root=$work/root
  python3 tests/servers/make_test_certs.py "$work/certs"
  mkdir -p "$work/files"
  good=MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-$sim_arch.tgz
  sim_bundle "$good" --arch "$sim_arch" || return 1
  sim_start_https || return 1
  sim_start_imds vm "$sim_size" || return 1
  # shellcheck disable=SC2034 # for the scripts that source this file
  imds=$sim_imds_url
  sim_fresh_root
  sim_overlay "$good"
}
