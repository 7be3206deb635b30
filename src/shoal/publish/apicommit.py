"""Publishing a Patch as one commit made through GitHub's Git Data API (API commit mode).

GitHub signs a commit an App creates through the API without a custom author or committer,
and shows it as *Verified*. The tree is built exactly as in git mode (`GitPublisher.prepare`:
one fetch, `git apply --cached`, `write-tree`); what changed between the base and that tree
(`git diff-tree`) is then sent as REST requests of the installation, each paced by the
governor as a write and recorded as a `Mutation` for the audit log:

- `GET git/ref/heads/{branch}` and, if it exists, `GET git/commits/{sha}`: when the branch
  already holds a commit with this tree, this message and the base as only parent, nothing
  is written (`pushed=False`). A signed commit's sha carries GitHub's clock, so it cannot be
  predicted: the commit is recognized by what it holds instead.
- `POST git/blobs` for each file that is not UTF-8 text and that GitHub does not hold yet;
  text files travel inline in the tree, deletions as `sha: null`.
- `POST git/trees` on the base commit's tree; GitHub's tree sha must equal the local one.
- `POST git/commits` with the message and the base as parent, no author or committer.
- `POST git/refs`, or `PATCH git/refs/heads/{branch}` (forced only when Shoal owns the branch).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from shoal.domain.errors import InvalidInputError, ShoalError
from shoal.domain.mutations import Mutation
from shoal.github.errors import GitHubNotFoundError
from shoal.github.installation import InstallationClient
from shoal.github.pulls_mutations import MutationLog
from shoal.github.push import NonFastForwardError, classify_ref_refusal
from shoal.publish.gitpush import GitPublisher, PushResult

__all__ = [
    "ApiCommitter",
    "FileChange",
    "TreeChange",
    "TreeMismatchError",
    "read_change",
]

log = structlog.get_logger("shoal.publish.api")

REPO = "/repos/{owner}/{repo}"
REF = f"{REPO}/git/ref/{{ref}}"
REFS = f"{REPO}/git/refs"
UPDATE_REF = f"{REPO}/git/refs/{{ref}}"
COMMIT = f"{REPO}/git/commits/{{commit_sha}}"
COMMITS = f"{REPO}/git/commits"
TREES = f"{REPO}/git/trees"
BLOBS = f"{REPO}/git/blobs"

_ABSENT = "0" * 40
_GITLINK = "160000"


class TreeMismatchError(ShoalError):
    """The tree GitHub built from the change is not the tree git built from the Patch; no
    commit was made. Not retryable: the same requests would build the same tree."""

    code = "api_tree_mismatch"


@dataclass(frozen=True, slots=True)
class FileChange:
    """One path of the change. `sha` is the new object (None: the path is deleted) and
    `mode` its mode (a deleted path's old mode). `content` is set when GitHub may not hold
    the blob yet; a gitlink (submodule) or a blob of the base tree is sent by sha."""

    path: str
    mode: str
    sha: str | None
    content: bytes | None = None

    @property
    def kind(self) -> str:
        return "commit" if self.mode == _GITLINK else "blob"

    @property
    def text(self) -> str | None:
        """The content as text when it can travel inline in the tree (UTF-8, no NUL)."""
        if self.content is None or b"\0" in self.content:
            return None
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError:
            return None


@dataclass(frozen=True, slots=True)
class TreeChange:
    """The base commit's tree, the tree the Patch makes, and the paths between them
    (deletions first, then the rest in git's order)."""

    base_tree: str
    tree: str
    files: tuple[FileChange, ...]


class GitTree(Protocol):
    """A prepared repository (`gitpush.PreparedTree`)."""

    @property
    def base_sha(self) -> str: ...

    @property
    def tree_sha(self) -> str: ...

    def git(self, *args: str) -> bytes: ...


def _diff_records(raw: bytes) -> Iterator[tuple[str, str, str, str, bytes]]:
    """`git diff-tree -r -z --no-renames` output as (old mode, new mode, old sha, new sha,
    path) records: ":<old mode> <new mode> <old sha> <new sha> <status>\\0<path>\\0"."""
    fields = raw.split(b"\0")
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(b":"):
            continue
        old_mode, new_mode, old_sha, new_sha, _status = meta[1:].decode().split(" ")
        yield old_mode, new_mode, old_sha, new_sha, path


def read_change(prepared: GitTree) -> TreeChange:
    """What the Patch changes, read from the prepared repository (local commands only)."""
    base_tree = prepared.git("rev-parse", f"{prepared.base_sha}^{{tree}}").decode().strip()
    raw = prepared.git(
        "diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", base_tree, prepared.tree_sha
    )
    records = list(_diff_records(raw))
    # Blobs of the base tree are GitHub's already (a renamed file, a mode change): by sha.
    known = {old_sha for _, _, old_sha, _, _ in records if old_sha != _ABSENT}
    deleted: list[FileChange] = []
    changed: list[FileChange] = []
    for old_mode, new_mode, _old_sha, new_sha, raw_path in records:
        try:
            path = raw_path.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(
                f"the path {raw_path!r} is not UTF-8: GitHub's API cannot name it "
                "(publish this campaign with commit.mode git)"
            ) from None
        if new_sha == _ABSENT:
            deleted.append(FileChange(path, old_mode, None))
        elif new_mode == _GITLINK or new_sha in known:
            changed.append(FileChange(path, new_mode, new_sha))
        else:
            content = prepared.git("cat-file", "blob", new_sha)
            changed.append(FileChange(path, new_mode, new_sha, content))
    return TreeChange(base_tree, prepared.tree_sha, (*deleted, *changed))


class ApiCommitter:
    """Commits Patches through the Git Data API as one installation. Keeps the record of
    every mutation sent (`take_mutations`), refused ones included."""

    def __init__(self, git: GitPublisher, client: InstallationClient) -> None:
        self._git = git
        self._client = client
        self._log = MutationLog(client)

    def take_mutations(self) -> tuple[Mutation, ...]:
        return self._log.take()

    def publish(
        self,
        repo: str,
        base_sha: str,
        patch: Path,
        branch: str,
        message: str,
        *,
        default_branch: str,
        force: bool,
        lease: str | None = None,
    ) -> PushResult:
        """Commit `patch` on `base_sha` with `message` and make `branch` point at it.

        Without `force` an existing branch is only fast-forwarded. A forced update with a
        `lease` goes ahead only while the branch is at that sha (NonFastForwardError
        otherwise, before anything is written). Raises what
        `GitPublisher.prepare` raises, BranchProtectedError / MissingPermissionError /
        NonFastForwardError for a refused branch update (`classify_ref_refusal`),
        TreeMismatchError, and the adapter's typed errors."""
        started = time.monotonic()
        with self._git.prepare(
            repo,
            base_sha,
            patch,
            self._client.token(),
            branch=branch,
            default_branch=default_branch,
            on_error=self._client.git_failed,
        ) as prepared:
            change = read_change(prepared)
        owner, _, name = repo.partition("/")
        head = self._head(owner, name, branch)
        if force and lease is not None and head is not None and head != lease:
            raise NonFastForwardError(
                f"{repo}: {branch} is at {head}, not {lease} as Shoal last saw it; not overwritten",
                details={"head": head, "lease": lease},
            )
        if head is not None and self._holds(owner, name, head, change.tree, base_sha, message):
            result = PushResult(head, False, head, 1)
        else:
            tree = self._write_tree(owner, name, change)
            sha = self._write_commit(owner, name, tree, base_sha, message)
            self._point(owner, name, branch, sha, exists=head is not None, force=force)
            forced = head is not None and head != base_sha
            result = PushResult(sha, True, head, 1, forced=forced)
        log.info(
            "branch published through the API",
            repo=repo,
            branch=branch,
            commit_sha=result.commit_sha,
            pushed=result.pushed,
            previous_sha=result.previous_sha,
            files=len(change.files),
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return result

    def _get(self, route: str, owner: str, name: str, **path: str) -> dict[str, Any] | None:
        try:
            reply = self._client.request("GET", route, path={"owner": owner, "repo": name, **path})
        except GitHubNotFoundError:
            return None
        body = reply.json()
        return body if isinstance(body, dict) else None

    def _head(self, owner: str, name: str, branch: str) -> str | None:
        found = self._get(REF, owner, name, ref=f"heads/{branch}")
        target = (found or {}).get("object") or {}
        return str(target["sha"]) if target.get("type") == "commit" else None

    def _holds(
        self, owner: str, name: str, head: str, tree: str, base_sha: str, message: str
    ) -> bool:
        """Whether the branch's commit is the one this publish would make."""
        commit = self._get(COMMIT, owner, name, commit_sha=head)
        if commit is None:
            return False
        parents = [str(p.get("sha")) for p in commit.get("parents") or []]
        return (
            (commit.get("tree") or {}).get("sha") == tree
            and parents == [base_sha]
            and str(commit.get("message", "")).rstrip("\n") == message.rstrip("\n")
        )

    def _write_tree(self, owner: str, name: str, change: TreeChange) -> str:
        if not change.files:
            return change.base_tree  # the Patch leaves the tree as it was
        entries = [self._entry(owner, name, f) for f in change.files]
        reply = self._log.rest(
            "POST",
            TREES,
            owner=owner,
            name=name,
            json={"base_tree": change.base_tree, "tree": entries},
        )
        made = str(reply.json().get("sha"))
        if made != change.tree:
            raise TreeMismatchError(
                f"GitHub built the tree {made} from the change, but the Patch gives {change.tree}"
                f" in {owner}/{name}; no commit was made (publish with commit.mode git)",
                details={"github_tree": made, "tree": change.tree},
            )
        return made

    def _entry(self, owner: str, name: str, file: FileChange) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": file.path, "mode": file.mode, "type": file.kind}
        if file.sha is None or file.content is None:
            return entry | {"sha": file.sha}
        if (text := file.text) is not None:
            return entry | {"content": text}
        reply = self._log.rest(
            "POST",
            BLOBS,
            owner=owner,
            name=name,
            json={"content": base64.b64encode(file.content).decode(), "encoding": "base64"},
        )
        return entry | {"sha": str(reply.json().get("sha"))}

    def _write_commit(self, owner: str, name: str, tree: str, base_sha: str, message: str) -> str:
        # No author, committer or signature: with any of them GitHub does not sign the commit.
        reply = self._log.rest(
            "POST",
            COMMITS,
            owner=owner,
            name=name,
            json={"message": message, "tree": tree, "parents": [base_sha]},
        )
        return str(reply.json()["sha"])

    def _point(
        self, owner: str, name: str, branch: str, sha: str, *, exists: bool, force: bool
    ) -> None:
        ref = f"refs/heads/{branch}"

        def refusal(error: ShoalError) -> ShoalError:
            return classify_ref_refusal(error, ref=ref)

        if exists:
            self._log.rest(
                "PATCH",
                UPDATE_REF,
                owner=owner,
                name=name,
                path={"ref": f"heads/{branch}"},
                json={"sha": sha, "force": force},
                refusal=refusal,
            )
        else:
            self._log.rest(
                "POST",
                REFS,
                owner=owner,
                name=name,
                json={"ref": ref, "sha": sha},
                refusal=refusal,
            )
