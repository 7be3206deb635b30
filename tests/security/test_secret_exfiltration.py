"""Attack: a campaign author makes a step write a secret into the change (a file, a file name, an
encoding of it), or names a secret the campaign was never given. The change must be refused
whole (nothing stored, served or published), and a secret must be granted by an admin before a
spec may name it."""

# ruff: noqa: F811 (the end-to-end fixtures are imported, then named as test arguments)
from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal.domain.auth import Role
from tests.cli.test_cli import shoal
from tests.e2e.conftest import (  # noqa: F401 (fixtures the end-to-end stack is built from)
    Stack,
    app_keys,
    make_sim,
    make_stack,
    octokit_schemas,
    work_dir,
)
from tests.e2e.publishing import publish, settled
from tests.servers import RunningApi, api_settings, running_api

# "/" and "+" make the URL-encoded form differ from the value.
SECRET = "s3cr3t/Value+42"
SECRET_FORMS = [
    SECRET.encode(),
    base64.b64encode(SECRET.encode()),
    base64.b32encode(SECRET.encode()).rstrip(b"="),
    SECRET.encode().hex().encode(),
    SECRET[::-1].encode(),
]

# Each repository gets one attack, named in its ATTACK file; the file each one writes is what
# the failure must name (with the secret masked when it is in the name).
ATTACKS: dict[str, tuple[str, str]] = {
    "raw": ("printf '%s' \"$t\" > token.txt", "token.txt"),
    "b64": ("printf '%s' \"$t\" | base64 > t.b64", "t.b64"),
    "b64url": (
        "printf 'ab%s' \"$t\" | base64 -w0 | tr '+/' '-_' | tr -d '=' > t.txt",
        "t.txt",
    ),
    "hex": ("printf '%s' \"$t\" | od -An -tx1 | tr -d ' \\n' > t.hex", "t.hex"),
    "hexupper": (
        "printf '%s' \"$t\" | od -An -tx1 | tr -d ' \\n' | tr a-f A-F > T.HEX",
        "T.HEX",
    ),
    "b32": ("printf '%s' \"$t\" | base32 > t.b32", "t.b32"),
    "rev": ("printf '%s' \"$t\" | rev > t.rev", "t.rev"),
    "url": ("printf '%s' \"$t\" | sed 's|/|%2F|g; s|+|%2B|g' > t.url", "t.url"),
    "fold": ("printf '%s\\n' \"$t\" | fold -w 3 > folded.txt", "folded.txt"),
    "gzb64": ("printf '%s' \"$t\" | gzip | base64 > t.gz.b64", "t.gz.b64"),
    "gzbin": ("{ head -c 100 /dev/zero; printf '%s' \"$t\"; } | gzip > t.gz", "t.gz"),
    "binary": ("{ printf '\\000\\001\\002'; printf '%s' \"$t\"; } > t.bin", "t.bin"),
    "name": ('f="x-$t.txt"; mkdir -p "$(dirname "$f")"; touch "$f"', "x-***.txt"),
    "hexname": (
        "touch \"$(printf '%s' \"$t\" | od -An -tx1 | tr -d ' \\n').txt\"",
        "***.txt",
    ),
}


def _world(attacks: list[str]) -> dict[str, Any]:
    return {
        "orgs": [
            {
                "login": "acme",
                "repos": [
                    {"name": name, "files": {"ATTACK": f"{name}\n", "README.md": "# x\n"}}
                    for name in attacks
                ],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {
                    "contents": "write",
                    "pull_requests": "write",
                    "metadata": "read",
                },
                "installations": [{"org": "acme"}],
            }
        ],
    }


def _spec(name: str = "leak", secrets: str = "[API_TOKEN]") -> str:
    cases = "\n".join(f"        {mode}) {script} ;;" for mode, (script, _file) in ATTACKS.items())
    return f"""\
name: {name}
on:
  - org: acme
steps:
  - name: leak
    secrets: {secrets}
    run: |
      t="$API_TOKEN"
      # The encodings the log must mask too.
      printf '%s\\n' "$t" | rev; printf '%s' "$t" | base32
      printf '%s' "$t" | od -An -tx1 | tr -d ' \\n'; echo
      case "$(cat ATTACK)" in
{cases}
        clean) echo hello > hello.txt ;;
      esac
changeset:
  title: leak
"""


