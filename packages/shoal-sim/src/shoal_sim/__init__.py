"""Shoal's GitHub simulator: a stateful, local GitHub for tests, demos and benchmarks.

It owns everything needed to stand in for GitHub.com or GitHub Enterprise Server on
127.0.0.1: the world state (orgs, users, repos, apps, installations, tokens), bare git
repositories served over smart HTTP, GitHub App and token authentication, REST routes with
GitHub's exact shapes and errors, rate limits, fault injection, a mutation ledger and a
scenario-control API (``/_sim``). It is a standalone product: it imports no other
``shoal`` package, and only the CLI and tests import it.

Entry points: :class:`shoal_sim.server.Simulator` (build and run in-process),
:mod:`shoal_sim.cli` (``shoal sim serve``) and :class:`shoal_sim.client.SimClient`.
"""
