#!/bin/bash
# Runs inside the VM of ci/vm, at boot, as a systemd unit after cloud-init's final stage; prints
# "VMTEST: PASS|FAIL: ..." lines on the console and powers off. Phase 1 (Debian's kernel): cloud-init
# ran packaging/examples/cloud-init.yaml from a NoCloud seed (the published .deb from the local mirror
# with apt, offline; `ibdriver install --bundle --reload`: DKMS, configure, the driver restarted,
# validated through libibverbs on Soft-RoCE; no reboot); the modules load, `ibdriver validate`, the
# extension's enable with its worker as a transient systemd unit, then the -cloud-amd64 kernel
# installed offline (DKMS builds for it by itself). Phase 2 (the cloud kernel): the modules load,
# `ibdriver status` shows both kernels, uninstall removes them. The simulated platform (local IMDS and
# mirror, Soft-RoCE as the HCA) is ci/vm-platform.sh's, started before cloud-init's final stage.
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

# The platform ci/vm-platform.sh started (the ports and URLs of platform.env, the catalog overlay
# ci/vm wrote with them); sets $agent_env once both servers wrote their port files.
# shellcheck source=/dev/null
source "$t/platform.env"
platform_ready() {
  if [ ! -s /run/imds.port ] || [ ! -s /run/https.json ]; then
    echo "ci/vm-platform.sh did not start the servers (systemctl status ibdriver-vm-platform)"
    return 1
  fi
  agent_env=("IBDRIVER_SYSFS_ROOT=$fake" "IBDRIVER_IMDS_URL=$IMDS_URL" "IBDRIVER_CATALOG=$t/overlay.json" "IBDRIVER_CA_BUNDLE=$t/certs/ca.pem")
}

soft_roce() {  # rxe0 on the first netdev (ci/vm-platform.sh made it at boot, and udev after a driver restart)
  modprobe rdma_rxe && "$t/platform.sh" rxe-link || return 1
  detail "$(rdma link show rxe0/1 | cut -c1-100)"
}

cloud_init_done() {  # cloud-init's own verdict: NoCloud from the seed, every stage without an error
  local status=0
  cloud-init status --long >/run/cloud-init-status.txt 2>&1 || status=$?
  cat /run/cloud-init-status.txt /run/cloud-init/result.json 2>/dev/null
  detail "$(grep -m1 '^status' /run/cloud-init-status.txt); $(json_value /run/cloud-init/result.json 'd["v1"]["datasource"]')"
  if [ "$status" -ne 0 ] || ! grep -qx 'status: done' /run/cloud-init-status.txt ||
    ! json_ok /run/cloud-init/result.json 'd["v1"]["errors"] == [] and "NoCloud" in d["v1"]["datasource"]'; then
    tail -n 40 /var/log/cloud-init-output.log
    return 1
  fi
}
recipe_deb_installed() {  # the published .deb the recipe downloaded, by version, needing only the C library
  local staged installed depends
  staged=$(dpkg-deb -f "$t"/files/ibdriver_*.deb Version)
  # shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
  installed=$(dpkg-query -W -f '${Version}' ibdriver 2>/dev/null)
  depends=$(dpkg-deb -f "$t"/files/ibdriver_*.deb Depends)
  detail "ibdriver $installed (the mirror's: $staged; Depends: $depends); $(/usr/sbin/ibdriver --version | head -1)"
  [ -n "$installed" ] && [ "$installed" = "$staged" ] && [[ "$depends" =~ ^libc6\ \(\>=\ [0-9.]+\)$ ]]
}
recipe_install_done() {  # install's journal: every stage ran, the driver was restarted in place and validated
  grep -q "restarted the driver: the installed driver is the running one" /var/log/cloud-init-output.log || {
    tail -n 40 /var/log/cloud-init-output.log
    return 1
  }
  detail "$(grep -m1 ' installed: ' /var/log/cloud-init-output.log | cut -c1-160)"
  json_ok /var/lib/ibdriver/state.json 'all(s in d["stages"] for s in ("fetch", "packages", "dkms", "configure", "load", "validate"))'
}
condition_not_met() { grep -q "check_condition command (\['test', '-e', '/run/reboot-required'\]): exited 1. condition not met" /var/log/cloud-init.log; }
recipe_no_reboot() {  # power_state's condition: install left no /run/reboot-required, so no reboot
  [ ! -e /run/reboot-required ] && [ ! -e /var/lib/ibdriver-offline ] || return 1
  # cloud-init checks the condition in a process of its own once it has exited: its log line can follow.
  wait_until 120 condition_not_met || { grep -a 'power_state\|check_condition' /var/log/cloud-init.log | tail -n 5; return 1; }
  detail "$(grep -o 'check_condition command.*' /var/log/cloud-init.log | tail -n 1)"
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
# The first install is cloud-init's: the recipe's runcmd, unchanged but for its two URLs (ci/vm).
# The bundle ships rdma_rxe prebuilt for this kernel (mlnx-ofed-kernel-modules, ci/build-rxe): the
# running inbox one (Soft-RoCE, loaded at boot as the HCA's driver) is another build, so the recipe's
# install restarts the driver (--reload); udev makes rxe0 again, and install validates on it
# (IBDRIVER_EXPECT_LINK_LAYER=any in cloud-final's environment: Soft-RoCE is Ethernet).
scenario_cloud_init() {
  check "cloud-init ran the recipe from the NoCloud seed: status done, no errors" cloud_init_done
  check "the recipe installed the published .deb from the mirror with apt, offline; it needs only libc6" recipe_deb_installed
  check "the recipe's install: the bundle verified, apt, DKMS, the prebuilt rdma_rxe, the driver restarted (--reload), validated" recipe_install_done
  check "no reboot: install left no /run/reboot-required, so power_state's condition was false; the download folder is gone" recipe_no_reboot
  say "figure: seconds per stage (journal): $(stage_figures /var/lib/ibdriver/state.json)"
}
scenario_install_and_validate() {
  check "the local IMDS and HTTPS mirror are up (ci/vm-platform.sh)" platform_ready || return
  check "DKMS built ibdriver_core and ibdriver_iser for $(uname -r)" modules_for "$(uname -r)"
  check "the modules load" modules_load
  check "the running rdma_rxe is the bundle's build (version 24.10-1.1.4)" rxe_is_bundles
  check "Soft-RoCE on the bundle's rdma_rxe" soft_roce
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
    check "the local IMDS and HTTPS mirror are up (ci/vm-platform.sh)" platform_ready
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
    scenario_cloud_init
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