def test_a_secret_written_into_the_change_fails_the_execution_and_nothing_leaves(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world([*ATTACKS, "clean"]), secrets={"API_TOKEN": SECRET})
    run = stack.preview(_spec())
    assert run["state"] == "done", run
    executions = stack.executions(run["id"])

    assert executions["acme/clean"]["state"] == "patch"
    for mode, (_script, file) in ATTACKS.items():
        execution = executions[f"acme/{mode}"]
        assert (execution["state"], execution["reason"]) == ("failed", "secret_in_patch"), (
            mode,
            execution,
        )
        assert "secret API_TOKEN" in execution["message"], mode
        assert f"file '{file}'" in execution["message"], (mode, execution["message"])

        detail = stack.get(f"/runs/{run['id']}/executions/acme/{mode}")
        assert detail["files"] == [] and detail["patch_sha256"] is None, mode
        with stack.api.client(Role.VIEWER) as http:
            patch = http.get(f"/runs/{run['id']}/executions/acme/{mode}/patch")
            log = http.get(f"/runs/{run['id']}/executions/acme/{mode}/log").content
        assert patch.status_code == 404, (mode, patch.text)
        served = json.dumps(detail).encode() + log
        assert not [form for form in SECRET_FORMS if form in served], (mode, served)

    # Only the clean repository's patch reached object storage.
    patches = [
        p for p in (stack.settings.data_dir / "objects" / "patches").rglob("*") if p.is_file()
    ]
    assert len(patches) == 1

    publish(stack, "leak")
    assert set(settled(stack, "leak")) == {"acme/clean"}
    mutations = [json.dumps(m) for m in stack.mutations()]
    assert mutations and all("acme/clean" in m for m in mutations), mutations


def test_an_ungranted_secret_fails_apply_and_a_revoked_one_fails_the_execution(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(_world(["clean"]), secrets={"API_TOKEN": SECRET})
    (stack.settings.step_secrets_dir / "ZED_TOKEN").write_text("zed-value-123")
    env = _cli_env(tmp_path)
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.ADMIN])
    spec = tmp_path / "other.yaml"
    # Written unsorted: the error points at the name as written.
    spec.write_text(_spec("other", "[ZED_TOKEN, API_TOKEN]"))

    with stack.client() as http:
        refused = http.post("/campaigns/apply", json={"spec": spec.read_text()})
    assert refused.status_code == 422, refused.text
    [issue] = refused.json()["error"]["details"]["errors"]
    assert issue["path"] == "steps[0].secrets[0]"
    assert issue["line"] == 6 and issue["column"] is not None
    assert "'ZED_TOKEN' is not granted to campaign 'other'" in issue["message"]
    assert "shoal secrets grant ZED_TOKEN --campaign other" in issue["message"]
    assert stack.get("/campaigns") == []

    by_cli = shoal(env, "apply", str(spec), check=False)
    assert by_cli.returncode == 1
    assert "steps[0].secrets[0]" in by_cli.stderr and "shoal secrets grant" in by_cli.stderr

    shoal(env, "secrets", "grant", "ZED_TOKEN", "--campaign", "other")
    shoal(env, "apply", str(spec))
    shoal(env, "secrets", "revoke", "ZED_TOKEN", "--campaign", "other")
    run = stack.wait(stack.start_preview("other")["id"])
    [execution] = stack.executions(run["id"]).values()
    assert (execution["state"], execution["reason"]) == ("failed", "secret_not_granted")
    assert "ZED_TOKEN" in execution["message"] and "zed-value-123" not in execution["message"]
    assert "shoal secrets grant" in execution["message"]
    assert stack.get(f"/runs/{run['id']}/executions/acme/clean")["steps"] == []


