"""Signing in to the web UI with OpenID Connect: the authorization code flow with PKCE, a
nonce and a state, and the ID token checked before a session is made.

`begin` keeps what the callback needs (nonce, PKCE verifier, where to go next) in Redis under
the state's sha256 for ten minutes and returns the provider's authorization URL; the page binds
the state to the browser with a short-lived cookie. `finish` takes the pending sign-in once
(a replayed or forged state finds nothing), exchanges the code at the token endpoint, checks the
ID token (signature against the provider's JWKS, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`,
`at_hash`) and maps its role claim to a role. Every refusal is an `OidcRefused` whose text says
what happened and how to fix it, and never holds the client secret, the code or a token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import structlog
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    InvalidTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from shoal.config import Settings
from shoal.crypto import open_setting
from shoal.domain.auth import Role
from shoal.services import ui_sessions
from shoal.services.context import AppContext

__all__ = [
    "PENDING_SECONDS",
    "Identity",
    "OidcProvider",
    "OidcRefused",
    "Pending",
    "begin",
    "check_id_token",
    "discard_pending",
    "finish",
    "identify",
    "provider_for",
    "role_for",
    "take_pending",
    "username_for",
]

log = structlog.get_logger("shoal.ui.oidc")

PENDING_SECONDS = 600
HTTP_TIMEOUT_S = 10.0
MAX_DOCUMENT_BYTES = 256 * 1024
METADATA_TTL_S = 3600.0
JWKS_REFRESH_MIN_S = 60.0
CLOCK_LEEWAY_S = 60
# Asymmetric algorithms only: an ID token signed with the client secret (HS256) or unsigned is
# refused whatever the provider's metadata offers.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                      "ES512", "EdDSA")  # fmt: skip
_PENDING_KEY = "shoal:ui:oidc:pending:"
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?")


class OidcRefused(Exception):
    """A sign-in that did not happen: `problem` says what went wrong, `fix` what to do."""

    def __init__(self, problem: str, fix: str, *, status: int = 400, reason: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.status = status
        self.reason = reason or "refused"


@dataclass(frozen=True, slots=True)
class Identity:
    username: str
    role: Role
    issuer: str
    subject: str
    matched: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Pending:
    nonce: str
    verifier: str
    next_url: str


@dataclass
class OidcProvider:
    """One configured provider: its settings, and its metadata and keys once fetched."""

    issuer: str
    client_id: str
    client_secret: str | None = field(repr=False)
    scopes: str
    display_name: str
    username_claim: str
    role_claim: str
    roles: dict[str, Role]
    _metadata: dict[str, Any] | None = field(default=None, repr=False)
    _metadata_at: float = 0.0
    _keys: KeySet | None = field(default=None, repr=False)
    _keys_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def form_action_sources(self) -> list[str]:
        """Origins the sign-in form's redirect goes to (the page's CSP `form-action` must list
        them): the issuer's, and the authorization endpoint's once the metadata is known."""
        urls = [self.issuer]
        if self._metadata is not None:
            urls.append(str(self._metadata["authorization_endpoint"]))
        origins = []
        for url in urls:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            if _ORIGIN.fullmatch(origin) and origin not in origins:
                origins.append(origin)
        return origins

    # --- the provider's documents ------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at > METADATA_TTL_S:
                url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                document = _get_json(url, what="its discovery document")
                self._metadata = _checked_metadata(document, self.issuer)
                self._metadata_at = time.monotonic()
            return self._metadata

    def keys(self, kid: str | None) -> KeySet:
        """The provider's signing keys; fetched again (at most once a minute) when a token names
        a key the cached set lacks, which is how a provider's key rotation shows."""
        metadata = self.metadata()
        with self._lock:
            stale = self._keys is None or (
                kid is not None
                and not any(key.kid == kid for key in self._keys.keys)
                and time.monotonic() - self._keys_at > JWKS_REFRESH_MIN_S
            )
            if stale:
                document = _get_json(str(metadata["jwks_uri"]), what="its signing keys (JWKS)")
                try:
                    self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError) as exc:
                    raise _provider_broken(f"its signing keys (JWKS) are unusable: {exc}") from None
                self._keys_at = time.monotonic()
            assert self._keys is not None
            return self._keys


