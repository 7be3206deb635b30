"""Publishing a Patch as one commit on a campaign branch.

Per publish, in a private repository under `work_root` that is deleted afterwards: a shallow
fetch of exactly the base commit (none when the worker's `store` holds it: the repository
borrows its objects and index), the Patch applied to an index (`git apply --cached`: no
work tree is ever checked out), a tree and a commit whose identity comes from the spec
(`commits.CommitSpec`), then the push. The fetch and the push are one smart HTTP request each
(`direct`) when Shoal knows what it asks for; otherwise `git fetch` and `git push
--porcelain` ask first (the ref advertisement), and a branch that already holds the commit
is sent nothing (`pushed=False`).

`GitPublisher.prepare` stops before the commit: it hands the prepared tree to a publisher
that makes the commit another way (`apicommit`, through GitHub's Git Data API).

The installation token reaches git only as an `http.extraHeader` in the environment
(`GIT_CONFIG_*`), and the requests of `direct` in their `Authorization` header; never in a
URL, argv or log, and it is masked in any output kept.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import structlog
from pydantic import SecretStr

from shoal.domain.errors import ConflictError, InvalidInputError, ShoalError
from shoal.domain.mutations import Mutation
from shoal.git import CommandRunner, Completed, OutputLimitError, run
from shoal.github.errors import GitHubUnavailableError
from shoal.github.gate import passing
from shoal.github.push import (
    BranchProtectedError,
    classify_push_failure,
)
from shoal.publish import direct, receivepack
from shoal.publish.commits import CommitSpec
from shoal.publish.git import GitCommandError, environment, init_bare
from shoal.publish.git import argv as argv_of
from shoal.publish.packs import LooseObjectError, loose_pack
from shoal.publish.store import Base, CorruptBaseError, ObjectStore
from shoal.spec.names import git_branch_problem

__all__ = ["GitPublisher", "PatchDoesNotApplyError", "PreparedTree", "PushResult"]

log = structlog.get_logger("shoal.publish.git")

_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_PORCELAIN = re.compile(r"^(?P<flag>.)\t(?P<src>[^:\t]*):(?P<dst>[^\t]+)\t(?P<summary>.*)$")
_MESSAGE_LINES = 4


class PatchDoesNotApplyError(ConflictError):
    """The Patch does not apply to the base commit; `message` carries git's explanation."""

    code = "patch_does_not_apply"


@dataclass(frozen=True, slots=True)
class PushResult:
    commit_sha: str
    pushed: bool  # False: the branch already pointed at `commit_sha`
    previous_sha: str | None  # where the branch pointed before; None: it did not exist
    git_operations: int  # network git commands run (fetch, push), for request accounting
    forced: bool = False  # the push replaced commits the branch had (`previous_sha`)
    # The pushes GitHub received, for the audit log (none when the branch already held it).
    mutations: tuple[Mutation, ...] = ()


class PreparedTree:
    """The Patch applied to the base commit as a tree, in a publish's private repository.
    Valid only inside `GitPublisher.prepare`, which deletes the repository on exit."""

    def __init__(self, session: _Session, base_sha: str, tree_sha: str) -> None:
        self._session = session
        self.base_sha = base_sha
        self.tree_sha = tree_sha

    def git(self, *args: str) -> bytes:
        """The raw output of a local git command in the repository (no network)."""
        return self._session.output(list(args))


def _validate(repo: str, base_sha: str, branch: str, default_branch: str) -> None:
    if not _REPO.match(repo) or ".." in repo:
        raise InvalidInputError(f"{repo!r} is not a repository name (owner/name)")
    if not _SHA.match(base_sha):
        raise InvalidInputError(f"{base_sha!r} is not a full commit sha")
    if problem := git_branch_problem(branch):
        raise InvalidInputError(f"{branch!r} is not a valid branch name ({problem})")
    if branch == default_branch:
        # Shoal proposes changes through pull requests; it never writes the default branch.
        raise BranchProtectedError(
            f"refusing to push to {branch}: it is the default branch of {repo}",
            ref=f"refs/heads/{branch}",
            rules=("default branch",),
        )


