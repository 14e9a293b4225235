#!/bin/bash
# Runs inside the VM of ci/vm, at boot, as a systemd unit; prints "VMTEST: PASS|FAIL: ..." lines on the
# console and powers off. Phase 1 (Debian's kernel): install the .deb, Soft-RoCE, `ibdriver install`
# (DKMS, configure, validate through libibverbs), the modules load, `ibdriver validate`, the
# extension's enable with its worker as a transient systemd unit, then the -cloud-amd64 kernel
# installed offline (DKMS builds for it by itself). Phase 2 (the cloud kernel): the modules load,
# `ibdriver status` shows both kernels, uninstall removes them.
# Each phase is a list of scenario functions; every check is one `check NAME CMD...` (ci/check.sh,
# copied beside this script as check.sh, with ci/json-assert as json-assert).
set -u
t=/opt/ibdriver-test
phase=$(cat "$t/phase")
check_prefix="VMTEST: "
# shellcheck source=ci/check.sh
source "$t/check.sh"
say() { echo "VMTEST: $*"; }
seconds_since() { awk -v since="$1" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - since }'; }
json_ok() { "$t/json-assert" "$@"; }
json_value() { "$t/json-assert" --print "$@" 2>/dev/null; }
fake=$t/fakevm/sys
common=()
agent_env=()
# However this script ends (an unset variable ends it under set -u), the VM powers off: ci/vm then
# reports the phase as unfinished instead of waiting for its time limit.
trap 'sync; systemctl poweroff' EXIT
export IBDRIVER_EXTENSION_BINARY=/usr/sbin/ibdriver  # the extension folder gets the installed binary

# ---- helpers ----
# The logs are kept under /var/log/ibdriver-test too: ci/vm reads them out of the disk (debugfs) when
# a check fails or a boot runs out of time (/run is gone by then).
logs=/var/log/ibdriver-test
mkdir -p "$logs"
logged_run() {  # logged_run LOG CMD...: CMD's output to LOG and to the check's output; its time as the detail
  bounded_run 1200 "$@"
}
bounded_run() {  # bounded_run SECONDS LOG CMD...: logged_run that stops CMD (its whole session) after SECONDS, with the processes then running in LOG
  local limit=$1 log=$2 start status=0 pid kept
  shift 2
  kept=$logs/$(basename "$log")
  start=$(date +%s.%N)
  setsid "$@" >"$kept" 2>&1 </dev/null &
  pid=$!
  # tail --pid ends when CMD does; timeout bounds the wait.
  if ! timeout "$limit" tail --pid="$pid" -f /dev/null; then
    { echo "still running after $limit s: stopped; the processes then:"
      # The image has no procps: /proc itself (kernel threads have an empty cmdline).
      for process in /proc/[0-9]*; do
        line=$(tr '\0' ' ' <"$process/cmdline" 2>/dev/null) && [ -n "$line" ] && echo "${process#/proc/} $line"
      done | tail -n 60; } >>"$kept" 2>&1
    kill -TERM -- "-$pid" 2>/dev/null
    timeout 10 tail --pid="$pid" -f /dev/null || kill -KILL -- "-$pid" 2>/dev/null
  fi
  wait "$pid" || status=$?
  sync
  cp "$kept" "$log"
  cat "$log"
  detail "$(seconds_since "$start") s"
  return "$status"
}
modules_for() { [ -f "/lib/modules/$1/updates/dkms/ibdriver_core.ko" ] && [ -f "/lib/modules/$1/updates/dkms/ibdriver_iser.ko" ]; }
modules_load() {
  modprobe ibdriver_core && modprobe ibdriver_iser && lsmod | grep -q '^ibdriver_iser' || return 1
  detail "$(lsmod | awk '/^ibdriver_/ {print $1}' | paste -sd' ')"
}
server_ready() { [ -s "$1" ] && kill -0 "$2" 2>/dev/null; }  # server_ready FILE PID: it wrote FILE and runs

