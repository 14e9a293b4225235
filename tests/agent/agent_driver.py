#!/usr/bin/python3
"""The Azure guest agent's own code drives the extension zip and judges what it writes.

Debian's waagent package (2.7.3 in Debian 12), unpacked with `dpkg-deb -x` (never its service), holds the
Python package `azurelinuxagent` that runs extensions on every Azure Linux VM. This driver uses it as the
agent does:
  - ExtHandlersHandler.handle_enable / handle_disable / handle_uninstall decide what to run, in the
    agent's order (for an update: old disable, status and mrseq copied, new update with
    AZURE_GUEST_AGENT_UPDATING_FROM_VERSION, old uninstall, old folder removed, new install, new enable
    with AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE);
  - ExtHandlerInstance unpacks the zip, marks its files executable, writes HandlerEnvironment.json,
    <seq>.settings and config/HandlerState, and launches each command string of HandlerManifest.json
    (from the extension folder, through a shell, in a new session, with the agent's variables and time
    limits, killing the whole process group at the deadline);
  - its parsers judge the artifacts: HandlerManifest, collect_ext_status (parse_ext_status and the
    128 KB limit), collect_heartbeat with parse_formatted_message, and the telemetry pipeline
    (_ProcessExtensionEvents: file names, sizes, required fields, per-event and per-period limits).
Only the wire protocol is stood in for, and named so: WireProtocolStandIn (the endpoint address, and the
"download" of the zip from a local file). Paths are the agent's own (/var/lib/waagent, /var/log/azure),
so this runs on the machine under test: chrooted into it (ci/agent-test) or in the VM (ci/vm-guest.sh);
`--lib-dir/--log-dir` move them for a run on a plain folder.

Usage: agent_driver.py --waagent DIR [--lib-dir D --log-dir D] SCENARIO.json
The scenario is a list of steps (see ci/agent-test). Prints the transcript (one line per command and
per verdict) and exits 1 when any verdict failed.
"""
import argparse
import base64
import copy
import json
import os
import shutil
import subprocess
import sys
import time

NAME = "Microsoft.HpcCompute.InfiniBandDriverLinux"
failures = []
launched = []  # (version, command name, exit code or what ended it), in the agent's order


def say(line):
    print(line, flush=True)


def verdict(ok, what):
    say(("  verdict: ok: " if ok else "  verdict: FAIL: ") + what)
    if not ok:
        failures.append(what)


def load_agent(waagent_dir, lib_dir, log_dir):
    sys.path.insert(0, waagent_dir)
    global conf, exthandlers, restapi, telemetry, exception, AGENT_VERSION
    from azurelinuxagent.common import conf
    import azurelinuxagent.ga.exthandlers as exthandlers
    import azurelinuxagent.common.protocol.restapi as restapi
    import azurelinuxagent.ga.collect_telemetry_events as telemetry
    import azurelinuxagent.common.exception as exception
    from azurelinuxagent.common.version import AGENT_VERSION
    conf.__conf__.values["Lib.Dir"] = lib_dir
    conf.__conf__.values["Extension.LogDir"] = log_dir
    say("agent: WALinuxAgent {} from {} (lib {}, logs {})".format(AGENT_VERSION, waagent_dir, lib_dir, log_dir))


class WireProtocolStandIn:
    """What the agent would get from Azure's wire server: its address, and the zip (copied from a file)."""

    def get_endpoint(self):
        return "168.63.129.16"

    def download_ext_handler_pkg(self, uri, destination):
        shutil.copyfile(uri, destination)
        return True