@pytest.fixture
def api(db_url: str, redis_url: str, tmp_path: Path) -> Iterator[RunningApi]:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "NPM_TOKEN").write_text("npm-value-9876\n")
    with running_api(api_settings(db_url, redis_url, secrets_dir=secrets_dir)) as running:
        yield running


def _cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    return env | {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}


def test_only_admins_grant_and_revoke_and_nobody_sees_a_value(
    api: RunningApi, tmp_path: Path
) -> None:
    route = "/secrets/NPM_TOKEN/grants/campaign/bump"
    for role in (Role.VIEWER, Role.OPERATOR):
        with api.client(role) as http:
            assert http.get("/secrets").status_code == 403
            assert http.put(route).status_code == 403
            assert http.delete(route).status_code == 403
    with api.client(None) as http:
        assert http.put(route).status_code == 401

    with api.client(Role.ADMIN) as http:
        first = http.put(route).json()
        again = http.put(route).json()
        by_org = http.put("/secrets/NPM_TOKEN/grants/org/Acme").json()
        bad = http.put("/secrets/9bad/grants/org/acme")
        listed = http.get("/secrets")
        revoked = http.delete(route).json()
        revoked_again = http.delete(route).json()
        events = http.get("/audit", params={"limit": 100}).json()
    assert (first["changed"], again["changed"]) == (True, False)
    assert first["grant"]["granted_by"] == "token:test-admin"
    assert (by_org["scope"], by_org["subject"]) == ("org", "acme")
    assert bad.status_code == 422 and "not a secret name" in bad.json()["error"]["message"]
    [secret] = listed.json()["secrets"]
    assert secret["name"] == "NPM_TOKEN" and secret["configured"] is True
    assert [(g["scope"], g["subject"]) for g in secret["grants"]] == [
        ("campaign", "bump"),
        ("org", "acme"),
    ]
    assert "npm-value" not in listed.text
    assert (revoked["changed"], revoked_again["changed"]) == (True, False)
    audited = [
        (e["action"], e["target"], e["details"].get("campaign") or e["details"].get("org"))
        for e in events
        if e["action"].startswith("secret.")
    ]
    assert sorted(audited) == sorted(
        [
            ("secret.grant", "secret:NPM_TOKEN", "bump"),
            ("secret.grant", "secret:NPM_TOKEN", "acme"),
            ("secret.revoke", "secret:NPM_TOKEN", "bump"),
        ]
    )

    env = _cli_env(tmp_path)
    shoal(env, "login", "--url", api.url, "--token", api.tokens[Role.OPERATOR])
    as_operator = shoal(env, "secrets", "grant", "NPM_TOKEN", "--campaign", "x", check=False)
    assert as_operator.returncode == 1 and "needs the admin role" in as_operator.stderr
    shoal(env, "login", "--url", api.url, "--token", api.tokens[Role.ADMIN])
    granted = shoal(env, "secrets", "grant", "NPM_TOKEN", "--campaign", "bump").stdout
    granted_again = shoal(env, "secrets", "grant", "NPM_TOKEN", "--campaign", "bump").stdout
    table = shoal(env, "secrets", "list").stdout
    as_json = json.loads(shoal(env, "secrets", "list", "-o", "json").stdout)
    revoked_cli = shoal(env, "secrets", "revoke", "NPM_TOKEN", "--org", "acme").stdout
    neither = shoal(env, "secrets", "grant", "NPM_TOKEN", check=False)
    both = shoal(env, "secrets", "grant", "NPM_TOKEN", "--org", "a", "--campaign", "b", check=False)
    assert "secret NPM_TOKEN granted to campaign bump" in granted
    assert "was already granted to campaign bump" in granted_again
    assert "NPM_TOKEN" in table and "campaign:bump" in table and "org:acme" in table
    assert "npm-value" not in table and "npm-value" not in json.dumps(as_json)
    assert "secret NPM_TOKEN revoked from org acme" in revoked_cli
    for refused in (neither, both):
        assert refused.returncode == 1 and "exactly one of --campaign" in refused.stderr
