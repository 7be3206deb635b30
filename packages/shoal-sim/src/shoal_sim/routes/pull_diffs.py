"""A pull request as a diff or a patch: ``GET …/pulls/{n}`` with GitHub's custom media types
``application/vnd.github.diff`` (``git diff`` between the merge base and the head, what
``gh pr diff`` shows) and ``application/vnd.github.patch`` (one mail-formatted patch per
commit), as GitHub serves them instead of the JSON description."""

from __future__ import annotations

from shoal_sim.rest import Ctx, Reply
from shoal_sim.state.models import Repo

_MEDIA = {
    "application/vnd.github.diff": "diff",
    "application/vnd.github.v3.diff": "diff",
    "application/vnd.github.patch": "patch",
    "application/vnd.github.v3.patch": "patch",
}


def wanted(accept: str) -> tuple[str, str] | None:
    """(media type, ``diff`` | ``patch``) when ``accept`` asks for one of them."""
    for item in accept.split(","):
        media = item.split(";", 1)[0].strip().lower()
        if media in _MEDIA:
            return media, _MEDIA[media]
    return None


def diff_reply(ctx: Ctx, repo: Repo, base: str, head: str, media: tuple[str, str]) -> Reply:
    git = ctx.sim.git.open(repo.id)
    if media[1] == "diff":
        data = git.run("diff", "--full-index", "--no-color", "--no-renames", f"{base}...{head}")
    else:
        merge_base = git.run("merge-base", base, head).decode().strip() or base
        data = git.run("format-patch", "--stdout", "--no-color", f"{merge_base}..{head}")
    headers = {
        "content-type": f"{media[0]}; charset=utf-8",
        "x-github-media-type": f"github.v3; format={media[1]}",
    }
    return Reply(None, 200, headers, raw=data)
