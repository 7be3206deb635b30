"""Pull-request operations for one installation: find by head branch, create (adopting an
open duplicate), labels, reviewers, assignees, draft <-> ready, auto-merge, edit and close.

Every call goes through `InstallationClient` (governor, metrics, typed errors); every
mutation is sent with `kind="write"` and recorded as a `Mutation` in `mutations` so
the caller writes one audit row per GitHub mutation. Methods that have nothing to do send
nothing. The caller decides what to change (the reconciler's plan); this module only acts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from shoal.domain.errors import ConflictError, InvalidInputError, NotFoundError
from shoal.domain.mutations import Mutation
from shoal.github.errors import GitHubGraphQLError, GitHubNotFoundError, GitHubValidationError
from shoal.github.installation import InstallationClient
from shoal.github.pulls_lookup import BATCH_SIZE, HeadLookup, RepoHead, find_by_heads
from shoal.github.pulls_mutations import MutationLog
from shoal.github.pulls_observed import (
    PULL_FIELDS,
    ObservedPR,
    labels_page,
    pull_from_graphql,
    pull_from_rest,
)

__all__ = [
    "AutoMergeRefusedError",
    "PullRequestRaceError",
    "PullRequests",
    "is_duplicate_pull",
    "split_reviewers",
]

REPO = "/repos/{owner}/{repo}"
PULLS = f"{REPO}/pulls"
PULL = f"{PULLS}/{{pull_number}}"
ISSUE = f"{REPO}/issues/{{issue_number}}"

# GitHub says "already exists" for a duplicate pull request only in the message of a
# `custom` validation error; this is the one place that reads it.
_DUPLICATE_PULL = "a pull request already exists"
# What update-branch answers (422) for a branch that already has the base's commits.
_UP_TO_DATE = "no new commits on the base branch"

PULL_QUERY = (
    "query ShoalPull($owner: String!, $name: String!, $number: Int!) {\n"
    "  repository(owner: $owner, name: $name) { pullRequest(number: $number) { ...ShoalPull } }\n"
    "}\n"
    f"fragment ShoalPull on PullRequest {{{PULL_FIELDS}}}\n"
)
# GitHub's largest page; a repository's labels are read to the end, page by page.
LABELS_QUERY = (
    "query ShoalRepoLabels($owner: String!, $name: String!, $after: String) {\n"
    "  repository(owner: $owner, name: $name) {\n"
    "    labels(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { name } }\n"
    "  }\n"
    "}\n"
)
# Pages read at most (10,000 labels). A label beyond them is taken for missing: creating
# it answers `already_exists`, which `ensure_labels` accepts.
MAX_LABEL_PAGES = 100


class PullRequestRaceError(ConflictError):
    """GitHub said a pull request is open for the head, but it was gone when Shoal looked
    (closed in between). Retryable: the next attempt sees which it is."""

    code = "github_pull_request_race"
    retryable = True


class AutoMergeRefusedError(InvalidInputError):
    """GitHub refused to enable auto-merge: the repository does not allow it, the base branch
    has nothing to wait for ("Pull request is in clean status"), the PR is a draft, ..."""

    code = "auto_merge_refused"


def is_duplicate_pull(error: GitHubValidationError) -> bool:
    """The 422 GitHub answers when an open pull request has the same head and base."""
    return any(
        item.get("code") == "custom"
        and str(item.get("message", "")).lower().startswith(_DUPLICATE_PULL)
        for item in error.errors
    )


def split_reviewers(
    owner: str, users: Iterable[str], teams: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """User logins and team slugs for a review request on a repository of `owner`.

    Users given as `org/team` and teams given as `org/team` or `team` become team slugs;
    a team of another organization is refused (GitHub only asks the repository's own).
    """
    logins: list[str] = []
    slugs: list[str] = []
    for entry in [*users, *(t if "/" in t else f"{owner}/{t}" for t in teams)]:
        org, slash, slug = entry.partition("/")
        if not slash:
            if entry not in logins:
                logins.append(entry)
            continue
        if org.lower() != owner.lower() or not slug:
            raise InvalidInputError(
                f"team reviewer {entry!r} is not a team of {owner!r}",
                details={"reviewer": entry, "owner": owner},
            )
        if slug not in slugs:
            slugs.append(slug)
    return logins, slugs


class PullRequests:
    """Pull requests of the repositories one installation can reach."""

    def __init__(self, client: InstallationClient) -> None:
        self._client = client
        self._log = MutationLog(client)

    @property
    def mutations(self) -> tuple[Mutation, ...]:
        """Every mutation sent so far, in order, failed ones included."""
        return self._log.records

    def take_mutations(self) -> tuple[Mutation, ...]:
        return self._log.take()

    # -- reads ----------------------------------------------------------------------------

    def find_by_heads(
        self, heads: Sequence[RepoHead], *, batch_size: int = BATCH_SIZE
    ) -> HeadLookup:
        """The pull request of each (owner, name, branch), one GraphQL request per batch."""
        return find_by_heads(self._client, heads, batch_size=batch_size)

    def get(self, owner: str, name: str, number: int) -> ObservedPR:
        """One pull request, read as every GraphQL read reads it (`PULL_FIELDS`): with its
        labels, review requests, assignees, mergeability and checks."""
        variables = {"owner": owner, "name": name, "number": number}
        data = self._client.graphql(PULL_QUERY, variables)
        node = _object(data.get("repository")).get("pullRequest")
        if not isinstance(node, dict):
            raise GitHubNotFoundError(
                f"{owner}/{name}: no pull request #{number}",
                details={"repo": f"{owner}/{name}", "number": number},
            )
        return pull_from_graphql(node)

    def branch_tip(self, owner: str, name: str, branch: str) -> str | None:
        """The commit `branch` points at now; None when there is no such branch."""
        try:
            reply = self._client.request(
                "GET",
                f"{REPO}/git/ref/{{ref}}",
                path={"owner": owner, "repo": name, "ref": f"heads/{branch}"},
            )
        except NotFoundError:
            return None
        return str((reply.json().get("object") or {}).get("sha") or "") or None

    def find_open(self, owner: str, name: str, *, head: str, base: str) -> ObservedPR | None:
        """The open pull request from branch `head` into `base`, if there is one."""
        reply = self._client.request(
            "GET",
            PULLS,
            path={"owner": owner, "repo": name},
            params={"head": f"{owner}:{head}", "base": base, "state": "open"},
        )
        found = reply.json()
        return pull_from_rest(found[0]) if isinstance(found, list) and found else None

    def repo_labels(self, owner: str, name: str) -> frozenset[str]:
        """The repository's label names: `Repository.labels`, 100 per GraphQL query."""
        names: set[str] = set()
        after: str | None = None
        for _ in range(MAX_LABEL_PAGES):
            variables = {"owner": owner, "name": name, "after": after}
            data = self._client.graphql(LABELS_QUERY, variables)
            page = labels_page(_object(data.get("repository")).get("labels"))
            names.update(page.names)
            if page.next_cursor is None or page.next_cursor == after:
                break
            after = page.next_cursor
        return frozenset(names)

    # -- mutations ------------------------------------------------------------------------

    def create(
        self,
        owner: str,
        name: str,
        *,
        head: str,
        base: str,
        title: str,
        body: str,
        draft: bool = False,
    ) -> ObservedPR:
        """Open a pull request from branch `head` into `base`. If one is already open for
        them, GitHub answers 422 and that one is returned with `adopted=True`."""
        payload = {"head": head, "base": base, "title": title, "body": body, "draft": draft}
        try:
            reply = self._log.rest("POST", PULLS, owner=owner, name=name, json=payload)
        except GitHubValidationError as error:
            if not is_duplicate_pull(error):
                raise
            found = self.find_open(owner, name, head=head, base=base)
            if found is None:
                raise PullRequestRaceError(
                    f"{owner}/{name}: a pull request from {head!r} into {base!r} was open, "
                    "then gone",
                    details={"repo": f"{owner}/{name}", "head": head, "base": base},
                ) from error
            return dataclasses.replace(found, adopted=True)
        return pull_from_rest(reply.json())

    def ensure_labels(
        self,
        owner: str,
        name: str,
        labels: Iterable[str],
        existing: Iterable[str],
        color: str,
    ) -> int:
        """Create the `labels` the repository lacks (names compare case-insensitively, as on
        GitHub) with `color` (six hex digits, `#` allowed); returns how many were created.
        A label someone created meanwhile (422 `already_exists`) is fine."""
        have = {label.lower() for label in existing}
        created = 0
        for label in labels:
            if label.lower() in have:
                continue
            have.add(label.lower())
            try:
                self._log.rest(
                    "POST",
                    f"{REPO}/labels",
                    owner=owner,
                    name=name,
                    json={"name": label, "color": color.removeprefix("#").lower()},
                )
            except GitHubValidationError as error:
                if not any(item.get("code") == "already_exists" for item in error.errors):
                    raise
                continue
            created += 1
        return created

    def add_labels(
        self, owner: str, name: str, number: int, labels: Sequence[str]
    ) -> tuple[str, ...]:
        """Add `labels` to the pull request; returns all its labels. (GitHub creates unknown
        labels in grey: call `ensure_labels` first for the campaign's color.)"""
        if not labels:
            return ()
        reply = self._log.rest(
            "POST",
            f"{ISSUE}/labels",
            owner=owner,
            name=name,
            path={"issue_number": number},
            json={"labels": list(labels)},
        )
        return tuple(str(item["name"]) for item in reply.json())

    def request_reviewers(
        self, owner: str, name: str, number: int, users: Iterable[str], teams: Iterable[str] = ()
    ) -> ObservedPR | None:
        """Ask users and teams (see `split_reviewers`) to review; None when nobody is asked."""
        logins, slugs = split_reviewers(owner, users, teams)
        if not logins and not slugs:
            return None
        reply = self._log.rest(
            "POST",
            f"{PULL}/requested_reviewers",
            owner=owner,
            name=name,
            path={"pull_number": number},
            json={"reviewers": logins, "team_reviewers": slugs},
        )
        return pull_from_rest(reply.json())

    def add_assignees(
        self, owner: str, name: str, number: int, logins: Sequence[str]
    ) -> tuple[str, ...]:
        """Assign users; returns everyone assigned now (GitHub silently drops users who
        cannot be assigned)."""
        if not logins:
            return ()
        reply = self._log.rest(
            "POST",
            f"{ISSUE}/assignees",
            owner=owner,
            name=name,
            path={"issue_number": number},
            json={"assignees": list(logins)},
        )
        return tuple(str(item["login"]) for item in reply.json().get("assignees") or [])

    def mark_ready(self, owner: str, name: str, node_id: str) -> ObservedPR:
        """Draft -> ready for review (GraphQL: REST cannot change `draft`)."""
        return self._pull_mutation("markPullRequestReadyForReview", owner, name, node_id)

    def convert_to_draft(self, owner: str, name: str, node_id: str) -> ObservedPR:
        return self._pull_mutation("convertPullRequestToDraft", owner, name, node_id)

    def enable_auto_merge(self, owner: str, name: str, node_id: str, method: str) -> ObservedPR:
        """Have GitHub merge the PR with `method` (merge, squash or rebase) once its base
        branch's requirements are met. GitHub only waits for something: a PR it could merge
        right now, or a repository that does not allow auto-merge, is refused
        (`AutoMergeRefusedError`)."""
        try:
            return self._pull_mutation(
                "enablePullRequestAutoMerge",
                owner,
                name,
                node_id,
                mergeMethod=("PullRequestMergeMethod!", method.upper()),
            )
        except GitHubGraphQLError as error:
            message = "; ".join(str(e.get("message", "")) for e in error.errors) or str(error)
            raise AutoMergeRefusedError(
                f"GitHub refused auto-merge: {message}", details={"method": method}
            ) from error

    def disable_auto_merge(self, owner: str, name: str, node_id: str) -> ObservedPR:
        return self._pull_mutation("disablePullRequestAutoMerge", owner, name, node_id)

    def update(
        self,
        owner: str,
        name: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
    ) -> ObservedPR | None:
        """Edit the title and/or body; None (and no request) when neither is given."""
        fields = {k: v for k, v in {"title": title, "body": body}.items() if v is not None}
        return self._edit(owner, name, number, fields) if fields else None

    def close(self, owner: str, name: str, number: int) -> ObservedPR:
        return self._edit(owner, name, number, {"state": "closed"})

    def remove_labels(self, owner: str, name: str, number: int, labels: Sequence[str]) -> None:
        """Take `labels` off the pull request, one request each (GitHub has no bulk remove);
        a label already gone (404) is fine."""
        for label in labels:
            try:
                self._log.rest(
                    "DELETE",
                    f"{ISSUE}/labels/{{name}}",
                    owner=owner,
                    name=name,
                    path={"issue_number": number, "name": label},
                )
            except NotFoundError:
                continue

    def remove_reviewers(
        self, owner: str, name: str, number: int, users: Iterable[str], teams: Iterable[str] = ()
    ) -> None:
        """Withdraw review requests (see `split_reviewers`); nothing is sent for nobody."""
        logins, slugs = split_reviewers(owner, users, teams)
        if not logins and not slugs:
            return
        self._log.rest(
            "DELETE",
            f"{PULL}/requested_reviewers",
            owner=owner,
            name=name,
            path={"pull_number": number},
            json={"reviewers": logins, "team_reviewers": slugs},
        )

    def remove_assignees(self, owner: str, name: str, number: int, logins: Sequence[str]) -> None:
        if not logins:
            return
        self._log.rest(
            "DELETE",
            f"{ISSUE}/assignees",
            owner=owner,
            name=name,
            path={"issue_number": number},
            json={"assignees": list(logins)},
        )

    def comment(self, owner: str, name: str, number: int, body: str) -> int:
        """Post a comment on the pull request; returns its id."""
        reply = self._log.rest(
            "POST",
            f"{ISSUE}/comments",
            owner=owner,
            name=name,
            path={"issue_number": number},
            json={"body": body},
        )
        return int(reply.json().get("id") or 0)

    def update_branch(self, owner: str, name: str, number: int, *, head_sha: str | None) -> bool:
        """Merge the base into the PR's branch (GitHub's update-branch); False when the
        branch already has every commit of the base (GitHub's 422 "no new commits", which
        the mutation log still records). With `head_sha`, GitHub refuses (422) when the
        branch moved since."""
        payload = {"expected_head_sha": head_sha} if head_sha else {}
        try:
            self._log.rest(
                "PUT",
                f"{PULL}/update-branch",
                owner=owner,
                name=name,
                path={"pull_number": number},
                json=payload,
            )
        except GitHubValidationError as error:
            if _UP_TO_DATE not in str(error.message).lower():
                raise
            return False
        return True

    def delete_branch(self, owner: str, name: str, branch: str) -> bool:
        """Delete `branch`; False when it was already gone."""
        try:
            self._log.rest(
                "DELETE",
                f"{REPO}/git/refs/{{ref}}",
                owner=owner,
                name=name,
                path={"ref": f"heads/{branch}"},
            )
        except NotFoundError:
            return False
        return True

    # -- internals ------------------------------------------------------------------------

    def _edit(self, owner: str, name: str, number: int, fields: dict[str, Any]) -> ObservedPR:
        reply = self._log.rest(
            "PATCH", PULL, owner=owner, name=name, path={"pull_number": number}, json=fields
        )
        return pull_from_rest(reply.json())

    def _pull_mutation(
        self, field: str, owner: str, name: str, node_id: str, **inputs: tuple[str, str]
    ) -> ObservedPR:
        """A mutation whose input is the PR's id (and `inputs`: name -> (GraphQL type, value))
        and whose payload has the `pullRequest`, read back with `PULL_FIELDS`."""
        declared = "".join(f", ${key}: {kind}" for key, (kind, _) in inputs.items())
        passed = "".join(f", {key}: ${key}" for key in inputs)
        document = (
            f"mutation Shoal($id: ID!{declared}) {{\n"
            f"  {field}(input: {{pullRequestId: $id{passed}}}) {{\n"
            f"    pullRequest {{ ...ShoalPull }}\n"
            f"  }}\n}}\nfragment ShoalPull on PullRequest {{{PULL_FIELDS}}}\n"
        )
        variables = {"id": node_id, **{key: value for key, (_, value) in inputs.items()}}
        payload = self._log.graphql(field, document, variables, owner=owner, name=name)
        return pull_from_graphql(payload.get("pullRequest") or {})


def _object(value: Any) -> dict[str, Any]:
    """`value` if GitHub answered an object there, else an empty one."""
    return value if isinstance(value, dict) else {}