start_servers() {  # the local IMDS and HTTPS mirror; sets $imds, $port, $common and $agent_env once both are ready
  local imds_pid https_pid
  rm -f /run/imds.port /run/https.json
  python3 "$t/imds_server.py" --port-file /run/imds.port --vm-size Standard_HB120rs_v3 >/run/imds.log 2>&1 &
  imds_pid=$!
  python3 "$t/https_server.py" --dir "$t/files" --certs "$t/certs" --port-file /run/https.json --log /run/requests.log >/run/https.log 2>&1 &
  https_pid=$!
  wait_until 60 server_ready /run/imds.port "$imds_pid" && wait_until 60 server_ready /run/https.json "$https_pid" || return 1
  imds="http://127.0.0.1:$(cat /run/imds.port)/metadata/instance/compute?api-version=2021-02-01"
  port=$(json_value /run/https.json 'd["good"]')
  cat >/run/overlay.json <<JSON
{"schema": 1, "releases": [{"kind": "mofed-tgz", "version": "24.10-1.1.4.0", "os": {"id": "debian", "version": "12"},
 "label": "debian12.1", "url": "https://127.0.0.1:$port/files/$(cat "$t/bundle.name")", "sha256": "$(cat "$t/bundle.sha256")",
 "min_generation": "connectx-4", "source": "tests/fixtures/make_mofed_bundle.py"}]}
JSON
  common=(--sysfs-root "$fake" --imds-url "$imds" --catalog /run/overlay.json --ca-bundle "$t/certs/ca.pem")
  agent_env=("IBDRIVER_SYSFS_ROOT=$fake" "IBDRIVER_IMDS_URL=$imds" IBDRIVER_CATALOG=/run/overlay.json "IBDRIVER_CA_BUNDLE=$t/certs/ca.pem")
}

soft_roce() {
  local netdev
  netdev=$(ip -o link show | awk -F': ' '$2 != "lo" {print $2; exit}')
  modprobe rdma_rxe && ip link set "$netdev" up || return 1
  ip addr add 10.0.2.15/24 dev "$netdev" 2>/dev/null
  rdma link add rxe0 type rxe netdev "$netdev" || return 1
  detail "rxe0 on $netdev"
}

deb_installs() {
  logged_run /run/deb.log apt-get install -y "$t"/ibdriver_*_amd64.deb && [ -x /usr/sbin/ibdriver ] || return 1
  detail "$(/usr/sbin/ibdriver --version)"
}
validate_json() {
  ibdriver validate --expect-link-layer any --json >/run/validate.json || return 1
  detail "$(json_value /run/validate.json 'd["message"]')"
}
rxe_is_bundles() {
  local version
  version=$(cat /sys/module/rdma_rxe/version 2>/dev/null)
  detail "rdma_rxe ${version:-(no version: inbox)} from $(modinfo -n rdma_rxe)"
  [ "$version" = 24.10-1.1.4 ]
}
validate_bundle_driver() {
  validate_json || return 1
  json_value /run/validate.json 'd["drivers"]' >/run/drivers.txt
  detail "$(cat /run/drivers.txt)"
  json_ok /run/validate.json \
    'any(x["device"] == "rxe0" and x["module"] == "rdma_rxe" and x["ofed"] and x["version"] == "24.10-1.1.4" for x in d["drivers"])'
}
infiniband_refused() {  # expecting InfiniBand where there is only Ethernet: exit 14 and the reason
  local status=0
  ibdriver validate --wait 0 >/dev/null 2>/run/validate-ib.err || status=$?
  cat /run/validate-ib.err
  [ "$status" -eq 14 ] || { echo "exit $status, not 14"; return 1; }
  detail "$(grep -m1 'validation failed' /run/validate-ib.err | cut -c1-120)"
}
lay_out_extension() {
  "$t/extension-agent" --plain-root layout / >/dev/null &&
    "$t/extension-agent" --plain-root settings / 0 '{"expectLinkLayer": "any"}'
}
extension_success() {
  "$t/extension-agent" --plain-root wait / 0 900 >/run/status.json || { head -c 800 /run/status.json; return 1; }
  detail "$(json_value /run/status.json 'd[0]["status"]["formattedMessage"]["message"]')"
}
worker_unit_ran() {
  journalctl -u ibdriver-extension-worker --no-pager 2>/dev/null | grep -q "extension worker for settings 0 started"
}
cloud_kernel() { find /lib/modules -mindepth 1 -maxdepth 1 -name '*cloud*' -printf '%f\n' | sort | head -1; }
modules_for_cloud() { local cloud; cloud=$(cloud_kernel); [ -n "$cloud" ] && modules_for "$cloud"; }

