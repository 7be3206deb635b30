"""Fetching GitHub's GraphQL schema on first use, from a package served over real HTTP on
127.0.0.1 (the npm registry's tarball format): the pinned integrity is checked, only
``schema.json`` is kept, and ``serve``'s start-up says what it is doing."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shoal_sim import cli
from shoal_sim.graphql import schema as schema_module
from shoal_sim.graphql.schema import PACKAGE, load_schema, user_cache_path
from shoal_sim.graphql.schema_fetch import SchemaFetchError, fetch_schema


def _tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def registry() -> Iterator[dict[str, bytes]]:
    """A loopback HTTP server answering each path with the bytes the test put there."""
    files: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    files["_base"] = f"http://127.0.0.1:{server.server_port}".encode()
    try:
        yield files
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def real_schema(octokit_schemas: Path) -> bytes:
    # scripts/fetch-github-schemas.sh (which octokit_schemas runs) installs it in the checkout.
    return schema_module.CHECKOUT_PATH.read_bytes()


def _publish(registry: dict[str, bytes], tarball: bytes) -> str:
    registry["/pkg.tgz"] = tarball
    return registry["_base"].decode() + "/pkg.tgz"


def test_fetch_keeps_only_the_schema_and_it_loads(
    registry: dict[str, bytes], real_schema: bytes, tmp_path: Path
) -> None:
    tarball = _tarball({"package/schema.json": real_schema, "package/index.js": b"x"})
    url = _publish(registry, tarball)
    dest = tmp_path / "cache" / "schema.json"
    messages: list[str] = []
    assert fetch_schema(dest, url=url, integrity=_integrity(tarball), progress=messages.append)
    assert dest.read_bytes() == real_schema
    assert [p.name for p in dest.parent.iterdir()] == ["schema.json"]
    assert load_schema(dest).get_type("PullRequest") is not None
    assert "fetching GitHub's GraphQL schema" in messages[0] and url in messages[0]
    assert str(dest) in messages[-1]


def test_a_download_that_is_not_the_pinned_package_is_refused(
    registry: dict[str, bytes], tmp_path: Path
) -> None:
    tarball = _tarball({"package/schema.json": b"{}"})
    url = _publish(registry, tarball)
    dest = tmp_path / "schema.json"
    with pytest.raises(SchemaFetchError, match="sha512"):
        fetch_schema(dest, url=url, integrity=_integrity(b"something else"))
    assert not dest.exists()


@pytest.mark.parametrize(
    ("members", "expected"),
    [({"package/other.json": b"{}"}, "no readable"), (None, "HTTP 404")],
    ids=["no-schema-member", "not-found"],
)
def test_a_package_without_a_schema_is_refused(
    registry: dict[str, bytes], tmp_path: Path, members: dict[str, bytes] | None, expected: str
) -> None:
    if members is None:
        url = registry["_base"].decode() + "/missing.tgz"
        integrity = _integrity(b"")
    else:
        tarball = _tarball(members)
        url = _publish(registry, tarball)
        integrity = _integrity(tarball)
    with pytest.raises(SchemaFetchError, match=expected):
        fetch_schema(tmp_path / "schema.json", url=url, integrity=integrity)
    assert list(tmp_path.iterdir()) == []


def test_serve_fetches_the_schema_on_first_use(
    registry: dict[str, bytes],
    real_schema: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An installed simulator (no checkout cache, nothing configured) fetches into the user
    cache once, saying so on stderr; the second start-up reads the cached file."""
    tarball = _tarball({"package/schema.json": real_schema})
    url = _publish(registry, tarball)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(schema_module.ENV_VAR, raising=False)
    monkeypatch.delenv("SHOAL_OCTOKIT_DIR", raising=False)
    monkeypatch.setattr(schema_module, "CHECKOUT_PATH", tmp_path / "no-checkout" / "schema.json")
    monkeypatch.setattr(
        cli, "fetch_schema", functools.partial(fetch_schema, url=url, integrity=_integrity(tarball))
    )
    cli._require_graphql_schema()
    cached = user_cache_path()
    assert cached.is_relative_to(tmp_path / "xdg" / "shoal-sim")
    assert cached.read_bytes() == real_schema
    err = capsys.readouterr().err
    assert f"shoal-sim: fetching GitHub's GraphQL schema ({PACKAGE}" in err
    assert f"installed at {cached}" in err

    del registry["/pkg.tgz"]  # a second fetch would now fail
    cli._require_graphql_schema()
    assert capsys.readouterr().err == ""
