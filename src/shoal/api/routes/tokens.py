"""API tokens: mint, list, read and revoke them. Admin only; a secret is shown once, at minting."""

from __future__ import annotations

from fastapi import APIRouter

from shoal.api.deps import Admin, Ctx
from shoal.api.paths import API_PREFIX
from shoal.api.token_schemas import (
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    TokenRevocationOut,
    TokensOut,
)
from shoal.services import tokens

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["tokens"])


@router.post(
    "/tokens",
    response_model=TokenCreatedOut,
    status_code=201,
    summary="Mint an API token; its secret is in this answer only (audited, never the secret)",
)
def create_token(ctx: Ctx, principal: Admin, body: TokenIn) -> TokenCreatedOut:
    token, secret = tokens.create_token(
        ctx,
        name=body.name,
        role=body.role,
        actor=principal.name,
        expires_in=body.expires_in,
        expires_at=body.expires_at,
    )
    out = TokenOut.of(token, ctx.clock.now())
    return TokenCreatedOut(**out.model_dump(), secret=secret)


@router.get("/tokens", response_model=TokensOut, summary="Every API token (never their secrets)")
def list_tokens(ctx: Ctx, _: Admin) -> TokensOut:
    now = ctx.clock.now()
    return TokensOut(tokens=[TokenOut.of(t, now) for t in tokens.list_tokens(ctx)])


@router.get("/tokens/{token_id}", response_model=TokenOut, summary="One API token")
def get_token(ctx: Ctx, _: Admin, token_id: int) -> TokenOut:
    return TokenOut.of(tokens.get_token(ctx, token_id), ctx.clock.now())


@router.post(
    "/tokens/{token_id}/revoke",
    response_model=TokenRevocationOut,
    summary="Revoke a token at once: its next request gets 401 (idempotent; audited)",
)
def revoke_token(ctx: Ctx, principal: Admin, token_id: int) -> TokenRevocationOut:
    return TokenRevocationOut.of(
        tokens.revoke(ctx, token_id, actor=principal.name), ctx.clock.now()
    )