booted_cloud() { case "$(uname -r)" in *cloud*) return 0 ;; *) echo "booted $(uname -r)"; return 1 ;; esac; }
status_both_kernels() {
  local kernels
  ibdriver status >/run/status.txt 2>&1 || { cat /run/status.txt; return 1; }
  kernels=$(grep '^kernels' /run/status.txt)
  detail "$kernels"
  [ "$(echo "$kernels" | tr ',' '\n' | grep -c 'amd64')" -ge 2 ] || { cat /run/status.txt; return 1; }
}
modules_gone() {
  local left
  left=$(find /lib/modules -name 'ibdriver_*.ko*' | head -3)
  [ -z "$left" ] || { echo "left: $left"; return 1; }
  ! modinfo ibdriver_core >/dev/null 2>&1
}

stage_figures() {  # stage_figures STATE_JSON: the journal's seconds per stage (dkms: per kernel), one line
  python3 -c '
import json, sys
stages = json.load(open(sys.argv[1]))["stages"]
order = ["detect", "resolve", "fetch", "unpack", "packages", "dkms", "configure", "load", "validate"]
parts = []
for name in [n for n in order if n in stages]:
    kernels = stages[name].get("kernels") or {}
    parts.append("%s %.2f" % (name, stages[name]["seconds"]) + (" (%s)" % ", ".join("%s %.2f" % kv for kv in kernels.items()) if kernels else ""))
print("; ".join(parts))' "$1"
}
# The boot unit is Type=notify (repair --ready-after): systemd saw READY=1 and the start succeeded.
boot_unit_started() { [ "$(systemctl show -p ActiveState --value ibdriver-boot.service)" != activating ]; }
boot_unit_notified() {
  wait_until 120 boot_unit_started || { echo "ibdriver-boot.service still activating after 120 s"; return 1; }
  detail "$(systemctl show -p Type,ActiveState,Result,StatusText ibdriver-boot.service | tr '\n' ' ')"
  # Only an sd_notify datagram sets StatusText: a oneshot unit would be active and successful too.
  [ "$(systemctl show -p Type --value ibdriver-boot.service)" = notify ] &&
    [ -n "$(systemctl show -p StatusText --value ibdriver-boot.service)" ] &&
    [ "$(systemctl show -p Result --value ibdriver-boot.service)" = success ] &&
    [ "$(systemctl show -p ActiveState --value ibdriver-boot.service)" = active ]
}

# ---- phase 1: Debian's kernel ----
scenario_install_and_validate() {
  check "the ibdriver .deb installs with apt" deb_installs
  check "the local IMDS and HTTPS mirror are up" start_servers || return
  check "Soft-RoCE on the kernel's own rdma_rxe" soft_roce
  # The bundle ships rdma_rxe prebuilt for this kernel (mlnx-ofed-kernel-modules, ci/build-rxe): the
  # running inbox one is another build, so install restarts the driver on request (--reload). That
  # drops rxe0, so validation follows once the link is made again on the bundle's module.
  check "ibdriver install --reload (fetch, apt, DKMS, the prebuilt rdma_rxe, configure, the driver restarted)" \
    logged_run /run/install.log ibdriver install --yes "${common[@]}" --reload --no-validate
  check "install's load stage: the bundle's driver replaced the running one" \
    grep -q "restarted the driver: the installed driver is the running one" /run/install.log
  say "figure: seconds per stage (journal): $(stage_figures /var/lib/ibdriver/state.json)"
  check "DKMS built ibdriver_core and ibdriver_iser for $(uname -r)" modules_for "$(uname -r)"
  check "the modules load" modules_load
  check "the running rdma_rxe is the bundle's build (version 24.10-1.1.4)" rxe_is_bundles
  check "Soft-RoCE again, on the bundle's rdma_rxe" soft_roce
  check "ibdriver validate passes and judges the bundle's rdma_rxe (OFED 24.10-1.1.4)" validate_bundle_driver
  check "expecting InfiniBand on Soft-RoCE is exit 14" infiniband_refused
}