class GitPublisher:
    """Turns Patches into commits on campaign branches. Safe to share between threads:
    each publish has its own repository, index, HOME and environment. `timeout_s` bounds
    one whole publish; past it, git is killed and the publish fails as retryable."""

    def __init__(
        self,
        work_root: Path,
        *,
        git_base_url: str,
        timeout_s: float = 120,
        runner: CommandRunner = run,
        store: ObjectStore | None = None,
    ) -> None:
        parts = urlsplit(git_base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
            # credentials travel only in the header: a URL ends up in git's messages
            raise InvalidInputError("the git base URL must be an http(s) URL without credentials")
        self.work_root = work_root
        self.git_base_url = git_base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._runner = runner
        self.store = store

    def publish(
        self,
        repo: str,
        base_sha: str,
        patch: Path,
        branch: str,
        commit: CommitSpec,
        token: SecretStr,
        *,
        default_branch: str,
        force: bool,
        lease: str | None = None,
        known: bool = True,
        on_error: Callable[[ShoalError], None] | None = None,
    ) -> PushResult:
        """Commit `patch` on `base_sha` as `commit` and make `branch` point at it.

        Without `force` an existing branch is only fast-forwarded (NonFastForwardError
        otherwise). A forced push with a `lease` (the sha Shoal last saw on the branch)
        replaces only that commit: a branch that moved since is refused as
        NonFastForwardError. `known`: the branch holds what the caller last saw (nothing
        without `force`, the `lease` with it), so the push can go in one request; False after
        a push that may have happened unrecorded. The push passes the caller's write gate
        (`shoal.github.gate`) right before it leaves. Raises BranchProtectedError for the
        default or a protected branch, PatchDoesNotApplyError, and the types of
        `shoal.github.push.classify_push_failure`; `on_error` hears of each of those that a
        request to GitHub (fetch or push) failed with, before it is raised.
        """
        started = time.monotonic()
        with self.prepare(
            repo,
            base_sha,
            patch,
            token,
            branch=branch,
            default_branch=default_branch,
            on_error=on_error,
        ) as prepared:
            session = prepared._session
            sha = session.commit_tree(prepared.tree_sha, base_sha, commit)
            with passing():
                result = session.push(
                    sha, branch, base=base_sha, force=force, lease=lease, known=known
                )
        log.info(
            "branch published",
            repo=repo,
            branch=branch,
            commit_sha=sha,
            pushed=result.pushed,
            previous_sha=result.previous_sha,
            forced=result.forced,
            git_operations=result.git_operations,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return result

    @contextmanager
    def prepare(
        self,
        repo: str,
        base_sha: str,
        patch: Path,
        token: SecretStr,
        *,
        branch: str,
        default_branch: str,
        on_error: Callable[[ShoalError], None] | None = None,
    ) -> Iterator[PreparedTree]:
        """`patch` applied on `base_sha` (one fetch, then local commands only), for a
        publish to `branch`. Raises what `publish` raises before its push; `on_error` as
        for `publish`."""
        _validate(repo, base_sha, branch, default_branch)
        if not patch.is_file() or patch.stat().st_size == 0:
            raise InvalidInputError(f"the Patch {patch} is missing or empty: nothing to commit")
        with self._repository() as git_dir, ExitStack() as held:
            url = f"{self.git_base_url}/{repo}.git"
            session = _Session(
                repo, git_dir, url, token, self._runner, self.timeout_s, on_error=on_error
            )
            tree = self._from_store(session, held, base_sha, patch.resolve())
            if tree is None:
                session.fetch(base_sha)
                tree = session.tree(base_sha, patch.resolve())
            yield PreparedTree(session, base_sha, tree)

    def _from_store(
        self, session: _Session, held: ExitStack, base_sha: str, patch: Path
    ) -> str | None:
        """The tree, on the base borrowed from the store (fetched into it unless it holds
        it already); None when the store cannot serve it and the caller fetches on its own.
        A base the store held that fails is fetched again: a corrupt store costs a request,
        never a wrong commit."""
        if self.store is None or len(base_sha) != len(receivepack.ZERO):
            return None
        try:
            loan = held.enter_context(
                self.store.borrow(
                    session.repo,
                    base_sha,
                    functools.partial(session.fetch_pack, base_sha),
                    wait_s=session.left(),
                )
            )
        except direct.Unsettled:
            session.direct_ok = False  # the shortcut does not fit: `git fetch` as before
            return None
        except OSError as exc:  # the store's disk (full?): fetch into the publish's own
            log.warning("publish_store_unwritable", error=str(exc))
            return None
        if loan is None:
            return None
        try:
            indexed = loan.base.attach(session.git_dir)
            session.base_packed = True
            return session.tree(
                base_sha, patch, indexed=indexed, keep=None if indexed else loan.base
            )
        except (OSError, CorruptBaseError) as exc:
            log.warning("publish_store_unreadable", error=str(exc))
        except (GitCommandError, PatchDoesNotApplyError):
            if loan.fetched:  # git checked this pack moments ago: the failure is not the store's
                raise
        session.detach()
        session.fetch(base_sha)
        tree = session.tree(base_sha, patch)
        loan.base.spoil()  # a fresh copy of the base worked where the store's did not
        return tree

    @contextmanager
    def _repository(self) -> Iterator[Path]:
        self.work_root.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="publish-", dir=self.work_root))
        try:
            git_dir = root / "repo.git"
            init_bare(git_dir)
            yield git_dir
        finally:
            shutil.rmtree(root, ignore_errors=True)


