"""A repository's README (``GET /repos/{owner}/{repo}/readme``): the README at the root of
``ref`` (the default branch by default), else in ``.github``, else in ``docs``, as GitHub
looks for it; raw media types give the bytes. ``gh repo view`` shows it."""

from __future__ import annotations

from shoal_sim.errors import GitHubError, not_found
from shoal_sim.git import TreeEntry
from shoal_sim.raw import download_url
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.repos import _git, _raw_media
from shoal_sim.views import git as views

router = Router()


def _readme(entries: list[TreeEntry]) -> TreeEntry | None:
    found = [
        e
        for e in entries
        if e.type == "blob" and e.path.rsplit("/", 1)[-1].lower().startswith("readme")
    ]
    # The shortest name first: README.md before README.backup.md.
    return min(found, key=lambda e: (len(e.path), e.path), default=None)


@router.route("GET", "/repos/{owner}/{repo}/readme", docs="repos/contents#get-a-repository-readme")
def get_readme(ctx: Ctx) -> Reply:
    repo = ctx.repo("contents", "read")
    git = _git(ctx, repo)
    ref = ctx.query.get("ref") or repo.default_branch
    sha = git.rev_parse(ref)
    if sha is None:
        raise GitHubError(404, f"No commit found for the ref {ref}")
    entry = None
    for folder in ("", ".github/", "docs/"):
        entry = _readme(git.ls_tree(sha, path=folder) if folder else git.ls_tree(sha))
        if entry is not None:
            break
    if entry is None:
        raise not_found()
    obj = git.read_object(entry.sha)
    data = obj[1] if obj else b""
    raw = _raw_media(ctx.accept)
    if raw is not None:
        headers = {
            "content-type": f"{raw}; charset=utf-8",
            "x-github-media-type": "github.v3; format=raw",
        }
        return Reply(None, 200, headers, raw=data)

    def download(quoted: str) -> str:
        return download_url(ctx.sim, ctx.urls.web, repo, ref, quoted)

    return Reply(views.content_entry(ctx.urls, repo, ref, entry, data, download=download))
