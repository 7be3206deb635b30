"""The rulesets' part of the push judge: the facts of one branch change (new merge
commits, unsigned commits, a fork sync), the rules the caller may not bypass, and GitHub's
GH013 refusal for ``git push`` and for the API."""

from __future__ import annotations

from urllib.parse import quote

from shoal_sim.git import GitRepo
from shoal_sim.pulls.checks import context_outcomes
from shoal_sim.ruleset_bypass import bypasses
from shoal_sim.rulesets import RefFacts, enforced, rule_types, violations
from shoal_sim.simulator import Simulator
from shoal_sim.state.events import RefChange
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo

# A push's new commits are listed in a refusal (as GitHub does) up to this many.
_LISTED = 100


def _new_commits(git: GitRepo, change: RefChange, *extra: str) -> list[str]:
    # Commits the change brings that no ref has yet: in a push they sit in the quarantine,
    # through the API they were just written; either way no ref reaches them.
    return git.rev_list(change.after, *extra, "--not", "--all", max_count=_LISTED)


def _fetch_and_merge(sim: Simulator, repo: Repo, git: GitRepo, change: RefChange) -> bool:
    if repo.parent is None or change.created or not git.is_ancestor(change.before, change.after):
        return False
    upstream = sim.world.find_repo(*repo.parent.split("/", 1))
    if upstream is None:
        return False
    return sim.git.open(upstream.id).ref_sha(change.ref) == change.after


def check_outcomes(sim: Simulator, repo: Repo, sha: str) -> dict[str, str]:
    """What the commit statuses and check runs on ``sha`` say, per context."""
    # Imported here: the pull-request engine reaches this judge through GraphQL's
    # createCommitOnBranch, so a module-level import would be circular.
    from shoal_sim.pulls import attach

    checks = attach(sim).checks
    return context_outcomes(checks.statuses_of(repo.id, sha), checks.runs_of(repo.id, sha))


def facts(
    sim: Simulator, repo: Repo, git: GitRepo, change: RefChange, forced: bool, kinds: set[str]
) -> RefFacts:
    """The facts the rule types in ``kinds`` look at (git is asked only for those)."""
    if change.deleted:
        return RefFacts(created=False, deleted=True, forced=False)
    signed = sim.signed_commits
    merges = (
        _new_commits(git, change, "--min-parents=2") if "required_linear_history" in kinds else []
    )
    unsigned = (
        [s for s in _new_commits(git, change) if s not in signed]
        if "required_signatures" in kinds
        else []
    )
    return RefFacts(
        created=change.created,
        deleted=False,
        forced=forced,
        merge_commits=tuple(merges),
        unsigned=tuple(unsigned),
        fetch_and_merge="update" in kinds and _fetch_and_merge(sim, repo, git, change),
        check_outcomes=(
            check_outcomes(sim, repo, change.after) if "required_status_checks" in kinds else {}
        ),
    )


def refusal(
    sim: Simulator,
    repo: Repo,
    actor: Actor,
    git: GitRepo,
    change: RefChange,
    *,
    forced: bool,
    web: str,
) -> tuple[tuple[str, ...], str] | None:
    """``(remote lines, API message)`` when the rulesets refuse the change, else ``None``."""
    world = sim.world
    rulesets = enforced(world, repo, change.ref, lambda r: bypasses(world, repo, actor, r))
    if not rulesets:
        return None
    kinds = rule_types(rulesets)
    said = violations(rulesets, facts(sim, repo, git, change, forced, kinds))
    if not said:
        return None
    ref = change.ref
    lines = [
        f"error: GH013: Repository rule violations found for {change.ref}.",
        f"Review all repository rules at {web}/{repo.full_name}/rules?ref={quote(ref, safe='')}",
        "",
    ]
    for text in said:
        lines += [f"- {line}" if n == 0 else line for n, line in enumerate(text.split("\n"))]
        lines.append("")
    api = "Repository rule violations found\n\n" + "".join(f"{text}\n\n" for text in said)
    return tuple(lines), api
