"""`classify_push_failure`: what git printed when GitHub (or the network) refused, as typed
errors; `classify_ref_refusal`: the same refusals as the REST API's 422 on `git/refs`. The
texts are GitHub's and git's own, as the simulator and github.com print them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shoal.domain.errors import ShoalError
from shoal.github import (
    GitHubAuthError,
    GitHubForbiddenError,
    GitHubNotFoundError,
    GitHubPermissionError,
    GitHubUnavailableError,
    GitHubValidationError,
    classify_response,
)
from shoal.github.errors import SecondaryRateLimitError
from shoal.github.push import (
    BranchChangedError,
    BranchProtectedError,
    ForcePushBannedError,
    GitRemoteError,
    MissingPermissionError,
    NonFastForwardError,
    PushRejectedError,
    classify_push_failure,
    classify_ref_refusal,
)

SHA = "36adb184df50b9957c29c3eab91d3168a8881bc3"
URL = "https://github.com/acme/widgets.git"
FAILED = f"error: failed to push some refs to '{URL}'\n"


def gh006(*reasons: str, ref: str = "refs/heads/main") -> str:
    lines = [f"remote: error: GH006: Protected branch update failed for {ref}.        "]
    lines += [f"remote: error: {reason}        " for reason in reasons]
    return (
        "\n".join(lines)
        + f"\nTo {URL}\n ! [remote rejected] main -> main "
        + ("(protected branch hook declined)\n" + FAILED)
    )


CASES: list[tuple[str, str, int, type[ShoalError], bool]] = [
    (
        "gh006-pull-request",
        gh006("Changes must be made through a pull request."),
        1,
        BranchProtectedError,
        False,
    ),
    (
        "gh006-porcelain",
        "remote: error: GH006: Protected branch update failed for refs/heads/release.\n"
        "remote: error: Changes must be made through a pull request.\n" + FAILED + f"To {URL}\n"
        f"!\t{SHA}:refs/heads/release\t[remote rejected] (protected branch hook declined)\nDone\n",
        1,
        BranchProtectedError,
        False,
    ),
    (
        "gh006-status-checks",
        gh006("2 of 2 required status checks are expected."),
        1,
        BranchProtectedError,
        False,
    ),
    (
        "gh006-force-push",
        gh006("Cannot force-push to this branch"),
        1,
        BranchProtectedError,
        False,
    ),
    (
        "gh013-ruleset",
        "remote: error: GH013: Repository rule violations found for refs/heads/main.\n"
        "remote: Review all repository rules at http://github.com/acme/widgets/rules\n"
        "remote: \nremote: - Changes must be made through a pull request.\nremote: \n"
        f"To {URL}\n ! [remote rejected] main -> main (push declined due to repository rule "
        "violations)\n" + FAILED,
        1,
        BranchProtectedError,
        False,
    ),
    (
        "workflows-app",
        f"To {URL}\n ! [remote rejected] wf -> wf (refusing to allow a GitHub App to create "
        "or update workflow `.github/workflows/ci.yml` without `workflows` permission)\n" + FAILED,
        1,
        MissingPermissionError,
        False,
    ),
    (
        "workflow-scope-oauth",
        f"To {URL}\n ! [remote rejected] wf -> wf (refusing to allow an OAuth App to create "
        "or update workflow `.github/workflows/ci.yml` without `workflow` scope)\n" + FAILED,
        1,
        MissingPermissionError,
        False,
    ),
    (
        "gh003-force-push-ban",
        "remote: error: GH003: Sorry, force-pushing to main is not allowed.\n"
        f"To {URL}\n ! [remote rejected] main -> main (pre-receive hook declined)\n" + FAILED,
        1,
        ForcePushBannedError,
        False,
    ),
    (
        "non-fast-forward-porcelain",
        FAILED + f"To {URL}\n!\t{SHA}:refs/heads/shoal/x\t[rejected] (non-fast-forward)\nDone\n",
        1,
        NonFastForwardError,
        False,
    ),
    (
        "fetch-first",
        f"To {URL}\n ! [rejected]        {SHA} -> shoal/x (fetch first)\n" + FAILED,
        1,
        NonFastForwardError,
        False,
    ),
    (
        "permission-denied-403",
        "remote: Permission to acme/widgets.git denied to shoal[bot].\n"
        f"fatal: unable to access '{URL}/': The requested URL returned error: 403\n",
        128,
        GitHubForbiddenError,
        False,
    ),
    (
        "archived",
        "remote: This repository was archived so it is read-only.\n"
        f"fatal: unable to access '{URL}/': The requested URL returned error: 403\n",
        128,
        GitHubForbiddenError,
        False,
    ),
    (
        "repository-not-found",
        f"remote: Repository not found.\nfatal: repository '{URL}/' not found\n",
        128,
        GitHubNotFoundError,
        False,
    ),
    (
        "commit-not-found",
        f"fatal: remote error: upload-pack: not our ref {SHA}\n",
        128,
        GitHubNotFoundError,
        False,
    ),
    (
        "bad-credentials",
        "fatal: could not read Username for 'https://github.com': terminal prompts disabled\n",
        128,
        GitHubAuthError,
        False,
    ),
    (
        "authentication-failed",
        "remote: Invalid username or token. Password authentication is not supported for Git "
        f"operations.\nfatal: Authentication failed for '{URL}/'\n",
        128,
        GitHubAuthError,
        False,
    ),
    (
        "http-502",
        f"fatal: unable to access '{URL}/': The requested URL returned error: 502\n",
        128,
        GitHubUnavailableError,
        True,
    ),
    (
        "rpc-failed-500",
        "error: RPC failed; HTTP 500 curl 22 The requested URL returned error: 500\n"
        "send-pack: unexpected disconnect while reading sideband packet\n"
        "fatal: the remote end hung up unexpectedly\n",
        128,
        GitHubUnavailableError,
        True,
    ),
    (
        "connection-refused",
        f"fatal: unable to access '{URL}/': Failed to connect to github.com port 443 after "
        "2 ms: Couldn't connect to server\n",
        128,
        GitHubUnavailableError,
        True,
    ),
    (
        "dns",
        f"fatal: unable to access '{URL}/': Could not resolve host: github.com\n",
        128,
        GitHubUnavailableError,
        True,
    ),
    (
        "ref-moved-meanwhile",
        f"To {URL}\n ! [remote rejected] shoal/x -> shoal/x (failed to update ref)\n" + FAILED,
        1,
        GitHubUnavailableError,
        True,
    ),
    (
        "gh001-large-file",
        "remote: error: GH001: Large files detected. You may want to try Git Large File "
        f"Storage - https://git-lfs.github.com.\nTo {URL}\n ! [remote rejected] shoal/x -> "
        "shoal/x (pre-receive hook declined)\n" + FAILED,
        1,
        PushRejectedError,
        False,
    ),
    (
        "git-rate-limited",
        "error: RPC failed; HTTP 429 curl 22 The requested URL returned error: 429\n"
        "fatal: the remote end hung up unexpectedly\n",
        128,
        SecondaryRateLimitError,
        True,
    ),
    ("killed", "", -9, GitHubUnavailableError, True),
    ("unknown", "fatal: something nobody expected\n", 128, GitRemoteError, False),
]

TEXT = {case[0]: case[1] for case in CASES}


@pytest.mark.parametrize(
    ("output", "returncode", "kind", "retryable"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_git_output_is_classified(
    output: str, returncode: int, kind: type[ShoalError], retryable: bool
) -> None:
    error = classify_push_failure(output, returncode)
    assert type(error) is kind
    assert error.retryable is retryable
    assert error.message.startswith("git push")


@pytest.mark.parametrize(
    ("reasons", "rules"),
    [
        (["Changes must be made through a pull request."], ("pull request required",)),
        (['Required status check "ci/test" is expected.'], ("required status checks",)),
        (
            [
                "At least 1 approving review is required by reviewers with write access.",
                "3 of 3 required status checks are expected.",
            ],
            ("approving reviews required", "required status checks"),
        ),
        (["Cannot force-push to a protected branch."], ("force pushes not allowed",)),
        (["Cannot delete this protected branch."], ("deletion not allowed",)),
        (["Commits must have verified signatures."], ("signed commits required",)),
        (["Something new GitHub says."], ()),
    ],
    ids=["pull-request", "one-check", "reviews-and-checks", "force", "delete", "signed", "new"],
)
def test_protection_names_the_rules(reasons: list[str], rules: tuple[str, ...]) -> None:
    error = classify_push_failure(gh006(*reasons, ref="refs/heads/release/1.x"), 1)
    assert isinstance(error, BranchProtectedError)
    assert error.ref == "refs/heads/release/1.x"
    assert error.rules == rules
    assert error.details["remote"] == reasons
    # the message says why, in the rule's words, or GitHub's when the rule is unknown
    assert (", ".join(rules) or reasons[0]).split(",")[0] in error.message


def test_missing_permission_names_it_and_the_file() -> None:
    app = classify_push_failure(TEXT["workflows-app"], 1)
    oauth = classify_push_failure(TEXT["workflow-scope-oauth"], 1)
    assert isinstance(app, MissingPermissionError)
    assert isinstance(oauth, MissingPermissionError)
    assert (app.permission, app.path) == ("workflows", ".github/workflows/ci.yml")
    assert app.accepted_permissions == ("workflows=write",)
    assert oauth.permission == "workflow"
    assert "`workflow` scope" in oauth.message


def test_fetch_failures_say_fetch_and_keep_the_status() -> None:
    error = classify_push_failure(TEXT["http-502"], 128, operation="fetch")
    assert isinstance(error, GitHubUnavailableError)
    assert error.status == 502
    assert error.message.startswith("git fetch: ")


UPDATE_REF = "PATCH /repos/{owner}/{repo}/git/refs/{ref}"
REF = "refs/heads/release/1.x"


def ref_refusal(message: str, status: int = 422) -> ShoalError:
    """GitHub's answer to a ref update, through the adapter's classification first."""
    body = json.dumps({"message": message, "documentation_url": "https://docs.github.com"})
    answer = classify_response(
        status,
        {"x-github-request-id": "ABCD:1234"},
        body.encode(),
        now=datetime(2026, 1, 1, tzinfo=UTC),
        where=UPDATE_REF,
    )
    return classify_ref_refusal(answer, ref=REF)


@pytest.mark.parametrize(
    ("message", "kind", "rules"),
    [
        (
            f"GH006: Protected branch update failed for {REF}. "
            'Required status check "ci/test" is expected.',
            BranchProtectedError,
            ("required status checks",),
        ),
        (
            f"GH006: Protected branch update failed for {REF}. "
            "Changes must be made through a pull request.",
            BranchProtectedError,
            ("pull request required",),
        ),
        (
            "Repository rule violations found\n\nCommits must have verified signatures.\n\n",
            BranchProtectedError,
            ("signed commits required",),
        ),
        (f"Protected branch update failed for {REF}.", BranchProtectedError, ()),
        (
            "refusing to allow a GitHub App to create or update workflow "
            "`.github/workflows/ci.yml` without `workflows` permission",
            MissingPermissionError,
            None,
        ),
        ("GH003: Sorry, force-pushing to release/1.x is not allowed.", ForcePushBannedError, None),
        ("Update is not a fast forward", NonFastForwardError, None),
        ("Reference already exists", BranchChangedError, None),
        ("Reference does not exist", BranchChangedError, None),
        ("Object does not exist", GitHubValidationError, None),
    ],
    ids=[
        "checks",
        "pull-request",
        "ruleset-signatures",
        "protected-unknown-rule",
        "workflows-permission",
        "force-push-ban",
        "not-fast-forward",
        "created-meanwhile",
        "deleted-meanwhile",
        "other-422",
    ],
)
def test_ref_refusals_through_the_api(
    message: str, kind: type[ShoalError], rules: tuple[str, ...] | None
) -> None:
    error = ref_refusal(message)
    assert type(error) is kind
    # the answer's status and request id stay with it: the refusal's audit row quotes them
    assert (error.details["status"], error.details["request_id"]) == (422, "ABCD:1234")
    if rules is not None:
        assert isinstance(error, BranchProtectedError)
        assert (error.ref, error.rules) == (REF, rules)
        assert REF in error.message
        assert not error.retryable
    assert error.retryable is (kind is BranchChangedError)


def test_other_answers_to_a_ref_update_keep_their_type() -> None:
    assert isinstance(
        ref_refusal("Resource not accessible by integration", 403), GitHubPermissionError
    )
    assert isinstance(ref_refusal("Not Found", 404), GitHubNotFoundError)
