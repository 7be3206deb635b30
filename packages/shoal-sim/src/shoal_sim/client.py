"""``SimClient``: a small Python client for the simulator's ``/_sim`` scenario API.

Tests and demos use it to build worlds, act as humans, inject faults, move the clock and
read the mutation ledger::

    sim = SimClient("http://127.0.0.1:8787", admin_token)
    sim.create_repo("acme", "payments", files={"README.md": "# payments\\n"})
    sim.push_commit("acme", "payments", {"README.md": "# v2\\n"}, author="alice")
    assert sim.ledger()[-1]["operation"] == "git push"
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx


class SimClientError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class SimClient:
    def __init__(self, base_url: str, admin_token: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.base_url}/_sim",
            timeout=timeout,
            headers={"authorization": f"Bearer {admin_token}"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SimClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        response = self._http.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            raise SimClientError(response.status_code, response.text)
        return response.json() if response.content else None

    # -- world -------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return dict(self._call("GET", "/info"))

    def seed(self, document: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/seed", document))

    def create_org(self, login: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/orgs", {"login": login, **fields}))

    def create_user(self, login: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/users", {"login": login, **fields}))

    def mint_pat(self, login: str, **fields: Any) -> str:
        return str(self._call("POST", f"/users/{login}/tokens", fields)["token"])

    def create_team(self, org: str, slug: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("POST", f"/orgs/{org}/teams", {"slug": slug, **fields}))

    def create_repo(self, owner: str, name: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/repos", {"owner": owner, "name": name, **fields}))

    def create_repos(self, owner: str, count: int, **fields: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/repos/bulk", {"owner": owner, "count": count, **fields}))

    def update_repo(self, owner: str, repo: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/repos/{owner}/{repo}", fields))

    def rename_repo(self, owner: str, repo: str, new_name: str) -> dict[str, Any]:
        return self.update_repo(owner, repo, name=new_name)

    def archive_repo(self, owner: str, repo: str, archived: bool = True) -> dict[str, Any]:
        return self.update_repo(owner, repo, archived=archived)

    def delete_repo(self, owner: str, repo: str) -> None:
        self._call("DELETE", f"/repos/{owner}/{repo}")

    def protect_branch(self, owner: str, repo: str, branch: str, **rule: Any) -> None:
        self._call("PUT", f"/repos/{owner}/{repo}/branches/{branch}/protection", rule)

    def unprotect_branch(self, owner: str, repo: str, branch: str) -> None:
        self._call("DELETE", f"/repos/{owner}/{repo}/branches/{branch}/protection")

    def create_org_ruleset(self, org: str, name: str, **ruleset: Any) -> int:
        """An organization branch ruleset: `include` (ref patterns, `~ALL`,
        `~DEFAULT_BRANCH`), `exclude`, `repositories` (name patterns), `rules` (GitHub's
        shape), `enforcement`. Returns its id."""
        made = self._call("POST", f"/orgs/{org}/rulesets", {"name": name, **ruleset})
        return int(made["id"])

    def delete_org_ruleset(self, org: str, ruleset_id: int) -> None:
        self._call("DELETE", f"/orgs/{org}/rulesets/{ruleset_id}")

    def push_commit(
        self,
        owner: str,
        repo: str,
        files: dict[str, str | None],
        *,
        branch: str | None = None,
        message: str = "Update files",
        author: str | None = None,
        start_from: str | None = None,
    ) -> str:
        body = {
            "files": files,
            "branch": branch,
            "message": message,
            "author": author,
            "start_from": start_from,
        }
        return str(self._call("POST", f"/repos/{owner}/{repo}/commits", body)["sha"])

    def create_app(self, slug: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/apps", {"slug": slug, **fields}))

    def install_app(self, app_id: int, org: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("POST", f"/apps/{app_id}/installations", {"org": org, **fields}))

    # -- control -----------------------------------------------------------------------------

    def set_faults(self, **config: Any) -> dict[str, Any]:
        return dict(self._call("PUT", "/faults", config))

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def secondary_storm(self, seconds: float) -> None:
        self._call("POST", "/faults/secondary-storm", {"seconds": seconds})

    def clock(self) -> dict[str, Any]:
        return dict(self._call("GET", "/clock"))

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return dict(self._call("POST", "/clock", {"advance": seconds}))

    def set_clock_speed(self, speed: float) -> dict[str, Any]:
        return dict(self._call("POST", "/clock", {"speed": speed}))

    def reset_limits(self) -> None:
        self._call("POST", "/limits/reset")

    def ledger(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self._call("GET", "/ledger", params={"since": since})["entries"])

    def clear_ledger(self) -> None:
        self._call("DELETE", "/ledger")

    # -- webhooks ----------------------------------------------------------------------------

    def set_webhook(
        self,
        app_id: int,
        url: str | None,
        *,
        secret: str | None = None,
        events: list[str] | None = None,
    ) -> dict[str, Any]:
        """Point an App's webhook at ``url`` (``None`` turns delivery off)."""
        body = {"url": url, "secret": secret, "events": events, "active": url is not None}
        return dict(self._call("PUT", f"/apps/{app_id}/webhook", body))

    def webhook_deliveries(
        self, app_id: int | None = None, event: str | None = None
    ) -> list[dict[str, Any]]:
        """Every delivery attempt (oldest first) with its request and response."""
        params = {k: v for k, v in {"app_id": app_id, "event": event}.items() if v is not None}
        return list(self._call("GET", "/webhooks/deliveries", params=params)["deliveries"])

    def clear_webhook_deliveries(self) -> None:
        self._call("DELETE", "/webhooks/deliveries")

    def wait_for_webhooks(self, timeout: float = 30.0) -> bool:
        """Block until every queued delivery was attempted; False if ``timeout`` passed."""
        return bool(self._call("POST", "/webhooks/flush", {"timeout": timeout})["idle"])

    def set_webhook_faults(self, **config: Any) -> dict[str, Any]:
        """``drop_rate``, ``drop_next``, ``delay_seconds``, ``event``."""
        return dict(self._call("PUT", "/webhooks/faults", config))

    def clear_webhook_faults(self) -> None:
        self._call("DELETE", "/webhooks/faults")

    def set_webhook_settings(self, **settings: float) -> dict[str, Any]:
        """``timeout`` (seconds a receiver has) and ``retention_days``."""
        return dict(self._call("PUT", "/webhooks/settings", settings))

    def create_installation(self, app_id: int, org: str, **fields: Any) -> dict[str, Any]:
        """Install an App on an org, announcing ``installation.created``."""
        body = {"app_id": app_id, "org": org, **fields}
        return dict(self._call("POST", "/installations", body))

    def delete_installation(self, installation_id: int) -> None:
        self._call("DELETE", f"/installations/{installation_id}")

    def suspend_installation(self, installation_id: int, suspended: bool = True) -> None:
        verb = "suspend" if suspended else "unsuspend"
        self._call("POST", f"/installations/{installation_id}/{verb}")

    def accept_installation_permissions(
        self, installation_id: int, permissions: dict[str, str]
    ) -> dict[str, Any]:
        return dict(self._call("PUT", f"/installations/{installation_id}/permissions", permissions))

    def change_installation_repositories(
        self, installation_id: int, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> dict[str, Any]:
        body = {"add": list(add), "remove": list(remove)}
        return dict(self._call("POST", f"/installations/{installation_id}/repositories", body))

    # -- pull requests -----------------------------------------------------------------------

    def open_pull(
        self, owner: str, repo: str, head: str, title: str, *, author: str, **fields: Any
    ) -> dict[str, Any]:
        """Open a pull request as the user ``author`` (``base``, ``body``, ``draft``)."""
        body = {"head": head, "title": title, "author": author, **fields}
        return dict(self._call("POST", f"/repos/{owner}/{repo}/pulls", body))

    def pull(self, owner: str, repo: str, number: int) -> dict[str, Any]:
        """State, head, merge state status and review decision, computed now."""
        return dict(self._call("GET", f"/repos/{owner}/{repo}/pulls/{number}"))

    def edit_pull(
        self, owner: str, repo: str, number: int, *, actor: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """``title``, ``body``, ``base``, ``state`` ("closed" closes, "open" reopens)."""
        body = {"actor": actor, **fields}
        return dict(self._call("PATCH", f"/repos/{owner}/{repo}/pulls/{number}", body))

    def close_pull(self, owner: str, repo: str, number: int, actor: str | None = None) -> None:
        self.edit_pull(owner, repo, number, actor=actor, state="closed")

    def reopen_pull(self, owner: str, repo: str, number: int, actor: str | None = None) -> None:
        self.edit_pull(owner, repo, number, actor=actor, state="open")

    def merge_pull(
        self, owner: str, repo: str, number: int, *, actor: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """``merge_method``, ``sha``, ``commit_title``, ``commit_message``, ``bypass``."""
        body = {"actor": actor, **fields}
        return dict(self._call("POST", f"/repos/{owner}/{repo}/pulls/{number}/merge", body))

    def enable_auto_merge(
        self, owner: str, repo: str, number: int, *, actor: str, merge_method: str = "MERGE"
    ) -> dict[str, Any]:
        """Auto-merge turned on as ``actor`` (GitHub's refusals come back as 409 "422 ...")."""
        body = {"actor": actor, "merge_method": merge_method}
        return dict(self._call("PUT", f"/repos/{owner}/{repo}/pulls/{number}/auto-merge", body))

    def disable_auto_merge(self, owner: str, repo: str, number: int, *, actor: str) -> None:
        self._call("DELETE", f"/repos/{owner}/{repo}/pulls/{number}/auto-merge", {"actor": actor})

    def review_pull(
        self, owner: str, repo: str, number: int, user: str, event: str, body: str = ""
    ) -> dict[str, Any]:
        """``event``: APPROVE, REQUEST_CHANGES or COMMENT, as ``user``."""
        payload = {"user": user, "event": event, "body": body}
        return dict(self._call("POST", f"/repos/{owner}/{repo}/pulls/{number}/reviews", payload))

    def approve_pull(self, owner: str, repo: str, number: int, user: str) -> dict[str, Any]:
        return self.review_pull(owner, repo, number, user, "APPROVE")

    def set_status(
        self, owner: str, repo: str, sha: str, state: str, context: str = "default", **fields: Any
    ) -> dict[str, Any]:
        """A commit status (``description``, ``target_url``, ``creator``)."""
        body = {"state": state, "context": context, **fields}
        return dict(self._call("POST", f"/repos/{owner}/{repo}/statuses/{sha}", body))

    def set_check_run(
        self, owner: str, repo: str, sha: str, name: str, **fields: Any
    ) -> dict[str, Any]:
        """A check run by an App (``app`` slug or id, ``status``, ``conclusion``)."""
        body = {"head_sha": sha, "name": name, **fields}
        return dict(self._call("POST", f"/repos/{owner}/{repo}/check-runs", body))

    def update_check_run(self, owner: str, repo: str, run_id: int, **fields: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/repos/{owner}/{repo}/check-runs/{run_id}", fields))

    def patch_protection(self, owner: str, repo: str, branch: str, **rule: Any) -> dict[str, Any]:
        """Change some protection settings (``required_status_checks``, ``strict``,
        ``required_approving_review_count``, ``dismiss_stale_reviews``, ``enforce_admins``)."""
        path = f"/repos/{owner}/{repo}/branches/{branch}/protection"
        return dict(self._call("PATCH", path, rule))
