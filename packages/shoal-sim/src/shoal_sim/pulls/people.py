"""Who is on a pull request: assignees, requested reviewers and teams, reviews, comments.

GitHub's rules: assignees without push access are silently dropped; reviews may only be
requested from collaborators (and teams with access); authors cannot approve their own
pull request nor be asked to review it.
"""

from __future__ import annotations

from shoal_sim.errors import validation_failed
from shoal_sim.pulls.ports import People
from shoal_sim.pulls.records import IssueComment, PullRequest, Review
from shoal_sim.state.access import user_role
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Permission, Repo, Team
from shoal_sim.state.pull_events import PullRequestReviewChanged
from shoal_sim.views.issues import team as team_body
from shoal_sim.views.users import simple_user

NOT_COLLABORATOR = (
    "Reviews may only be requested from collaborators. One or more of the users or teams "
    "you specified is not a collaborator of the {repo} repository."
)
REVIEW_EVENTS = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}


def _role(engine: People, repo: Repo, login: str) -> Permission:
    user = engine.account(login)
    return Permission.NONE if user is None else user_role(engine.world, user, repo)


def add_assignees(
    engine: People, repo: Repo, pull: PullRequest, logins: list[str], actor: Actor
) -> None:
    added = []
    with engine.world.lock:
        for login in logins:
            user = engine.account(login)
            if user is None or _role(engine, repo, login) < Permission.WRITE:
                continue  # "Assignees are silently ignored otherwise."
            if user.login not in pull.assignees and len(pull.assignees) < 10:
                pull.assignees.append(user.login)
                added.append(user)
    urls = engine.event_urls()
    for user in added:
        engine.announce(repo, pull, "assigned", actor, assignee=simple_user(urls, user))


def remove_assignees(
    engine: People, repo: Repo, pull: PullRequest, logins: list[str], actor: Actor
) -> None:
    wanted = {login.lower() for login in logins}
    with engine.world.lock:
        removed = [a for a in pull.assignees if a.lower() in wanted]
        pull.assignees = [a for a in pull.assignees if a.lower() not in wanted]
    urls = engine.event_urls()
    for login in removed:
        user = engine.account(login)
        if user is not None:
            engine.announce(repo, pull, "unassigned", actor, assignee=simple_user(urls, user))


def _team(engine: People, repo: Repo, slug: str) -> Team | None:
    found = engine.world.find_team(repo.owner, slug)
    return found if found is not None and repo.id in found.repos else None


def request_reviews(
    engine: People,
    repo: Repo,
    pull: PullRequest,
    logins: list[str],
    slugs: list[str],
    actor: Actor,
) -> None:
    users = [engine.account(login) for login in logins]
    teams = [_team(engine, repo, slug) for slug in slugs]
    if any(u is None or _role(engine, repo, u.login) < Permission.READ for u in users) or any(
        t is None for t in teams
    ):
        raise validation_failed(message=NOT_COLLABORATOR.format(repo=repo.full_name))
    if any(u is not None and u.login.lower() == pull.user.lower() for u in users):
        raise validation_failed(message="Review cannot be requested from pull request author.")
    urls = engine.event_urls()
    org = engine.world.find_org(repo.owner)
    extras = []
    with engine.world.lock:
        for user in users:
            if user is not None and user.login not in pull.requested_reviewers:
                pull.requested_reviewers.append(user.login)
                extras.append({"requested_reviewer": simple_user(urls, user)})
        for found in teams:
            if found is not None and org is not None and found.slug not in pull.requested_teams:
                pull.requested_teams.append(found.slug)
                extras.append({"requested_team": team_body(urls, found, org, repo)})
    for extra in extras:
        engine.announce(repo, pull, "review_requested", actor, **extra)


def remove_review_requests(
    engine: People,
    repo: Repo,
    pull: PullRequest,
    logins: list[str],
    slugs: list[str],
    actor: Actor,
) -> None:
    urls = engine.event_urls()
    org = engine.world.find_org(repo.owner)
    extras = []
    with engine.world.lock:
        for login in logins:
            user = engine.account(login)
            if user is not None and user.login in pull.requested_reviewers:
                pull.requested_reviewers.remove(user.login)
                extras.append({"requested_reviewer": simple_user(urls, user)})
        for slug in slugs:
            found = engine.world.find_team(repo.owner, slug)
            if found is not None and org is not None and found.slug in pull.requested_teams:
                pull.requested_teams.remove(found.slug)
                extras.append({"requested_team": team_body(urls, found, org, repo)})
    for extra in extras:
        engine.announce(repo, pull, "review_request_removed", actor, **extra)


def submit_review(
    engine: People,
    repo: Repo,
    pull: PullRequest,
    actor: Actor,
    event: str,
    body: str,
    commit_id: str | None = None,
) -> Review:
    state = REVIEW_EVENTS.get(event)
    login = engine.login(actor)
    if state is None:
        raise validation_failed(
            {"resource": "PullRequestReview", "field": "event", "code": "invalid"}
        )
    if state != "APPROVED" and not body:
        # GitHub wants a body for "request changes" and for a plain comment.
        raise validation_failed(
            {"resource": "PullRequestReview", "field": "body", "code": "missing_field"}
        )
    if login.lower() == pull.user.lower() and state != "COMMENTED":
        verb = "approve" if state == "APPROVED" else "request changes on"
        raise validation_failed(message=f"Can not {verb} your own pull request")
    ident, node = engine.new_id("review", "PullRequestReview")
    review = Review(ident, node, login, state, body, commit_id or pull.head_sha, engine.now())
    with engine.world.lock:
        pull.reviews.append(review)
        if login in pull.requested_reviewers:
            pull.requested_reviewers.remove(login)
    engine.publish(
        PullRequestReviewChanged(repo.id, pull.number, review.id, "submitted", actor, engine.now())
    )
    return review


def dismiss_stale_approvals(engine: People, repo: Repo, pull: PullRequest, actor: Actor) -> None:
    """After a push, when protection says ``dismiss_stale_reviews``."""
    dismissed = []
    with engine.world.lock:
        for review in pull.reviews:
            if review.state == "APPROVED" and review.commit_id != pull.head_sha:
                review.state = "DISMISSED"
                dismissed.append(review)
    for review in dismissed:
        engine.publish(
            PullRequestReviewChanged(
                repo.id, pull.number, review.id, "dismissed", actor, engine.now()
            )
        )


def add_comment(
    engine: People, repo: Repo, pull: PullRequest, actor: Actor, body: str
) -> IssueComment:
    if not body:
        raise validation_failed(
            {"resource": "IssueComment", "field": "body", "code": "missing_field"}
        )
    ident, node = engine.new_id("comment", "IssueComment")
    now = engine.now()
    found = IssueComment(ident, node, engine.login(actor), body, now, now)
    with engine.world.lock:
        pull.comments.append(found)
    return found
