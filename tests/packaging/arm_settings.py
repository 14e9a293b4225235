#!/usr/bin/env python3
"""The settings an ARM template's extension resource gives the extension, as the guest agent hands them over.

Usage: arm_settings.py TEMPLATE public|protected [NAME=VALUE...] [--add JSON]
Prints one JSON object: the resource's `settings` (public) or `protectedSettings` (protected), with every
value of the form "[parameters('NAME')]" replaced by NAME's VALUE (else its defaultValue). Any other ARM
expression in the settings, or a parameter with neither, is an error: the tests run the template's own
settings, not a copy. --add merges test-only settings (a fake platform's overrides) into the object;
a key the template already sets is an error.
"""
import argparse
import json
import re
import sys

PARAMETER = re.compile(r"^\[parameters\('([A-Za-z0-9_]+)'\)\]$")


def render(value, parameters, given, where):
    if isinstance(value, dict):
        return {k: render(v, parameters, given, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, parameters, given, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str) or not value.startswith("["):
        return value
    match = PARAMETER.match(value)
    if not match:
        raise SystemExit(f"arm_settings: {where} is an ARM expression this renderer does not evaluate: {value}")
    name = match.group(1)
    if name not in parameters:
        raise SystemExit(f"arm_settings: {where} uses parameter {name}, which the template does not declare")
    if name in given:
        return given[name]
    if "defaultValue" in parameters[name]:
        return parameters[name]["defaultValue"]
    raise SystemExit(f"arm_settings: parameter {name} ({where}) has no defaultValue: give {name}=VALUE")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("template")
    parser.add_argument("which", choices=("public", "protected"))
    parser.add_argument("parameters", nargs="*", help="NAME=VALUE")
    parser.add_argument("--add", default="{}", help="a JSON object of test-only settings to merge")
    args = parser.parse_args()
    template = json.load(open(args.template))
    given = dict(p.split("=", 1) for p in args.parameters)
    unknown = set(given) - set(template.get("parameters", {}))
    if unknown:
        raise SystemExit(f"arm_settings: the template declares no parameter {', '.join(sorted(unknown))}")
    extensions = [r for r in template["resources"] if r["type"].endswith("/extensions")]
    if len(extensions) != 1:
        raise SystemExit(f"arm_settings: {args.template} has {len(extensions)} extension resources, not one")
    key = "settings" if args.which == "public" else "protectedSettings"
    settings = render(extensions[0]["properties"].get(key, {}), template.get("parameters", {}), given, key)
    added = json.loads(args.add)
    clash = set(added) & set(settings)
    if clash:
        raise SystemExit(f"arm_settings: --add sets {', '.join(sorted(clash))}, which the template sets already")
    settings.update(added)
    json.dump(settings, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
