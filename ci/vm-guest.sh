#!/bin/bash
# Runs inside the VM of ci/vm, at boot, as a systemd unit; prints "VMTEST: PASS|FAIL: ..." lines on the
# console and powers off. Phase 1 (Debian's kernel): install the .deb, Soft-RoCE, `ibdriver install`
# (DKMS, configure, validate through libibverbs), the modules load, `ibdriver validate`, the
# extension's enable with its worker as a transient systemd unit, then the -cloud-amd64 kernel
# installed offline (DKMS builds for it by itself). Phase 2 (the cloud kernel): the modules load,
# `ibdriver status` shows both kernels, uninstall removes them.
set -u
t=/opt/ibdriver-test
phase=$(cat "$t/phase")
say() { echo "VMTEST: $*"; }
pass() { say "PASS: $*"; }
fail() { say "FAIL: $*"; }
elapsed() { awk -v since="$1" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - since }'; }
fake=$t/fakevm/sys
export IBDRIVER_EXTENSION_BINARY=/usr/sbin/ibdriver  # the extension folder gets the installed binary

start_servers() {
  python3 "$t/imds_server.py" --port-file /run/imds.port --vm-size Standard_HB120rs_v3 >/dev/null 2>&1 &
  python3 "$t/https_server.py" --dir "$t/files" --certs "$t/certs" --port-file /run/https.json --log /run/requests.log >/dev/null 2>&1 &
  for _ in $(seq 1 100); do [ -s /run/imds.port ] && [ -s /run/https.json ] && break; sleep 0.1; done
  imds="http://127.0.0.1:$(cat /run/imds.port)/metadata/instance/compute?api-version=2021-02-01"
  port=$(python3 -c "import json; print(json.load(open('/run/https.json'))['good'])")
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
  modprobe rdma_rxe && ip link set "$netdev" up && { ip addr add 10.0.2.15/24 dev "$netdev" 2>/dev/null || true; } &&
    rdma link add rxe0 type rxe netdev "$netdev" && pass "Soft-RoCE: rxe0 on $netdev" || fail "cannot set up Soft-RoCE on $netdev"
}

modules_for() { [ -f "/lib/modules/$1/updates/dkms/ibdriver_core.ko" ] && [ -f "/lib/modules/$1/updates/dkms/ibdriver_iser.ko" ]; }