def provider_for(settings: Settings, ctx: AppContext | None = None) -> OidcProvider | None:
    """The provider the settings configure, or None when OpenID Connect sign-in is off."""
    if settings.ui_oidc_issuer is None or settings.ui_oidc_client_id is None:
        return None
    secret = settings.ui_oidc_client_secret
    if secret is not None and ctx is not None:
        client_secret = open_setting(ctx.keyring, "ui_oidc_client_secret", secret)
    else:
        client_secret = None if secret is None else secret.get_secret_value()
    return OidcProvider(
        issuer=settings.ui_oidc_issuer,
        client_id=settings.ui_oidc_client_id,
        client_secret=client_secret or None,
        scopes=settings.ui_oidc_scopes,
        display_name=settings.ui_oidc_display_name,
        username_claim=settings.ui_oidc_username_claim,
        role_claim=settings.ui_oidc_role_claim,
        roles={group: Role(role) for group, role in settings.ui_oidc_roles.items()},
    )


# --- the flow ----------------------------------------------------------------------------
def begin(
    ctx: AppContext, provider: OidcProvider, *, redirect_uri: str, next_url: str
) -> tuple[str, str]:
    """Start a sign-in: returns (the provider's authorization URL, the state)."""
    metadata = provider.metadata()
    state = secrets.token_urlsafe(32)
    pending = Pending(
        nonce=secrets.token_urlsafe(32), verifier=secrets.token_urlsafe(48), next_url=next_url
    )
    ctx.redis.set(
        _pending_key(state),
        json.dumps({"nonce": pending.nonce, "verifier": pending.verifier, "next": next_url}),
        ex=PENDING_SECONDS,
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": redirect_uri,
            "scope": provider.scopes,
            "state": state,
            "nonce": pending.nonce,
            "code_challenge": create_s256_code_challenge(pending.verifier),
            "code_challenge_method": "S256",
        }
    )
    endpoint = str(metadata["authorization_endpoint"])
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", state


def take_pending(ctx: AppContext, state: str) -> Pending:
    """The sign-in this state started, removed so it serves once (OidcRefused if none)."""
    raw: bytes | None = None
    if state and len(state) <= 100:
        # GET and DEL in one transaction (GETDEL needs Redis 6.2): of two callbacks racing
        # with the same state, only the one whose DEL removed the key goes on.
        with ctx.redis.pipeline(transaction=True) as pipe:
            pipe.get(_pending_key(state))
            pipe.delete(_pending_key(state))
            found, deleted = pipe.execute()
        raw = found if deleted == 1 else None
    if raw is None:
        raise OidcRefused(
            "this sign-in is not one Shoal started, was already used, or is older than "
            f"{PENDING_SECONDS // 60} minutes",
            "start again from the sign-in page",
            reason="unknown_state",
        )
    data = json.loads(raw)
    return Pending(nonce=data["nonce"], verifier=data["verifier"], next_url=data["next"])


def discard_pending(ctx: AppContext, state: str) -> None:
    ctx.redis.delete(_pending_key(state))


def finish(
    ctx: AppContext, provider: OidcProvider, *, pending: Pending, code: str, redirect_uri: str
) -> ui_sessions.SignedIn:
    """Exchange the code, check the ID token, map the role and make the session."""
    identity = identify(provider, pending=pending, code=code, redirect_uri=redirect_uri)
    signed = ui_sessions.sign_in_identity(
        ctx,
        principal=f"oidc:{identity.username}",
        role=identity.role,
        details={
            "issuer": identity.issuer,
            "subject": identity.subject,
            "groups_matched": list(identity.matched),
        },
    )
    log.info(
        "ui_oidc_signed_in",
        principal=f"oidc:{identity.username}",
        role=identity.role.value,
        issuer=identity.issuer,
    )
    return signed


