"""Syntax of the names a spec refers to: campaigns, GitHub accounts, repos, refs, images, env vars.

Each check returns None when the name is fine, or a short reason that completes the sentence
"'x' is not a valid ...: <reason>", so the models can phrase the whole message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = [
    "CAMPAIGN_NAME_PATTERN",
    "ENV_NAME_PATTERN",
    "IMAGE_PATTERN",
    "IMAGE_REFERENCE_PATTERN",
    "REPO_REF_PATTERN",
    "git_branch_problem",
    "image_name",
    "is_campaign_name",
    "is_env_name",
    "is_image_reference",
    "is_login",
    "is_pinned_image",
    "is_repo_name",
    "is_step_name",
    "is_team",
    "is_topic",
]

# A DNS label that starts with a letter: it becomes part of branch names, Job names and labels.
CAMPAIGN_NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_LOGIN = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
_TEAM_SLUG = r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}"
_REPO_NAME = r"[A-Za-z0-9._-]{1,100}"
_TOPIC = r"[a-z0-9][a-z0-9-]{0,49}"
_STEP_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}"
# An image reference as OCI distribution parses it: [registry[:port]/]path[:tag][@sha256:<hex>].
# Pinned means by digest (a tag may sit beside it, but the digest is what is pulled).
_IMAGE_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_REGISTRY = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]{{1,5}})?"
_IMAGE_NAME = rf"(?:{_REGISTRY}/)?{_IMAGE_PATH}(?:/{_IMAGE_PATH})*"
_IMAGE_TAG = r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
_IMAGE_DIGEST = r"@sha256:[0-9a-f]{64}"
IMAGE_PATTERN = rf"^{_IMAGE_NAME}{_IMAGE_TAG}?{_IMAGE_DIGEST}$"
IMAGE_REFERENCE_PATTERN = rf"^{_IMAGE_NAME}{_IMAGE_TAG}?(?:{_IMAGE_DIGEST})?$"
MAX_IMAGE_NAME = 255  # the distribution spec's limit on the name (without tag and digest)
# JSON Schema only checks the shape; git_branch_problem() checks the branch part fully.
REPO_REF_PATTERN = r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}(@.+)?$"

_FORBIDDEN_REF_CHARS = " ~^:?*[\\"
_BRANCH_RULES: tuple[tuple[Callable[[str], bool], str], ...] = (
    (lambda name: not name, "it is empty"),
    (lambda name: len(name.encode()) > 255, "longer than 255 bytes"),
    (lambda name: name in {"@", "HEAD"}, "reserved by git"),
    (lambda name: name.startswith("-"), "starts with '-'"),
    (lambda name: ".." in name, "contains '..'"),
    (lambda name: "@{" in name, "contains '@{'"),
    (lambda name: name.startswith("/") or name.endswith("/"), "starts or ends with '/'"),
    (lambda name: "//" in name, "contains '//'"),
    (lambda name: name.endswith("."), "ends with '.'"),
)


def is_campaign_name(name: str) -> bool:
    return re.fullmatch(CAMPAIGN_NAME_PATTERN, name) is not None


def is_env_name(name: str) -> bool:
    return re.fullmatch(ENV_NAME_PATTERN, name) is not None


def is_login(name: str) -> bool:
    return re.fullmatch(_LOGIN, name) is not None


def is_team(name: str) -> bool:
    """`org/team-slug`, as GitHub expects for team review requests."""
    org, slash, team = name.partition("/")
    return bool(slash) and is_login(org) and re.fullmatch(_TEAM_SLUG, team) is not None


def is_repo_name(name: str) -> bool:
    return re.fullmatch(_REPO_NAME, name) is not None and name not in {".", ".."}


def is_topic(name: str) -> bool:
    return re.fullmatch(_TOPIC, name) is not None


def is_step_name(name: str) -> bool:
    return re.fullmatch(_STEP_NAME, name) is not None


def is_pinned_image(reference: str) -> bool:
    """A valid reference that names a digest."""
    return is_image_reference(reference) and re.fullmatch(IMAGE_PATTERN, reference) is not None


def is_image_reference(reference: str) -> bool:
    """`reference` parses as an image reference, pinned or not."""
    if re.fullmatch(IMAGE_REFERENCE_PATTERN, reference) is None:
        return False
    return len(image_name(reference)) <= MAX_IMAGE_NAME


def image_name(reference: str) -> str:
    """The reference without tag and digest: `ghcr.io/acme/tools:1@sha256:..` -> its name.

    A colon in the last path part starts the tag; one before it is a registry's port."""
    name = reference.partition("@")[0]
    last = name.rpartition("/")[2]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.partition(":")[0]
    return name


def git_branch_problem(name: str) -> str | None:
    """Why `git check-ref-format --branch` would refuse `name`, or why a person could misread
    it (a full ref, a name git resolves to something else, invisible characters); None if
    the name is fine."""
    for broken, reason in _BRANCH_RULES:
        if broken(name):
            return reason
    bad = next((char for char in name if _is_bad_ref_char(char)), None)
    if bad is not None:
        return _BAD_CHAR_REASONS.get(bad, f"contains {bad!r}")
    invisible = next((char for char in name if _is_invisible(char)), None)
    if invisible is not None:
        return (
            f"contains the invisible or direction-changing character U+{ord(invisible):04X} "
            f"({unicodedata.name(invisible, 'unnamed')}); a reviewer would not see it"
        )
    for component in name.split("/"):
        if component.startswith(".") or component.endswith(".lock"):
            return f"part {component!r} starts with '.' or ends with '.lock'"
    return _ambiguity(name)


# A branch named like one of these is read by git (and people) as another ref.
_REF_NAMESPACES = ("refs", "heads", "tags", "remotes")
_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


def _ambiguity(name: str) -> str | None:
    first = name.split("/", 1)[0]
    if first in _REF_NAMESPACES:
        return (
            f"starts with '{first}/', so git and GitHub read it as another ref; "
            f"name the branch alone (e.g. '{name.rpartition('/')[2]}')"
        )
    if any(part == "HEAD" or part.endswith("_HEAD") for part in name.split("/")):
        return "names git's HEAD (or one of its *_HEAD refs)"
    if _SHA.fullmatch(name):
        return "looks like a commit sha"
    return None


def _is_invisible(char: str) -> bool:
    # Format characters (zero-width spaces and joiners, bidi embeddings, overrides and
    # isolates, BOM), C1 controls, separators other than ' ' and unassigned or private code
    # points: each can make two different names look the same, or one look like another.
    return unicodedata.category(char) in {"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp", "Zs"}


def _is_bad_ref_char(char: str) -> bool:
    return char in _FORBIDDEN_REF_CHARS or char in _BAD_CHAR_REASONS


_BAD_CHAR_REASONS = {" ": "contains a space"} | {
    chr(code): "contains a control character" for code in [*range(0x20), 0x7F]
}
