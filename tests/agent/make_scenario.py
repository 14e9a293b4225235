#!/usr/bin/env python3
"""make_scenario.py MODE OUT.json --zip-dir DIR --new V [--old V] [--port P --secret S]: the steps
agent_driver.py takes.

MODE chroot (ci/agent-test, in the Debian 12 root; no kernel, so no validation):
  this version: install + enable (the worker installs: success), the boot unit's kept copy, no
  HandlerState of ours, enable again (health check), disable, uninstall (uninstallDrivers: all gone),
  the events; the previous release: install + enable (success; its unit runs its folder's binary), the
  agent's update to this version, the repair moved to the kept copy, uninstall; the events; then a bad
  setting with the heartbeat switched on (exit 1, error status, NotReady heartbeat).
MODE vm (ci/vm-guest.sh, real systemd, the drivers already installed by the .deb's ibdriver and kept for
  phase 2): install + enable (the worker as a transient unit: success), enable again, disable,
  uninstall keeping the drivers, the events, the bad setting with the heartbeat.
"""
import argparse
import json

NAME = "Microsoft.HpcCompute.InfiniBandDriverLinux"
FOLDER = "/var/lib/waagent/%s-" % NAME
UNIT = "/etc/systemd/system/ibdriver-boot.service"


def check(what, command):
    return {"do": "check", "what": what, "command": command}


def this_version(new, settings, protected, kept_copy):
    steps = [{"do": "enable", "version": new, "settings": settings, "protected": protected, "wait": 900, "expect": "success",
              "contains": "installed"}]
    if kept_copy:
        steps += [check("the boot unit runs the kept copy /var/lib/ibdriver/bin/ibdriver, not the extension folder's binary",
                        "grep -qx 'ExecStart=/var/lib/ibdriver/bin/ibdriver repair --quiet --ready-after 300' %s && /var/lib/ibdriver/bin/ibdriver --version" % UNIT),
                  check("ibdriver status through the kept copy: healthy", "/var/lib/ibdriver/bin/ibdriver status")]
    steps += [
        check("no HandlerState of ours: config/ holds the settings and the agent's HandlerState (Enabled) and HandlerStatus",
              "test \"$(cat {0}{1}/config/HandlerState)\" = Enabled && ! ls {0}{1}/config | grep -vxE '[0-9]+[.]settings|HandlerState|HandlerStatus'"
              .format(FOLDER, new)),
        {"do": "enable", "version": new, "settings": settings, "protected": protected, "expect": "success", "contains": "installed and healthy"},
        {"do": "disable", "version": new, "settings": settings, "protected": protected, "expect": "success"},
        {"do": "uninstall", "version": new, "settings": settings, "protected": protected},
    ]
    return steps


def bad_setting(new):
    return [
        {"do": "enable", "version": new, "settings": {"noSuchSetting": True}, "report_heartbeat": True, "expect_error": True,
         "expect": "error", "code": 1, "contains": "\"noSuchSetting\" is not known"},
        # The install failed, so the agent's HandlerState is NotInstalled: it only removes the folder.
        {"do": "uninstall", "version": new, "settings": {"noSuchSetting": True}, "commands": False},
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["chroot", "vm"])
    parser.add_argument("out")
    parser.add_argument("--zip-dir", required=True)
    parser.add_argument("--new", required=True)
    parser.add_argument("--old")
    parser.add_argument("--port")
    parser.add_argument("--secret", default="")
    parser.add_argument("--settings", default="{}")
    args = parser.parse_args()
    zips = {v: "%s/%s-%s.zip" % (args.zip_dir, NAME, v) for v in (args.new, args.old) if v}
    settings = json.loads(args.settings)
    secrets = [args.secret] if args.secret else []
    if args.mode == "chroot":
        protected = {"mirrorUrl": "https://127.0.0.1:%s/files?sv=2024-01-01&sig=%s" % (args.port, args.secret), "uninstallDrivers": True}
        steps = this_version(args.new, settings, protected, kept_copy=True)
        steps += [check("uninstall removed the drivers, the boot unit and the kept copy",
                        "test ! -e /var/lib/ibdriver/state.json && test ! -e %s && test ! -e /var/lib/ibdriver/bin/ibdriver"
                        " && ! dpkg -s mlnx-ofed-hpc >/dev/null 2>&1" % UNIT),
                  {"do": "events", "secrets": secrets, "min": 8}]
        if args.old:
            old, new = args.old, args.new
            steps += [
                {"do": "enable", "version": old, "settings": settings, "protected": protected, "wait": 900, "expect": "success",
                 "contains": "installed"},
                check("the previous release's boot unit runs the binary inside its extension folder (what the update must move)",
                      "grep -q 'ExecStart=%s%s/bin/ibdriver repair' %s" % (FOLDER, old, UNIT)),
                check("keep the previous release's journal and boot unit (tests/fixtures/journal)",
                      "cp /var/lib/ibdriver/state.json /opt/agent-test/state-previous.json && cp %s /opt/agent-test/ibdriver-boot.service-previous" % UNIT),
                # The previous release installed no kernel hook (DKMS build order for later kernels): this
                # version's enable adds it, so configure (and load's check) run again, and nothing else.
                {"do": "enable", "version": new, "settings": settings, "protected": protected, "expect": "success",
                 "contains": "(configure, load)"},
                check("after the update the old folder is gone and the boot unit runs the kept copy of this version",
                      "test ! -e %s%s && grep -qx 'ExecStart=/var/lib/ibdriver/bin/ibdriver repair --quiet --ready-after 300' %s"
                      " && cmp /var/lib/ibdriver/bin/ibdriver %s%s/bin/ibdriver" % (FOLDER, old, UNIT, FOLDER, new)),
                check("ibdriver status after the update: healthy", "/var/lib/ibdriver/bin/ibdriver status"),
                {"do": "uninstall", "version": new, "settings": settings, "protected": protected},
                check("uninstall after the update removed the drivers and the kept copy",
                      "test ! -e /var/lib/ibdriver/state.json && test ! -e /var/lib/ibdriver/bin/ibdriver && test ! -e %s" % UNIT),
                # The previous release wrote none; this version's update, install, enable and uninstall do.
                {"do": "events", "secrets": secrets, "min": 4},
            ]
    else:
        steps = [check("no earlier extension folder", "rm -rf %s*" % FOLDER)]
        steps += this_version(args.new, settings, None, kept_copy=False)
        steps += [check("the worker ran as the transient unit ibdriver-extension-worker",
                        "journalctl -u ibdriver-extension-worker --no-pager | grep -q 'extension worker for settings 0 started'"),
                  check("uninstall kept the drivers (no uninstallDrivers) and the packaged repair unit",
                        "test -e /var/lib/ibdriver/state.json && /usr/sbin/ibdriver status"),
                  {"do": "events", "secrets": secrets, "min": 6}]
    steps += bad_setting(args.new)
    steps.append({"do": "events", "secrets": secrets, "min": 1})
    json.dump({"zips": zips, "steps": steps}, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