def identify(provider: OidcProvider, *, pending: Pending, code: str, redirect_uri: str) -> Identity:
    tokens = _exchange(provider, pending=pending, code=code, redirect_uri=redirect_uri)
    claims = check_id_token(
        provider,
        tokens.get("id_token"),
        nonce=pending.nonce,
        access_token=tokens.get("access_token"),
    )
    username = username_for(claims, provider.username_claim)
    role, matched = role_for(claims.get(provider.role_claim), provider.roles)
    if role is None:
        log.warning("ui_oidc_refused", reason="no_role", principal=f"oidc:{username}")
        raise OidcRefused(
            f"the provider signed you in as {username}, but none of your "
            f"{provider.role_claim} gives a role in Shoal",
            "ask a Shoal admin to map one of your groups to a role (setting ui_oidc_roles), "
            "or to add you to a group that has one",
            status=403,
            reason="no_role",
        )
    return Identity(
        username=username,
        role=role,
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        matched=matched,
    )


def _exchange(
    provider: OidcProvider, *, pending: Pending, code: str, redirect_uri: str
) -> dict[str, Any]:
    metadata = provider.metadata()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": pending.verifier,
    }
    auth: httpx.BasicAuth | None = None
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if provider.client_secret is None:
        form["client_id"] = provider.client_id
    elif "client_secret_basic" not in methods and "client_secret_post" in methods:
        form["client_id"] = provider.client_id
        form["client_secret"] = provider.client_secret
    else:
        # RFC 6749 section 2.3.1: both parts form-encoded before the Basic encoding.
        auth = httpx.BasicAuth(
            urlencode({"": provider.client_id})[1:], urlencode({"": provider.client_secret})[1:]
        )
    try:
        with (
            httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as http,
            http.stream(
                "POST",
                str(metadata["token_endpoint"]),
                data=form,
                auth=auth,
                headers={"Accept": "application/json"},
            ) as response,
        ):
            body = _read_bounded(response)
            status = response.status_code
    except httpx.HTTPError as exc:
        raise _unreachable("its token endpoint", exc) from None
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if status != 200 or not isinstance(document, dict):
        error = document.get("error") if isinstance(document, dict) else None
        description = document.get("error_description") if isinstance(document, dict) else None
        said = f"{error}" if isinstance(error, str) else f"HTTP {status}"
        if isinstance(description, str) and description:
            said += f": {description[:300]}"
        log.warning("ui_oidc_refused", reason="token_exchange", status=status, error=said[:300])
        raise OidcRefused(
            f"the provider refused to complete the sign-in ({said})",
            "start again from the sign-in page; if it keeps failing, check that "
            "ui_oidc_client_id and ui_oidc_client_secret match the client registered at the "
            "provider, and that its redirect URI is this server's /ui/sign-in/oidc/callback",
            status=502,
            reason="token_exchange",
        )
    return document


def check_id_token(
    provider: OidcProvider, id_token: object, *, nonce: str, access_token: object = None
) -> dict[str, Any]:
    """The ID token's claims once its signature and claims check out (OidcRefused otherwise)."""
    if not isinstance(id_token, str) or not id_token:
        raise _bad_token("the provider's answer has no ID token (is `openid` among the scopes?)")
    metadata = provider.metadata()
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [alg for alg in SIGNING_ALGORITHMS if alg in offered] or ["RS256"]
    try:
        header = json.loads(_b64_json_part(id_token))
        kid = header.get("kid") if isinstance(header, dict) else None
        keys = provider.keys(kid if isinstance(kid, str) else None)
        token = jwt.decode(id_token, keys, algorithms=algorithms)
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": str(metadata["issuer"])},
                "aud": {"essential": True, "value": provider.client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
            },
            params={
                "nonce": nonce,
                "client_id": provider.client_id,
                "access_token": access_token if isinstance(access_token, str) else None,
            },
        )
        claims.validate(now=int(time.time()), leeway=CLOCK_LEEWAY_S)
    except OidcRefused:
        raise
    except ExpiredTokenError:
        raise _bad_token("the ID token has expired (is this server's clock right?)") from None
    except (InvalidClaimError, MissingClaimError) as exc:
        claim = getattr(exc, "claim", "") or str(exc)
        raise _bad_token(f"the ID token's {claim!s} claim is missing or wrong", claim) from None
    except (JoseError, InvalidTokenError, ValueError, TypeError) as exc:
        raise _bad_token(f"the ID token does not check out ({type(exc).__name__})") from None
    return dict(claims)


