"""Shoal's locked requirements as the Shoal image's Python sees them (scripts/build-images.sh).

`uv export` writes every locked requirement with its environment marker; pip would judge those
markers by the Python running pip (the build machine's), not by the image's. This keeps the
requirements whose markers hold for the image (Debian bookworm's CPython 3.11.2 on x86-64
Linux) and drops the markers, so the wheels downloaded are exactly the ones the image needs.

Usage: python scripts/image-requirements.py EXPORTED OUT
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.markers import Marker

# Debian bookworm's python3 (what `apt-get install python3` gives the image).
IMAGE_ENVIRONMENT = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.2",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.11.2",
    "python_version": "3.11",
    "sys_platform": "linux",
}


def main(exported: Path, out: Path) -> None:
    # One requirement per logical line: "name==version ; marker \" then hash lines.
    text = exported.read_text().replace("\\\n", " ")
    kept = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        requirement, _, marker = line.partition(";")
        hashes = re.findall(r"--hash=\S+", line)
        if marker:
            marker = marker.split("--hash", 1)[0].strip()
            if not Marker(marker).evaluate(IMAGE_ENVIRONMENT):
                continue
        else:
            requirement = requirement.split("--hash", 1)[0]
        kept.append(" ".join([requirement.strip(), *hashes]))
    out.write_text("".join(f"{line}\n" for line in kept))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
