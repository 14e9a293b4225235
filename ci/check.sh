# shellcheck shell=bash
# Sourced by ci/chroot-test, ci/vm-guest.sh and the package checks: the one way a scenario states a
# check, a bounded wait, and the test HTTPS server.
#   check NAME CMD...    runs CMD (a command or a function) with its output kept aside; prints
#                        "PASS: NAME" or "FAIL: NAME (exit N)" and the output's last lines; counts it;
#                        returns CMD's status (a scenario may stop when a later check would be moot).
#   detail TEXT          inside CMD: what the PASS line shows after NAME (a time, the message seen).
#   wait_until SECONDS CMD...  polls CMD until it succeeds; fails after SECONDS. A bounded wait for a
#                        condition (a ready file, a process), never a fixed sleep standing in for one.
#   check_summary LABEL  prints the counts; returns non-zero when a check failed.
#   start_https_server DIR  the test HTTPS server (tests/servers/https_server.py, run from the source
#                        tree) serving DIR/files with a test CA of its own (DIR/certs/ca.pem); sets
#                        server_pid (the caller kills it) and port (its "good" port) once it listens;
#                        returns 1 when it did not start within 30 s.
# Set check_prefix before sourcing to prefix every line (ci/vm-guest.sh: "VMTEST: ").
check_prefix=${check_prefix:-}
checks_passed=0
checks_failed=0
check_files=""

detail() { printf '%s' "$*" >"$check_files/detail"; }

check() {
  local name=$1 status=0 shown line
  shift
  [ -n "$check_files" ] || check_files=$(mktemp -d "${TMPDIR:-/tmp}/ibdriver-check.XXXXXX")
  : >"$check_files/detail"
  "$@" >"$check_files/output" 2>&1 </dev/null || status=$?
  if [ "$status" -eq 0 ]; then
    checks_passed=$((checks_passed + 1))
    shown=$(cat "$check_files/detail")
    echo "${check_prefix}PASS: $name${shown:+ ($shown)}"
  else
    checks_failed=$((checks_failed + 1))
    echo "${check_prefix}FAIL: $name (exit $status)"
    tail -n 8 "$check_files/output" | while IFS= read -r line; do echo "${check_prefix}    $line"; done
  fi
  return "$status"
}

wait_until() {
  local seconds=$1 deadline
  shift
  deadline=$(($(date +%s%N) + seconds * 1000000000))
  until "$@"; do
    if [ "$(date +%s%N)" -ge "$deadline" ]; then
      echo "wait_until: '$*' still false after $seconds s" >&2
      return 1
    fi
    sleep 0.02
  done
}

check_summary() {
  echo "${check_prefix}$1: $checks_passed passed, $checks_failed failed"
  [ -z "$check_files" ] || rm -rf "$check_files"
  [ "$checks_failed" -eq 0 ]
}

start_https_server() {
  local dir=$1
  python3 tests/servers/make_test_certs.py "$dir/certs" >/dev/null || return 1
  mkdir -p "$dir/files"
  python3 tests/servers/https_server.py --dir "$dir/files" --certs "$dir/certs" \
    --port-file "$dir/ports.json" --log "$dir/requests.log" >/dev/null 2>&1 &
  server_pid=$!
  wait_until 30 https_server_listening "$dir" || return 1
  # shellcheck disable=SC2034 # for the caller
  port=$(ci/json-assert --print "$dir/ports.json" 'd["good"]')
}
https_server_listening() { [ -s "$1/ports.json" ] && kill -0 "$server_pid" 2>/dev/null; }
