"""Turning an ``Authorization`` header into a caller, the way GitHub does.

App JWTs must be RS256, signed with the App's key, with ``iss`` the App id or client id and
an expiry at most ten minutes ahead. Installation tokens (``ghs_``) and personal access
tokens (``ghp_``, ``github_pat_``) are accepted with ``Bearer``, ``token`` or HTTP Basic
(token as the password). Failures raise :class:`~shoal_sim.errors.GitHubError` with
GitHub's own messages.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import jwt

from shoal_sim.errors import GENERIC_DOCS, GitHubError, bad_credentials
from shoal_sim.state.access import (
    AnonymousCaller,
    AppCaller,
    Caller,
    InstallationCaller,
    UserCaller,
)
from shoal_sim.state.models import App
from shoal_sim.state.world import World

JWT_UNDECODABLE = "A JSON web token could not be decoded"
JWT_EXPIRED = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time "
    "at which the assertion expires"
)
JWT_TOO_LONG = "'Expiration time' claim ('exp') is too far in the future"
JWT_BAD_IAT = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"  # noqa: E501
JWT_MAX_LIFETIME = 600
# GitHub tolerates some clock drift; its docs advise backdating ``iat`` by 60 s for it.
JWT_LEEWAY = 60


def _jwt_error(message: str) -> GitHubError:
    return GitHubError(401, message, docs=GENERIC_DOCS)


def verify_app_jwt(world: World, token: str, now: float) -> App:
    try:
        header = jwt.get_unverified_header(token)
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _jwt_error(JWT_UNDECODABLE) from exc
    if header.get("alg") != "RS256":
        raise _jwt_error(JWT_UNDECODABLE)
    issuer = claims.get("iss")
    app = world.find_app(issuer) if isinstance(issuer, int | str) else None
    if app is None:
        raise _jwt_error(JWT_UNDECODABLE)
    try:
        jwt.decode(
            token,
            app.public_key_pem,
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise _jwt_error(JWT_UNDECODABLE) from exc
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now - JWT_LEEWAY:
        raise _jwt_error(JWT_EXPIRED)
    if not isinstance(iat, int | float) or isinstance(iat, bool) or iat > now + JWT_LEEWAY:
        raise _jwt_error(JWT_BAD_IAT)
    if exp > now + JWT_MAX_LIFETIME + JWT_LEEWAY:
        raise _jwt_error(JWT_TOO_LONG)
    return app


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def credentials(header: str | None) -> tuple[str, str] | None:
    """``(scheme, secret)`` from an Authorization header; Basic yields its password."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ("basic", "")
        return ("basic", decoded.partition(":")[2])
    return (scheme, value)


def token_caller(world: World, secret: str, now: float) -> Caller:
    """The caller behind an installation token or PAT (not a JWT)."""
    with world.lock:
        inst_token = world.installation_tokens.get(secret)
        if inst_token is not None:
            inst = world.installations.get(inst_token.installation_id)
            if inst_token.revoked or inst_token.expires_at <= now or inst is None:
                raise bad_credentials()
            return InstallationCaller(world.apps[inst.app_id], inst, inst_token)
        pat = world.pats.get(secret)
        if pat is not None:
            if pat.revoked or (pat.expires_at is not None and pat.expires_at <= now):
                raise bad_credentials()
            return UserCaller(world.get_user(pat.user), pat)
    raise bad_credentials()


def authenticate(world: World, header: str | None, now: float) -> Caller:
    parsed = credentials(header)
    if parsed is None:
        return AnonymousCaller()
    scheme, secret = parsed
    if scheme not in ("bearer", "token", "basic") or not secret:
        raise bad_credentials()
    if _looks_like_jwt(secret):
        if scheme != "bearer":
            # "If you are passing a JWT, you must use Authorization: Bearer".
            raise bad_credentials()
        return AppCaller(verify_app_jwt(world, secret, now))
    return token_caller(world, secret, now)
