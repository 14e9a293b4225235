#!/usr/bin/env python3
"""The provisioners of a Packer template (HCL2), in order, as a test runs them.

Usage: packer_steps.py TEMPLATE.pkr.hcl [NAME=VALUE...]
Prints JSON: [{"file": {"source": S, "destination": D}} | {"shell": [COMMAND, ...], "execute_command": C}, ...], every
"${var.NAME}" replaced by the VALUE given or the variable's default. Reads only what these templates
use: `variable` blocks with a string default, and `provisioner "file"` / `provisioner "shell"` blocks
with `inline` lists of double-quoted strings and an optional `execute_command` (comments, # or //,
between them allowed). Anything else inside a
provisioner, an unknown variable or one without a value, is an error: the test runs the recipe, not a copy.
"""
import json
import re
import sys

STRING = r'"(?:[^"\\]|\\.)*"'


def strip_comments(text):
    kept = []
    for line in text.splitlines():
        # A comment starts at a # or a // outside a string (HCL's line comments).
        out, in_string, i = "", False, 0
        while i < len(line):
            c = line[i]
            if c == "\\" and in_string:
                out += line[i:i + 2]
                i += 2
                continue
            if c == '"':
                in_string = not in_string
            if not in_string and (c == "#" or line.startswith("//", i)):
                break
            out += c
            i += 1
        kept.append(out)
    return "\n".join(kept)


def blocks(text, kind):
    """(label, body) of each top-level-or-nested `kind "label" { ... }`, braces balanced outside strings."""
    for match in re.finditer(r'\b%s\s+"([^"]+)"\s*\{' % kind, text):
        depth, i, in_string = 1, match.end(), False
        while depth:
            c = text[i]
            if c == "\\" and in_string:
                i += 2
                continue
            if c == '"':
                in_string = not in_string
            elif not in_string and c in "{}":
                depth += 1 if c == "{" else -1
            i += 1
        yield match.group(1), text[match.end():i - 1]


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    text = strip_comments(open(sys.argv[1]).read())
    given = dict(a.split("=", 1) for a in sys.argv[2:])
    variables = {}
    for name, body in blocks(text, "variable"):
        default = re.search(r"\bdefault\s*=\s*(%s)" % STRING, body)
        variables[name] = json.loads(default.group(1)) if default else None
    unknown = set(given) - set(variables)
    if unknown:
        raise SystemExit(f"packer_steps: the template declares no variable {', '.join(sorted(unknown))}")

    def expand(value):
        def one(match):
            name = match.group(1)
            if name not in variables:
                raise SystemExit(f"packer_steps: {value!r} uses var.{name}, which the template does not declare")
            result = given.get(name, variables[name])
            if result is None:
                raise SystemExit(f"packer_steps: var.{name} has no default: give {name}=VALUE")
            return result
        return re.sub(r"\$\{var\.(\w+)\}", one, value)

    steps = []
    for kind, body in blocks(text, "provisioner"):
        if kind == "file":
            fields = dict(re.findall(r"\b(source|destination)\s*=\s*(%s)" % STRING, body))
            if set(fields) != {"source", "destination"}:
                raise SystemExit("packer_steps: a file provisioner needs source and destination")
            steps.append({"file": {k: expand(json.loads(v)) for k, v in fields.items()}})
        elif kind == "shell":
            inline = re.search(r"\binline\s*=\s*\[(.*?)\]", body, re.S)
            if not inline:
                raise SystemExit("packer_steps: a shell provisioner without an inline list")
            rest = re.sub(r"\binline\s*=\s*\[.*?\]", "", body, flags=re.S)
            command = re.search(r"\bexecute_command\s*=\s*(%s)" % STRING, rest)
            rest = re.sub(r"\bexecute_command\s*=\s*%s" % STRING, "", rest)
            if rest.strip():
                raise SystemExit(f"packer_steps: a shell provisioner holds what this reader does not run: {rest.strip()[:80]}")
            # Packer's default when the template sets none (its shell provisioner's documentation).
            execute = json.loads(command.group(1)) if command else "chmod +x {{.Path}}; {{.Vars}} {{.Path}}"
            steps.append({"shell": [expand(json.loads(s)) for s in re.findall(STRING, inline.group(1))],
                          "execute_command": execute})
        else:
            raise SystemExit(f"packer_steps: a {kind} provisioner, which this reader does not run")
    json.dump(steps, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
