# Sourced by ci/demo and ci/chroot-test: the simulated VM. A Debian 12 root (ci/make-root, copied so the
# base stays clean) with the fake sysfs of a Standard_HB120rs_v3 at its sys/ and an Azure-style
# waagent.conf; a local IMDS and a local HTTPS server (test CA) serving generated MOFED-shaped bundles;
# a catalog overlay with the bundle's row. Only the hardware and IMDS are simulated.
# Needs: root, $build (the build folder), and it sets: $work $root $imds $port, sim_ib, sim_overlay.

sim_pids=()
sim_cleanup() {
  for pid in "${sim_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  umount -l "$root/proc" 2>/dev/null || true
  umount -l "$root/var/lib/ibdriver" 2>/dev/null || true
  rm -rf "$work"
}

sim_fresh_root() {
  umount -l "$root/proc" 2>/dev/null || true
  umount -l "$root/var/lib/ibdriver" 2>/dev/null || true
  rm -rf "$root"
  cp -a "$base" "$root"
  "$build/tests/make-fake-vm" hb120rs_v3 debian12 "$work/fakevm" >/dev/null
  cp -a "$work/fakevm/sys/." "$root/sys/"
  rm -rf "$work/fakevm"
  printf '# Microsoft Azure Linux Agent Configuration\nProvisioning.Enabled=y\nOS.EnableRDMA=n\nLogs.Verbose=n\n' >"$root/etc/waagent.conf"
  mount -t proc proc "$root/proc"
  cp "$build/src/ibdriver" "$root/usr/local/bin/ibdriver"
  cp "$work/certs/ca.pem" "$root/tmp/ca.pem"
}

sim_bundle() {  # sim_bundle NAME [make_mofed_bundle.py options]: a .tgz into the served folder
  local name=$1 made
  shift
  made=$(python3 tests/fixtures/make_mofed_bundle.py "$work/build-$name" --tgz "$@") || return 1
  mv "$made" "$work/files/$name"
  rm -rf "$work/build-$name"
}

sim_start_https() {  # (re)starts the bundle server; sets $port and $https_pid
  rm -f "$work/ports.json"
  python3 tests/servers/https_server.py --dir "$work/files" --certs "$work/certs" --port-file "$work/ports.json" \
    --log "$work/requests.log" >/dev/null 2>&1 &
  https_pid=$!
  sim_pids+=("$https_pid")
  for _ in $(seq 1 200); do [ -s "$work/ports.json" ] && break; sleep 0.05; done
  port=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['good'])" "$work/ports.json")
}

sim_overlay() {  # sim_overlay FILE: the catalog row (debian 12) of a served bundle, at the root's /tmp/overlay.json
  local sha
  sha=$(sha256sum "$work/files/$1" | cut -d' ' -f1)
  cat >"$root/tmp/overlay.json" <<JSON
{"schema": 1, "releases": [{"kind": "mofed-tgz", "version": "24.10-1.1.4.0", "os": {"id": "debian", "version": "12"},
 "label": "debian12.1", "url": "https://127.0.0.1:$port/files/$1", "sha256": "$sha",
 "min_generation": "connectx-4", "source": "tests/fixtures/make_mofed_bundle.py"}]}
JSON
}

sim_ib() { chroot "$root" /usr/local/bin/ibdriver "$@"; }

sim_setup() {
  base=${IBDRIVER_ROOTS:-/var/tmp/ibdriver-roots}/bookworm
  ci/make-root bookworm "$base" || { echo "cannot make the Debian 12 root" >&2; return 1; }
  work=$(mktemp -d /var/tmp/ibdriver-sim.XXXXXX)
  root=$work/root
  python3 tests/servers/make_test_certs.py "$work/certs"
  mkdir -p "$work/files"
  good=MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz
  sim_bundle "$good"
  sim_start_https
  python3 tests/servers/imds_server.py --port-file "$work/imds.port" --vm-size Standard_HB120rs_v3 >/dev/null 2>&1 &
  sim_pids+=("$!")
  for _ in $(seq 1 200); do [ -s "$work/imds.port" ] && break; sleep 0.05; done
  imds="http://127.0.0.1:$(cat "$work/imds.port")/metadata/instance/compute?api-version=2021-02-01"
  sim_fresh_root
  sim_overlay "$good"
}
