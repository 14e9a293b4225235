#!/usr/bin/env python3
"""make_zip.py FOLDER ZIP: zips FOLDER's files at the zip's root with their modes, as cpack's ZIP does."""
import os
import sys
import zipfile

folder, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(target + ".tmp", "w", zipfile.ZIP_DEFLATED) as archive:
    for base, _, files in os.walk(folder):
        for name in sorted(files):
            path = os.path.join(base, name)
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, folder))
            with open(path, "rb") as source:
                archive.writestr(info, source.read(), zipfile.ZIP_DEFLATED)
os.replace(target + ".tmp", target)
