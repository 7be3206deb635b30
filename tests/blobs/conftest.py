"""Fixtures for the object-store tests: `store` runs a test once per implementation."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.blobs import FilesystemObjectStore, ObjectStore


@pytest.fixture(params=["fs", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "fs":
        return FilesystemObjectStore(tmp_path / "objects")
    s3: ObjectStore = request.getfixturevalue("s3_store")
    return s3
