from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import RunningApi, api_settings, running_api


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url)) as running:
        yield running
