#!/usr/bin/env python3
"""A NoCloud seed of the cloud-init recipe, for the VM harness (ci/vm).

cloud_init_seed.py RECIPE SEED_DIR --deb-url URL --bundle-url URL

Writes SEED_DIR/user-data (the recipe itself, with only the single-quoted values of IBDRIVER_DEB_URL
and IBDRIVER_BUNDLE_URL in its /etc/ibdriver/offline.env replaced: the user's own edit) and
SEED_DIR/meta-data (instance-id, local-hostname), the files cloud-init's NoCloud datasource reads from
/var/lib/cloud/seed/nocloud/. Exits 1 naming what is missing when the recipe no longer has those
settings, so a changed recipe is never half-applied.
"""

import argparse
import pathlib
import re
import sys

import yaml

SETTINGS_FILE = "/etc/ibdriver/offline.env"


def render(text, values):
    """The recipe's text with each NAME=value line of the settings file given a new value."""
    config = yaml.safe_load(text)
    files = [entry for entry in (config or {}).get("write_files", []) if entry.get("path") == SETTINGS_FILE]
    if len(files) != 1:
        raise ValueError(f"the recipe writes {SETTINGS_FILE} {len(files)} times, not once")
    # Single-quoted values: a SAS token's & must not end the line for sh.
    for name, value in values.items():
        if not re.search(rf"^{name}='[^']+'$", files[0]["content"], re.MULTILINE):
            raise ValueError(f"the recipe's {SETTINGS_FILE} has no {name}='...' line")
        if "'" in value:
            raise ValueError(f"{name}: a URL with a single quote cannot be given in single quotes")
    for name, value in values.items():
        text, count = re.subn(rf"^(\s*{name}=')[^']+'$", lambda match, v=value: match.group(1) + v + "'", text, flags=re.MULTILINE)
        if count != 1:
            raise ValueError(f"{name}= is in the recipe {count} times, not once")
    # What cloud-init will read: the same settings, the new values.
    rendered = [e for e in yaml.safe_load(text)["write_files"] if e.get("path") == SETTINGS_FILE][0]["content"]
    for name, value in values.items():
        if f"{name}='{value}'\n" not in rendered:
            raise ValueError(f"{name} did not take its new value")
    return text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe", type=pathlib.Path)
    parser.add_argument("seed", type=pathlib.Path)
    parser.add_argument("--deb-url", required=True)
    parser.add_argument("--bundle-url", required=True)
    parser.add_argument("--instance-id", default="ibdriver-vm-1")
    args = parser.parse_args()
    try:
        user_data = render(args.recipe.read_text(), {"IBDRIVER_DEB_URL": args.deb_url, "IBDRIVER_BUNDLE_URL": args.bundle_url})
    except (OSError, ValueError, yaml.YAMLError) as error:
        print(f"cloud_init_seed.py: {args.recipe}: {error}", file=sys.stderr)
        return 1
    args.seed.mkdir(parents=True, exist_ok=True)
    (args.seed / "user-data").write_text(user_data)
    (args.seed / "meta-data").write_text(f"instance-id: {args.instance_id}\nlocal-hostname: ibdriver-vm\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
