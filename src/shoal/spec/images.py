"""Which step images an executor can run: the rules of `steps[].image` that depend on where
steps run, checked where the executor is known (the API's validate and apply, `shoal validate
--executor`, and the worker before it runs a spec applied under another executor).

The spec itself stays independent of settings: the executor kind is an argument.
- `local` runs steps with the worker's own tools: any image is refused.
- `podman` runs what the reference names, a tag or a digest, from the worker's image store.
- `kubernetes` needs a digest, so that every pod of a campaign runs the same image whatever
  the registry's tag points at meanwhile.
"""

from __future__ import annotations

from shoal.spec import names
from shoal.spec.errors import SpecIssue, format_path
from shoal.spec.loader import load_document
from shoal.spec.models import CampaignSpec

__all__ = ["KNOWN_EXECUTORS", "image_issues"]

KNOWN_EXECUTORS = ("local", "podman", "kubernetes")


def image_issues(spec: CampaignSpec, yaml_text: str, executor: str) -> list[SpecIssue]:
    """The steps whose `image` the `executor` cannot run, each located in `yaml_text`."""
    if executor not in KNOWN_EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}")
    problems = [
        (i, message)
        for i, step in enumerate(spec.steps)
        if step.image is not None
        and (message := _problem(step.name, step.image, executor)) is not None
    ]
    if not problems:
        return []
    document = load_document(yaml_text)
    issues = []
    for i, message in problems:
        path = ("steps", i, "image")
        position = document.position(path)
        issues.append(
            SpecIssue(
                path=format_path(path),
                message=message,
                line=position.line if position else None,
                column=position.column if position else None,
            )
        )
    return issues


def _problem(step: str, image: str, executor: str) -> str | None:
    if executor == "local":
        return (
            f"step '{step}' names the image {image!r}, but this Shoal runs steps with the local "
            "executor (SHOAL_EXECUTOR=local), which uses the tools installed on the worker and "
            "runs no images: remove 'image' (and install what the step needs on the workers), "
            "or run the workers with SHOAL_EXECUTOR=podman or kubernetes"
        )
    if executor == "kubernetes" and not names.is_pinned_image(image):
        name = names.image_name(image)
        return (
            f"step '{step}' names the image {image!r} by tag only; the kubernetes executor runs "
            "images pinned by digest, so every repository gets the same image: write "
            f"'{name}@sha256:<digest>', with the digest from `crane digest {image}` or "
            f"`podman image inspect --format '{{{{.Digest}}}}' {image}`"
        )
    return None
