"""``simple-user``, ``private-user`` and friends, for users, bots and organizations."""

from __future__ import annotations

from typing import Any

from shoal_sim.clock import iso
from shoal_sim.state.models import Org, User
from shoal_sim.urls import Urls


def simple_user(urls: Urls, account: User | Org) -> dict[str, Any]:
    login = account.login
    base = urls.api_url(f"/users/{login}")
    kind = account.type if isinstance(account, User) else "Organization"
    return {
        "name": account.name,
        "email": account.email if isinstance(account, User) else None,
        "login": login,
        "id": account.id,
        "node_id": account.node_id,
        "avatar_url": urls.web_url(f"/avatars/{account.id}?v=4"),
        "gravatar_id": "",
        "url": base,
        "html_url": urls.web_url(f"/{login}" if kind != "Bot" else f"/apps/{login[:-5]}"),
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": kind,
        "site_admin": account.site_admin if isinstance(account, User) else False,
        "user_view_type": "public",
    }


def private_user(
    urls: Urls, user: User, *, public_repos: int, private_repos: int
) -> dict[str, Any]:
    body = simple_user(urls, user)
    body.update(
        user_view_type="private",
        company=None,
        blog="",
        location=None,
        hireable=None,
        bio=None,
        twitter_username=None,
        notification_email=user.email,
        public_repos=public_repos,
        public_gists=0,
        followers=0,
        following=0,
        created_at=iso(user.created_at),
        updated_at=iso(user.created_at),
        private_gists=0,
        total_private_repos=private_repos,
        owned_private_repos=private_repos,
        disk_usage=0,
        collaborators=0,
        two_factor_authentication=True,
        plan={"collaborators": 0, "name": "pro", "space": 976562499, "private_repos": 9999},
    )
    return body
