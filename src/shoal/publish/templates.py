"""Pull-request titles and bodies from the spec's templates, and the marker that links a PR
back to its campaign and spec version.

Templates are user code: they render in the spec's sandbox (`shoal.spec.templating`: size,
step and time limits on every operation) with `StrictUndefined` (a typo is an error, not an
empty string), autoescape off (the output is Markdown, not HTML), and rendering stopped once
the output is far past GitHub's limits. The reconciler renders them in the worker, never an
API request. The context (`pull_request_context`) holds `repo`, `campaign`, `spec` and
`diff`.

The title is one line of at most 256 characters. The body ends with a hidden marker,
`<!-- shoal: campaign=<id> name=<name> spec-version=<n> spec-hash=<hash> -->`; a body
longer than GitHub's 65,536 characters is cut, with a note, and keeps its marker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from jinja2 import TemplateSyntaxError

from shoal.domain.errors import InvalidInputError
from shoal.domain.executions import DiffFile
from shoal.spec.templating import RenderLimits, TemplateLimitError, render_limited

__all__ = [
    "BODY_LIMIT",
    "TITLE_LIMIT",
    "TRUNCATION_NOTE",
    "RenderedPullRequest",
    "ShoalMarker",
    "TemplateRenderError",
    "parse_marker",
    "pull_request_context",
    "render_pull_request",
]

TITLE_LIMIT = 256  # GitHub refuses longer titles
BODY_LIMIT = 65_536  # GitHub: "body is too long (maximum is 65536 characters)"
TRUNCATION_NOTE = (
    "\n\n_(Shoal shortened this description: GitHub allows at most 65,536 characters.)_"
)
# Rendering stops once this much text came out: enough to know the result gets cut.
_RENDER_CAP = {"title": 4 * TITLE_LIMIT, "body": 2 * BODY_LIMIT}
# The largest string any operation of the template may make (and all it makes, 64 times
# that); a render also stops after 200,000 loop iterations and calls, or 2 seconds.
_LIMITS = {
    "title": RenderLimits(field="changeset.title", max_chars=16 * 1024),
    "body": RenderLimits(field="changeset.body", max_chars=256 * 1024),
}
# A cut body ends at a line break when one is this close to the limit.
_LINE_BREAK_WINDOW = 2_000

Field = Literal["title", "body"]

_MARKER = re.compile(r"<!--\s*shoal:([^>]*?)-->")
_MARKER_VALUE = re.compile(r"[A-Za-z0-9._-]+")


class TemplateRenderError(InvalidInputError):
    """A title or body template does not compile or fails to render. `field` names which;
    the message carries Jinja's."""

    code = "template_invalid"

    def __init__(self, field: Field, message: str, *, line: int | None = None) -> None:
        where = f"changeset.{field} template" + (f", line {line}" if line is not None else "")
        details: dict[str, Any] = {"field": field}
        if line is not None:
            details["line"] = line
        super().__init__(f"{where}: {message}", details=details)
        self.field = field


@dataclass(frozen=True, slots=True)
class ShoalMarker:
    """What a PR body's hidden marker says about where the PR came from."""

    campaign_id: int
    campaign_name: str
    spec_version: int
    spec_hash: str

    def __post_init__(self) -> None:
        # Values are written bare into an HTML comment: no spaces, no `>`.
        for value in (self.campaign_name, self.spec_hash):
            if not _MARKER_VALUE.fullmatch(value):
                raise ValueError(f"{value!r} cannot be written into a PR marker")

    def comment(self) -> str:
        return (
            f"<!-- shoal: campaign={self.campaign_id} name={self.campaign_name} "
            f"spec-version={self.spec_version} spec-hash={self.spec_hash} -->"
        )


class RenderedPullRequest(NamedTuple):
    title: str
    body: str