phase1() {
  say "phase 1: kernel $(uname -r), $(nproc) CPUs"
  if apt-get install -y "$t"/ibdriver_*_amd64.deb >/run/deb.log 2>&1 && [ -x /usr/sbin/ibdriver ]; then
    pass "the ibdriver .deb installs with apt: $(/usr/sbin/ibdriver --version)"
  else
    fail "the .deb: $(tail -3 /run/deb.log)"
  fi
  start_servers
  soft_roce
  local start
  start=$(date +%s.%N)
  if ibdriver install --yes "${common[@]}" --expect-link-layer any >/run/install.log 2>&1; then
    pass "ibdriver install (fetch, apt, DKMS, configure, validate through libibverbs) in $(elapsed "$start") s"
  else
    fail "install: $(tail -5 /run/install.log)"
  fi
  grep -q "validated: rxe0 port 1 is ACTIVE on Ethernet" /run/install.log && pass "install's validate stage saw rxe0 ACTIVE" || fail "no validation line in the install log"
  modules_for "$(uname -r)" && pass "DKMS built ibdriver_core and ibdriver_iser for $(uname -r)" || fail "no modules for $(uname -r)"
  modprobe ibdriver_core && modprobe ibdriver_iser && lsmod | grep -q '^ibdriver_iser' &&
    pass "the modules load: $(lsmod | awk '/^ibdriver_/ {print $1}' | tr '\n' ' ')" || fail "the modules do not load"
  if ibdriver validate --expect-link-layer any --json >/run/validate.json 2>/run/validate.err; then
    pass "ibdriver validate: $(python3 -c "import json; print(json.load(open('/run/validate.json'))['message'])")"
  else
    fail "validate: $(cat /run/validate.err)"
  fi
  ibdriver validate --wait 0 >/dev/null 2>/run/validate-ib.err && fail "an Ethernet-only port passed as InfiniBand" ||
    pass "expecting InfiniBand on Soft-RoCE is exit 14: $(grep -m1 'validation failed' /run/validate-ib.err | cut -c1-120)"

  # The extension, as the guest agent runs it: systemd is PID 1 here, so the worker is a transient unit.
  # (The drivers are installed already: its worker checks and reports; ci/chroot-test has the worker
  # install from nothing, and phase 2 uninstalls.)
  "$t/extension-agent" --plain-root layout / >/dev/null &&
    "$t/extension-agent" --plain-root settings / 0 '{"expectLinkLayer": "any"}' || fail "cannot lay out the extension"
  start=$(date +%s.%N)
  "$t/extension-agent" --plain-root run / enable 0 "${agent_env[@]}" >/run/enable.log 2>&1 &&
    pass "extension enable exits 0 after $(elapsed "$start") s" || fail "enable: $(tail -3 /run/enable.log)"
  if "$t/extension-agent" --plain-root wait / 0 900 >/run/status.json 2>/run/wait.err; then
    pass "the extension's status reaches success: $(python3 -c "import json; print(json.load(open('/run/status.json'))[0]['status']['formattedMessage']['message'])")"
  else
    fail "extension status: $(cat /run/wait.err; head -c 800 /run/status.json)"
  fi
  journalctl -u ibdriver-extension-worker --no-pager 2>/dev/null | grep -q "extension worker for settings 0 started" &&
    pass "the worker ran as the transient systemd unit ibdriver-extension-worker" || fail "no journal of the transient worker unit"
  "$t/agent/run-in-vm" "${agent_env[@]}"  # the guest agent's own code drives the zip (tests/agent/run-in-vm)

  # Kernel upgrade, offline: DKMS's kernel hook builds the registered modules with no ibdriver command.
  start=$(date +%s.%N)
  if apt-get install -y /opt/cloud-kernel/*.deb >/run/kernel.log 2>&1; then
    pass "the -cloud-amd64 kernel and headers install offline in $(elapsed "$start") s"
  else
    fail "kernel upgrade: $(tail -3 /run/kernel.log)"
  fi
  local cloud
  cloud=$(ls /lib/modules | grep cloud | head -1)
  modules_for "$cloud" && pass "DKMS built the modules for $cloud by itself" || fail "no modules for $cloud after the kernel install"
  echo 2 >"$t/phase"
}

phase2() {
  say "phase 2: kernel $(uname -r)"
  case "$(uname -r)" in *cloud*) pass "booted the cloud kernel $(uname -r)" ;; *) fail "booted $(uname -r), not the cloud kernel" ;; esac
  modprobe ibdriver_core && modprobe ibdriver_iser && pass "the modules load on $(uname -r)" || fail "the modules do not load on $(uname -r)"
  ibdriver status >/run/status.txt 2>&1
  local code=$?
  local kernels
  kernels=$(grep '^kernels' /run/status.txt)
  if [ "$code" -eq 0 ] && [ "$(echo "$kernels" | tr ',' '\n' | grep -c 'amd64')" -ge 2 ]; then
    pass "ibdriver status: healthy, $kernels"
  else
    fail "status (exit $code): $(cat /run/status.txt)"
  fi
  if modprobe rdma_rxe 2>/dev/null; then
    start_servers
    soft_roce
    ibdriver validate --expect-link-layer any --wait 30 >/dev/null 2>&1 && pass "validate passes on $(uname -r)" || fail "validate on $(uname -r)"
  else
    say "note: $(uname -r) has no rdma_rxe module: validation there is skipped"
  fi
  modprobe -r ibdriver_iser ibdriver_core
  ibdriver uninstall --yes >/run/uninstall.log 2>&1 && pass "ibdriver uninstall" || fail "uninstall: $(tail -3 /run/uninstall.log)"
  local left
  left=$(find /lib/modules -name 'ibdriver_*.ko*' | head -3)
  [ -z "$left" ] && ! modinfo ibdriver_core >/dev/null 2>&1 && pass "the modules are gone for every kernel" || fail "modules left: $left"
  echo done >"$t/phase"
}

case "$phase" in
  1) phase1 ;;
  2) phase2 ;;
  *) say "nothing to do in phase $phase" ;;
esac
say "phase $phase finished"
sync
systemctl poweroff
