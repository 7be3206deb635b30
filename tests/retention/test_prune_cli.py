"""`shoal admin prune`: counts with --dry-run and deletes nothing; without it, deletes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from shoal.store import Database
from shoal.store.tables import tasks


def shoal(env: dict[str, str], *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "shoal", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_dry_run_counts_and_a_real_run_deletes(
    db: Database, db_url: str, redis_url: str, tmp_path: Path
) -> None:
    old = datetime.now(UTC) - timedelta(days=31)
    with db.transaction() as conn:
        for state, finished in (("done", old), ("dead", old), ("done", datetime.now(UTC))):
            conn.execute(
                tasks.insert().values(
                    kind="k",
                    dedupe_key=f"{state}-{finished}",
                    state=state,
                    max_attempts=1,
                    finished_at=finished,
                )
            )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {
        "SHOAL_DATABASE_URL": db_url,
        "SHOAL_REDIS_URL": redis_url,
        "SHOAL_OBJECT_STORE": "fs",
        "SHOAL_DATA_DIR": str(tmp_path),
        "SHOAL_AUDIT_KEY": os.environ["SHOAL_AUDIT_KEY"],
        "SHOAL_ENCRYPTION_KEYS": os.environ["SHOAL_ENCRYPTION_KEYS"],
    }

    dry = shoal(env, "admin", "prune", "--dry-run", "-o", "json")

    assert dry == {
        "dry_run": True,
        "complete": True,
        "logs": 0,
        "patches": 0,
        "workspaces": 0,
        "tasks": 2,
        "sessions": 0,
    }
    with db.transaction() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tasks)).scalar_one() == 3

    done = shoal(env, "admin", "prune", "-o", "json")

    assert done["tasks"] == 2 and done["dry_run"] is False
    with db.transaction() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tasks)).scalar_one() == 1
