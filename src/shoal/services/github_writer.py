"""The reconciler's `GitHubWriter` port, implemented with the GitHub adapter and git (or,
in API commit mode, GitHub's Git Data API for the commit)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, Protocol, TypeVar

import structlog

from shoal.domain.changesets import Changeset, Desired, Observed
from shoal.domain.errors import ShoalError
from shoal.domain.mutations import Mutation
from shoal.github import GitHubApp, InstallationClient
from shoal.github.pulls import PullRequests
from shoal.github.pulls_observed import ObservedPR
from shoal.github.push import BranchProtectedError, NonFastForwardError
from shoal.github.rules import BranchRules
from shoal.publish.apicommit import ApiCommitter
from shoal.publish.commits import CommitSpec, commit_identity
from shoal.publish.gitpush import GitPublisher
from shoal.reconcile import merge_pull, text_sha256
from shoal.reconcile.plan import Operation
from shoal.services.reconciling import FailedWriteError

__all__ = ["AppWriter"]

log = structlog.get_logger("shoal.reconcile")
T = TypeVar("T")


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


class _Recording(Protocol):
    def take_mutations(self) -> tuple[Mutation, ...]: ...


@contextmanager
def _audited(recording: _Recording) -> Iterator[None]:
    """A call that fails after some of its requests reached GitHub hands them on with the
    error, so that they are audited like the ones that succeed: those `recording` kept, and
    those the error carries (a push GitHub refused)."""
    try:
        yield
    except Exception as exc:
        sent = [
            *recording.take_mutations(),
            *(exc.mutations if isinstance(exc, ShoalError) else ()),
        ]
        if not sent:
            raise
        raise FailedWriteError(exc, sent) from exc


def _raise_with_sent(error: ShoalError) -> NoReturn:
    """Raise `error` (being handled), with the writes GitHub saw on the way to it."""
    if error.mutations:
        raise FailedWriteError(error, list(error.mutations)) from error
    raise error


class AppWriter:
    """Writes as the changeset's installation: git (or the Git Data API, in API commit mode)
    for the branch, REST/GraphQL for the PR."""

    def __init__(
        self,
        app: GitHubApp,
        git: GitPublisher,
        *,
        max_wait_s: float = 30.0,
        branch_rules: BranchRules | None = None,
        label_color: str = "5319e7",
    ) -> None:
        self._app = app
        self._git = git
        self._max_wait_s = max_wait_s
        self._branch_rules = branch_rules
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

    @staticmethod
    def _pr(changeset: Changeset) -> tuple[str, str, int]:
        owner, _, name = changeset.repo.partition("/")
        number = changeset.observed.pr_number
        assert number is not None
        return owner, name, number

    def _pulls(
        self, changeset: Changeset, act: Callable[[PullRequests], T]
    ) -> tuple[T, list[Mutation]]:
        """`act` with the changeset's installation; what it returned and the mutations it
        sent (audited with its error when it fails)."""
        pulls = PullRequests(self._client(changeset))
        with _audited(pulls):
            value = act(pulls)
        return value, list(pulls.take_mutations())

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
        if self._branch_rules is not None and changeset.branch != desired.default_branch:
            # A rule GitHub would refuse the push for fails the changeset before any write.
            self._branch_rules.check(
                client,
                owner,
                name,
                changeset.branch,
                creating=changeset.observed.branch_sha is None,
                signed=through_api,  # GitHub signs API commits (GitHub.com; not GHES)
            )
        commit = commit_identity(
            desired.push_key,
            message=desired.commit_message,
            author_name=desired.author_name,
            author_email=desired.author_email,
            campaign_name=desired.campaign_name,
            campaign_id=changeset.campaign_id,
        )
        # Shoal owns the branch once it pushed it; a branch it never pushed is only
        # fast-forwarded, so someone else's work there is never overwritten. A forced push
        # carries a lease on the sha Shoal last saw there: a commit it has not seen stays.
        force = changeset.observed.branch_sha is not None
        lease = (changeset.observed.head_sha or changeset.observed.branch_sha) if force else None
        if through_api:
            try:
                return self._commit_through_api(changeset, client, patch, commit, lease)
            except NonFastForwardError:
                if lease is None:
                    raise
                return self._moved(changeset, client), []
            except FailedWriteError as failed:
                self._refused(changeset, failed.error)
                raise
        try:
            result = self._git.publish(
                changeset.repo,
                desired.base_sha,
                patch,
                changeset.branch,
                commit,
                client.token(),
                default_branch=desired.default_branch or desired.base_branch,
                force=force,
                lease=lease,
                # A push that may have happened unrecorded: the branch is looked at first.
                known=changeset.pending_operation != Operation.PUSH,
                on_error=client.git_failed,
            )
        except NonFastForwardError as exc:
            if lease is None:
                _raise_with_sent(exc)
            # The branch moved since Shoal last saw it: nothing of Shoal's was written there
            # (an update GitHub refused for that is audited).
            return self._moved(changeset, client), list(exc.mutations)
        except ShoalError as exc:
            self._refused(changeset, exc)
            _raise_with_sent(exc)
        observed = dataclasses.replace(
            changeset.observed,
            branch_sha=result.commit_sha,
            head_sha=result.commit_sha,
            push_key=desired.push_key,
            # A new head: GitHub works out again whether the PR conflicts.
            mergeable=None if result.pushed else changeset.observed.mergeable,
        )
        return observed, list(result.mutations)

    def _refused(self, changeset: Changeset, error: Exception) -> None:
        """GitHub refused a write of the branch for a rule: the org's repositories are asked
        for their rules again before their pushes."""
        if self._branch_rules is not None and isinstance(error, BranchProtectedError):
            owner, _, _ = changeset.repo.partition("/")
            assert changeset.installation_id is not None
            self._branch_rules.refused(changeset.installation_id, owner, changeset.branch)

    def _moved(self, changeset: Changeset, client: InstallationClient) -> Observed:
        """The lease was refused: the branch moved since Shoal last saw it. Nothing was
        written; what the branch holds now goes to the planner (foreign commits)."""
        owner, name, _ = self._parts(changeset)
        head = PullRequests(client).branch_tip(owner, name, changeset.branch)
        return dataclasses.replace(changeset.observed, head_sha=head)

    def _commit_through_api(
        self,
        changeset: Changeset,
        client: InstallationClient,
        patch: Path,
        commit: CommitSpec,
        lease: str | None,
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
                lease=lease,
            )
        observed = dataclasses.replace(
            changeset.observed,
            branch_sha=result.commit_sha,
            head_sha=result.commit_sha,
            push_key=desired.push_key,
            mergeable=None if result.pushed else changeset.observed.mergeable,
        )
        return observed, list(committer.take_mutations())

    def create_pr(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, desired = self._parts(changeset)
        pr, sent = self._pulls(
            changeset,
            lambda pulls: pulls.create(
                owner,
                name,
                head=changeset.branch,
                base=desired.base_branch,
                title=desired.title,
                body=desired.body,
                draft=desired.draft,
            ),
        )
        observed = dataclasses.replace(
            _observed(pr, changeset.observed),
            head_sha=pr.head_sha or changeset.observed.branch_sha,
            title_sha256=text_sha256(pr.title),
            body_sha256=text_sha256(pr.body),
            # An adopted PR keeps its author's text: what it shows is the baseline.
            written_title_sha256=text_sha256(pr.title if pr.adopted else desired.title),
            written_body_sha256=text_sha256(pr.body if pr.adopted else desired.body),
        )
        return observed, sent

    def update_pr(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        """Restore the rendered title and body (a template change, or a human's edit under
        the overwrite policy)."""
        owner, name, number = self._pr(changeset)
        _, _, desired = self._parts(changeset)
        _, sent = self._pulls(
            changeset,
            lambda pulls: pulls.update(owner, name, number, title=desired.title, body=desired.body),
        )
        observed = dataclasses.replace(
            changeset.observed,
            title_sha256=text_sha256(desired.title),
            body_sha256=text_sha256(desired.body),
            written_title_sha256=text_sha256(desired.title),
            written_body_sha256=text_sha256(desired.body),
        )
        return observed, sent

    def close_pr(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, number = self._pr(changeset)
        pr, sent = self._pulls(changeset, lambda pulls: pulls.close(owner, name, number))
        return _observed(pr, changeset.observed), sent

    def delete_branch(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        """Delete the campaign branch if it is still at the commit Shoal pushed, read just
        before: a human's commits on it are never deleted (the branch is kept for good), and
        one already gone (GitHub's delete-on-merge) needs no request."""
        owner, name, _ = self._parts(changeset)
        before = changeset.observed
        tip, _ = self._pulls(
            changeset, lambda pulls: pulls.branch_tip(owner, name, changeset.branch)
        )
        if tip is None:
            return dataclasses.replace(before, branch_deleted=True), []
        if tip != before.branch_sha:
            log.info("branch_kept", branch=changeset.branch, tip=tip, pushed=before.branch_sha)
            return dataclasses.replace(before, branch_kept=True), []
        _, sent = self._pulls(
            changeset, lambda pulls: pulls.delete_branch(owner, name, changeset.branch)
        )
        return dataclasses.replace(before, branch_deleted=True), sent

    def remove_labels(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, number = self._pr(changeset)
        _, _, desired = self._parts(changeset)
        o = changeset.observed
        dropped = sorted((set(o.written_labels) - set(desired.labels)) & set(o.labels))
        _, sent = self._pulls(
            changeset, lambda pulls: pulls.remove_labels(owner, name, number, dropped)
        )
        observed = dataclasses.replace(
            o,
            labels=tuple(sorted(set(o.labels) - set(dropped))),
            written_labels=tuple(sorted(set(o.written_labels) - set(dropped))),
        )
        return observed, sent

    def remove_reviewers(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, number = self._pr(changeset)
        _, _, desired = self._parts(changeset)
        o = changeset.observed
        users = sorted((set(o.written_reviewers) - set(desired.reviewers)) & set(o.reviewers))
        teams = sorted(
            (set(o.written_team_reviewers) - set(desired.team_reviewers)) & set(o.team_reviewers)
        )
        _, sent = self._pulls(
            changeset, lambda pulls: pulls.remove_reviewers(owner, name, number, users, teams)
        )
        observed = dataclasses.replace(
            o,
            reviewers=tuple(sorted(set(o.reviewers) - set(users))),
            team_reviewers=tuple(sorted(set(o.team_reviewers) - set(teams))),
            written_reviewers=tuple(sorted(set(o.written_reviewers) - set(users))),
            written_team_reviewers=tuple(sorted(set(o.written_team_reviewers) - set(teams))),
        )
        return observed, sent

    def remove_assignees(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, number = self._pr(changeset)
        _, _, desired = self._parts(changeset)
        o = changeset.observed
        dropped = sorted((set(o.written_assignees) - set(desired.assignees)) & set(o.assignees))
        _, sent = self._pulls(
            changeset, lambda pulls: pulls.remove_assignees(owner, name, number, dropped)
        )
        observed = dataclasses.replace(
            o,
            assignees=tuple(sorted(set(o.assignees) - set(dropped))),
            written_assignees=tuple(sorted(set(o.written_assignees) - set(dropped))),
        )
        return observed, sent

    def update_branch(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        """GitHub merges the base into the PR's branch; the new head is read back, so that
        GitHub's merge commit is not taken for a foreign commit."""
        owner, name, number = self._pr(changeset)
        _, _, desired = self._parts(changeset)

        def update(pulls: PullRequests) -> ObservedPR:
            pulls.update_branch(owner, name, number, head_sha=None)
            return pulls.get(owner, name, number)

        pr, sent = self._pulls(changeset, update)
        observed = dataclasses.replace(
            merge_pull(changeset.observed, pr, at=self._client(changeset).clock.now()),
            branch_sha=pr.head_sha,
            update_branch_done=desired.update_branch,
        )
        return observed, sent

    def comment(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        """Post the comments bulk actions asked for that are not posted yet, each once: its
        key is recorded with the mutation that posted it."""
        owner, name, number = self._pr(changeset)
        _, _, desired = self._parts(changeset)
        posted = list(changeset.observed.comments_posted)

        def post(pulls: PullRequests) -> None:
            for wanted in desired.comments:
                key = wanted.get("key", "")
                if key in posted:
                    continue
                pulls.comment(owner, name, number, wanted.get("body", ""))
                posted.append(key)

        _, sent = self._pulls(changeset, post)
        return dataclasses.replace(changeset.observed, comments_posted=tuple(posted)), sent

    def set_labels(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, number = self._pr(changeset)
        _, _, desired = self._parts(changeset)

        def label(pulls: PullRequests) -> tuple[str, ...]:
            existing = pulls.repo_labels(owner, name)
            pulls.ensure_labels(owner, name, desired.labels, existing, self._label_color)
            return pulls.add_labels(owner, name, number, list(desired.labels))

        labels, sent = self._pulls(changeset, label)
        observed = dataclasses.replace(
            changeset.observed,
            labels=labels,
            written_labels=tuple(sorted({*changeset.observed.written_labels, *desired.labels})),
        )
        return observed, sent

    def request_reviewers(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, number = self._pr(changeset)
        _, _, desired = self._parts(changeset)
        _, sent = self._pulls(
            changeset,
            lambda pulls: pulls.request_reviewers(
                owner, name, number, desired.reviewers, desired.team_reviewers
            ),
        )
        o = changeset.observed
        observed = dataclasses.replace(
            o,
            reviewers=tuple(sorted({*o.reviewers, *desired.reviewers})),
            team_reviewers=tuple(sorted({*o.team_reviewers, *desired.team_reviewers})),
            written_reviewers=tuple(sorted({*o.written_reviewers, *desired.reviewers})),
            written_team_reviewers=tuple(
                sorted({*o.written_team_reviewers, *desired.team_reviewers})
            ),
        )
        return observed, sent

    def set_assignees(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, number = self._pr(changeset)
        _, _, desired = self._parts(changeset)
        _, sent = self._pulls(
            changeset,
            lambda pulls: pulls.add_assignees(owner, name, number, list(desired.assignees)),
        )
        # GitHub drops users it cannot assign without an error; remembering what was asked
        # keeps the planner from asking again forever.
        o = changeset.observed
        observed = dataclasses.replace(
            o,
            assignees=tuple(sorted({*o.assignees, *desired.assignees})),
            written_assignees=tuple(sorted({*o.written_assignees, *desired.assignees})),
        )
        return observed, sent

    def undraft(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, _ = self._parts(changeset)
        node_id = changeset.observed.pr_node_id
        assert node_id is not None
        pr, sent = self._pulls(changeset, lambda pulls: pulls.mark_ready(owner, name, node_id))
        return _observed(pr, changeset.observed), sent

    def enable_auto_merge(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        """GitHub auto-merge with the spec's merge method. A refusal (the repository does
        not allow it, nothing to wait for) is the planner's warning, not a failure."""
        owner, name, desired = self._parts(changeset)
        node_id = changeset.observed.pr_node_id
        method = desired.auto_merge
        assert node_id is not None and method is not None
        pr, sent = self._pulls(
            changeset, lambda pulls: pulls.enable_auto_merge(owner, name, node_id, method)
        )
        observed = dataclasses.replace(
            _observed(pr, changeset.observed),
            auto_merge=pr.auto_merge or method,
            written_auto_merge=method,
        )
        return observed, sent

    def disable_auto_merge(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        owner, name, _ = self._parts(changeset)
        node_id = changeset.observed.pr_node_id
        assert node_id is not None
        pr, sent = self._pulls(
            changeset, lambda pulls: pulls.disable_auto_merge(owner, name, node_id)
        )
        observed = dataclasses.replace(
            _observed(pr, changeset.observed), auto_merge=None, written_auto_merge=None
        )
        return observed, sent
