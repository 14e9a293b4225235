#!/bin/bash
# Runs inside the VM of ci/vm: the simulated platform, the only simulated parts of the run.
#   vm-platform.sh start     (a unit ordered before cloud-init's final stage, every boot): the local
#                            IMDS and HTTPS mirror on the ports the NoCloud seed's URLs name, as
#                            transient units, and Soft-RoCE as the HCA (rxe0 on the first netdev).
#   vm-platform.sh rxe-link  (udev, when rdma_rxe is loaded): rxe0 again, as a ConnectX VF's device
#                            comes back when its driver is loaded again (install --reload restarts it).
# Prints "VMTEST: ..." lines on the console (ci/vm counts a FAIL line from any unit).
set -u
t=/opt/ibdriver-test
# The ports and URLs ci/vm wrote the seed and the catalog overlay with.
# shellcheck source=/dev/null
source "$t/platform.env"
# shellcheck source=ci/check.sh
source "$t/check.sh"  # wait_until

first_netdev() { ip -o link show | awk -F': ' '$2 != "lo" {print $2; exit}'; }
rxe_link() {  # rxe_link: rxe0 on the first netdev, unless it is there
  local netdev
  netdev=$(first_netdev)
  rdma link show rxe0/1 >/dev/null 2>&1 && return 0
  # udev's run and the platform's can both add it: the one that loses finds it there.
  rdma link add rxe0 type rxe netdev "$netdev" || rdma link show rxe0/1 >/dev/null 2>&1
}

servers_listening() { [ -s /run/imds.port ] && [ -s /run/https.json ]; }
start() {
  rm -f /run/imds.port /run/https.json
  systemd-run --quiet --unit ibdriver-test-imds python3 "$t/imds_server.py" --port "$IMDS_PORT" \
    --port-file /run/imds.port --vm-size Standard_HB120rs_v3
  systemd-run --quiet --unit ibdriver-test-mirror python3 "$t/https_server.py" --port "$MIRROR_PORT" --dir "$t/files" \
    --certs "$t/certs" --port-file /run/https.json --log /run/requests.log
  # Ready when each wrote its port file (they bind before writing it).
  if ! wait_until 60 servers_listening; then
    echo "VMTEST: FAIL: the local IMDS and HTTPS mirror did not start within 60 s (ports $IMDS_PORT, $MIRROR_PORT)"
    return 1
  fi
  echo "VMTEST: note: the local IMDS (:$IMDS_PORT) and HTTPS mirror (:$MIRROR_PORT) are up"
  if ! modprobe rdma_rxe 2>/dev/null; then
    echo "VMTEST: note: $(uname -r) has no rdma_rxe: no Soft-RoCE on this boot"
    return 0
  fi
  ip link set "$(first_netdev)" up && ip addr add 10.0.2.15/24 dev "$(first_netdev)" 2>/dev/null
  if rxe_link; then
    echo "VMTEST: note: Soft-RoCE rxe0 on $(first_netdev), rdma_rxe $(cat /sys/module/rdma_rxe/version 2>/dev/null || echo inbox)"
  else
    echo "VMTEST: FAIL: Soft-RoCE: rdma link add rxe0 on $(first_netdev) failed"
    return 1
  fi
}

case ${1:-} in
  start) start ;;
  rxe-link) rxe_link ;;
  *) echo "usage: vm-platform.sh start|rxe-link" >&2; exit 2 ;;
esac
