"""Constrained field types of the spec: how each value is checked, normalized and described.

Normalization happens here so that the canonical JSON (and so the spec hash) does not depend
on YAML style: titles are stripped, scripts end in exactly one newline, sets are sorted.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic.json_schema import WithJsonSchema

from shoal.spec import names
from shoal.spec.base import spec_error
from shoal.spec.durations import DURATION_PATTERN, format_duration, parse_duration

MAX_STEP_TIMEOUT = 2 * 3600
MAX_INTERVAL = 30 * 24 * 3600
DEFAULT_STEP_TIMEOUT = 10 * 60


def _sorted_unique(values: list[str]) -> list[str]:
    # Labels, reviewers, secrets, ... are sets: their order must not change the spec hash.
    return sorted(set(values))


def _not_blank(value: str) -> str:
    if not value.strip():
        raise spec_error("must not be empty")
    return value


def _campaign_name(value: str) -> str:
    if not names.is_campaign_name(value):
        raise spec_error(
            f"{value!r} is not a valid campaign name; use 1-63 lowercase letters, digits and '-',"
            " starting with a letter and not ending with '-'"
        )
    return value


def _schema_version(value: int) -> int:
    if value != 1:
        raise spec_error(f"unsupported schema_version {value}; this version of Shoal reads 1")
    return value


def _title(value: str) -> str:
    value = _not_blank(value).strip()
    if "\n" in value or "\r" in value:
        raise spec_error("must be a single line")
    if len(value) > 256:
        raise spec_error(f"is {len(value)} characters long; GitHub allows at most 256")
    return value


def _no_nul(value: str) -> str:
    # A NUL cannot reach a shell, git or GitHub: each would cut the text there, or refuse it.
    if "\x00" in value:
        raise spec_error(
            "cannot contain a NUL character; to write one from a script, use printf '\\000'"
        )
    return value


def _template_syntax(value: str) -> str:
    # Checked here, where the error can point at the spec's line, rather than when the first
    # changeset renders it in a worker. An unknown filter or test is a syntax error too.
    from jinja2 import TemplateSyntaxError

    from shoal.spec.templating import compile_template

    try:
        compile_template(value)
    except TemplateSyntaxError as exc:
        where = f" (line {exc.lineno} of the template)" if exc.lineno else ""
        raise spec_error(f"is not a valid template{where}: {exc.message}") from None
    return value


def _script(value: str) -> str:
    # Block (`|`, `|-`) and plain scalars differ only in trailing newlines; shells do not care.
    return _not_blank(_no_nul(value)).rstrip() + "\n"


def _search(value: str) -> str:
    value = _not_blank(value).strip()
    if len(value) > 256:
        raise spec_error(f"is {len(value)} characters long; GitHub search allows at most 256")
    return value


def _login(value: str) -> str:
    if not names.is_login(value):
        raise spec_error(f"{value!r} is not a GitHub login")
    return value


def _reviewer(value: str) -> str:
    if not (names.is_login(value) or names.is_team(value)):
        raise spec_error(f"{value!r} is not a GitHub login or org/team slug")
    return value


def _label(value: str) -> str:
    value = _not_blank(value).strip()
    if len(value) > 50:
        raise spec_error(f"{value!r} is longer than the 50 characters GitHub allows for a label")
    return value


def _topic(value: str) -> str:
    if not names.is_topic(value):
        raise spec_error(
            f"{value!r} is not a GitHub topic; use lowercase letters, digits and '-',"
            " at most 50 characters"
        )
    return value


def _repo_ref(value: str) -> str:
    repo, at, branch = value.partition("@")
    owner, slash, name = repo.partition("/")
    if not (slash and names.is_login(owner) and names.is_repo_name(name)):
        raise spec_error(
            f"{value!r} is not a repository reference; expected owner/repo or owner/repo@branch"
        )
    if at and (problem := names.git_branch_problem(branch)):
        raise spec_error(f"{value!r} names an invalid branch after '@' ({problem})")
    return value


def _repo_glob(value: str) -> str:
    _not_blank(value)
    if "/" not in value:
        raise spec_error(f"{value!r} must match the full name owner/repo, e.g. '*/{value}'")
    return value


def _repo_name_glob(value: str) -> str:
    _not_blank(value)
    if "/" in value:
        raise spec_error(
            f"{value!r} must match a repository name without its owner, e.g. "
            f"'{value.rpartition('/')[2]}'"
        )
    return value


def _git_branch(value: str) -> str:
    if problem := names.git_branch_problem(value):
        raise spec_error(f"{value!r} is not a valid git branch name ({problem})")
    return value


def _image_reference(value: str) -> str:
    if not names.is_image_reference(value):
        raise spec_error(
            f"{value!r} is not a container image reference; expected [registry/]path[:tag]"
            "[@sha256:<64 hex digits>] with a lowercase path, e.g. ghcr.io/acme/tools:1.2 or "
            "ghcr.io/acme/tools@sha256:<digest>"
        )
    return value


def _env_name(value: str) -> str:
    if not names.is_env_name(value):
        raise spec_error(
            f"{value!r} is not a valid environment variable name; use letters, digits and '_',"
            " not starting with a digit"
        )
    if value.upper().startswith("SHOAL_"):
        raise spec_error(f"{value!r} uses the SHOAL_ prefix, which Shoal reserves for itself")
    return value


def _env_value(value: str) -> str:
    if "\x00" in value:
        raise spec_error("environment values cannot contain NUL characters")
    return value


def _step_name(value: str) -> str:
    if not names.is_step_name(value):
        raise spec_error(
            f"{value!r} is not a valid step name; use up to 63 letters, digits, '.', '_' and '-',"
            " starting with a letter or digit"
        )
    return value


def _duration(value: Any, *, example: str, limit_s: int, limit: str) -> int:
    # Integers are seconds: that is how the canonical JSON writes durations back.
    if isinstance(value, bool) or not isinstance(value, str | int):
        shown = str(value).lower() if isinstance(value, bool) else type(value).__name__
        raise spec_error(f"expected a duration like {example}, got {shown}")
    try:
        seconds = parse_duration(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise spec_error(str(exc).replace("like 5m", f"like {example}")) from None
    if seconds < 1:
        raise spec_error(f"must be at least 1s, got {format_duration(max(seconds, 0))}")
    if seconds > limit_s:
        raise spec_error(f"{format_duration(seconds)} is longer than the {limit} limit")
    return seconds


def _step_timeout(value: Any) -> int:
    return _duration(value, example="5m", limit_s=MAX_STEP_TIMEOUT, limit="2h")


def _interval(value: Any) -> int:
    return _duration(value, example="1h", limit_s=MAX_INTERVAL, limit="30 days")


def _author_name(value: str) -> str:
    value = _not_blank(value).strip()
    if any(char in value for char in "<>\n\r"):
        raise spec_error(f"{value!r} cannot be a git author name (contains '<', '>' or a newline)")
    return value


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not (at and local and domain) or any(char in value for char in " <>\n\r\t") or "@" in domain:
        raise spec_error(f"{value!r} is not an email address")
    return value


def _positive(value: int) -> int:
    if value < 1:
        raise spec_error(f"must be at least 1, got {value}")
    return value


def _must_be_true(value: bool) -> bool:
    if not value:
        raise spec_error("must be true; remove this source to leave the installation out")
    return value


def _string(pattern: str | None = None, **extra: Any) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string", **extra}
    if pattern is not None:
        schema["pattern"] = pattern
    return WithJsonSchema(schema)


CampaignName = Annotated[
    str, AfterValidator(_campaign_name), _string(names.CAMPAIGN_NAME_PATTERN, maxLength=63)
]
SchemaVersion = Annotated[int, AfterValidator(_schema_version), WithJsonSchema({"const": 1})]
Text = Annotated[str, AfterValidator(_no_nul), AfterValidator(str.rstrip)]
NonBlank = Annotated[str, AfterValidator(_not_blank), _string(minLength=1)]
Title = Annotated[
    str,
    AfterValidator(_no_nul),
    AfterValidator(_title),
    AfterValidator(_template_syntax),
    _string(minLength=1, maxLength=256),
]
# Text rendered as a template (a PR body, a step's `if:`).
TemplateText = Annotated[Text, AfterValidator(_template_syntax)]
TemplateExpression = Annotated[NonBlank, AfterValidator(_template_syntax)]
CommitMessage = Annotated[
    str,
    AfterValidator(_no_nul),
    AfterValidator(_not_blank),
    AfterValidator(str.rstrip),
    _string(minLength=1),
]
Script = Annotated[str, AfterValidator(_script), _string(minLength=1)]
SearchQuery = Annotated[str, AfterValidator(_search), _string(minLength=1, maxLength=256)]
Login = Annotated[str, AfterValidator(_login), _string(r"^[A-Za-z0-9-]{1,39}$")]
Reviewer = Annotated[
    str, AfterValidator(_reviewer), _string(r"^[A-Za-z0-9-]{1,39}(/[A-Za-z0-9_-]+)?$")
]
Label = Annotated[str, AfterValidator(_label), _string(minLength=1, maxLength=50)]
Topic = Annotated[str, AfterValidator(_topic), _string(r"^[a-z0-9][a-z0-9-]{0,49}$")]
RepoRef = Annotated[str, AfterValidator(_repo_ref), _string(names.REPO_REF_PATTERN)]
RepoGlob = Annotated[str, AfterValidator(_repo_glob), _string(r"/")]
RepoNameGlob = Annotated[str, AfterValidator(_repo_name_glob), _string(r"^[^/]+$")]
GitBranch = Annotated[str, AfterValidator(_git_branch), _string(minLength=1, maxLength=255)]
ImageReference = Annotated[
    str, AfterValidator(_image_reference), _string(names.IMAGE_REFERENCE_PATTERN, maxLength=512)
]
EnvName = Annotated[str, AfterValidator(_env_name), _string(names.ENV_NAME_PATTERN)]
EnvValue = Annotated[str, AfterValidator(_env_value)]
StepName = Annotated[str, AfterValidator(_step_name), _string(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
StepTimeout = Annotated[
    int,
    BeforeValidator(_step_timeout),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "integer", "minimum": 1, "maximum": MAX_STEP_TIMEOUT},
            ]
        }
    ),
]
# How often something recurring may happen (e.g. `policy.base_moved_interval`).
Interval = Annotated[
    int,
    BeforeValidator(_interval),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "integer", "minimum": 1, "maximum": MAX_INTERVAL},
            ]
        }
    ),
]
AuthorName = Annotated[str, AfterValidator(_author_name), _string(minLength=1)]
Email = Annotated[str, AfterValidator(_email), _string(r"^[^@\s<>]+@[^@\s<>]+$")]
PositiveInt = Annotated[
    int, AfterValidator(_positive), WithJsonSchema({"type": "integer", "minimum": 1})
]
InstallationFlag = Annotated[bool, AfterValidator(_must_be_true), WithJsonSchema({"const": True})]
SortedUnique = AfterValidator(_sorted_unique)
