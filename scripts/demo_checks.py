"""The demo's checks against the simulated GitHub (standard library only).

    python3 scripts/demo_checks.py SIM_JSON ledger-size
    python3 scripts/demo_checks.py SIM_JSON audit-matches-ledger < audit.jsonl
    python3 scripts/demo_checks.py SIM_JSON show-prs CAMPAIGN_BRANCH OWNER/REPO...
    SHOAL_TOKEN=... python3 scripts/demo_checks.py SIM_JSON ui-matches-status URL CAMPAIGN \
        < status.json

SIM_JSON is what `shoal sim serve -o json` printed. The checks read the simulator's
mutation ledger through its admin API and pull requests through its REST API, as any
GitHub client would. `ui-matches-status` signs in to Shoal's web UI as a browser does (the
sign-in form, its CSRF token, the session cookie) and compares the campaign page's counts
with what `shoal status -o json` printed.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import sys
import urllib.parse
import urllib.request
from collections import Counter
from typing import Any


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 - a loopback URL the simulator printed
        url, headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


def _ledger(sim: dict[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = _get(f"{sim['admin_url']}/ledger", sim["admin_token"])[
        "entries"
    ]
    return entries


def ledger_size(sim: dict[str, Any]) -> int:
    print(len(_ledger(sim)))
    return 0


def _key(operation: str, repo: str | None, request_id: str | None) -> tuple[str, str, str]:
    # Git pushes carry no request id on the client side: they pair by repository.
    return (operation, (repo or "").lower(), "" if operation == "git push" else request_id or "")


def audit_matches_ledger(sim: dict[str, Any]) -> int:
    """Every mutation the simulator recorded has exactly one audit row, and nothing else."""
    events = [json.loads(line) for line in sys.stdin if line.strip()]
    audited = Counter(
        _key(e["details"].get("operation", ""), e["repo"], e["request_id"])
        for e in events
        if e["action"] == "github.mutation"
    )
    seen = Counter(_key(m["operation"], m["repo"], m["request_id"]) for m in _ledger(sim))
    if audited != seen:
        print(f"only in the audit log: {dict(audited - seen)}", file=sys.stderr)
        print(f"only in the simulator's ledger: {dict(seen - audited)}", file=sys.stderr)
        return 1
    kinds = Counter(op for op, _, _ in seen.elements())
    listed = ", ".join(f"{n} {op}" for op, n in sorted(kinds.items()))
    total = sum(kinds.values())
    print(f"the audit log matches the simulator's ledger: {total} mutations ({listed})")
    return 0


def show_prs(sim: dict[str, Any], branch: str, repos: list[str]) -> int:
    """Each repo's campaign PR as GitHub serves it; fails when a template field is missing."""
    token = sim["user"]["token"]
    missing = 0
    for full in repos:
        owner, _, name = full.partition("/")
        query = urllib.parse.urlencode({"head": f"{owner}:{branch}", "state": "all"})
        pulls = _get(f"{sim['rest_url']}/repos/{owner}/{name}/pulls?{query}", token)
        if not pulls:
            print(f"{full}: no pull request from {branch}", file=sys.stderr)
            missing += 1
            continue
        pr = pulls[0]
        fields = {
            "title": pr["title"],
            "labels": ", ".join(label["name"] for label in pr["labels"]),
            "reviewers": ", ".join(
                [u["login"] for u in pr["requested_reviewers"]]
                + [f"{owner}/{t['slug']}" for t in pr["requested_teams"]]
            ),
            "assignees": ", ".join(u["login"] for u in pr["assignees"]),
            "draft": str(pr["draft"]).lower(),
        }
        print(f"{full}#{pr['number']} ({pr['state']}) {pr['html_url']}")
        for field, value in fields.items():
            print(f"  {field:<10} {value}")
        body = (pr["body"] or "").strip().splitlines()
        print(f"  {'body':<10} {body[0] if body else ''}")
        for line in body[1:]:
            print(f"  {'':<10} {line}")
        empty = [f for f in ("title", "labels", "reviewers", "assignees") if not fields[f]]
        if empty or not body:
            unset = empty or ["body"]
            print(f"{full}: template fields not set on GitHub: {unset}", file=sys.stderr)
            missing += 1
    return 1 if missing else 0


def ui_matches_status(base_url: str, campaign: str) -> int:
    status = json.load(sys.stdin)
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with browser.open(f"{base_url}/ui/sign-in", timeout=30) as response:
        form = response.read().decode()
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    if not found:
        print("the sign-in page has no CSRF token", file=sys.stderr)
        return 1
    body = urllib.parse.urlencode(
        {"token": os.environ["SHOAL_TOKEN"], "csrf_token": found.group(1), "next": "/ui/"}
    ).encode()
    with browser.open(f"{base_url}/ui/sign-in", data=body, timeout=30) as response:
        if not response.url.endswith("/ui/"):
            print(f"signing in to the UI failed: landed on {response.url}", file=sys.stderr)
            return 1
    page_url = f"{base_url}/ui/campaigns/{urllib.parse.quote(campaign)}"
    with browser.open(page_url, timeout=30) as response:
        page = response.read().decode()
    shown = {
        state: int(count)
        for count, state in re.findall(
            r'<span class="n">(\d+)</span>\s*<span class="badge state-([a-z_]+)">', page
        )
    }
    expected = {state: n for state, n in status["counts"].items() if state in shown}
    print(f"{page_url}: " + ", ".join(f"{s} {n}" for s, n in shown.items() if n))
    if not shown or {s: n for s, n in shown.items() if s in expected} != expected:
        print(f"the UI shows {shown}, shoal status says {status['counts']}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as fh:
        sim = json.loads(fh.readline())
    command, rest = argv[1], argv[2:]
    if command == "ledger-size":
        return ledger_size(sim)
    if command == "audit-matches-ledger":
        return audit_matches_ledger(sim)
    if command == "show-prs" and len(rest) >= 2:
        return show_prs(sim, rest[0], rest[1:])
    if command == "ui-matches-status" and len(rest) == 2:
        return ui_matches_status(rest[0], rest[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
