"""Publishing with the real git CLI against the GitHub simulator over HTTP on 127.0.0.1:
deterministic commits, no-op re-publishes, GitHub's refusals as typed errors, the token
kept out of argv, errors and logs."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from shoal.domain.errors import InvalidInputError, ShoalError
from shoal.git import Completed
from shoal.git import run as run_command
from shoal.github import GitHubAuthError, GitHubNotFoundError, GitHubUnavailableError
from shoal.github.push import (
    BranchProtectedError,
    MissingPermissionError,
    NonFastForwardError,
)
from shoal.publish import (
    CommitSpec,
    GitPublisher,
    PatchDoesNotApplyError,
    PushResult,
    commit_identity,
)
from tests.sim.conftest import (
    RunningSim,
    app_keys,
    basic_header,
    git_env,
    make_sim,
    octokit_schemas,
    run_git,
)

__all__ = ["app_keys", "make_sim", "octokit_schemas"]

PUSH_KEY = f"{'5eed' * 10}:{'ab' * 32}:git"


@dataclass
class Recorder:
    """The real runner, keeping every argv and environment it was given."""

    calls: list[tuple[list[str], dict[str, str]]] = field(default_factory=list)

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stdin: bytes | None,
        timeout_s: float,
    ) -> Completed:
        self.calls.append((list(argv), dict(env)))
        return run_command(argv, env=env, cwd=cwd, stdin=stdin, timeout_s=timeout_s)

    def commands(self) -> list[str]:
        return [command(argv) for argv, _ in self.calls]


GIT_COMMANDS = {
    "fetch", "index-pack", "read-tree", "apply", "write-tree", "commit-tree", "pack-objects",
    "push",
}  # fmt: skip


def command(argv: Sequence[str]) -> str:
    return next(arg for arg in argv if arg in GIT_COMMANDS)


@dataclass
class World:
    sim: RunningSim
    token: SecretStr
    tmp: Path
    recorder: Recorder

    def publisher(self, work: str = "work", *, timeout_s: float = 60) -> GitPublisher:
        return GitPublisher(
            self.tmp / work, git_base_url=self.sim.url, timeout_s=timeout_s, runner=self.recorder
        )

    def patch(self, repo: str, changes: Mapping[str, str], name: str) -> tuple[str, Path]:
        """A Patch as the preview makes it: `git diff --binary` of a change on the head."""
        work = self.tmp / f"clone-{name}"
        # the test's own git, too, keeps the token out of argv (the /proc watcher reads it)
        env = {
            **git_env(self.tmp),
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": basic_header(self.token.get_secret_value()).split("=", 1)[1],
        }
        subprocess.run(
            ["git", "clone", "--quiet", f"{self.sim.url}/{repo}.git", str(work)],
            env=env, capture_output=True, check=True, timeout=60,
        )  # fmt: skip
        for path, text in changes.items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(text)
        run_git("add", "--all", cwd=work)
        diff = run_git("diff", "--cached", "-M", "--binary", "--full-index", cwd=work).stdout
        patch = self.tmp / f"{name}.patch"
        patch.write_text(diff)
        return run_git("rev-parse", "HEAD", cwd=work).stdout.strip(), patch

    def branch_sha(self, repo: str, branch: str) -> str | None:
        with self.sim.http(self.token.get_secret_value()) as client:
            reply = client.get(f"/repos/{repo}/git/ref/heads/{branch}")
        return str(reply.json()["object"]["sha"]) if reply.status_code == 200 else None

    def publish(
        self,
        repo: str,
        base: str,
        patch: Path,
        branch: str,
        spec: CommitSpec | None = None,
        *,
        force: bool = False,
        token: SecretStr | None = None,
        work: str = "work",
        default_branch: str = "main",
        timeout_s: float = 60,
        lease: str | None = None,
    ) -> PushResult:
        return self.publisher(work, timeout_s=timeout_s).publish(
            repo,
            base,
            patch,
            branch,
            spec or commit(),
            token or self.token,
            default_branch=default_branch,
            force=force,
            lease=lease,
        )

    def pushes(self) -> int:
        return sum(1 for entry in self.sim.admin.ledger() if entry["operation"] == "git push")


@pytest.fixture
def git_world(make_sim: Callable[..., RunningSim], tmp_path: Path) -> World:
    sim = make_sim()
    return World(sim, SecretStr(sim.installation_token()), tmp_path, Recorder())


def commit(push_key: str = PUSH_KEY, message: str = "build: move to python 3.12") -> CommitSpec:
    return commit_identity(
        push_key,
        message=message,
        author_name="Shoal",
        author_email="shoal@acme.dev",
        campaign_name="python-312",
        campaign_id=4,
    )


DOCKERFILE = {"Dockerfile": "FROM python:3.12-slim\n"}


def test_same_inputs_give_the_same_commit_and_republishing_is_a_no_op(git_world: World) -> None:
    w = git_world
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    first = w.publish("acme/widgets", base, patch, "shoal/a", work="one")
    assert (first.pushed, first.previous_sha, first.git_operations) == (True, None, 2)
    # the push GitHub received, for the audit log
    assert [(m.operation, m.repo, m.ok, dict(m.details)) for m in first.mutations] == [
        ("git push", "acme/widgets", True,
         {"branch": "shoal/a", "commit": first.commit_sha, "previous": None}),
    ]  # fmt: skip
    assert w.branch_sha("acme/widgets", "shoal/a") == first.commit_sha
    pushes = w.pushes()
    again = w.publish("acme/widgets", base, patch, "shoal/a", work="two", force=True)
    assert again == PushResult(first.commit_sha, False, first.commit_sha, 2)
    assert w.pushes() == pushes  # the simulator received no second push
    other = w.publish("acme/widgets", base, patch, "shoal/b", work="three")
    assert other.commit_sha == first.commit_sha
    assert not any(any((w.tmp / work).iterdir()) for work in ("one", "two", "three"))
    # what GitHub got: the spec's author, date and trailers, on top of the base
    with w.sim.http(w.token.get_secret_value()) as client:
        shown = client.get(f"/repos/acme/widgets/git/commits/{first.commit_sha}").json()
    assert shown["parents"][0]["sha"] == base
    assert shown["author"]["name"] == "Shoal"
    assert shown["message"].endswith("Shoal-Campaign: python-312\nShoal-Campaign-Id: 4\n")
    # the fetch and the push are one request each (no advertisement first): git only
    # indexes the pack fetched; the push's pack is made of the loose objects git wrote
    expected = ["index-pack", "read-tree", "apply", "write-tree", "commit-tree"]
    assert w.recorder.commands()[:5] == expected


def test_an_existing_branch_is_replaced_only_with_force(git_world: World) -> None:
    w = git_world
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    old = w.publish("acme/widgets", base, patch, "shoal/x")
    newer = commit(message="build: move to python 3.12 (reworded)")
    with pytest.raises(NonFastForwardError) as refused:
        w.publish("acme/widgets", base, patch, "shoal/x", newer)
    assert not refused.value.retryable
    assert w.branch_sha("acme/widgets", "shoal/x") == old.commit_sha
    forced = w.publish("acme/widgets", base, patch, "shoal/x", newer, force=True)
    assert forced.pushed
    assert forced.forced
    assert forced.previous_sha == old.commit_sha
    assert forced.commit_sha != old.commit_sha
    assert w.branch_sha("acme/widgets", "shoal/x") == forced.commit_sha


def test_a_push_whose_branch_is_where_shoal_thought_is_one_request(git_world: World) -> None:
    w = git_world
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    first = w.publish("acme/widgets", base, patch, "shoal/one")
    # the ledger's push is the one request that carried the update and its pack, no
    # `git push` (which would have asked for the ref advertisement first) ran
    (entry,) = [e for e in w.sim.admin.ledger() if e["operation"] == "git push"]
    assert entry["request_id"] == first.mutations[0].request_id
    assert entry["detail"]["refs"][0]["ok"]
    assert "push" not in w.recorder.commands()
    # a forced push with the lease Shoal holds: one request too, replacing the commit
    newer = commit(message="build: move to python 3.12 (reworded)")
    forced = w.publish("acme/widgets", base, patch, "shoal/one", newer, force=True,
                       lease=first.commit_sha)  # fmt: skip
    assert (forced.pushed, forced.forced, forced.previous_sha) == (True, True, first.commit_sha)
    assert [m.ok for m in forced.mutations] == [True]
    assert w.branch_sha("acme/widgets", "shoal/one") == forced.commit_sha
    assert "push" not in w.recorder.commands()


def test_a_branch_that_moved_keeps_its_commit_and_both_requests_are_reported(
    git_world: World,
) -> None:
    w = git_world
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    first = w.publish("acme/widgets", base, patch, "shoal/moved")
    human = w.sim.admin.push_commit("acme", "widgets", {"NOTES.md": "mine\n"}, branch="shoal/moved")
    newer = commit(message="build: move to python 3.12 (reworded)")
    pushes = w.pushes()
    with pytest.raises(NonFastForwardError) as refused:
        w.publish("acme/widgets", base, patch, "shoal/moved", newer, force=True,
                  lease=first.commit_sha)  # fmt: skip
    assert w.branch_sha("acme/widgets", "shoal/moved") == human  # the human's commit stays
    # GitHub refused the one-request update (the branch was not at the lease); `git push`
    # then saw the branch had moved and sent nothing: one push for the audit log
    assert w.pushes() == pushes + 1
    assert [(m.operation, m.ok, m.error_code) for m in refused.value.mutations] == [
        ("git push", False, "branch_changed")
    ]


def test_a_branch_someone_made_at_the_base_costs_a_second_push(git_world: World) -> None:
    w = git_world
    base, patch = w.patch("acme/gadgets", {"README.md": "# gadgets\nnow with docs\n"}, "p")
    with w.sim.http(w.token.get_secret_value()) as client:
        made = client.post(
            "/repos/acme/gadgets/git/refs", json={"ref": "refs/heads/shoal/made", "sha": base}
        )
    assert made.status_code == 201, made.text
    pushes = w.pushes()
    result = w.publish("acme/gadgets", base, patch, "shoal/made")
    assert (result.pushed, result.forced, result.previous_sha) == (True, False, base)
    # the create GitHub refused (the branch exists), then `git push` fast-forwarding it
    assert [m.ok for m in result.mutations] == [False, True]
    assert w.pushes() == pushes + 2


def test_a_branch_at_the_base_is_fast_forwarded(git_world: World) -> None:
    w = git_world
    base, patch = w.patch("acme/gadgets", {"README.md": "# gadgets\nnow with docs\n"}, "p")
    with w.sim.http(w.token.get_secret_value()) as client:
        made = client.post(
            "/repos/acme/gadgets/git/refs", json={"ref": "refs/heads/shoal/ff", "sha": base}
        )
    assert made.status_code == 201, made.text
    result = w.publish("acme/gadgets", base, patch, "shoal/ff")
    assert result.pushed
    assert not result.forced
    assert result.previous_sha == base


def test_the_default_branch_is_refused_before_any_git(git_world: World) -> None:
    w = git_world
    base, patch = w.patch("acme/gadgets", {"README.md": "x\n"}, "p")
    with pytest.raises(BranchProtectedError, match="default branch") as refused:
        w.publish("acme/gadgets", base, patch, "main", force=True)
    assert refused.value.rules == ("default branch",)
    assert refused.value.mutations == ()
    assert w.recorder.calls == []


def test_a_protected_branch_is_refused_with_the_rule(git_world: World) -> None:
    w = git_world
    w.sim.admin.protect_branch("acme", "widgets", "release", required_approving_review_count=1)
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    with pytest.raises(BranchProtectedError) as refused:
        w.publish("acme/widgets", base, patch, "release")
    error = refused.value
    assert error.code == "branch_protected"
    assert not error.retryable
    assert error.ref == "refs/heads/release"
    assert error.rules == ("pull request required",)
    assert "refs/heads/release" in error.message
    assert "pull request required" in error.message
    assert w.branch_sha("acme/widgets", "release") is None
    # GitHub received the push and refused it: the error carries it for the audit log
    assert [(m.operation, m.repo, m.ok, m.error_code) for m in error.mutations] == [
        ("git push", "acme/widgets", False, "branch_protected")
    ]


def test_an_org_ruleset_refuses_the_push_with_its_rule(git_world: World) -> None:
    w = git_world
    w.sim.admin.create_org_ruleset(
        "acme",
        "signed",
        include=["refs/heads/shoal/*"],
        repositories=["widgets"],
        rules=[{"type": "required_signatures"}],
    )
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    with pytest.raises(BranchProtectedError) as refused:
        w.publish("acme/widgets", base, patch, "shoal/signed")
    assert refused.value.rules == ("signed commits required",)
    assert [m.error_code for m in refused.value.mutations] == ["branch_protected"]
    # what rules/branches says about it, and only where the ruleset applies
    with w.sim.http(w.token.get_secret_value()) as client:
        shown = client.get("/repos/acme/widgets/rules/branches/shoal/signed").json()
        other = client.get("/repos/acme/gadgets/rules/branches/shoal/signed").json()
    assert [(r["type"], r["ruleset_source_type"]) for r in shown] == [
        ("required_signatures", "Organization")
    ]
    assert other == []
    base, patch = w.patch("acme/gadgets", {"README.md": "# gadgets\nsigned?\n"}, "q")
    assert w.publish("acme/gadgets", base, patch, "shoal/signed").pushed


def test_workflow_changes_need_the_workflows_permission(git_world: World) -> None:
    w = git_world
    lite = SecretStr(w.sim.installation_token(slug="lite"))
    base, patch = w.patch("acme/widgets", {".github/workflows/ci.yml": "on: [push]\n"}, "p")
    with pytest.raises(MissingPermissionError) as refused:
        w.publish("acme/widgets", base, patch, "shoal/wf", token=lite)
    assert refused.value.permission == "workflows"
    assert refused.value.path == ".github/workflows/ci.yml"
    assert refused.value.accepted_permissions == ("workflows=write",)
    assert "`workflows` permission" in refused.value.message
    # the same App may push other changes
    base, patch = w.patch("acme/widgets", DOCKERFILE, "q")
    assert w.publish("acme/widgets", base, patch, "shoal/df", token=lite).pushed


def test_a_patch_that_no_longer_applies(git_world: World) -> None:
    w = git_world
    _, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    moved = w.sim.admin.push_commit(
        "acme", "widgets", {"Dockerfile": "FROM python:3.11-slim\n"}, branch="main"
    )
    with pytest.raises(PatchDoesNotApplyError, match="does not apply") as refused:
        w.publish("acme/widgets", moved, patch, "shoal/p")
    assert "Dockerfile" in refused.value.message
    assert not refused.value.retryable
    assert w.recorder.commands()[-1] == "apply"  # nothing was pushed


def test_missing_repository_base_commit_and_bad_token(git_world: World) -> None:
    w = git_world
    base, patch = w.patch("acme/gadgets", {"README.md": "x\n"}, "p")
    with pytest.raises(GitHubNotFoundError, match="repository not found"):
        w.publish("acme/nope", base, patch, "shoal/x")
    with pytest.raises(GitHubNotFoundError, match="not in the repository"):
        w.publish("acme/gadgets", "1" * 40, patch, "shoal/x")
    with pytest.raises(GitHubAuthError, match="refused the credential"):
        w.publish("acme/gadgets", base, patch, "shoal/x", token=SecretStr("ghs_revoked"))


def test_server_errors_and_timeouts_are_retryable(git_world: World) -> None:
    w = git_world
    base, patch = w.patch("acme/gadgets", {"README.md": "x\n"}, "p")
    w.sim.admin.set_faults(error_rate=1.0, error_status=502, path_prefix="/acme/gadgets.git")
    with pytest.raises(GitHubUnavailableError, match="502") as failed:
        w.publish("acme/gadgets", base, patch, "shoal/x")
    assert failed.value.retryable
    assert failed.value.status == 502
    w.sim.admin.set_faults(latency_ms=2500, path_prefix="/acme/gadgets.git")
    started = time.monotonic()
    with pytest.raises(GitHubUnavailableError, match="longer than 1 s"):
        w.publish("acme/gadgets", base, patch, "shoal/x", timeout_s=1)
    assert time.monotonic() - started < 4
    w.sim.admin.clear_faults()


def _watch_cmdlines(seen: set[str], stop: threading.Event) -> None:
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:  # the process ended meanwhile
                    continue
                if b"git" in raw:
                    seen.add(raw.replace(b"\0", b" ").decode(errors="replace"))
        time.sleep(0.001)


@pytest.fixture
def git_processes() -> Iterator[set[str]]:
    """Command lines of every git process that runs meanwhile, read from /proc."""
    seen: set[str] = set()
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_cmdlines, args=(seen, stop), daemon=True)
    watcher.start()
    yield seen
    stop.set()
    watcher.join(timeout=10)


def test_the_token_stays_out_of_argv_errors_and_logs(
    git_world: World, git_processes: set[str]
) -> None:
    w = git_world
    secret = w.token.get_secret_value()
    header = basic_header(secret).split("Basic ", 1)[1]
    base, patch = w.patch("acme/widgets", DOCKERFILE, "p")
    errors: list[ShoalError] = []
    with capture_logs() as logs:
        w.publish("acme/widgets", base, patch, "shoal/t")
        # a divergent branch, and a protected branch Shoal did not know was the default
        divergent = commit(f"{'cd' * 20}:{'ab' * 32}:git")
        for branch, spec in (("shoal/t", divergent), ("main", commit())):
            with pytest.raises(ShoalError) as failed:
                w.publish("acme/widgets", base, patch, branch, spec, default_branch="master")
            errors.append(failed.value)
    assert [type(e) for e in errors] == [NonFastForwardError, BranchProtectedError]
    # The watcher saw git work (a poll of /proc can miss a short-lived process on a busy
    # machine, so any of the publish's git processes will do as proof that it looked).
    assert any("git" in line.split(" ", 1)[0] for line in git_processes)
    texts = [
        *git_processes,
        *(" ".join(argv) for argv, _ in w.recorder.calls),
        *(f"{e} {e.details!r} {e!r}" for e in errors),
        repr(logs),
    ]
    assert [t for t in texts if secret in t or header in t] == []
    for argv, env in w.recorder.calls:
        carrying = {name for name, value in env.items() if secret in value or header in value}
        network = command(argv) in ("fetch", "push")
        assert carrying == ({"GIT_CONFIG_VALUE_0"} if network else set())
        assert env.get("GIT_CONFIG_KEY_0") == ("http.extraHeader" if network else None)


def test_the_token_is_masked_in_what_git_said(tmp_path: Path) -> None:
    secret = "ghs_leakyleakyleakyleakyleakyleaky0000"

    def echoing(
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stdin: bytes | None,
        timeout_s: float,
    ) -> Completed:
        said = f"fatal: unable to access 'http://x-access-token:{secret}@h/': Empty reply from"
        return Completed(128, b"", f"{said} server".encode())

    patch = tmp_path / "p.patch"
    patch.write_text("diff\n")
    publisher = GitPublisher(tmp_path / "w", git_base_url="http://127.0.0.1:9", runner=echoing)
    # A SHA-256 base: `git fetch` itself fetches it (the one-request fetch speaks SHA-1 only).
    with pytest.raises(GitHubUnavailableError) as failed:
        publisher.publish(
            "acme/x", "a" * 64, patch, "shoal/x", commit(), SecretStr(secret),
            default_branch="main", force=False,
        )  # fmt: skip
    assert secret not in str(failed.value)
    assert "x-access-token:***@h" in str(failed.value)


@pytest.mark.parametrize(
    ("repo", "base", "branch", "problem"),
    [
        ("acme", "a" * 40, "shoal/x", "not a repository name"),
        ("acme/../x", "a" * 40, "shoal/x", "not a repository name"),
        ("acme/x", "abc", "shoal/x", "not a full commit sha"),
        ("acme/x", "A" * 40, "shoal/x", "not a full commit sha"),
        ("acme/x", "a" * 40, "bad..branch", "not a valid branch name"),
        ("acme/x", "a" * 40, "-rf", "not a valid branch name"),
    ],
    ids=["no-owner", "dot-dot", "short-sha", "upper-sha", "dot-dot-branch", "dash-branch"],
)
def test_inputs_are_checked_before_any_git(
    repo: str, base: str, branch: str, problem: str, tmp_path: Path
) -> None:
    recorder = Recorder()
    patch = tmp_path / "p.patch"
    patch.write_text("diff\n")
    publisher = GitPublisher(tmp_path / "w", git_base_url="http://127.0.0.1:9", runner=recorder)
    with pytest.raises(InvalidInputError, match=problem):
        publisher.publish(
            repo, base, patch, branch, commit(), SecretStr("t"), default_branch="main", force=False
        )
    assert recorder.calls == []


def test_publishes_run_in_parallel_without_sharing_anything(git_world: World) -> None:
    w = git_world
    base, patch = w.patch("acme/gadgets", {"README.md": "# gadgets\nparallel\n"}, "p")
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(lambda n: w.publish("acme/gadgets", base, patch, f"shoal/par-{n}"), range(6))
        )
    assert {r.commit_sha for r in results} == {results[0].commit_sha}
    assert all(r.pushed for r in results)
    for n in range(6):
        assert w.branch_sha("acme/gadgets", f"shoal/par-{n}") == results[0].commit_sha


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com",
        "https://x-access-token:ghs_x@github.com",
        "file:///tmp/repos",
        "https://",
    ],
    ids=["ftp", "credentials", "file", "no-host"],
)
def test_the_git_url_is_plain_http(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="without credentials"):
        GitPublisher(tmp_path, git_base_url=url)
