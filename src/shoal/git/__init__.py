"""The git CLI as Shoal runs it: hardened, and bounded in time and output.

Every git process Shoal starts (the worker's baseline and diff in `shoal.execution`, the
publisher's fetch, commit and push in `shoal.publish`) gets its argv from `argv`, its
environment from `environment` and runs through `run`, so the protections are written once:
nothing of the machine's, the worker's or a repository's configuration may steer it (see
`hardening`), and no git outlives its deadline or fills the worker's memory (see `process`).
"""

from shoal.git.hardening import (
    HARDENING,
    NETWORK_HARDENING,
    GitError,
    argv,
    environment,
    executable,
)
from shoal.git.process import MAX_OUTPUT_BYTES, CommandRunner, Completed, OutputLimitError, run

__all__ = [
    "HARDENING",
    "MAX_OUTPUT_BYTES",
    "NETWORK_HARDENING",
    "CommandRunner",
    "Completed",
    "GitError",
    "OutputLimitError",
    "argv",
    "environment",
    "executable",
    "run",
]