def username_for(claims: dict[str, Any], claim: str) -> str:
    for name in (claim, "email", "sub"):
        value = claims.get(name)
        if isinstance(value, str) and value.strip() and len(value) <= 200:
            return value.strip()
    raise _bad_token("the ID token names no user (no usable preferred_username, email or sub)")


def role_for(value: object, mapping: dict[str, Role]) -> tuple[Role | None, tuple[str, ...]]:
    """The highest role the user's groups map to, and the entries that matched."""
    if isinstance(value, str):
        groups = [value]
    elif isinstance(value, list):
        groups = [group for group in value if isinstance(group, str)]
    else:
        groups = []
    matched = [group for group in dict.fromkeys(groups) if group in mapping]
    if "*" in mapping:
        matched.append("*")
    if not matched:
        return None, ()
    best = max((mapping[group] for group in matched), key=lambda role: role.rank)
    return best, tuple(matched)


# --- helpers ---------------------------------------------------------------------------------
def _pending_key(state: str) -> str:
    return _PENDING_KEY + hashlib.sha256(state.encode()).hexdigest()


def _b64_json_part(token: str) -> bytes:
    head = token.split(".", 1)[0]
    return base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))


def _read_bounded(response: httpx.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > MAX_DOCUMENT_BYTES:
            raise _provider_broken(f"an answer larger than {MAX_DOCUMENT_BYTES} bytes")
    return bytes(body)


def _get_json(url: str, *, what: str) -> dict[str, Any]:
    try:
        with (
            httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as http,
            http.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            body = _read_bounded(response)
            status = response.status_code
    except httpx.HTTPError as exc:
        raise _unreachable(what, exc) from None
    if status != 200:
        raise _provider_broken(f"{what} at {_safe_url(url)} answered HTTP {status}")
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise _provider_broken(f"{what} at {_safe_url(url)} is not a JSON object")
    return document


def _checked_metadata(document: dict[str, Any], issuer: str) -> dict[str, Any]:
    stated = document.get("issuer")
    if not isinstance(stated, str) or stated.rstrip("/") != issuer.rstrip("/"):
        raise _provider_broken(
            f"its discovery document names the issuer {str(stated)[:200]!r}, not the "
            f"configured {issuer!r} (check ui_oidc_issuer)"
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http"):
            raise _provider_broken(f"its discovery document has no usable {name}")
    return document


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _unreachable(what: str, exc: httpx.HTTPError) -> OidcRefused:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
    log.warning("ui_oidc_refused", reason="provider_unreachable", what=what, error=kind)
    return OidcRefused(
        f"Shoal could not reach the sign-in provider for {what} ({kind})",
        "try again in a minute; if it persists, an admin should check that the provider is "
        "up and that Shoal's server can reach ui_oidc_issuer (network, proxy, DNS)",
        status=502,
        reason="provider_unreachable",
    )


def _provider_broken(detail: str) -> OidcRefused:
    log.warning("ui_oidc_refused", reason="provider_answer", detail=detail[:300])
    return OidcRefused(
        f"the sign-in provider's answer is unusable: {detail}",
        "an admin should check ui_oidc_issuer and the provider's configuration",
        status=502,
        reason="provider_answer",
    )


def _bad_token(detail: str, claim: str = "") -> OidcRefused:
    log.warning("ui_oidc_refused", reason="id_token", detail=detail[:300])
    fix = "start again from the sign-in page"
    if claim == "nonce":
        fix += " (the ID token was not made for this sign-in)"
    elif claim == "aud":
        fix += "; if it keeps failing, check ui_oidc_client_id"
    return OidcRefused(
        f"the provider's ID token was refused: {detail}", fix, status=400, reason="id_token"
    )
