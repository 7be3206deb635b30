"""`python -m shoal.executors.podman --storage-dir DIR -- ARGS...`: podman as Shoal runs it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from shoal.executors.podman.engine import Podman


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shoal.executors.podman")
    parser.add_argument("--storage-dir", type=Path, required=True, help="the image store")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="podman's arguments (after --)")
    options = parser.parse_args(argv)
    args = options.args[1:] if options.args[:1] == ["--"] else options.args
    podman = Podman.at(options.storage_dir)
    command = podman.argv(*args)
    os.execve(command[0], command, podman.env())  # noqa: S606 (podman, by its full path)


if __name__ == "__main__":
    main()
