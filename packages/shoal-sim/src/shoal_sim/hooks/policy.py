"""Whether one ref change may happen, with GitHub's exact refusal texts.

The same verdict serves ``git push`` (``remote:`` lines plus the reason in parentheses
after ``[remote rejected]``) and the REST refs API (a 422 message).
"""

from __future__ import annotations

from dataclasses import dataclass

from shoal_sim.git import GitRepo
from shoal_sim.hooks.rules_verdict import check_outcomes, refusal
from shoal_sim.pulls.mergeability import checks_refusal
from shoal_sim.simulator import Simulator
from shoal_sim.state.access import (
    Caller,
    InstallationCaller,
    UserCaller,
    level_satisfies,
    user_role,
)
from shoal_sim.state.events import RefChange
from shoal_sim.state.models import Permission, PushRestrictions, Repo
from shoal_sim.state.world import World

WORKFLOWS_DIR = ".github/workflows/"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # shown by git as "! [remote rejected] a -> b (<reason>)"
    remote_lines: tuple[str, ...] = ()  # shown by git as "remote: <line>"
    api: str = ""  # the REST and GraphQL message, when it is not the remote lines joined

    @property
    def api_message(self) -> str:
        joined = " ".join(line.removeprefix("error: ") for line in self.remote_lines)
        return self.api or joined or self.reason


ALLOW = Verdict(True)


def is_forced(git: GitRepo, change: RefChange) -> bool:
    if change.created or change.deleted:
        return False
    return not git.is_ancestor(change.before, change.after)


def _protected(ref: str, *reasons: str) -> Verdict:
    return Verdict(
        False,
        "protected branch hook declined",
        (
            f"error: GH006: Protected branch update failed for {ref}.",
            *(f"error: {r}" for r in reasons),
        ),
    )


def _workflow_verdict(world: World, caller: object, git: GitRepo, change: RefChange) -> Verdict:
    if isinstance(caller, InstallationCaller):
        if level_satisfies(caller.token.permissions.get("workflows"), "write"):
            return ALLOW
        template = (
            "refusing to allow a GitHub App to create or update workflow `{}` "
            "without `workflows` permission"
        )
    elif isinstance(caller, UserCaller) and not caller.pat.fine_grained and caller.pat.scopes:
        if "workflow" in caller.pat.scopes:
            return ALLOW
        template = (
            "refusing to allow a Personal Access Token to create or update workflow "
            "`{}` without `workflow` scope"
        )
    else:
        return ALLOW
    touched = sorted(
        p for p in git.changed_paths(change.after, "--not", "--all") if p.startswith(WORKFLOWS_DIR)
    )
    if touched:
        return Verdict(False, template.format(touched[0]))
    return ALLOW


def may_push(world: World, repo: Repo, caller: object, allowed: PushRestrictions) -> bool:
    """Whether a branch's push ``restrictions`` name the caller, one of its teams or its App."""
    if isinstance(caller, InstallationCaller):
        return caller.app.slug in allowed.apps
    if not isinstance(caller, UserCaller):
        return False
    login = caller.user.login
    if login.lower() in (u.lower() for u in allowed.users):
        return True
    teams = (world.find_team(repo.owner, slug) for slug in allowed.teams)
    return any(team is not None and login in team.members for team in teams)


def judge(  # noqa: PLR0911 - one verdict per rule, in GitHub's order
    sim: Simulator, repo: Repo, caller: Caller, git: GitRepo, change: RefChange, *, web: str
) -> Verdict:
    """The one verdict on a ref change, for ``git push``, the refs and contents APIs and
    ``createCommitOnBranch`` alike; ``web`` is the site root refusals link to."""
    world = sim.world
    forced = is_forced(git, change)
    branch = (
        change.ref.removeprefix("refs/heads/") if change.ref.startswith("refs/heads/") else None
    )
    rule = repo.protection.get(branch) if branch else None
    bypass = (
        isinstance(caller, UserCaller)
        and rule is not None
        and not rule.enforce_admins
        and user_role(world, caller.user, repo) >= Permission.ADMIN
    )
    if rule is not None and not bypass:
        if rule.restrictions is not None and not may_push(world, repo, caller, rule.restrictions):
            return _protected(
                change.ref,
                "You're not authorized to push to this branch. Visit "
                "https://docs.github.com/articles/about-protected-branches/ for more information.",
            )
        if change.deleted and not rule.allow_deletions:
            return _protected(change.ref, "Cannot delete this protected branch.")
        if forced and not rule.allow_force_pushes:
            return _protected(change.ref, "Cannot force-push to a protected branch.")
        if rule.required_approving_review_count is not None:
            return _protected(change.ref, "Changes must be made through a pull request.")
        checks = rule.required_status_checks or []
        if checks and not change.deleted:
            # GitHub takes a push whose commit already has the required checks passing.
            unmet = checks_refusal(checks, check_outcomes(sim, repo, change.after))
            if unmet is not None:
                return _protected(change.ref, unmet)
    if branch is not None:
        refused = refusal(sim, repo, caller.actor, git, change, forced=forced, web=web)
        if refused is not None:
            lines, api = refused
            return Verdict(False, "push declined due to repository rule violations", lines, api)
    if forced and branch is not None and branch in repo.force_push_ban:
        return Verdict(
            False,
            "pre-receive hook declined",
            (f"error: GH003: Sorry, force-pushing to {branch} is not allowed.",),
        )
    if not change.deleted:
        return _workflow_verdict(world, caller, git, change)
    return ALLOW