class _Session:
    """The git commands of one publish, against its private repository."""

    def __init__(
        self,
        repo: str,
        git_dir: Path,
        url: str,
        token: SecretStr,
        runner: CommandRunner,
        timeout_s: float,
        *,
        on_error: Callable[[ShoalError], None] | None = None,
    ) -> None:
        self.repo = repo
        self._on_error = on_error
        self.git_dir = git_dir
        self.direct_ok = True  # the fetch may go as one request (`direct`)
        # The base is one pack that `index-pack` checked (the fetch's, or the store's): every
        # loose object is new (`packs`). Not after `git fetch`, which may unpack it loose.
        self.base_packed = False
        self._url = url
        self._remote = remote = direct.Remote(repo, url, token)
        self._runner = runner
        self._timeout_s = timeout_s
        # One deadline for the whole publish: a slow fetch leaves less time to the push.
        self._deadline = time.monotonic() + timeout_s
        self._env = environment(git_dir, network=False)
        self._network_env = {
            **environment(git_dir, network=True),
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: {remote.authorization.get_secret_value()}",
        }
        self.network_operations = 0

    def _run(
        self,
        args: list[str],
        *,
        network: bool = False,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> tuple[int, str, str]:
        done = self._execute(args, network=network, stdin=stdin, env=env)
        stdout = self._remote.mask(done.stdout.decode("utf-8", "backslashreplace"))
        stderr = self._remote.mask(done.stderr.decode("utf-8", "backslashreplace"))
        return done.returncode, stdout, stderr

    def _execute(
        self,
        args: list[str],
        *,
        network: bool = False,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        argv = argv_of(self.git_dir, args, network=network)
        environ = dict(self._network_env if network else self._env)
        environ.update(env or {})
        if network:
            self.network_operations += 1
        try:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            done = self._runner(argv, env=environ, cwd=self.git_dir, stdin=stdin, timeout_s=left)
        except TimeoutError:
            said = f"git {args[0]}: the publish took longer than {self._timeout_s:g} s"
            if network:
                with self._talking():
                    raise GitHubUnavailableError(said) from None
            raise GitCommandError(said) from None
        except OutputLimitError as exc:
            raise GitCommandError(f"git {args[0]}: {exc}") from None
        except OSError as exc:
            raise GitCommandError(f"git {args[0]} could not start: {exc.strerror}") from None
        return done

    def _local(
        self, args: list[str], *, stdin: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        code, stdout, stderr = self._run(args, stdin=stdin, env=env)
        if code != 0:
            raise GitCommandError(_failure(args[0], code, stderr))
        return stdout.strip()

    def _local_bytes(self, args: list[str], stdin: str) -> bytes:
        done = self._execute(args, stdin=stdin.encode())
        if done.returncode != 0:
            stderr = self._remote.mask(done.stderr.decode("utf-8", "backslashreplace"))
            raise GitCommandError(_failure(args[0], done.returncode, stderr))
        return done.stdout

    def output(self, args: list[str]) -> bytes:
        """A local command's stdout as git wrote it (file contents, `-z` listings)."""
        done = self._execute(args)
        if done.returncode != 0:
            stderr = self._remote.mask(done.stderr.decode("utf-8", "backslashreplace"))
            raise GitCommandError(_failure(args[0], done.returncode, stderr))
        return done.stdout

    def left(self) -> float:
        return max(self._deadline - time.monotonic(), 0)

    @contextmanager
    def _talking(self) -> Iterator[None]:
        """Requests to GitHub: the typed error they fail with goes to `on_error` first."""
        try:
            yield
        except ShoalError as exc:
            if self._on_error is not None:
                self._on_error(exc)
            raise

    def fetch_pack(self, base_sha: str, pack: Path) -> tuple[str, ...]:
        """The base at depth 1 in one request, its pack written to `pack` and indexed there;
        the shallow commits. Raises direct.Unsettled when the shortcut does not fit."""
        self.network_operations += 1
        with self._talking():
            try:
                shallow = direct.fetch(self._remote, base_sha, pack, timeout_s=self._left("fetch"))
            except TimeoutError:
                raise self._late("fetch") from None
        self._local(["index-pack", str(pack)])
        return shallow

    def detach(self) -> None:
        """Forget a borrowed base: the repository has only its own objects again."""
        self.base_packed = False
        for path in ("objects/info/alternates", "shallow", "index"):
            (self.git_dir / path).unlink(missing_ok=True)

    def fetch(self, base_sha: str) -> None:
        if self.direct_ok and len(base_sha) == len(receivepack.ZERO):
            pack = self.git_dir / "objects" / "pack" / "pack-base.pack"
            pack.parent.mkdir(parents=True, exist_ok=True)
            try:
                shallow = self.fetch_pack(base_sha, pack)
            except direct.Unsettled:
                pack.unlink(missing_ok=True)
                self.direct_ok = False
            else:
                # The base's parents are not here: git must not look for them.
                (self.git_dir / "shallow").write_text("".join(f"{c}\n" for c in shallow))
                self.base_packed = True
                return
        code, _, stderr = self._run(
            ["fetch", "--quiet", "--depth=1", "--no-tags", "--no-write-fetch-head",
             "--no-recurse-submodules", self._url, base_sha],
            network=True,
        )  # fmt: skip
        if code != 0:
            with self._talking():
                raise classify_push_failure(stderr, code, operation="fetch")

    def tree(
        self, base_sha: str, patch: Path, *, indexed: bool = False, keep: Base | None = None
    ) -> str:
        """The tree of `patch` applied on `base_sha`; `indexed`: the index holds the base
        already. `keep`: the store's base, which keeps the index read for the next publish."""
        if not indexed:
            self._local(["read-tree", base_sha])
            if keep is not None:
                keep.keep_index(self.git_dir / "index")
        code, _, stderr = self._run(
            ["apply", "--cached", "--binary", "--whitespace=nowarn", "--", str(patch)]
        )
        if code != 0:
            raise PatchDoesNotApplyError(
                f"the Patch does not apply to {base_sha}: {_said(stderr)}",
                details={"git": stderr.strip().splitlines()[:_MESSAGE_LINES]},
            )
        return self._local(["write-tree"])

    def commit_tree(self, tree: str, base_sha: str, commit: CommitSpec) -> str:
        return self._local(
            ["commit-tree", tree, "-p", base_sha],
            stdin=commit.message.encode(),
            env=commit.environment(),
        )

    def push(
        self,
        sha: str,
        branch: str,
        *,
        base: str,
        force: bool,
        lease: str | None = None,
        known: bool = True,
    ) -> PushResult:
        """Make `branch` point at `sha` (a commit on `base`). When Shoal knows what the branch
        holds (nothing yet, or the `lease`), one request carries the update and its pack
        (`receivepack`); when the branch is not there, `git push` looks and decides."""
        if force and lease is not None and not _SHA.match(lease):
            raise InvalidInputError(f"{lease!r} is not a full commit sha (push lease)")
        # What the branch holds, as far as Shoal knows: nothing yet (a branch it never pushed;
        # one someone else made is fast-forwarded by `git push`), or the sha it leases.
        expected = receivepack.ZERO if not force else lease
        carried: tuple[Mutation, ...] = ()
        one_request = known and expected not in (None, sha) and len(sha) == len(receivepack.ZERO)
        if one_request and expected is not None:
            try:
                return self._send_pack(sha, base, branch, expected)
            except direct.Unsettled as missed:
                carried = missed.mutations
        try:
            result = self._git_push(sha, branch, force=force, lease=lease)
        except ShoalError as error:
            error.mutations = (*carried, *error.mutations)
            raise
        return dataclasses.replace(result, mutations=(*carried, *result.mutations))

    def _send_pack(self, sha: str, base: str, branch: str, expected: str) -> PushResult:
        pack = None
        if self.base_packed:
            # The new objects are the loose ones (`packs`): no `git pack-objects` needed.
            try:
                pack = loose_pack(self.git_dir / "objects")
            except LooseObjectError as exc:
                log.warning("publish_loose_pack_failed", error=str(exc))
        if pack is None:
            revs = f"{sha}\n^{base}\n"
            pack = self._local_bytes(["pack-objects", "--stdout", "--revs", "-q"], revs)
        self.network_operations += 1
        with self._talking():
            try:
                pushed = direct.push(
                    self._remote, branch, sha, expected, pack, timeout_s=self._left("push")
                )
            except TimeoutError:
                raise self._late("push") from None
        # Forced: the branch held commits that are not below the new one (only the base is
        # known to be).
        forced = pushed.previous is not None and pushed.previous != base
        return PushResult(
            sha,
            True,
            pushed.previous,
            self.network_operations,
            forced=forced,
            mutations=(pushed.mutation,),
        )

    def _left(self, operation: str) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise self._late(operation)
        return left

    def _late(self, operation: str) -> GitHubUnavailableError:
        said = f"git {operation}: the publish took longer than {self._timeout_s:g} s"
        return GitHubUnavailableError(said)

    def _git_push(
        self, sha: str, branch: str, *, force: bool, lease: str | None = None
    ) -> PushResult:
        ref = f"refs/heads/{branch}"
        args = ["push", "--porcelain", "--no-verify", "--no-signed"]
        if force and lease is not None:
            # Replace only the commit Shoal last saw: someone's newer commit is never lost.
            forcing = [f"--force-with-lease={ref}:{lease}"]
        else:
            forcing = ["--force"] if force else []
        code, stdout, stderr = self._run([*args, *forcing, self._url, f"{sha}:{ref}"], network=True)
        status = next((m for line in stdout.splitlines() if (m := _PORCELAIN.match(line))), None)
        if code != 0 or status is None or status["flag"] == "!":
            error = classify_push_failure(f"{stderr}\n{stdout}", code)
            # GitHub received the push and refused it (a mutation it counts and the caller
            # audits), unlike a ref git itself declined to send or a connection that failed.
            if "[remote rejected]" in f"{stdout}\n{stderr}":
                error.mutations = (
                    Mutation.git_push(self.repo, ok=False, error_code=error.code, branch=branch),
                )
            with self._talking():
                raise error
        flag, summary = status["flag"], status["summary"]
        if flag == "=":  # the branch already holds the commit: nothing was sent
            return PushResult(sha, False, sha, self.network_operations)
        if flag == "*":
            return self._pushed(sha, branch, None, forced=False)
        # " " fast-forward "old..new", "+" forced "old...new" (full shas: core.abbrev=40)
        previous = summary.split("..", 1)[0] if flag in " +" else None
        if previous is None or not _SHA.match(previous):
            raise GitCommandError(f"git push: unexpected status line {status.group(0)!r}")
        return self._pushed(sha, branch, previous, forced=flag == "+")

    def _pushed(self, sha: str, branch: str, previous: str | None, *, forced: bool) -> PushResult:
        sent = Mutation.git_push(self.repo, ok=True, branch=branch, commit=sha, previous=previous)
        return PushResult(
            sha, True, previous, self.network_operations, forced=forced, mutations=(sent,)
        )


def _said(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return "; ".join(lines[:_MESSAGE_LINES]) or "no message"


def _failure(command: str, code: int, stderr: str) -> str:
    return f"git {command} failed with exit code {code}: {_said(stderr)}"
