"""The /etc a sandboxed step sees: what programs need to run, nothing about the host.

Not the host's /etc: that names the host's resolvers and hosts (resolv.conf, hosts), its users
(passwd, group), its identity (hostname, machine-id) and its services' configuration. A step
gets a synthesized passwd/group/hosts/nsswitch.conf and read-only views of the few host
entries programs read to start at all (the dynamic loader's cache, Debian's alternatives
links, locale and time zone data, CA certificates, interpreters' site config).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["HOST_ETC_ENTRIES", "MinimalEtc"]

# Host entries shown read-only when present. Everything else under /etc is absent.
HOST_ETC_ENTRIES = (
    "alternatives",  # /usr/bin/awk -> /etc/alternatives/awk -> /usr/bin/mawk on Debian
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "locale.alias",
    "ssl",
    "ca-certificates",
    "mime.types",
    "magic",
    "magic.mime",
    "protocols",
    "services",
    "shells",
    "profile",
    "bash.bashrc",
    "inputrc",
    "python3",
    "python3.11",
    "perl",
    "debian_version",
    "os-release",
)

_USERS = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"
_HOSTS = "127.0.0.1\tlocalhost shoal-step\n::1\tlocalhost ip6-localhost ip6-loopback\n"
_NSSWITCH = "passwd: files\ngroup: files\nshadow: files\nhosts: files\n"


@dataclass(frozen=True)
class MinimalEtc:
    """The synthesized files live in a directory of their own, removed with this object."""

    directory: Path
    host_entries: tuple[str, ...]
    _finalizer: weakref.finalize[..., str] | None = field(default=None, compare=False)

    @classmethod
    def create(cls, host_etc: Path = Path("/etc")) -> MinimalEtc:
        directory = Path(tempfile.mkdtemp(prefix="shoal-etc-"))
        # Read by bwrap as uid 65534 when the worker is root: world-readable, like /etc.
        directory.chmod(0o755)
        for name, text in (
            ("passwd", _USERS),
            ("group", _GROUP),
            ("hosts", _HOSTS),
            ("nsswitch.conf", _NSSWITCH),
            ("hostname", "shoal-step\n"),
        ):
            (directory / name).write_text(text)
            (directory / name).chmod(0o644)
        present = tuple(n for n in HOST_ETC_ENTRIES if os.path.lexists(host_etc / n))
        etc = cls(directory, present)
        finalizer = weakref.finalize(etc, shutil.rmtree, str(directory), True)
        object.__setattr__(etc, "_finalizer", finalizer)
        return etc

    def bwrap_options(self) -> list[str]:
        options = ["--dir", "/etc"]
        for name in self.host_entries:
            options += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        for entry in sorted(self.directory.iterdir()):
            options += ["--ro-bind", str(entry), f"/etc/{entry.name}"]
        return options
