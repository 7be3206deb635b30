"""Tarballs: the API's redirect is followed, the archive streamed under a size cap, and the
token never sent to another origin."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from shoal.github import ArchiveTooLargeError, GitHubNotFoundError
from shoal_sim.server import ServerThread
from tests.github.conftest import AppUnderTest, RecordingTransport
from tests.sim.conftest import RunningSim


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A directory of its own (the simulator keeps its data under tmp_path too)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


TARBALL = "/repos/{owner}/{repo}/tarball/{ref}"


def test_tarball_is_streamed_to_a_file(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], out: Path
) -> None:
    under = make_app(gh_sim)
    dest = out / "widgets.tar.gz"
    written = under.app.download_tarball(
        under.installation_id(), "acme/widgets", "main", dest, max_bytes=1 << 20
    )
    assert written == dest.stat().st_size > 0
    with tarfile.open(dest) as archive:
        names = archive.getnames()
    top = names[0].split("/")[0]
    assert top.startswith("acme-widgets-")
    assert {f"{top}/README.md", f"{top}/src/app.py"} <= set(names)
    assert under.count(TARBALL, "GET", "302") == 1
    assert under.count("archive", "GET", "200") == 1
    assert list(out.iterdir()) == [dest]


def test_a_tarball_over_the_cap_leaves_nothing_behind(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], out: Path
) -> None:
    under = make_app(gh_sim)
    client = under.app.installation(under.installation_id())
    with pytest.raises(ArchiveTooLargeError) as refused:
        client.download_tarball("acme", "widgets", "main", out / "w.tar.gz", max_bytes=64)
    assert not refused.value.retryable
    assert list(out.iterdir()) == []


def test_an_unknown_ref_is_not_found(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], out: Path
) -> None:
    under = make_app(gh_sim)
    client = under.app.installation(under.installation_id())
    with pytest.raises(GitHubNotFoundError):
        client.download_tarball("acme", "widgets", "no-such-ref", out / "w", max_bytes=1 << 20)
    assert under.count(TARBALL, "GET", "404") == 1


def test_the_token_does_not_follow_a_redirect_to_another_origin(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], out: Path
) -> None:
    # A second listener of the same simulator is another origin (another port), like
    # codeload.github.com is for api.github.com; the simulator's redirects point there.
    codeload = ServerThread(gh_sim.sim).start()
    gh_sim.sim.config.public_origin = codeload.url
    recording = RecordingTransport()
    try:
        under = make_app(gh_sim, transport=recording)
        dest = out / "w.tar.gz"
        written = under.app.download_tarball(
            under.installation_id(), "acme/widgets", "main", dest, max_bytes=1 << 20
        )
    finally:
        gh_sim.sim.config.public_origin = None
        codeload.stop()
    assert written == dest.stat().st_size > 0
    api_calls = [
        (url.path, auth) for url, auth in recording.requests if url.port == gh_sim.server.port
    ]
    downloads = [(url.path, auth) for url, auth in recording.requests if url.port == codeload.port]
    assert ("/repos/acme/widgets/tarball/main", True) in api_calls
    assert len(downloads) == 1
    assert downloads[0][0].startswith("/_codeload/acme/widgets/")
    assert downloads[0][1] is False
