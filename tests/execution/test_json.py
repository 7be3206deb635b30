"""ExecutionRequest and ExecutionResult survive the JSON trip between worker and runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shoal.domain.errors import InvalidInputError
from shoal.domain.executions import DiffFile, ExecutionState, FailureReason, FileStatus
from shoal.execution import ExecutionRequest, ExecutionResult, RunnerLimits, StepReport
from tests.execution.conftest import CONTEXT, step


def test_request_round_trip() -> None:
    request = ExecutionRequest(
        steps=(
            step("sed -i s/a/b/ x", name="bump", env={"LC_ALL": "C"}, secrets=("NPM_TOKEN",)),
            step("true", name="maybe", condition="{{ repo.language == 'Python' }}", timeout_s=1.5),
        ),
        context=CONTEXT,
        secrets={"NPM_TOKEN": "npm_abcdef"},
        limits=RunnerLimits(max_patch_bytes=123),
    )
    assert ExecutionRequest.from_json(request.to_json()) == request


def test_request_defaults_limits() -> None:
    text = json.dumps({"steps": [], "context": {}, "secrets": {}})
    assert ExecutionRequest.from_json(text).limits == RunnerLimits()


def test_invalid_request_names_the_field_but_not_the_values() -> None:
    text = json.dumps(
        {"steps": [{"name": "x", "run": 1}], "context": {}, "secrets": {"T": ["hunter2"]}}
    )
    with pytest.raises(InvalidInputError) as caught:
        ExecutionRequest.from_json(text)
    assert "steps.0.run" in caught.value.message
    assert "hunter2" not in caught.value.message


def test_limits_must_be_positive() -> None:
    with pytest.raises(InvalidInputError, match="max_log_bytes"):
        RunnerLimits(max_log_bytes=0)


@pytest.mark.parametrize("with_patch", [True, False], ids=["patch", "failed"])
def test_result_round_trip_with_paths_relative_to_out_dir(tmp_path: Path, with_patch: bool) -> None:
    out = tmp_path / "out"
    result = ExecutionResult(
        state=ExecutionState.PATCH if with_patch else ExecutionState.FAILED,
        reason=None if with_patch else FailureReason.STEP_TIMEOUT,
        message="1 file changed, +1 -0" if with_patch else "step 'x' timed out after 5m0s",
        steps=(StepReport("x", False, 0, False, 0.25, 0), StepReport("y", True, None, False, 0, 0)),
        log_path=out / "log.txt",
        patch_path=out / "patch.diff" if with_patch else None,
        patch_sha256="ab" * 32 if with_patch else None,
        patch_bytes=42 if with_patch else 0,
        files=(DiffFile("caf\\xe9.txt", "old.txt", FileStatus.RENAMED, 1, 0, False, 5),)
        if with_patch
        else (),
    )
    text = result.to_json()
    data = json.loads(text)
    assert data["log_path"] == "log.txt"
    assert data["patch_path"] == ("patch.diff" if with_patch else None)
    elsewhere = tmp_path / "copied"
    assert ExecutionResult.from_json(text, out) == result
    moved = ExecutionResult.from_json(text, elsewhere)
    assert moved.log_path == elsewhere / "log.txt"


@pytest.mark.parametrize("log_path", ["../../etc/passwd", "/etc/passwd"], ids=["dotdot", "abs"])
def test_result_cannot_name_files_outside_its_directory(tmp_path: Path, log_path: str) -> None:
    text = json.dumps(
        {
            "state": "no_change",
            "reason": None,
            "message": "no changes",
            "steps": [],
            "log_path": log_path,
            "patch_path": None,
            "patch_sha256": None,
            "patch_bytes": 0,
            "files": [],
        }
    )
    with pytest.raises(InvalidInputError, match="outside"):
        ExecutionResult.from_json(text, tmp_path)
