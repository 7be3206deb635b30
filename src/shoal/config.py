"""Settings: every knob Shoal reads, from `SHOAL_*` variables and an optional TOML file.

Precedence, highest first: keyword arguments, environment (`SHOAL_*`), the file named by
`SHOAL_CONFIG_FILE` (TOML), then the defaults below. Values that can carry credentials are
`SecretStr`, so `repr()`, logs and error messages show `**********` instead of the value.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from shoal.domain.auth import Role
from shoal.domain.egress import (
    MAX_EGRESS_RULES,
    EgressRule,
    egress_refusal,
    normalize_cidr,
    normalize_host,
    normalize_ports,
)
from shoal.domain.errors import InvalidInputError

__all__ = [
    "AVAILABLE_EXECUTORS",
    "PROFILE_DEFAULTS",
    "EgressAllowEntry",
    "GitHubProfile",
    "Settings",
    "default_data_dir",
    "github_profile_of",
]

GitHubProfile = Literal["dotcom", "ghes"]
_T = TypeVar("_T")
_DIGEST_PINNED = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
_V = TypeVar("_V")

# The executors this version ships (`shoal.runtime.executors` builds them); the `executor`
# setting refuses the other kinds it names rather than accept a value without its effect.
AVAILABLE_EXECUTORS = frozenset({"local", "podman", "kubernetes"})

# What each GitHub profile sets when the setting itself is not given (environment, file or
# keyword). GitHub.com: its secondary limits on content creation (80 a minute, 500 an hour),
# its advice to leave 1 s between mutations, and a daily budget that keeps a campaign from
# flooding an org. GHES: rate limits are off unless its administrator turns them on, so no
# pacing of Shoal's own; whatever limits the server does enforce still reach the governor
# through `x-ratelimit-*` and `retry-after` (see docs/ghes.md).
PROFILE_DEFAULTS: dict[GitHubProfile, dict[str, int | float]] = {
    "dotcom": {
        "github_writes_per_minute": 80,
        "github_writes_per_hour": 500,
        "github_min_write_interval_s": 1.0,
        "max_prs_per_day_per_org": 150,
    },
    "ghes": {
        "github_writes_per_minute": 0,
        "github_writes_per_hour": 0,
        "github_min_write_interval_s": 0.0,
        "max_prs_per_day_per_org": 10_000,
    },
}


def github_profile_of(api_url: str) -> GitHubProfile:
    """`auto`'s answer: GHES serves its REST API under /api/v3 on the server's own host;
    everything else (api.github.com, GHE.com's api.SUBDOMAIN.ghe.com) is GitHub.com's
    service with GitHub.com's limits."""
    path = api_url.split("://", 1)[-1].partition("/")[2].rstrip("/")
    return "ghes" if path.endswith("api/v3") else "dotcom"


class EgressAllowEntry(BaseModel):
    """One entry of `egress_allow`: `{"cidr": "10.0.0.0/8", "ports": [443]}` or a `host`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cidr: str | None = None
    host: str | None = None
    ports: tuple[int, ...]

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        return None if value is None else _valid(normalize_cidr, value)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        return None if value is None else _valid(normalize_host, value)

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return _valid(normalize_ports, value)

    @model_validator(mode="after")
    def _one_destination(self) -> EgressAllowEntry:
        if (self.cidr is None) == (self.host is None):
            raise ValueError("name exactly one of cidr and host")
        return self

    def rule(self) -> EgressRule:
        return EgressRule(cidr=self.cidr, host=self.host, ports=self.ports)


def _valid(normalize: Callable[[_V], _T], value: _V) -> _T:
    try:
        return normalize(value)
    except InvalidInputError as exc:
        raise ValueError(exc.message) from None


_ROLE_NAMES = tuple(role.value for role in Role)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _ui_oidc_problem(settings: Settings) -> str | None:
    """What is wrong with the OpenID Connect settings, if anything (checked at start)."""
    issuer = settings.ui_oidc_issuer
    if issuer is None:
        return None
    problems: list[str] = []
    parts = urlsplit(issuer)
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    )
    if not parts.hostname or not secure or parts.query or parts.fragment:
        problems.append(
            f"SHOAL_UI_OIDC_ISSUER: {issuer!r} is not an https URL without query or fragment "
            "(http is allowed on a loopback address only)"
        )
    if not settings.ui_oidc_client_id:
        problems.append(
            "SHOAL_UI_OIDC_CLIENT_ID: OpenID Connect sign-in (SHOAL_UI_OIDC_ISSUER) needs the "
            "client id Shoal is registered with at the provider"
        )
    if "openid" not in settings.ui_oidc_scopes.split():
        problems.append(f"SHOAL_UI_OIDC_SCOPES: {settings.ui_oidc_scopes!r} must include `openid`")
    if not settings.ui_oidc_roles:
        problems.append(
            "SHOAL_UI_OIDC_ROLES: map at least one group to a role (e.g. "
            '\'{"shoal-admins": "admin", "*": "viewer"}\'), or nobody could sign in'
        )
    problems.extend(
        f"SHOAL_UI_OIDC_ROLES: {group!r} maps to {role!r}, which is not a role "
        f"(roles: {', '.join(_ROLE_NAMES)})"
        for group, role in settings.ui_oidc_roles.items()
        if role not in _ROLE_NAMES
    )
    if any(not group for group in settings.ui_oidc_roles):
        problems.append("SHOAL_UI_OIDC_ROLES: a group name is empty")
    return "; ".join(problems) or None


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shoal"


class Settings(BaseSettings):
    """Shoal's configuration. Field descriptions are the documentation (docs/settings.md)."""

    model_config = SettingsConfigDict(env_prefix="SHOAL_", extra="forbid", frozen=True)

    # --- state -------------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:pass@host:5432/db). Unset: an embedded "
        "PostgreSQL is started under the data dir (single-node mode).",
    )
    migration_database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the role that owns the schema, used by `shoal db "
        "upgrade` and `shoal up`'s migrations; they then grant the role of `database_url` only "
        "what the application needs (on audit_events: INSERT and SELECT). Unset: migrations "
        "run as the `database_url` role, which then owns the schema and could rewrite the "
        "audit log (see docs/security.md). Ignored with the embedded PostgreSQL, which "
        "separates the roles itself.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis URL (redis://host:6379/0). Unset: an embedded Redis is started under "
        "the data dir (single-node mode).",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory for embedded servers, the filesystem object store and caches.",
    )
    object_store: Literal["fs", "s3"] = Field(
        default="fs", description="Where patches, logs and workspaces go: `fs` or `s3`."
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint URL (unset: AWS)."
    )
    s3_bucket: str = Field(default="shoal", description="Bucket for Shoal's objects.")
    s3_region: str = Field(default="us-east-1", description="S3 region.")
    s3_access_key_id: SecretStr | None = Field(default=None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret access key."
    )

    # --- audit log ---------------------------------------------------------------------
    audit_key: SecretStr | None = Field(
        default=None,
        description="Key the audit log's hash chain is signed with (HMAC-SHA256; at least 32 "
        "characters). Wins over `audit_key_path`. Keep it outside the database: whoever holds "
        "it can rewrite the chain.",
    )
    audit_key_path: Path | None = Field(
        default=None,
        description="File holding the audit key (a mounted Secret). Default: "
        "<data_dir>/audit.key, which `shoal up` creates (mode 0600) on first start; `shoal api` "
        "and `shoal worker` refuse to start without a key.",
    )
    audit_anchor_interval_s: float = Field(
        default=600.0,
        gt=0,
        description="How often the worker leader anchors the audit chain's head (id, hash, "
        "event count, time) in object storage and the log, when it moved since the last anchor.",
    )

    # --- secrets at rest -----------------------------------------------------------------
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Key-encryption keys for secrets Shoal stores (step secrets set over the API, "
        "cached installation tokens, a sealed webhook secret): comma-separated `name:key`, each "
        "key 32 random bytes in base64 (`openssl rand -base64 32`). The first encrypts, all "
        "decrypt: to rotate, put a new key first, keep the old ones until `shoal admin "
        "reencrypt` has run. Wins over `encryption_keys_path`.",
    )
    encryption_keys_path: Path | None = Field(
        default=None,
        description="File holding the key-encryption keys, one `name:key` a line, first line "
        "encrypts (a mounted Secret). Default: <data_dir>/encryption.keys, which `shoal up` "
        "creates (mode 0600) on first start; `shoal api`, `shoal worker` and `shoal admin` "
        "refuse to start without keys.",
    )

    # --- API ---------------------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Address the API server binds to.")
    api_port: int = Field(default=8420, ge=1, le=65535, description="Port of the API server.")
    public_url: str | None = Field(
        default=None,
        description="URL users and runners reach the API at (default http://api_host:api_port).",
    )
    api_max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="Largest request body the API reads (counted while it streams in); a "
        "larger one is answered 413 `payload_too_large`. Spec routes use "
        "`api_max_spec_body_bytes`.",
    )
    api_max_spec_body_bytes: int = Field(
        default=4 << 20,
        ge=1024,
        description="Largest body of the routes that take a spec (`/campaigns/apply`, "
        "`/campaigns/plan`, `/specs/validate`, and the web UI's spec editor posts): room for "
        "a spec at its 1 MiB limit, JSON-escaped or form-encoded.",
    )

    # --- Web UI ------------------------------------------------------------------------
    ui_session_hours: float = Field(
        default=12,
        gt=0,
        le=24 * 30,
        description="How long a browser stays signed in to the web UI (sign-in with an API "
        "token or OpenID Connect). A session made from an API token also ends when the token "
        "is revoked or expires.",
    )
    ui_live_max_streams: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="At most this many live-update streams (Server-Sent Events of the web UI's "
        "campaign pages) per API process; beyond it a page gets 503 and its browser retries.",
    )
    ui_live_lifetime_s: float = Field(
        default=300,
        gt=0,
        le=86_400,
        description="A live-update stream closes after this many seconds; the browser "
        "reconnects by itself (so a stream never outlives a deploy or a session by long).",
    )
    ui_live_session_check_s: float = Field(
        default=10,
        gt=0,
        le=3600,
        description="How often a live-update stream checks that its session is still signed in "
        "(a revoked token or a sign-out stops its streams within this many seconds).",
    )
    ui_secure_cookies: bool | None = Field(
        default=None,
        description="Mark the UI's cookies Secure (sent over HTTPS only). Default: on when "
        "`public_url` starts with https://.",
    )
    ui_oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer URL (e.g. https://login.example.com/realms/eng) for "
        "signing in to the web UI; its `/.well-known/openid-configuration` is read for the "
        "endpoints and keys. https, or http on a loopback address only. Unset: sign-in with an "
        "API token only. See docs/ui/sign-in.md.",
    )
    ui_oidc_client_id: str | None = Field(
        default=None,
        description="Client id Shoal has at the OpenID Connect provider (required with "
        "`ui_oidc_issuer`). Its redirect URI there: `<public_url>/ui/sign-in/oidc/callback`.",
    )
    ui_oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="Client secret Shoal authenticates to the provider's token endpoint with, "
        "as is or sealed (`shoal:v1:...` from `shoal admin seal-setting "
        "ui_oidc_client_secret`). Unset: a public client (PKCE only).",
    )
    ui_oidc_scopes: str = Field(
        default="openid profile email",
        description="Scopes asked of the provider, space-separated (must include `openid`; add "
        "the one that releases the role claim if the provider needs it, e.g. `groups`).",
    )
    ui_oidc_display_name: str = Field(
        default="single sign-on",
        min_length=1,
        max_length=60,
        description="Name on the sign-in page's button (`Sign in with <name>`).",
    )
    ui_oidc_username_claim: str = Field(
        default="preferred_username",
        min_length=1,
        description="ID token claim that names the user (the principal is `oidc:<value>`); "
        "when the token lacks it, `email`, then `sub`.",
    )
    ui_oidc_role_claim: str = Field(
        default="groups",
        min_length=1,
        description="ID token claim holding the user's groups (a list of strings, or one "
        "string) that `ui_oidc_roles` maps to roles.",
    )
    ui_oidc_roles: dict[str, str] = Field(
        default_factory=dict,
        description="Which role each group of `ui_oidc_role_claim` gets, as JSON, e.g. "
        '`{"shoal-admins": "admin", "platform": "operator", "*": "viewer"}`; `*` matches '
        "everyone the provider signs in. The highest role matched wins; a user matching no "
        "entry is refused. Required with `ui_oidc_issuer`.",
    )

    # --- GitHub ------------------------------------------------------------------------
    github_api_url: str = Field(
        default="https://api.github.com",
        description="REST base URL: https://api.github.com, or https://HOST/api/v3 for GHES.",
    )
    github_graphql_url: str | None = Field(
        default=None,
        description="GraphQL URL (default derived from github_api_url: /graphql or /api/graphql).",
    )
    github_git_url: str | None = Field(
        default=None,
        description="Base URL for git over HTTPS (default derived from github_api_url: "
        "https://github.com, or https://HOST for GHES).",
    )
    github_app_id: int | None = Field(default=None, description="GitHub App id.")
    github_private_key: SecretStr | None = Field(
        default=None, description="GitHub App private key (PEM text)."
    )
    github_private_key_path: Path | None = Field(
        default=None, description="File holding the GitHub App private key (PEM)."
    )
    github_max_concurrency: int = Field(
        default=20,
        ge=1,
        le=100,
        description="Requests in flight per installation, across all workers (GitHub allows 100).",
    )
    github_max_wait_s: float = Field(
        default=30.0,
        ge=0,
        description="Longest a worker thread waits for the rate governor before its task is "
        "requeued for later instead.",
    )
    github_profile: Literal["auto", "dotcom", "ghes"] = Field(
        default="auto",
        description="Which GitHub Shoal talks to, for the defaults of write pacing and budgets "
        "(the settings marked 'by profile'): `dotcom` (GitHub.com's secondary limits and 1 s "
        "between mutations), `ghes` (GitHub Enterprise Server, whose rate limits are off by "
        "default: no pacing of Shoal's own), or `auto`: `ghes` when `github_api_url` ends in "
        "/api/v3, else `dotcom`. A setting given explicitly wins over its profile default; "
        "limits GitHub reports (`x-ratelimit-*`, `retry-after`) are honoured under both. "
        "See docs/ghes.md.",
    )
    github_writes_per_minute: int = Field(
        default=80,
        ge=0,
        description="Content-creating requests per installation per minute (GitHub.com's "
        "secondary limit is 80; GHES administrators may set their own). 0: no cap.",
    )
    github_writes_per_hour: int = Field(
        default=500,
        ge=0,
        description="Content-creating requests per installation per hour (GitHub.com: 500). "
        "0: no cap.",
    )
    github_min_write_interval_s: float = Field(
        default=1.0,
        ge=0,
        description="Least time between two mutations of one installation (GitHub.com asks "
        "for 1 s). 0: none.",
    )
    max_mutations_in_flight_per_org: int = Field(
        default=4,
        ge=1,
        le=100,
        description="Changesets of one org (one App installation) writing to GitHub at the same "
        "time, across all workers: a push, or a PR and the requests that complete it.",
    )
    publish_label_color: str = Field(
        default="5319e7",
        pattern=r"^#?[0-9A-Fa-f]{6}$",
        description="Color (six hex digits) of the labels Shoal creates in a repository that "
        "lacks a label a campaign sets; labels that exist keep theirs.",
    )
    publish_check_branch_rules: bool = Field(
        default=True,
        description="Before pushing a campaign branch, ask GitHub for the rules that apply to it "
        "(rules/branches) and fail the changeset if they require a pull request, checks or "
        "deployments; off, only the push's own refusal tells.",
    )
    publish_branch_rules_max_age_s: float = Field(
        default=600.0,
        ge=0,
        description="How long what GitHub's rules said about a campaign branch in one org (the "
        "rules of the org's and enterprise's rulesets) is trusted for the org's other "
        "repositories, which are then pushed without asking again; a push GitHub refuses for a "
        "rule makes every repository be asked again for this long. 0: ask for each repository.",
    )
    publish_store_max_bytes: int = Field(
        default=512 << 20,
        ge=0,
        description="Bytes of fetched base commits a worker process keeps for later publishes "
        "on the same base (the least recently used go first once over; a base in use is "
        "never evicted). 0: keep none past the publishes using it.",
    )
    publish_store_max_age_s: float = Field(
        default=3600.0,
        ge=0,
        description="A fetched base no publish used for this long is evicted from the "
        "worker's store (checked whenever a publish starts or ends).",
    )
    github_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret GitHub signs webhook deliveries with (the GitHub App's webhook "
        "secret), as is or sealed (`shoal:v1:...` from `shoal admin seal-setting "
        "github_webhook_secret`, opened at start with the encryption keys). Unset: "
        "`POST /api/v1/github/webhooks` refuses every delivery (503).",
    )
    github_webhook_max_body_bytes: int = Field(
        default=25 << 20,
        ge=1024,
        description="Largest webhook delivery the API reads (GitHub caps payloads at 25 MiB); "
        "a larger one is answered 413 and nothing of it is stored.",
    )
    github_webhook_inline_payload_bytes: int = Field(
        default=1 << 20,
        ge=0,
        description="Webhook payloads up to this size are kept in PostgreSQL with their "
        "delivery; larger ones go to object storage (`webhooks/<delivery>.json`).",
    )
    retention_log_days: float = Field(
        default=30.0,
        gt=0,
        description="Execution logs (`logs/` objects) are deleted this many days after their "
        "execution finished; the execution's row, its log tail and its step reports stay.",
    )
    retention_patch_days: float = Field(
        default=30.0,
        gt=0,
        description="Patches (`patches/` objects) are deleted this many days after the last "
        "execution that produced them finished, unless a changeset still needs them "
        "(docs/operations.md, Retention).",
    )
    retention_workspace_days: float = Field(
        default=30.0,
        gt=0,
        description="Cached base tarballs (`workspaces/` objects) are deleted this many days "
        "after they were written; a later execution fetches the commit again.",
    )
    retention_task_days: float = Field(
        default=30.0,
        gt=0,
        description="Finished tasks (done or dead) are deleted from the queue this many days "
        "after they finished.",
    )
    retention_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="How often the worker leader runs a retention pass.",
    )
    retention_batch_size: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Rows or objects a retention pass deletes per batch (one transaction).",
    )
    retention_pass_budget_s: float = Field(
        default=60.0,
        gt=0,
        description="A retention pass starts no new batch after this long; the rest waits "
        "for the next pass.",
    )
    github_webhook_retention_days: float = Field(
        default=30.0,
        gt=0,
        description="How long received webhook deliveries (and their payloads) are kept; the "
        "catch-up duty deletes older ones.",
    )
    github_webhook_catchup_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="How often the worker leader lists the App's recent webhook deliveries "
        "(`GET /app/hook/deliveries`) and asks GitHub to redeliver the ones Shoal never "
        "received.",
    )
    github_webhook_catchup_window_s: float = Field(
        default=3 * 3600.0,
        gt=0,
        description="How far back the catch-up looks at the App's deliveries (GitHub keeps "
        "them 3 days).",
    )
    github_webhook_catchup_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="A delivery younger than this is left alone by the catch-up: a failed "
        "attempt that recent may still be redelivered by hand or be in flight.",
    )
    github_webhook_max_redeliveries: int = Field(
        default=3,
        ge=0,
        description="Redeliveries the catch-up asks for one delivery before giving up on it "
        "(the periodic sync still reads the pull requests it concerned).",
    )

    # --- task queue and workers --------------------------------------------------------
    worker_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Tasks one worker process runs at the same time, besides its "
        "webhook lane and the slot it keeps for the periodic sync.",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="`shoal worker` serves Prometheus metrics on this port (unset: none).",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the worker's metrics port binds to (0.0.0.0 in a pod).",
    )
    task_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Attempts before a task is dead-lettered."
    )
    task_backoff_base_s: float = Field(
        default=2.0, gt=0, description="First retry delay; doubles with every attempt."
    )
    task_backoff_max_s: float = Field(
        default=600.0, gt=0, description="Longest retry delay (before jitter)."
    )
    task_stall_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="A running task whose heartbeat is older than this is taken back from its "
        "(presumed dead) worker.",
    )
    task_heartbeat_s: float = Field(
        default=15.0, gt=0, description="How often a worker refreshes its tasks' heartbeat."
    )
    task_poll_s: float = Field(
        default=0.5, gt=0, description="Idle workers look for new tasks this often."
    )

    # --- selection and execution -------------------------------------------------------
    selection_max_age_s: float = Field(
        default=300.0,
        ge=0,
        description="A source's repository list fetched by an earlier run within this many "
        "seconds is reused instead of asking GitHub again (0: always fetch).",
    )
    executor: Literal["local", "podman", "kubernetes"] = Field(
        default="local",
        description="Where steps run: `local` (a bubblewrap sandbox on the worker's machine, "
        "with its tools; a step that names an `image` is refused); `podman` (each step in a "
        "container of its image under podman on the worker's machine, see docs/executors.md); "
        "`kubernetes` (one Job per execution in the runner namespace, each step an init "
        "container of its image pinned by digest, see docs/executors.md).",
    )
    egress_allow: list[EgressAllowEntry] = Field(
        default_factory=list,
        max_length=MAX_EGRESS_RULES,
        description="Network destinations every campaign's steps may reach, as JSON: "
        '`[{"cidr": "10.20.0.0/16", "ports": [443]}, {"host": "proxy.acme.dev", "ports": '
        "[3128]}]`. Empty (the default): steps reach no network unless a spec's `egress.allow` "
        "names a destination. The Kubernetes executor allows CIDRs only.",
    )
    podman_storage_dir: Path | None = Field(
        default=None,
        description="The podman executor's image store (images and container layers), which "
        "scripts/build-images.sh builds into. Default: <data_dir>/podman.",
    )
    podman_step_image: str = Field(
        default="localhost/shoal/step:latest",
        min_length=1,
        max_length=255,
        description="With the podman executor, the image of steps that name none "
        "(scripts/build-images.sh builds it).",
    )
    # --- the kubernetes executor ----------------------------------------------------------
    kubernetes_api_url: str | None = Field(
        default=None,
        description="Kubernetes API server the worker creates runner Jobs through. Unset: the "
        "in-cluster configuration (the worker pod's service account).",
    )
    kubernetes_token_path: Path | None = Field(
        default=None,
        description="File holding the bearer token for `kubernetes_api_url` (re-read on every "
        "new connection). Unset with an API URL: no token.",
    )
    kubernetes_ca_path: Path | None = Field(
        default=None,
        description="CA bundle that signs the certificate of `kubernetes_api_url`.",
    )
    kubernetes_namespace: str = Field(
        default="shoal-runners",
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="Namespace of the runner Jobs, their Secrets and NetworkPolicies. The worker "
        "needs RBAC there for Jobs, Pods, pods/log and Secrets (docs/executors.md).",
    )
    kubernetes_service_account: str = Field(
        default="shoal-runner",
        pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        description="Service account of the runner pods (its token is never mounted).",
    )
    kubernetes_runner_image: str | None = Field(
        default=None,
        description="Shoal's image, pinned by digest (`registry/shoal@sha256:...`): the runner "
        "containers that fetch the workspace and upload the result.",
    )
    kubernetes_step_image: str | None = Field(
        default=None,
        description="Image, pinned by digest, for the steps that name none (a base image with "
        "a POSIX shell and the tools your steps use).",
    )
    kubernetes_artifact_url: str | None = Field(
        default=None,
        description="URL the runner pods reach Shoal's API (the artifact proxy) at, e.g. "
        "http://shoal-api.shoal.svc:8420. Default: the API's own URL (`public_url`).",
    )
    kubernetes_artifact_cidr: str | None = Field(
        default=None,
        description="Address block of the API pods the runner NetworkPolicy lets pods reach "
        "(with `kubernetes_artifact_port`); unset, the policy selects the API pods by the "
        "labels `kubernetes_api_pod_labels` in namespace `kubernetes_api_namespace`.",
    )
    kubernetes_artifact_port: int = Field(
        default=8420, ge=1, le=65535, description="TCP port of the API pods (the artifact proxy)."
    )
    kubernetes_api_namespace: str = Field(
        default="shoal",
        description="Namespace of the API pods, for the runner NetworkPolicy.",
    )
    kubernetes_api_pod_labels: dict[str, str] = Field(
        default_factory=lambda: {
            "app.kubernetes.io/name": "shoal",
            "app.kubernetes.io/component": "api",
        },
        description="Labels of the API pods, for the runner NetworkPolicy (JSON object).",
    )
    kubernetes_cpu_request: str = Field(default="250m", description="CPU request per container.")
    kubernetes_cpu_limit: str = Field(default="2", description="CPU limit per container.")
    kubernetes_memory_request: str = Field(
        default="256Mi", description="Memory request per container."
    )
    kubernetes_runner_memory_bytes: int = Field(
        default=1 << 30,
        ge=64 << 20,
        description="Memory limit of the runner containers (fetch, diff, upload). A step's "
        "memory limit is `step_memory_bytes`; past it the container is OOMKilled "
        "(`memory_limit_exceeded`).",
    )
    kubernetes_ephemeral_storage_bytes: int = Field(
        default=1 << 30,
        ge=64 << 20,
        description="Ephemeral storage each container may use besides the volumes (requests "
        "and limits); the volumes are sized by `max_workspace_disk_bytes`.",
    )
    kubernetes_output_volume_bytes: int = Field(
        default=256 << 20,
        ge=16 << 20,
        description="Size of the volume holding the steps' recorded output: a step printing "
        "more than this (all steps together) gets the pod evicted (`pod_evicted`).",
    )
    kubernetes_job_ttl_s: int = Field(
        default=3600,
        ge=0,
        description="ttlSecondsAfterFinished of the runner Jobs: how long a finished Job the "
        "worker has not deleted yet (it deletes each once its result is stored) stays.",
    )
    kubernetes_job_overhead_s: int = Field(
        default=600,
        ge=60,
        description="Time a Job may take besides its steps (scheduling, image pulls, fetch, "
        "diff, upload): activeDeadlineSeconds is the steps' total time plus this.",
    )
    kubernetes_max_jobs_per_run: int = Field(
        default=50,
        ge=1,
        description="Runner Jobs of one run that may exist at once, across all workers; an "
        "execution past it waits (its task is requeued) until one finishes.",
    )
    kubernetes_pod_check_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Length of one watch request on a running Job, after which the worker "
        "looks at its pod (an image that cannot be pulled fails the execution then, not at "
        "the deadline) and watches again; also how often a full run's cap is counted again.",
    )
    execution_parallelism: int = Field(
        default=4, ge=1, le=256, description="Executions one worker runs at the same time."
    )
    secrets_dir: Path | None = Field(
        default=None,
        description="Directory with one file per step secret, named by the secret (a mounted "
        "Kubernetes Secret). Default: <data_dir>/secrets.",
    )
    work_dir: Path | None = Field(
        default=None,
        description="Scratch space for workspaces. Sandboxed steps (uid 65534) must be able to "
        "traverse its parents, so it must not sit under a private directory such as /root. "
        "Default: shoal-work in the system temp dir.",
    )
    max_patch_bytes: int = Field(
        default=10 << 20, ge=1024, description="A larger patch fails with `diff_too_large`."
    )
    max_binary_file_bytes: int = Field(
        default=5 << 20,
        ge=0,
        description="A changed binary file larger than this fails with `binary_too_large`.",
    )
    max_step_output_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="Output kept per step (head and tail); the rest is counted and dropped.",
    )
    max_workspace_bytes: int = Field(
        default=512 << 20,
        ge=1024,
        description="Largest repository tarball fetched for a workspace.",
    )
    max_workspace_disk_bytes: int = Field(
        default=2 << 30,
        ge=1 << 20,
        description="Disk quota of one workspace: what its tarball may expand to (checked "
        "while extracting; past it `workspace_too_large`) and what steps may grow it to (past "
        "it `disk_quota_exceeded`). When the worker runs as root the workspace is a tmpfs of "
        "this size, so its files are held in memory.",
    )
    max_workspace_files: int = Field(
        default=200_000,
        ge=100,
        description="Most files (and directories) one workspace may hold, from its tarball "
        "(`workspace_too_large`) and after each step (`disk_quota_exceeded`).",
    )
    step_memory_bytes: int = Field(
        default=4 << 30,
        ge=64 << 20,
        description="Memory of one step: the address-space limit of each of its processes and, "
        "where the worker can create memory cgroups, of all of them together (past it "
        "`memory_limit_exceeded`). Also the memory limit of the worker's git on the result.",
    )
    max_total_step_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Time all steps of one execution may run together, whatever their own "
        "timeouts; past it the running step is killed (`step_timeout`).",
    )
    max_diff_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Time the worker's git may take to record a workspace's change (stage, "
        "summarize, write the patch); past it `diff_too_large`.",
    )
    max_execution_log_bytes: int = Field(
        default=8 << 20,
        ge=64 << 10,
        description="Log kept per execution (all steps); past it the log says it was cut. Also "
        "the largest log a runner may upload through the artifact proxy.",
    )
    execution_token_ttl_s: float | None = Field(
        default=None,
        gt=0,
        description="How long an execution token (what a runner holds to fetch its workspace "
        "and upload its results through the API) stays valid after it is minted; it is "
        "revoked when the execution finishes. Default: the execution's deadline "
        "(max_total_step_seconds + max_diff_seconds) plus 10 minutes.",
    )

    # --- publishing --------------------------------------------------------------------
    max_prs_per_day_per_org: int = Field(
        default=150,
        ge=1,
        le=100_000,
        description="Default publish budget: new PRs per org per day (`shoal budgets set` "
        "overrides it per org).",
    )
    budget_timezone: str = Field(
        default="UTC", description="Time zone of the budget day (an IANA name, e.g. Europe/Berlin)."
    )
    budget_day_starts_at: time = Field(
        default=time(0),
        description="Local time (in `budget_timezone`) at which a budget day starts and the "
        "per-org budgets refill, e.g. 06:00.",
    )
    base_moved_min_interval_s: float = Field(
        default=3600.0,
        ge=0,
        description="Under a spec's `policy.drift.base_moved: overwrite`, a PR's steps run "
        "again on its moved base at most once per this long (a busy base branch is taken up "
        "at its latest tip, not at every commit). The default for `policy.base_moved_interval`"
        ", and the shortest a spec may ask for.",
    )

    # --- periodic sync -----------------------------------------------------------------
    sync_tick_s: float = Field(
        default=30.0,
        gt=0,
        description="How often the worker leader looks for published PRs due for a sync and "
        "queues their reads (`changeset.sync` tasks).",
    )
    sync_min_interval_s: float = Field(
        default=120.0,
        gt=0,
        description="Shortest time between two syncs of one PR (a PR that just changed).",
    )
    sync_max_interval_s: float = Field(
        default=600.0,
        gt=0,
        description="Longest time between two syncs of one PR (an idle or closed one): how "
        "late, at most, a change GitHub never announced reaches Shoal. Also how long a queued "
        "sync may wait before the PR is queued again. 5,000 open PRs read this often cost "
        "about 1,200 of an installation's 5,000 GraphQL points an hour.",
    )
    sync_idle_fraction: float = Field(
        default=0.25,
        gt=0,
        description="A PR is synced again after this fraction of the time since it last "
        "changed, within `sync_min_interval_s` and `sync_max_interval_s`: recently active PRs "
        "are read more often than idle ones.",
    )
    sync_batch_size: int = Field(
        default=100,
        ge=1,
        le=100,
        description="PRs per sync task, read with one GraphQL query (`nodes(ids:)`; GitHub "
        "takes at most 100 ids).",
    )

    # --- testing ---------------------------------------------------------------------
    clock_speed: float = Field(
        default=1.0,
        gt=0,
        description="Run Shoal's clock this many times faster than real time, to match the "
        "GitHub simulator's sped-up clock in benchmarks and tests. Never in production.",
    )

    # --- logging -----------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Least severe log level written."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="`json`, `console`, or `auto` (console on a TTY, else JSON)."
    )

    @field_validator("kubernetes_artifact_cidr")
    @classmethod
    def _artifact_cidr(cls, value: str | None) -> str | None:
        return None if value is None else _valid(normalize_cidr, value)

    @model_validator(mode="after")
    def _kubernetes_images(self) -> Settings:
        if self.executor != "kubernetes":
            return self
        for name in ("kubernetes_runner_image", "kubernetes_step_image"):
            image = getattr(self, name)
            if image is None or not _DIGEST_PINNED.match(image):
                raise ValueError(
                    f"SHOAL_{name.upper()}: the kubernetes executor needs it pinned by digest "
                    "('registry/name@sha256:<64 hex digits>'), so every pod runs the same image"
                )
        return self

    @model_validator(mode="after")
    def _ui_oidc(self) -> Settings:
        problem = _ui_oidc_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _egress_enforceable(self) -> Settings:
        refusal = egress_refusal((entry.rule() for entry in self.egress_allow), self.executor)
        if refusal is not None:
            raise ValueError(f"SHOAL_EGRESS_ALLOW: {refusal}")
        return self

    @field_validator("executor")
    @classmethod
    def _executor_available(cls, value: str) -> str:
        if value not in AVAILABLE_EXECUTORS:
            available = ", ".join(sorted(AVAILABLE_EXECUTORS))
            raise ValueError(
                f"the {value} executor is not supported yet in this version of Shoal "
                f"(available: {available})"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, data: object) -> object:
        """Fill the settings the sources left unset with their profile's defaults, before
        validation: what the environment, the file or a keyword gives always wins."""
        if not isinstance(data, dict):
            return data
        profile = data.get("github_profile", "auto")
        if profile not in ("dotcom", "ghes"):
            if profile != "auto":
                return data  # validation names the bad value
            api_url = data.get("github_api_url") or cls.model_fields["github_api_url"].default
            profile = github_profile_of(str(api_url))
        unset = {k: v for k, v in PROFILE_DEFAULTS[profile].items() if data.get(k) is None}
        return {**data, **unset}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("SHOAL_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @property
    def github_profile_in_effect(self) -> GitHubProfile:
        """The profile the defaults came from (`auto` resolved)."""
        if self.github_profile == "auto":
            return github_profile_of(self.github_api_url)
        return self.github_profile

    @property
    def github_profile_overrides(self) -> dict[str, int | float]:
        """The settings marked 'by profile' whose value is not their profile's default."""
        defaults = PROFILE_DEFAULTS[self.github_profile_in_effect]
        return {k: getattr(self, k) for k, v in defaults.items() if getattr(self, k) != v}

    @property
    def git_url(self) -> str:
        if self.github_git_url:
            return self.github_git_url.rstrip("/")
        api = self.github_api_url.rstrip("/")
        if api == "https://api.github.com":
            return "https://github.com"
        return api.removesuffix("/api/v3")

    @property
    def execution_token_lifetime_s(self) -> float:
        if self.execution_token_ttl_s is not None:
            return self.execution_token_ttl_s
        return self.max_total_step_seconds + self.max_diff_seconds + 600.0

    @property
    def workspace_root(self) -> Path:
        return self.work_dir or Path(tempfile.gettempdir()) / "shoal-work"

    @property
    def podman_store(self) -> Path:
        return self.podman_storage_dir or self.data_dir / "podman"

    @property
    def step_secrets_dir(self) -> Path:
        return self.secrets_dir or self.data_dir / "secrets"

    @property
    def audit_key_file(self) -> Path:
        return self.audit_key_path or self.data_dir / "audit.key"

    @property
    def encryption_keys_file(self) -> Path:
        return self.encryption_keys_path or self.data_dir / "encryption.keys"

    @property
    def api_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"
