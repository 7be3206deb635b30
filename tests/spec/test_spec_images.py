"""`steps[].image` against the executor that would run it: `local` runs no image,
`kubernetes` only one pinned by digest, `podman` a tag or a digest."""

from __future__ import annotations

import pytest

from shoal.spec import image_issues, parse_spec
from tests.spec.test_spec_errors import with_step

DIGEST = "sha256:" + "ab" * 32
TAGGED = with_step("    image: ghcr.io/acme/tools:1.2\n")
PINNED = with_step(f"    image: ghcr.io/acme/tools:1.2@{DIGEST}\n")
NONE = with_step("")


def rendered(text: str, executor: str) -> list[str]:
    parsed = parse_spec(text)
    return [issue.render() for issue in image_issues(parsed.spec, parsed.yaml_text, executor)]


@pytest.mark.parametrize("executor", ["local", "podman", "kubernetes"])
def test_a_step_without_image_runs_anywhere(executor: str) -> None:
    assert rendered(NONE, executor) == []


def test_local_refuses_any_image_and_says_which_executor_runs_it() -> None:
    (message,) = rendered(PINNED, "local")
    assert message == (
        f"steps[0].image: step 'bump' names the image 'ghcr.io/acme/tools:1.2@{DIGEST}', but "
        "this Shoal runs steps with the local executor (SHOAL_EXECUTOR=local), which uses the "
        "tools installed on the worker and runs no images: remove 'image' (and install what "
        "the step needs on the workers), or run the workers with SHOAL_EXECUTOR=podman or "
        "kubernetes (line 7, col 12)"
    )


def test_kubernetes_refuses_a_tag_alone_and_shows_how_to_pin() -> None:
    (message,) = rendered(TAGGED, "kubernetes")
    assert message == (
        "steps[0].image: step 'bump' names the image 'ghcr.io/acme/tools:1.2' by tag only; the "
        "kubernetes executor runs images pinned by digest, so every repository gets the same "
        "image: write 'ghcr.io/acme/tools@sha256:<digest>', with the digest from `crane digest "
        "ghcr.io/acme/tools:1.2` or `podman image inspect --format '{{.Digest}}' "
        "ghcr.io/acme/tools:1.2` (line 7, col 12)"
    )
    assert rendered(PINNED, "kubernetes") == []


def test_podman_takes_tags_and_digests() -> None:
    assert rendered(TAGGED, "podman") == []
    assert rendered(PINNED, "podman") == []


def test_every_refused_step_is_named() -> None:
    text = NONE.replace(
        "steps:\n",
        "steps:\n  - name: fmt\n    image: node:22\n    run: npx prettier -w .\n",
    )
    text = text.replace("    run: echo hi\n", "    run: echo hi\n    image: alpine:3.20\n")
    assert [m.split(":")[0] for m in rendered(text, "kubernetes")] == [
        "steps[0].image",
        "steps[1].image",
    ]


def test_an_unknown_executor_is_a_programming_error() -> None:
    parsed = parse_spec(PINNED)
    with pytest.raises(ValueError, match="unknown executor 'docker'"):
        image_issues(parsed.spec, parsed.yaml_text, "docker")
