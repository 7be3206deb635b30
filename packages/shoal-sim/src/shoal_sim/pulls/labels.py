"""Repository labels and the labels of pull requests (``labeled``/``unlabeled``)."""

from __future__ import annotations

import re

from shoal_sim.errors import GitHubError, validation_failed
from shoal_sim.pulls.ports import Labelling
from shoal_sim.pulls.records import Label, PullRequest
from shoal_sim.state.identity import Identities, node_id
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo
from shoal_sim.views.issues import label as label_body

_COLOR = re.compile(r"^[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "ededed"  # what GitHub gives labels created on the fly


# GitHub's default set for a new repository: (name, colour, description).
DEFAULT_LABELS = (
    ("bug", "d73a4a", "Something isn't working"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("duplicate", "cfd3d7", "This issue or pull request already exists"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
)


def add_default_labels(ids: Identities, repo: Repo) -> None:
    """Give a new repository GitHub's default labels (``default: true``)."""
    for name, color, description in DEFAULT_LABELS:
        ident = ids.next_id("label")
        found = Label(ident, node_id("Label", ident), name, color, description, default=True)
        repo.labels[name.lower()] = found


def find_label(repo: Repo, name: str) -> Label | None:
    found = repo.labels.get(name.lower())
    return found if isinstance(found, Label) else None


def _check_color(color: str) -> str:
    color = color.removeprefix("#")
    if not _COLOR.match(color):
        raise validation_failed({"resource": "Label", "code": "invalid", "field": "color"})
    return color.lower()


def create_label(
    engine: Labelling, repo: Repo, name: str, color: str | None, description: str | None
) -> Label:
    if not name:
        raise validation_failed({"resource": "Label", "code": "missing_field", "field": "name"})
    checked = _check_color(color) if color is not None else DEFAULT_COLOR
    with engine.world.lock:
        if find_label(repo, name) is not None:
            raise validation_failed(
                {"resource": "Label", "code": "already_exists", "field": "name"}
            )
        ident, node = engine.new_id("label", "Label")
        found = Label(ident, node, name, checked, description)
        repo.labels[name.lower()] = found
        return found


def update_label(
    engine: Labelling,
    repo: Repo,
    found: Label,
    *,
    new_name: str | None,
    color: str | None,
    description: str | None,
) -> Label:
    with engine.world.lock:
        if color is not None:
            found.color = _check_color(color)
        if description is not None:
            found.description = description
        if new_name and new_name != found.name:
            clash = find_label(repo, new_name)
            if clash is not None and clash is not found:
                raise validation_failed(
                    {"resource": "Label", "code": "already_exists", "field": "name"}
                )
            old = found.name
            del repo.labels[old.lower()]
            found.name = new_name
            repo.labels[new_name.lower()] = found
            for pull in _pulls(repo):
                pull.labels = [new_name if n.lower() == old.lower() else n for n in pull.labels]
        return found


def delete_label(engine: Labelling, repo: Repo, found: Label) -> None:
    with engine.world.lock:
        repo.labels.pop(found.name.lower(), None)
        for pull in _pulls(repo):
            pull.labels = [n for n in pull.labels if n.lower() != found.name.lower()]


def _pulls(repo: Repo) -> list[PullRequest]:
    return [p for p in repo.pulls.values() if isinstance(p, PullRequest)]


def add_labels(
    engine: Labelling, repo: Repo, pull: PullRequest, names: list[str], actor: Actor
) -> None:
    """``POST issues/{n}/labels``: unknown names become new labels, as on GitHub."""
    added: list[Label] = []
    with engine.world.lock:
        for name in names:
            found = find_label(repo, name) or create_label(engine, repo, name, None, None)
            if found.name.lower() not in {n.lower() for n in pull.labels}:
                pull.labels.append(found.name)
                added.append(found)
        if added:
            pull.updated_at = engine.now()
    urls = engine.event_urls()
    for found in added:
        engine.announce(repo, pull, "labeled", actor, label=label_body(urls, repo, found))


def remove_label(engine: Labelling, repo: Repo, pull: PullRequest, name: str, actor: Actor) -> None:
    with engine.world.lock:
        kept = [n for n in pull.labels if n.lower() != name.lower()]
        if len(kept) == len(pull.labels):
            raise GitHubError(404, "Label does not exist")
        pull.labels = kept
        pull.updated_at = engine.now()
        found = find_label(repo, name)
    if found is not None:
        body = label_body(engine.event_urls(), repo, found)
        engine.announce(repo, pull, "unlabeled", actor, label=body)


def set_labels(
    engine: Labelling, repo: Repo, pull: PullRequest, names: list[str], actor: Actor
) -> None:
    """``PUT issues/{n}/labels``: replace the set."""
    wanted = {n.lower() for n in names}
    for name in list(pull.labels):
        if name.lower() not in wanted:
            remove_label(engine, repo, pull, name, actor)
    add_labels(engine, repo, pull, names, actor)