def observe_commands():
    """Records every command the agent launches (name, exit code, time, output) for the transcript."""
    original = exthandlers.ExtHandlerInstance.launch_command

    def launch_command(self, cmd, cmd_name=None, timeout=300, *args, **kwargs):
        start = time.monotonic()
        code, output = 0, ""
        try:
            output = original(self, cmd, cmd_name, timeout, *args, **kwargs)
            return output
        except exception.ExtensionError as error:
            code = getattr(error, "exit_code", None)
            if code is None:
                code = "killed at the {} s limit".format(timeout) if error.code == exception.ExtensionErrorCodes.PluginHandlerScriptTimedout \
                    else "agent error {}".format(error.code)
            output = str(error)
            raise
        finally:
            launched.append((self.ext_handler.version, cmd_name, code))
            say("{} {} ({}): `{}` exit {} in {:.1f} s (agent limit {} s)".format(
                self.ext_handler.version, cmd_name, "seq " + str(kwargs.get("extension").sequenceNumber)
                if kwargs.get("extension") is not None else "no settings", cmd, code, time.monotonic() - start, timeout))
            quoted = " | ".join(line for line in output.splitlines() if line.strip() and not line.startswith("["))
            if quoted:
                say("  output: " + quoted[:600])

    exthandlers.ExtHandlerInstance.launch_command = launch_command


def protected_settings(lib_dir, plaintext):
    """Encrypts as CRP does for the agent's certificate (<THUMBPRINT>.crt/.prv in the lib dir)."""
    key, cert = os.path.join(lib_dir, "new.prv"), os.path.join(lib_dir, "new.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-subj", "/CN=Windows Azure CRP Certificate Generator", "-days", "2"], check=True, capture_output=True)
    out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha1"], check=True, capture_output=True, text=True).stdout
    thumbprint = "".join(c for c in out.split("=", 1)[1] if c in "0123456789ABCDEFabcdef").upper()
    os.rename(key, os.path.join(lib_dir, thumbprint + ".prv"))
    os.rename(cert, os.path.join(lib_dir, thumbprint + ".crt"))
    der = subprocess.run(["openssl", "cms", "-encrypt", "-binary", "-outform", "DER", "-aes256", os.path.join(lib_dir, thumbprint + ".crt")],
                         input=plaintext.encode(), check=True, capture_output=True).stdout
    return base64.b64encode(der).decode(), thumbprint


class Handler:
    def __init__(self, version, zip_path, sequence, settings, protected, lib_dir):
        self.handler = restapi.Extension(name=NAME)
        self.handler.version = version
        self.handler.state = "enabled"
        encrypted, thumbprint = protected_settings(lib_dir, json.dumps(protected)) if protected else (None, None)
        self.extension = restapi.ExtensionSettings(name=NAME, sequenceNumber=sequence, publicSettings=settings,
                                                   protectedSettings=encrypted, certificateThumbprint=thumbprint)
        self.handler.settings = [self.extension]
        self.instance = exthandlers.ExtHandlerInstance(self.handler, WireProtocolStandIn())
        self.instance.pkg = restapi.ExtHandlerPackage(version)
        self.instance.pkg.uris = [zip_path]


def judge_manifest(handler):
    manifest = handler.instance.load_manifest()  # the agent's HandlerManifest
    verdict(all(isinstance(c, str) and c for c in (manifest.get_install_command(), manifest.get_enable_command(),
                                                    manifest.get_disable_command(), manifest.get_uninstall_command(),
                                                    manifest.get_update_command())),
            "HandlerManifest: five commands ({})".format(manifest.get_enable_command()))
    data = manifest.data["handlerManifest"]
    verdict(all(isinstance(data.get(k), bool) for k in ("rebootAfterInstall", "reportHeartbeat", "continueOnUpdateFailure",
                                                         "supportsMultipleExtensions")),
            "HandlerManifest: its switches are JSON booleans")
    verdict(manifest.is_update_with_install() and not manifest.is_continue_on_update_failure()
            and not manifest.supports_multiple_extensions(),
            "HandlerManifest: updateMode UpdateWithInstall, continueOnUpdateFailure false, supportsMultipleExtensions false")


