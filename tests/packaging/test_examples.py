#!/usr/bin/env python3
"""Checks packaging/examples against the built binary.

- cloud-init.yaml is valid YAML (#cloud-config, write_files, runcmd, power_state);
- every `ibdriver ...` command line in the examples (commands and comments, cloud-init, Packer, README)
  names a command the binary has and only options that command (or the global parser) accepts;
- the ARM snippets are valid JSON and name the extension (Microsoft.HpcCompute/InfiniBandDriverLinux) with
  a typeHandlerVersion equal to the project's major.minor.

Usage: test_examples.py --ibdriver BUILD/src/ibdriver --project-version X.Y.Z
"""
import argparse
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "packaging" / "examples"


def help_section(ibdriver, section, *command):
    """The words of a --help section: command names ("Subcommands") or long options ("Options")."""
    text = subprocess.run([ibdriver, *command, "--help"], check=True, capture_output=True, text=True).stdout
    words, inside = set(), False
    for line in text.splitlines():
        if re.fullmatch(r"[A-Za-z]+:", line):
            inside = line == section + ":"
            continue
        if inside and re.match(r"  \S", line):
            first = line.split()[0]
            if section == "Subcommands":
                words.add(first)
            else:
                words.update(name for name in first.split(",") if name.startswith("--"))
    return words


def ibdriver_command_lines(text):
    """Every `ibdriver COMMAND ...` in shell text, cut at shell operators, quotes and comments."""
    for match in re.finditer(r"\bibdriver\s+([a-z-]+)([^\n;&|'\"`#]*)", text):
        yield match.group(1), shlex.split(match.group(2).replace("${", "{"))


def check_commands(ibdriver, path, text, failures):
    commands = help_section(ibdriver, "Subcommands")
    global_options = help_section(ibdriver, "Options")
    found = 0
    for command, arguments in ibdriver_command_lines(text):
        if command not in commands:
            continue  # prose such as "ibdriver never logs"
        found += 1
        accepted = help_section(ibdriver, "Options", command) | global_options
        for argument in arguments:
            option = argument.split("=", 1)[0]
            if option.startswith("--") and option not in accepted:
                failures.append(f"{path.name}: `ibdriver {command}` has no option {option}")
    return found


def check_cloud_init(path, failures):
    """Checks the YAML; returns its shell: the comments and the runcmd steps as command lines."""
    text = path.read_text()
    if not text.startswith("#cloud-config\n"):
        failures.append(f"{path.name}: the first line must be #cloud-config")
    config = yaml.safe_load(text)
    if not isinstance(config, dict):
        failures.append(f"{path.name}: not a YAML mapping")
        return ""
    for entry in config.get("write_files", []):
        if not entry.get("path", "").startswith("/") or "content" not in entry:
            failures.append(f"{path.name}: write_files entry without an absolute path and content: {entry}")
    runcmd = config.get("runcmd", [])
    # cloud-init runs runcmd as one sh script whose status is its last line's: without set -e first, a
    # failed download or install still reads "done" in `cloud-init status`.
    if runcmd and runcmd[0] != "set -e":
        failures.append(f"{path.name}: runcmd's first line is not `set -e`: a failed step would not fail cloud-init")
    shell = [" ".join(map(str, step)) if isinstance(step, list) else str(step) for step in runcmd]
    if not any(re.search(r"\bibdriver install --yes --bundle \S", step) for step in shell):
        failures.append(f"{path.name}: runcmd does not run `ibdriver install --yes --bundle FILE`")
    power_state = config.get("power_state", {})
    if power_state.get("mode") not in (None, "reboot", "poweroff", "halt"):
        failures.append(f"{path.name}: power_state.mode is not reboot, poweroff or halt")
    # A reboot after every first install costs a boot that install can tell is not needed.
    if power_state and power_state.get("condition", True) is True:
        failures.append(f"{path.name}: power_state reboots unconditionally; its condition should be install's /run/reboot-required")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    return "\n".join(comments + shell)


def check_arm(path, version, failures):
    template = json.loads(path.read_text())
    extensions = [r for r in template["resources"] if r["type"].endswith("/extensions")]
    if len(extensions) != 1:
        failures.append(f"{path.name}: expected one extension resource")
        return
    properties = extensions[0]["properties"]
    expected = {"publisher": "Microsoft.HpcCompute", "type": "InfiniBandDriverLinux",
                "typeHandlerVersion": ".".join(version.split(".")[:2])}
    for key, value in expected.items():
        if properties.get(key) != value:
            failures.append(f"{path.name}: {key} is {properties.get(key)!r}, not {value!r}")
    if not isinstance(properties.get("settings"), dict):
        failures.append(f"{path.name}: settings must be an object")
    # A SAS token or a proxy password in a plain string parameter is kept in the deployment's history:
    # every protected value must come from a securestring parameter.
    parameters = template.get("parameters", {})
    protected = properties.get("protectedSettings", {})
    # Either one secureObject parameter for the whole, or an object whose values are securestring ones.
    for key, value in (protected.items() if isinstance(protected, dict) else [("", protected)]):
        match = re.fullmatch(r"\[parameters\('(\w+)'\)\]", value) if isinstance(value, str) else None
        kind = parameters.get(match.group(1), {}).get("type", "").lower() if match else ""
        if kind not in ("securestring", "secureobject"):
            where = f"protectedSettings.{key}" if key else "protectedSettings"
            failures.append(f"{path.name}: {where} must be a securestring or secureObject parameter, not {value!r}")
    return properties


CATALOG = EXAMPLES.parents[1] / "distros" / "catalog.json"


def check_driver_versions(texts, failures):
    """Every driverVersion an example or the README pins names a release of the built-in catalog
    (the resolver's rule, src/catalog/resolver.cpp version_matches: equal, or a prefix ending before
    '.' or '-')."""
    versions = [row["version"] for row in json.loads(CATALOG.read_text())["releases"]]
    for name, text in texts.items():
        for wanted in re.findall(r"driverVersion[\"']?\s*[:=]\s*[\"']([^\"'\[]+)[\"']", text):
            if not any(v == wanted or (v.startswith(wanted) and v[len(wanted)] in ".-") for v in versions):
                failures.append(f"{name}: driverVersion {wanted!r} names no release of {CATALOG.name}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ibdriver", required=True)
    parser.add_argument("--project-version", required=True)
    args = parser.parse_args()
    failures = []
    shell = {"cloud-init.yaml": check_cloud_init(EXAMPLES / "cloud-init.yaml", failures)}
    for name in ("arm-vm-extension.json", "arm-vmss-extension.json"):
        check_arm(EXAMPLES / name, args.project_version, failures)
    readme = EXAMPLES.parents[1] / "README.md"
    check_driver_versions({p.name: p.read_text() for p in sorted(EXAMPLES.rglob("*")) if p.is_file()} |
                          {"README.md (top)": readme.read_text()}, failures)
    for name, minimum in (("cloud-init.yaml", 3), ("packer-ibdriver.pkr.hcl", 3), ("ibdriver-first-boot", 3), ("README.md", 0)):
        path = EXAMPLES / name
        text = shell.get(name, None) or path.read_text()
        if check_commands(args.ibdriver, path, text, failures) < minimum:
            failures.append(f"{name}: fewer than {minimum} ibdriver command lines")
    major_minor = ".".join(args.project_version.split(".")[:2])
    if f"--version {major_minor}" not in (EXAMPLES / "README.md").read_text():
        failures.append(f"README.md: the az commands do not use --version {major_minor}")
    for failure in failures:
        print("FAIL:", failure)
    print(f"packaging examples: {'ok' if not failures else f'{len(failures)} failures'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