def parse_marker(body: str) -> ShoalMarker | None:
    """The marker of a PR body, or None. The last one wins: Shoal appends its marker after
    the rendered text, so a marker the template (or a person) wrote above it is ignored."""
    for found in reversed(_MARKER.findall(body)):
        fields = dict(item.partition("=")[::2] for item in found.split())
        try:
            return ShoalMarker(
                campaign_id=int(fields["campaign"]),
                campaign_name=fields["name"],
                spec_version=int(fields["spec-version"]),
                spec_hash=fields["spec-hash"],
            )
        except (KeyError, ValueError):
            continue
    return None


def pull_request_context(
    *,
    repo: str,
    repo_meta: Mapping[str, Any],
    campaign_id: int,
    campaign_name: str,
    campaign_description: str | None,
    spec_version: int,
    spec_hash: str,
    files: Sequence[DiffFile],
) -> dict[str, Any]:
    """The template context. `repo_meta` is the target's metadata (default_branch,
    language, topics, visibility, archived, fork, base_branch, ...); `repo` is owner/name."""
    owner, _, name = repo.partition("/")
    return {
        "repo": {**repo_meta, "owner": owner, "name": name, "full_name": repo},
        "campaign": {"id": campaign_id, "name": campaign_name, "description": campaign_description},
        "spec": {"version": spec_version, "hash": spec_hash},
        "diff": {
            "files": [
                {
                    "path": f.path,
                    "old_path": f.old_path,
                    "status": f.status.value,
                    "added": f.added,
                    "deleted": f.deleted,
                    "binary": f.binary,
                }
                for f in files
            ],
            "files_changed": len(files),
            "lines_added": sum(f.added for f in files),
            "lines_deleted": sum(f.deleted for f in files),
        },
    }


def render_pull_request(
    title_template: str, body_template: str, context: Mapping[str, Any]
) -> RenderedPullRequest:
    """Title and body for one repository; the marker comes from `context`'s campaign and
    spec. Raises `TemplateRenderError`."""
    marker = _marker_of(context)
    title = _one_line(_render("title", title_template, context))
    if not title:
        raise TemplateRenderError("title", "renders to an empty title")
    body = _with_marker(_render("body", body_template, context).rstrip(), marker.comment())
    return RenderedPullRequest(title, body)


def _render(field: Field, source: str, context: Mapping[str, Any]) -> str:
    try:
        return render_limited(source, context, _LIMITS[field], stop_at=_RENDER_CAP[field])
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(field, exc.message or str(exc), line=exc.lineno) from None
    except TemplateLimitError as exc:
        raise TemplateRenderError(field, str(exc)) from None
    # The template is user code: whatever it raises (UndefinedError, SecurityError,
    # TypeError, ZeroDivisionError, RecursionError, ...) is the template's fault, not the
    # worker's.
    except Exception as exc:
        raise TemplateRenderError(field, f"{type(exc).__name__}: {exc}") from None


def _one_line(text: str) -> str:
    title = " ".join(text.split())
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1].rstrip() + "…"
    return title


def _with_marker(text: str, marker: str) -> str:
    suffix = "\n\n" + marker if text else marker
    if len(text) + len(suffix) <= BODY_LIMIT:
        return text + suffix
    room = BODY_LIMIT - len(suffix) - len(TRUNCATION_NOTE)
    cut = text[:room]
    line_break = cut.rfind("\n", room - _LINE_BREAK_WINDOW)
    if line_break > 0:
        cut = cut[:line_break]
    return cut.rstrip() + TRUNCATION_NOTE + suffix


def _marker_of(context: Mapping[str, Any]) -> ShoalMarker:
    try:
        campaign, spec = context["campaign"], context["spec"]
        return ShoalMarker(
            campaign_id=int(campaign["id"]),
            campaign_name=str(campaign["name"]),
            spec_version=int(spec["version"]),
            spec_hash=str(spec["hash"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            "the template context lacks campaign.id/name or spec.version/hash for the PR "
            f"marker ({type(exc).__name__}: {exc})"
        ) from None
