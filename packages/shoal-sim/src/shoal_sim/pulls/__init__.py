"""Pull requests and everything around them in the simulated GitHub.

The package owns the records (``records``: pull requests, labels, comments, reviews,
statuses, check suites and runs), the rules GitHub applies to them (``mergeability``,
``checks``), the git work behind merges and diffs (``gitwork``, ``merging``) and the
:class:`PullsEngine` through which REST routes, the scenario API and GraphQL read and change
them. :func:`attach` gives a simulator its one engine: subscribed to pushes, lending its
REST bodies to the webhooks.
"""

from __future__ import annotations

import threading
import weakref

from shoal_sim.pulls.engine import PullsEngine
from shoal_sim.pulls.records import (
    AutoMerge,
    CheckRun,
    CheckSuite,
    CommitStatus,
    IssueComment,
    Label,
    PullRequest,
    Review,
)
from shoal_sim.pulls.webhook_bodies import WebhookBodies
from shoal_sim.simulator import Simulator

_ENGINES: weakref.WeakKeyDictionary[Simulator, PullsEngine] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def attach(sim: Simulator) -> PullsEngine:
    """The simulator's engine, created (and subscribed) on first use."""
    with _LOCK:
        engine = _ENGINES.get(sim)
        if engine is None:
            engine = _ENGINES[sim] = PullsEngine(sim)
            sim.webhooks.pull_bodies = WebhookBodies(engine)
        return engine


__all__ = [
    "AutoMerge",
    "CheckRun",
    "CheckSuite",
    "CommitStatus",
    "IssueComment",
    "Label",
    "PullRequest",
    "PullsEngine",
    "Review",
    "attach",
]