def judge_status(handler, expect, contains=None, code=None):
    """The agent's collect_ext_status: parse_ext_status, formattedMessage, the 128 KB limit."""
    status = handler.instance.collect_ext_status(handler.extension)
    file = handler.instance.get_status_file_path(handler.extension)[1]
    size = os.path.getsize(file) if file and os.path.exists(file) else 0
    say("  status ({} bytes): {} code {} operation {}: {!r}".format(size, status.status, status.code, status.operation, status.message))
    for sub in status.substatusList:
        say("    substatus {}: {} code {}: {!r}".format(sub.name, sub.status, sub.code, (sub.message or "")[:160]))
    malformed = status.code == exthandlers.ExtensionErrorCodes.PluginSettingsStatusInvalid
    verdict(not malformed, "the agent parses the status file (parse_ext_status)")
    verdict(status.status == expect, "status is {} (expected {})".format(status.status, expect))
    if code is not None:
        verdict(status.code == code, "code {} (expected {})".format(status.code, code))
    verdict(status.message is not None and len(status.message) <= 1024, "formattedMessage present, at most 1 KB")
    verdict(all(s.message is not None for s in status.substatusList), "every substatus has a formattedMessage")
    verdict(size <= 128 * 1024, "the file is within the agent's 128 KB")
    if contains:
        verdict(contains in (status.message or ""), "the message says {!r}".format(contains))
    return status


def wait_final(handler, seconds):
    """The agent's is_ext_handling_complete, asked until success or error (the worker runs detached)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        complete, status = handler.instance.is_ext_handling_complete(handler.extension)
        if complete:
            say("  the agent sees the handling complete: {} after {:.0f} s".format(status, seconds - (deadline - time.monotonic())))
            return status
        time.sleep(1)
    say("  the agent sees no final status after {} s".format(seconds))
    return None


def judge_heartbeat(handler, report_heartbeat):
    heartbeat = handler.instance.collect_heartbeat()  # None when the manifest's reportHeartbeat is false
    if not report_heartbeat:
        verdict(heartbeat is None, "no heartbeat is read (reportHeartbeat false)")
        return
    say("  heartbeat: {}".format(json.dumps(heartbeat)))
    verdict(heartbeat.get("status") in exthandlers._VALID_HANDLER_STATUS,
            "heartbeat status {!r} is a handler status ({})".format(heartbeat.get("status"), exthandlers._VALID_HANDLER_STATUS))
    message = exthandlers.parse_formatted_message(heartbeat.get("formattedMessage"))  # as 2.15 reads it
    verdict(isinstance(message, str) and message and len(message) <= 1024, "heartbeat formattedMessage parsed: {!r}".format((message or "")[:100]))
    verdict(isinstance(heartbeat.get("code"), int), "heartbeat code is an integer")


def judge_events(log_dir, secrets, expect_min):
    """The agent's telemetry collector over the events folder: what it takes, what it drops."""
    events_dir = os.path.join(log_dir, NAME, "events")
    files = sorted(os.listdir(events_dir)) if os.path.isdir(events_dir) else []
    texts = [open(os.path.join(events_dir, f), encoding="utf-8", errors="replace").read() for f in files]
    leaked = [f for f, t in zip(files, texts) if any(s in t for s in secrets)]

    class Collected:
        def __init__(self):
            self.events = []

        def stopped(self):
            return False

        def get_thread_name(self):
            return "stand-in"

        def enqueue_event(self, event):
            self.events.append(event)

    collected, dropped = Collected(), []
    original = telemetry.add_log_event
    telemetry.add_log_event = lambda level=None, message=None, forced=False: dropped.append(message)
    try:
        processor = telemetry._ProcessExtensionEvents(collected)
        processor._capture_extension_events(NAME, events_dir)
    finally:
        telemetry.add_log_event = original
    tasks = sorted({p.value for e in collected.events for p in e.parameters if p.name == "TaskName"})
    say("  events: {} files; the agent's collector took {}, dropped: {}; tasks: {}".format(len(files), len(collected.events),
                                                                                           dropped or "none", ", ".join(tasks)))
    verdict(len(collected.events) >= expect_min and not dropped, "the agent takes every event ({} >= {})".format(len(collected.events), expect_min))
    verdict(not leaked, "no secret in any event file" + (": " + ", ".join(leaked) if leaked else ""))
    verdict(not os.listdir(events_dir) if os.path.isdir(events_dir) else True, "the collector emptied the folder")


