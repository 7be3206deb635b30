"""The reconciler's `GitHubWriter` port, implemented with the GitHub adapter and git (or,
in API commit mode, GitHub's Git Data API for the commit)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from shoal.domain.changesets import Changeset, Desired, Observed
from shoal.domain.errors import ShoalError
from shoal.github import GitHubApp, InstallationClient
from shoal.github.pulls import PullRequests
from shoal.github.pulls_mutations import MutationRecord
from shoal.github.pulls_observed import ObservedPR
from shoal.github.rules import check_branch_rules
from shoal.publish.apicommit import ApiCommitter
from shoal.publish.commits import CommitSpec, commit_identity
from shoal.publish.gitpush import GitPublisher
from shoal.services.reconciling import FailedWriteError, Mutation

__all__ = ["AppWriter"]


def _observed(pr: ObservedPR, before: Observed) -> Observed:
    return dataclasses.replace(
        before,
        pr_number=pr.number,
        pr_node_id=pr.node_id,
        pr_state=pr.state.value,
        pr_url=pr.url,
        draft=pr.draft,
        labels=pr.labels,
        reviewers=pr.reviewers if pr.reviewers is not None else before.reviewers,
        team_reviewers=(
            pr.team_reviewers if pr.team_reviewers is not None else before.team_reviewers
        ),
        assignees=pr.assignees if pr.assignees is not None else before.assignees,
        adopted=before.adopted or pr.adopted,
    )


def _mutations(records: tuple[MutationRecord, ...]) -> list[Mutation]:
    return [
        Mutation(
            method=r.method,
            endpoint=r.endpoint,
            status=r.status,
            request_id=r.github_request_id,
            ok=r.ok,
            details={"operation": r.operation, **({"error": r.error_code} if r.error_code else {})},
        )
        for r in records
    ]


class _Recording(Protocol):
    def take_mutations(self) -> tuple[MutationRecord, ...]: ...


@contextmanager
def _audited(recording: _Recording) -> Iterator[None]:
    """A call that fails after some of its requests reached GitHub hands them on with the
    error, so that they are audited like the ones that succeed."""
    try:
        yield
    except Exception as exc:
        sent = _mutations(recording.take_mutations())
        if not sent:
            raise
        raise FailedWriteError(exc, sent) from exc


def _refused_push(changeset: Changeset, error: ShoalError) -> FailedWriteError:
    refused = Mutation(
        method="GIT",
        endpoint="git push",
        status=None,
        request_id=None,
        ok=False,
        details={"operation": "git push", "branch": changeset.branch, "error": error.code},
    )
    return FailedWriteError(error, [refused])


class AppWriter:
    """Writes as the changeset's installation: git (or the Git Data API, in API commit mode)
    for the branch, REST/GraphQL for the PR."""

    def __init__(
        self,
        app: GitHubApp,
        git: GitPublisher,
        *,
        max_wait_s: float = 30.0,
        check_branch_rules: bool = True,
        label_color: str = "5319e7",
    ) -> None:
        self._app = app
        self._git = git
        self._max_wait_s = max_wait_s
        self._check_branch_rules = check_branch_rules
        self._label_color = label_color

    def _client(self, changeset: Changeset) -> InstallationClient:
        if changeset.installation_id is None:
            raise ValueError(f"changeset {changeset.id} has no installation")
        return self._app.installation(changeset.installation_id, max_wait_s=self._max_wait_s)

    @staticmethod
    def _parts(changeset: Changeset) -> tuple[str, str, Desired]:
        assert changeset.desired is not None
        owner, _, name = changeset.repo.partition("/")
        return owner, name, changeset.desired

    def lookup(self, changeset: Changeset) -> Observed | None:
        owner, name, _ = self._parts(changeset)
        if changeset.observed.branch_sha is None:
            # Shoal never pushed this branch, so no PR of ours can exist yet; a foreign PR on
            # the same head is met by create's 422 and adopted there. One request saved.
            return None
        found = PullRequests(self._client(changeset)).find_by_heads(
            [(owner, name, changeset.branch)]
        )
        pr = found.pulls.get((owner, name))
        if pr is None:
            return None
        return _observed(dataclasses.replace(pr, adopted=True), changeset.observed)

    def push(self, changeset: Changeset, patch: Path) -> tuple[Observed, list[Mutation]]:
        owner, name, desired = self._parts(changeset)
        client = self._client(changeset)
        through_api = desired.commit_mode == "api"
        if self._check_branch_rules and changeset.branch != desired.default_branch:
            # A rule GitHub would refuse the push for fails the changeset before any write.
            check_branch_rules(
                client,
                owner,
                name,
                changeset.branch,
                creating=changeset.observed.branch_sha is None,
                signed=through_api,  # GitHub signs API commits (GitHub.com; not GHES)
            )
        commit = commit_identity(
            desired.spec_hash,
            message=desired.commit_message,
            author_name=desired.author_name,
            author_email=desired.author_email,
            campaign_name=desired.campaign_name,
            campaign_id=changeset.campaign_id,
            spec_version=desired.spec_version,
        )
        if through_api:
            return self._commit_through_api(changeset, client, patch, commit)
        try:
            result = self._git.publish(
                changeset.repo,
                desired.base_sha,
                patch,
                changeset.branch,
                commit,
                client.token(),
                default_branch=desired.default_branch or desired.base_branch,
                # Shoal owns the branch once it pushed it; a branch it never pushed is only
                # fast-forwarded, so someone else's work there is never overwritten.
                force=changeset.observed.branch_sha is not None,
            )
        except ShoalError as exc:
            if exc.details.get("received"):
                raise _refused_push(changeset, exc) from exc
            raise
        observed = dataclasses.replace(
            changeset.observed, branch_sha=result.commit_sha, push_key=desired.push_key
        )
        mutations = []
        if result.pushed:
            mutations.append(
                Mutation(
                    method="GIT",
                    endpoint="git push",
                    status=None,
                    request_id=None,
                    ok=True,
                    details={
                        "operation": "git push",
                        "branch": changeset.branch,
                        "commit": result.commit_sha,
                        "previous": result.previous_sha,
                    },
                )
            )
        return observed, mutations

    def _commit_through_api(
        self, changeset: Changeset, client: InstallationClient, patch: Path, commit: CommitSpec
    ) -> tuple[Observed, list[Mutation]]:
        """API commit mode: GitHub makes (and signs) the commit; every request it saw is
        audited, refused ones included. The spec's author is not used (see `apicommit`)."""
        _owner, _name, desired = self._parts(changeset)
        committer = ApiCommitter(self._git, client)
        with _audited(committer):
            result = committer.publish(
                changeset.repo,
                desired.base_sha,
                patch,
                changeset.branch,
                commit.message,
                default_branch=desired.default_branch or desired.base_branch,
                force=changeset.observed.branch_sha is not None,
            )
        observed = dataclasses.replace(
            changeset.observed, branch_sha=result.commit_sha, push_key=desired.push_key
        )
        return observed, _mutations(committer.take_mutations())

    def create_pr(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, desired = self._parts(changeset)
        pulls = PullRequests(self._client(changeset))
        with _audited(pulls):
            pr = pulls.create(
                owner,
                name,
                head=changeset.branch,
                base=desired.base_branch,
                title=desired.title,
                body=desired.body,
                draft=desired.draft,
            )
        records = pulls.take_mutations()
        return _observed(pr, changeset.observed), _mutations(records)

    def set_labels(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, desired = self._parts(changeset)
        number = changeset.observed.pr_number
        assert number is not None
        pulls = PullRequests(self._client(changeset))
        with _audited(pulls):
            existing = pulls.repo_labels(owner, name)
            pulls.ensure_labels(owner, name, desired.labels, existing, self._label_color)
            labels = pulls.add_labels(owner, name, number, list(desired.labels))
        records = pulls.take_mutations()
        return dataclasses.replace(changeset.observed, labels=labels), _mutations(records)

    def request_reviewers(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, desired = self._parts(changeset)
        number = changeset.observed.pr_number
        assert number is not None
        pulls = PullRequests(self._client(changeset))
        with _audited(pulls):
            pulls.request_reviewers(
                owner,
                name,
                number,
                desired.reviewers,
                desired.team_reviewers,
            )
        records = pulls.take_mutations()
        observed = dataclasses.replace(
            changeset.observed,
            reviewers=tuple(sorted({*changeset.observed.reviewers, *desired.reviewers})),
            team_reviewers=tuple(
                sorted({*changeset.observed.team_reviewers, *desired.team_reviewers})
            ),
        )
        return observed, _mutations(records)

    def set_assignees(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, desired = self._parts(changeset)
        number = changeset.observed.pr_number
        assert number is not None
        pulls = PullRequests(self._client(changeset))
        with _audited(pulls):
            pulls.add_assignees(owner, name, number, list(desired.assignees))
        records = pulls.take_mutations()
        # GitHub drops users it cannot assign without an error; remembering what was asked
        # keeps the planner from asking again forever.
        observed = dataclasses.replace(
            changeset.observed,
            assignees=tuple(sorted({*changeset.observed.assignees, *desired.assignees})),
        )
        return observed, _mutations(records)

    def undraft(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, _ = self._parts(changeset)
        node_id = changeset.observed.pr_node_id
        assert node_id is not None
        pulls = PullRequests(self._client(changeset))
        with _audited(pulls):
            pr = pulls.mark_ready(owner, name, node_id)
        records = pulls.take_mutations()
        return _observed(pr, changeset.observed), _mutations(records)
