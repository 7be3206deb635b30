"""The spec editor: write or edit a campaign's spec, validate it with the server's errors
pinned to their lines, see what applying it would do to each changeset, then apply it.

Validate, plan and apply are the use cases of POST /api/v1/specs/validate,
/api/v1/campaigns/plan and /api/v1/campaigns/apply (and of `shoal apply`), so a spec the
editor accepts is one the CLI accepts, with the same hash, version and audit event.

Each form post works without script (the whole page comes back) and with htmx (a fragment).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from shoal.domain.errors import InvalidInputError
from shoal.services import campaigns, ui_spec_editor
from shoal.services.ui_spec_editor import SpecCheck
from shoal.ui.auth import PageOperator, PageViewer, context_of
from shoal.ui.paths import UI_PREFIX
from shoal.ui.render import SECURITY_HEADERS, render

__all__ = ["router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

STARTER = Path(__file__).resolve().parents[1] / "templates" / "spec_editor" / "new_campaign.yaml"
EDITOR = "spec_editor.html"


@dataclass(frozen=True, slots=True)
class SpecForm:
    text: str
    planned_hash: str  # the hash the plan was shown for ("" when none)
    editing: str  # the campaign the page was opened to edit ("" for a new one)


def _field(form: FormData, name: str, max_length: int) -> str:
    value = form.get(name, "")
    return value[:max_length] if isinstance(value, str) else ""


async def read_form(request: Request) -> None:
    """Parses the editor's form within the spec body limit. Declared before the page's role
    dependency, whose CSRF check then reads the same parsed form (the request guard has
    bounded the whole body already). No `Form` parameter: FastAPI would parse the form first,
    at the default part size."""
    await request.form(max_part_size=context_of(request).settings.api_max_spec_body_bytes)


async def spec_form(request: Request) -> SpecForm:
    """The editor's fields, read after the caller's session and CSRF token were checked: a
    request refused for those is not told anything about its form."""
    form = await request.form()  # as `read_form` parsed it
    text = form.get("spec")
    if not isinstance(text, str):
        raise InvalidInputError("the form carries no spec")
    return SpecForm(
        text=ui_spec_editor.from_form(text),
        planned_hash=_field(form, "planned_hash", 64),
        editing=_field(form, "editing", 100),
    )


FormRead = Annotated[None, Depends(read_form)]
Spec = Annotated[SpecForm, Depends(spec_form)]


def _is_htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request"))


def _starter() -> str:
    return STARTER.read_text()


def _editor(
    request: Request,
    *,
    text: str,
    editing: str = "",
    version: int | None = None,
    check: SpecCheck | None = None,
    plan: ui_spec_editor.PlanView | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        EDITOR,
        {
            "section": "campaigns",
            "text": text,
            "editing": editing,
            "spec_version": version,
            "check": check,
            "plan": plan,
            "notice": notice,
        },
        status_code=status_code,
    )


def _posted(request: Request, form: SpecForm, **shown: Any) -> Response:
    """The whole editor again after a form post without script."""
    return _editor(request, text=form.text, editing=form.editing, **shown)


@router.get("/new", summary="Write a new campaign's spec")
def new_campaign(request: Request, _: PageViewer) -> Response:
    return _editor(request, text=_starter())


@router.get("/campaigns/{name}/edit", summary="Edit a campaign's spec")
def edit_campaign(request: Request, _: PageViewer, name: str) -> Response:
    start = ui_spec_editor.edit_start(context_of(request), name, starter=_starter())
    assert start.campaign is not None
    return _editor(request, text=start.text, editing=start.campaign.name, version=start.version)


def _errors_of(exc: InvalidInputError) -> list[dict[str, Any]] | None:
    errors = exc.details.get("errors") if exc.details else None
    return errors if isinstance(errors, list) and errors else None


def _invalid(request: Request, form: SpecForm, errors: list[dict[str, Any]]) -> Response:
    """A spec refused by plan or apply: its errors where the validation shows them."""
    check = SpecCheck(False, errors, None)
    if _is_htmx(request):
        return render(
            request,
            "spec_editor/check.html",
            {"check": check},
            headers={"HX-Retarget": "#spec-check", "HX-Reswap": "innerHTML"},
        )
    return _posted(request, form, check=check, status_code=422)


@router.post("/spec/validate", summary="Validate a spec")
async def validate(request: Request, _form: FormRead, _: PageViewer, form: Spec) -> Response:
    check = await anyio.to_thread.run_sync(ui_spec_editor.check, context_of(request), form.text)
    if _is_htmx(request):
        return render(request, "spec_editor/check.html", {"check": check})
    return _posted(request, form, check=check)


@router.post("/spec/plan", summary="What applying a spec would do to each changeset")
async def plan(request: Request, _form: FormRead, _: PageViewer, form: Spec) -> Response:
    try:
        view = await anyio.to_thread.run_sync(ui_spec_editor.plan, context_of(request), form.text)
    except InvalidInputError as exc:
        if (errors := _errors_of(exc)) is None:
            raise
        return _invalid(request, form, errors)
    if _is_htmx(request):
        return render(request, "spec_editor/plan.html", {"plan": view, "editing": form.editing})
    return _posted(request, form, plan=view)


async def _stale_plan(request: Request, form: SpecForm) -> Response | None:
    """Refuses to apply a spec other than the one whose plan the button was shown with."""
    if not form.planned_hash:
        return None
    check = await anyio.to_thread.run_sync(ui_spec_editor.check, context_of(request), form.text)
    if check.summary is None or check.summary.spec_hash == form.planned_hash:
        return None  # an invalid spec: apply says why
    message = "the spec changed since its plan was shown: plan again, then apply"
    if _is_htmx(request):
        return PlainTextResponse(message, status_code=409, headers=SECURITY_HEADERS)
    return _posted(request, form, notice=message, status_code=409)


def _applied(request: Request, form: SpecForm, result: campaigns.ApplyResult) -> Response:
    version = result.spec_version
    if not result.created_version:
        notice = (
            f"Nothing applied: version {version.version} of campaign {result.campaign.name} "
            f"already has this spec (hash {version.spec_hash[:12]})."
        )
        if _is_htmx(request):
            return render(request, "spec_editor/applied.html", {"notice": notice})
        return _posted(request, form, notice=notice)
    target = f"{UI_PREFIX}/campaigns/{result.campaign.name}"
    if _is_htmx(request):
        return PlainTextResponse(
            f"applied: campaign {result.campaign.name}, spec version {version.version}",
            headers={**SECURITY_HEADERS, "HX-Redirect": target},
        )
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


@router.post("/spec/apply", summary="Apply a spec: its campaign's next version")
async def apply(request: Request, _form: FormRead, principal: PageOperator, form: Spec) -> Response:
    if (refused := await _stale_plan(request, form)) is not None:
        return refused
    ctx = context_of(request)
    try:
        result = await anyio.to_thread.run_sync(
            lambda: campaigns.apply_spec(ctx, form.text, principal=principal)
        )
    except InvalidInputError as exc:
        if (errors := _errors_of(exc)) is None:
            raise
        return _invalid(request, form, errors)
    return _applied(request, form, result)
