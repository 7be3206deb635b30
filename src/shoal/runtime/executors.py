"""The executor a worker runs Executions with, picked by the `executor` setting.

Each kind has one builder here; `shoal.config.AVAILABLE_EXECUTORS` names the same kinds (a
test keeps the two equal), so a setting never names an executor this version cannot build.
Adding an executor: its package under `shoal.executors`, a builder in `BUILDERS`, its name in
`AVAILABLE_EXECUTORS`, and its fixture in tests/executors/contract/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shoal.executors import BwrapSandbox
from shoal.executors.local import LocalExecutor
from shoal.executors.podman import Podman, PodmanExecutor, PodmanSandbox
from shoal.executors.port import Executor, ExecutorKind
from shoal.services.context import AppContext

__all__ = ["BUILDERS", "ExecutorSite", "build_executor"]


@dataclass(frozen=True, slots=True)
class ExecutorSite:
    """What a builder may use: the process's context and its private scratch directory."""

    ctx: AppContext
    scratch_root: Path


def _local(site: ExecutorSite) -> Executor:
    # The sandbox is probed on first use; if it is unavailable, each execution fails with
    # the reason and how to fix it instead of the worker refusing to start.
    return LocalExecutor(
        BwrapSandbox(clock=site.ctx.clock),
        work_root=site.scratch_root,
        parallelism=site.ctx.settings.execution_parallelism,
    )


def _podman(site: ExecutorSite) -> Executor:
    settings = site.ctx.settings
    sandbox = PodmanSandbox(
        Podman.at(settings.podman_store),
        default_image=settings.podman_step_image,
        clock=site.ctx.clock,
    )
    return PodmanExecutor(
        sandbox, work_root=site.scratch_root, parallelism=settings.execution_parallelism
    )


def _kubernetes(site: ExecutorSite) -> Executor:
    from shoal.executors.kubernetes.executor import KubernetesExecutor, api_client_from_settings

    settings = site.ctx.settings
    return KubernetesExecutor(api_client_from_settings(settings), settings)


BUILDERS: Mapping[ExecutorKind, Callable[[ExecutorSite], Executor]] = {
    "local": _local,
    "podman": _podman,
    "kubernetes": _kubernetes,
}


def build_executor(site: ExecutorSite) -> Executor:
    """The executor the settings name."""
    kind = site.ctx.settings.executor
    return BUILDERS[kind](site)