def run(scenario, lib_dir, log_dir):
    agent = exthandlers.ExtHandlersHandler(WireProtocolStandIn())
    zips = scenario["zips"]  # version -> zip
    handlers = {}
    for step in scenario["steps"]:
        action, version = step["do"], step.get("version")
        say("== {}{}".format(action, " " + version if version else ""))
        if action in ("enable", "disable", "uninstall"):
            handler = Handler(version, zips[version], step.get("sequence", 0), step.get("settings", {}), step.get("protected"), lib_dir)
            handlers[version] = handler
            if step.get("report_heartbeat"):
                # The format is fixed all the same: a manifest copy with the switch on (the zip's keeps it off).
                original = handler.instance.initialize

                def initialize(instance=handler.instance, original=original):
                    path = os.path.join(instance.get_base_dir(), "HandlerManifest.json")
                    data = json.load(open(path))
                    data[0]["handlerManifest"]["reportHeartbeat"] = True
                    json.dump(data, open(path, "w"))
                    original()
                handler.instance.initialize = initialize
            method = {"enable": agent.handle_enable, "disable": agent.handle_disable, "uninstall": agent.handle_uninstall}[action]
            error = None
            first = len(launched)
            try:
                method(handler.instance, handler.extension)
            except exception.ExtensionError as failure:
                error = failure
            expected_error = step.get("expect_error", False)
            codes = launched[first:]
            verdict((bool(codes) or not step.get("commands", True)) and (expected_error or all(code == 0 for _, _, code in codes)),
                    "commands run by the agent: " + (", ".join("{} {} -> {}".format(v, n, c) for v, n, c in codes) or "none"))
            verdict((error is not None) == expected_error, "the agent's {} {}".format(action, "fails: " + str(error).splitlines()[0][:300] if error else "succeeds"))
            if action == "enable" and error is None and not step.get("after_update_only"):
                judge_manifest(handler)
            state = handler.instance.get_handler_state()
            say("  HandlerState (the agent's): {}".format(state))
            if "wait" in step:
                wait_final(handler, step["wait"])
            if "expect" in step:
                judge_status(handler, step["expect"], step.get("contains"), step.get("code"))
            if action == "enable":
                judge_heartbeat(handler, step.get("report_heartbeat", False))
            if action == "uninstall":
                verdict(not os.path.exists(handler.instance.get_base_dir()), "the agent removed {}".format(handler.instance.get_base_dir()))
        elif action == "events":
            judge_events(log_dir, step.get("secrets", []), step.get("min", 1))
        elif action == "check":
            result = subprocess.run(step["command"], shell=True, capture_output=True, text=True)
            verdict(result.returncode == 0, "{}{}".format(step["what"], "" if result.returncode == 0 else ": " + (result.stdout + result.stderr)[-400:]))
        else:
            raise SystemExit("unknown step " + action)
    say("agent-driven run: {}".format("all verdicts ok" if not failures else "{} verdicts failed".format(len(failures))))
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waagent", required=True, help="the unpacked waagent package's dist-packages folder")
    parser.add_argument("--lib-dir", default="/var/lib/waagent")
    parser.add_argument("--log-dir", default="/var/log/azure")
    parser.add_argument("scenario")
    args = parser.parse_args()
    os.makedirs(args.lib_dir, exist_ok=True)
    load_agent(args.waagent, args.lib_dir, args.log_dir)
    observe_commands()
    return run(json.load(open(args.scenario)), args.lib_dir, args.log_dir)


if __name__ == "__main__":
    sys.exit(main())