# The extension, as the guest agent runs it: systemd is PID 1 here, so the worker is a transient unit.
# (The drivers are installed already: its worker checks and reports; ci/chroot-test has the worker
# install from nothing, and phase 2 uninstalls.)
scenario_extension() {
  check "the extension is laid out as the agent does it" lay_out_extension || return
  check "extension enable exits 0" logged_run /run/enable.log "$t/extension-agent" --plain-root run / enable 0 "${agent_env[@]}"
  check "the extension's status reaches success" extension_success
  check "the worker ran as the transient systemd unit ibdriver-extension-worker" worker_unit_ran
  # The guest agent's own code drives the zip (tests/agent/run-in-vm prints its own VMTEST lines).
  "$t/agent/run-in-vm" "${agent_env[@]}"
}

# Kernel upgrade, offline: DKMS's kernel hook builds the registered modules with no ibdriver command.
scenario_kernel_upgrade() {
  # Measured under software emulation: 6 minutes (stop 23), 618 s (stop 25; DKMS for two modules, then
  # update-initramfs); the bound leaves the boot time to show why it is slower.
  check "the -cloud-amd64 kernel and headers install offline" bounded_run 1200 /run/kernel.log apt-get install -y /opt/cloud-kernel/*.deb
  check "DKMS built the modules for $(cloud_kernel) by itself" modules_for_cloud
}

# ---- phase 2: the cloud kernel ----
scenario_cloud_kernel() {
  check "booted the cloud kernel" booted_cloud
  check "the modules load on $(uname -r)" modules_load
  check "ibdriver status: healthy, both kernels" status_both_kernels
  check "the boot unit (Type=notify, repair --ready-after 300) told systemd it was ready: active, Result=success" boot_unit_notified
  if modprobe rdma_rxe 2>/dev/null; then
    check "the local IMDS and HTTPS mirror are up" start_servers
    check "Soft-RoCE" soft_roce
    check "validate passes on $(uname -r)" ibdriver validate --expect-link-layer any --wait 30
  else
    say "note: $(uname -r) has no rdma_rxe module: validation there is skipped"
  fi
}

# The image is offline and its apt cache was cleaned: the distro's rdma-core packages the bundle
# replaced were kept by repacking them from what dpkg had installed, so uninstall puts Debian's back
# without the archive (before that fix it exited 14 naming them; rdma-core, which ships /lib/... on
# merged /usr, was not repacked until 2026-12-01).
rdma_core_is_debians() {
  local version
  # shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
  version=$(dpkg-query -W -f '${Version} ${db:Status-Status}\n' rdma-core libibverbs1 ibverbs-providers)
  detail "$(echo "$version" | tr '\n' ' ')"
  [[ "$version" != *mlnx* ]] && [ "$(grep -c ' installed$' <<<"$version")" -eq 3 ]
}
uninstall_offline() { logged_run /run/uninstall.log ibdriver uninstall --yes; }
scenario_uninstall() {
  modprobe -r ibdriver_iser ibdriver_core
  check "ibdriver uninstall, offline, exits 0" uninstall_offline
  check "Debian's rdma-core, libibverbs1 and ibverbs-providers are back (repacked at install: no archive needed)" rdma_core_is_debians
  check "the modules are gone for every kernel" modules_gone
}

case "$phase" in
  1)
    say "phase 1: kernel $(uname -r), $(nproc) CPUs"
    scenario_install_and_validate
    scenario_extension
    scenario_kernel_upgrade
    echo 2 >"$t/phase"
    ;;
  2)
    say "phase 2: kernel $(uname -r)"
    scenario_cloud_kernel
    scenario_uninstall
    echo finished >"$t/phase"
    ;;
  *) say "nothing to do in phase $phase" ;;
esac
check_summary "phase $phase"
say "phase $phase finished"
