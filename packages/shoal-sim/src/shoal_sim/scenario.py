"""World changes made "by the scenario", not by a GitHub client: creating repositories with
content (and GitHub's default labels), pushing commits as a human, renaming, archiving and
deleting repositories.

The admin API and the YAML seeder both call these, so a test script and a seed file
produce identical worlds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shoal_sim.git import Person
from shoal_sim.git.fastimport import SeedCommit, import_commits
from shoal_sim.pulls.labels import add_default_labels
from shoal_sim.ref_updates import apply_changes
from shoal_sim.simulator import Simulator
from shoal_sim.state.events import ZERO_SHA, RefChange, RepositoryChanged
from shoal_sim.state.ledger import ADMIN, Actor
from shoal_sim.state.models import BranchProtection, Permission, Repo, Visibility

SEED_AUTHOR = Person("Shoal Seeder", "seeder@users.noreply.github.com", 1_704_067_200)


@dataclass(frozen=True)
class RepoSpec:
    owner: str
    name: str
    files: dict[str, bytes] = field(default_factory=dict)
    default_branch: str = "main"
    visibility: Visibility = Visibility.PRIVATE
    archived: bool = False
    fork: bool = False
    parent: str | None = None
    language: str | None = None
    topics: tuple[str, ...] = ()
    description: str | None = None
    homepage: str | None = None
    collaborators: dict[str, Permission] = field(default_factory=dict)
    protection: dict[str, BranchProtection] = field(default_factory=dict)
    force_push_ban: frozenset[str] = frozenset()
    allow_auto_merge: bool = False
    delete_branch_on_merge: bool = False
    created_at: float | None = None
    author: Person = SEED_AUTHOR
    message: str = "Initial commit"


class Scenario:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def create_repos(self, specs: list[RepoSpec]) -> list[Repo]:
        """Create repositories, writing all their initial commits with one fast-import."""
        with_files = [s for s in specs if s.files]
        shas = import_commits(
            self.sim.git.shared_repo, [SeedCommit(s.files, s.message, s.author) for s in with_files]
        )
        head = {id(s): sha for s, sha in zip(with_files, shas, strict=True)}
        world = self.sim.world
        created = []
        for spec in specs:
            repo = world.add_repo(spec.owner, spec.name)
            when = spec.created_at if spec.created_at is not None else repo.created_at
            sha = head.get(id(spec))
            repo.created_at = repo.updated_at = when
            repo.pushed_at = float(spec.author.time) if sha else when
            repo.default_branch = spec.default_branch
            repo.visibility, repo.archived = spec.visibility, spec.archived
            repo.fork, repo.parent = spec.fork, spec.parent
            repo.language, repo.topics = spec.language, list(spec.topics)
            repo.description, repo.homepage = spec.description, spec.homepage
            repo.collaborators = dict(spec.collaborators)
            repo.protection = dict(spec.protection)
            repo.force_push_ban = set(spec.force_push_ban)
            repo.allow_auto_merge = spec.allow_auto_merge
            repo.delete_branch_on_merge = spec.delete_branch_on_merge
            repo.size_kb = max(sum(len(c) for c in spec.files.values()) // 1024, 1 if sha else 0)
            add_default_labels(world.ids, repo)
            self.sim.git.create(
                repo.id, spec.default_branch, {spec.default_branch: sha} if sha else None
            )
            created.append(repo)
        return created

    def push_commit(
        self,
        repo: Repo,
        branch: str,
        files: dict[str, bytes | None],
        *,
        message: str,
        author: Person,
        actor: Actor = ADMIN,
        start_from: str | None = None,
    ) -> str:
        """Commit ``files`` (``None`` deletes) onto ``branch`` as a person would push it.

        A missing branch is created from ``start_from`` (default: the default branch).
        Push rules are not applied: the scenario acts with admin rights.
        """
        git = self.sim.git.open(repo.id)
        ref = f"refs/heads/{branch}"
        before = git.ref_sha(ref)
        parent = before or git.rev_parse(start_from or repo.default_branch)
        base_tree = git.rev_parse(parent, "tree") if parent else None
        changes = [
            (path, "100644", None if data is None else git.write_blob(data))
            for path, data in files.items()
        ]
        tree = git.write_tree(base_tree, changes)
        sha = git.commit_tree(tree, [parent] if parent else [], message, author, author)
        change = RefChange(ref, before or ZERO_SHA, sha)
        apply_changes(
            self.sim, repo, [change], actor=actor, via="admin", request_id=self.sim.new_request_id()
        )
        return sha

    def _changed(self, repo: Repo, action: str, actor: Actor, **changes: object) -> None:
        now = self.sim.clock.time()
        repo.updated_at = now
        self.sim.events.publish(RepositoryChanged(repo.id, action, actor, now, dict(changes)))

    def rename(self, repo: Repo, new_name: str, actor: Actor = ADMIN) -> None:
        old = repo.name
        self.sim.world.rename_repo(repo, new_name)
        self._changed(repo, "renamed", actor, name={"from": old})

    def set_archived(self, repo: Repo, archived: bool, actor: Actor = ADMIN) -> None:
        if repo.archived != archived:
            repo.archived = archived
            self._changed(repo, "archived" if archived else "unarchived", actor)

    def delete(self, repo: Repo, actor: Actor = ADMIN) -> None:
        self.sim.world.remove_repo(repo)
        self.sim.git.delete(repo.id)
        self._changed(repo, "deleted", actor)
