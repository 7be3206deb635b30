"""The one sandbox every template of a spec renders in: PR titles and bodies, step `if:`.

Templates are user code. Jinja2's immutable sandbox keeps them from reaching Python
internals; this subclass also keeps them from exhausting memory or time:

- every operation that makes a string or a list is capped *before* it allocates: `*`, `+`,
  `~`, `%`, `str.format`, the `center`/`format`/`indent`/`join`/`replace`/`wordwrap`/
  `batch`/`slice`/`sum`/... filters, the str methods a template may call, and the text a
  `{{ }}`, a macro or a `{% set %}` block produces;
- every loop iteration and every call counts against a step budget and checks a deadline;
- `lipsum` and str methods that can grow a string without bound are not available.

A render that passes a limit stops with `TemplateLimitError`, which names the field
(`changeset.body: the template's output exceeds 128 KiB`).
"""

from __future__ import annotations

import contextvars
import functools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

__all__ = [
    "MAX_ITEMS",
    "RenderLimits",
    "TemplateLimitError",
    "compile_template",
    "render_limited",
]

MAX_ITEMS = 100_000  # largest list, range or batch a template may build
_MADE_FACTOR = 64  # all a render makes: this many times its largest string
_MAX_WIDTH_DIGITS = re.compile(r"\d+")


class TemplateLimitError(SecurityError):
    """A template passed one of its render's limits (size, steps or time)."""


@dataclass(frozen=True, slots=True)
class RenderLimits:
    field: str  # e.g. "changeset.body": named in every error
    max_chars: int  # the largest string any operation (or the whole output) may make
    max_steps: int = 200_000  # loop iterations + calls
    max_seconds: float = 2.0


@dataclass(slots=True)
class _Budget:
    limits: RenderLimits
    deadline: float
    steps: int = 0
    made: int = 0  # characters (and list items) every operation made, kept or not

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise TemplateLimitError(
                f"the template runs more than {self.limits.max_steps:,} loop iterations and calls"
            )
        if self.steps % 64 == 0 and time.monotonic() > self.deadline:
            raise TemplateLimitError(
                f"the template takes longer than {self.limits.max_seconds:g} s to render"
            )

    def make(self, count: int) -> None:
        # Each string is capped, but a loop can make many and keep them all (in a list, in
        # a `{% set %}` block): all that a render makes is capped too.
        self.made += count
        if self.made > _MADE_FACTOR * self.limits.max_chars:
            raise TemplateLimitError(
                f"the template makes more than {_human(_MADE_FACTOR * self.limits.max_chars)} "
                "of text while it renders"
            )

    def size(self, count: int) -> None:
        if count > self.limits.max_chars:
            raise TemplateLimitError(
                f"the template's output exceeds {_human(self.limits.max_chars)}"
            )


# Outside a render (Jinja folds some constants while compiling), the largest limits apply.
_DEFAULT = RenderLimits(field="template", max_chars=256 * 1024, max_steps=10_000, max_seconds=1.0)
_current: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("budget", default=None)


def _budget() -> _Budget:
    found = _current.get()
    return found if found is not None else _Budget(_DEFAULT, time.monotonic() + 1.0)


def _human(count: int) -> str:
    if count % (1 << 20) == 0:
        return f"{count >> 20} MiB"
    if count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count:,} characters"


# --- sizes ----------------------------------------------------------------------------------


def _weight(value: Any, limit: int) -> int:
    """An upper bound of len(str(value)), computed without building it; stops counting once
    past `limit` (a list can hold the same long string a million times)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, bytes):
            total += 4 * len(item) + 3
        elif isinstance(item, bool | None | float):
            total += 24
        elif isinstance(item, int):
            total += 24 if -(10**20) < item < 10**20 else 5000
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | range):
            total += 2 + 2 * len(item)
            if not isinstance(item, range):
                stack.extend(item)
        elif isinstance(item, Namespace):
            stack.append(dict(item._Namespace__attrs))
        else:
            total += 200  # Jinja's own objects (loop, macro, cycler): short reprs
        if total > limit:
            return total
    return total


def _check_text(value: Any) -> None:
    budget = _budget()
    budget.size(_weight(value, budget.limits.max_chars))


def _check_result(value: Any) -> Any:
    budget = _budget()
    if isinstance(value, str):
        budget.size(len(value))
        budget.make(len(value))
    elif isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            raise TemplateLimitError(f"the template builds a list of more than {MAX_ITEMS:,} items")
        budget.make(len(value))
    return value


def _check_width(width: Any) -> None:
    if isinstance(width, int) and not isinstance(width, bool):
        _budget().size(abs(width))
    elif isinstance(width, str):
        _budget().size(len(width))


def _check_printf(fmt: str, args: Any) -> None:
    # "%*d" takes its width from the arguments; "%.999999999f" needs no argument at all.
    if re.search(r"%[-#0 +(\w)]*\*", fmt):
        raise TemplateLimitError("'*' widths in '%' formats are not allowed in templates")
    for digits in _MAX_WIDTH_DIGITS.findall(fmt):
        _budget().size(int(digits) if len(digits) < 12 else 10**12)
    _check_text([fmt, args])


def _check_format_string(fmt: str, args: Any) -> None:
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if spec and "{" in spec:
            raise TemplateLimitError("nested fields in format specs are not allowed in templates")
        for digits in _MAX_WIDTH_DIGITS.findall(spec or ""):
            _budget().size(int(digits) if len(digits) < 12 else 10**12)
    _check_text([fmt, args])


# --- filters --------------------------------------------------------------------------------


def _capped(name: str, check: Callable[..., None] | None = None) -> Callable[..., Any]:
    original = FILTERS[name]
    # A filter marked pass_context/pass_environment/pass_eval_context gets that first.
    skip = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(original)
    def run(*args: Any, **kwargs: Any) -> Any:
        _budget().step()
        if name in _MATERIALIZED and len(args) > skip:
            # The check reads the items before the filter does: a generator (`map`,
            # `select`) is read once, into a list both can use.
            value = args[skip]
            if not isinstance(value, str | list | tuple | Mapping):
                args = (*args[:skip], _check_result(list(value)), *args[skip + 1 :])
        if check is not None:
            check(*args[skip:], **kwargs)
        return _check_result(original(*args, **kwargs))

    return run


def _center_check(value: Any, width: Any = 80) -> None:
    _check_width(width)
    _check_text(value)


def _indent_check(value: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    text = str(value) if isinstance(value, str) else value
    lines = text.count("\n") + 1 if isinstance(text, str) else 1
    if isinstance(width, int) and not isinstance(width, bool):
        _budget().size(abs(width) * lines)
    elif isinstance(width, str):
        _budget().size(len(width) * lines)
    _check_text(value)


def _format_check(value: Any, *args: Any, **kwargs: Any) -> None:
    _check_printf(str(value), [args, kwargs])


def _join_check(value: Any, d: Any = "", attribute: Any = None) -> None:
    items = list(value) if not isinstance(value, list | tuple) else value
    separators = len(d) * len(items) if isinstance(d, str) else 0
    _budget().size(separators)
    _check_text(items)


def _replace_check(s: Any, old: Any, new: Any, count: Any = None) -> None:
    text, old, new = str(s), str(old), str(new)
    hits = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _budget().size(len(text) + hits * max(len(new) - len(old), 0))


def _wordwrap_check(s: Any, width: Any = 79, *_: Any, wrapstring: Any = None, **__: Any) -> None:
    if len(_) >= 2:
        wrapstring = _[1]
    text = str(s)
    wrap = len(wrapstring) if isinstance(wrapstring, str) else 1
    _budget().size(len(text) * max(wrap, 1) * 2)


def _count_check(value: Any, count: Any = 1, *_: Any, **__: Any) -> None:
    if isinstance(count, int) and not isinstance(count, bool) and abs(count) > MAX_ITEMS:
        raise TemplateLimitError(f"the template asks for more than {MAX_ITEMS:,} items")


def _sum_check(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    _check_text([iterable, start])


def _text_check(value: Any, *_: Any, **__: Any) -> None:
    _check_text(value)


def _tojson_check(value: Any, indent: Any = None) -> None:
    if isinstance(indent, int) and indent > 16:
        raise TemplateLimitError("tojson's indent may be at most 16 in templates")
    _check_text(value)


_FILTER_CHECKS: dict[str, Callable[..., None] | None] = {
    "center": _center_check,
    "format": _format_check,
    "indent": _indent_check,
    "join": _join_check,
    "replace": _replace_check,
    "wordwrap": _wordwrap_check,
    "truncate": _text_check,
    "batch": _count_check,
    "slice": _count_check,
    "sum": _sum_check,
    "string": _text_check,
    "pprint": _text_check,
    "tojson": _tojson_check,
    "urlencode": _text_check,
    "xmlattr": _text_check,
    "urlize": _text_check,
    "striptags": _text_check,
    "escape": _text_check,
    "e": _text_check,
    "forceescape": _text_check,
    "list": _text_check,
    "filesizeformat": None,
}


_MATERIALIZED = frozenset({"join", "sum"})


def _filters() -> dict[str, Callable[..., Any]]:
    # Every filter counts a step and has its result size checked; some are checked before.
    return {name: _capped(name, _FILTER_CHECKS.get(name)) for name in FILTERS}


# --- the environment ------------------------------------------------------------------------

# What a template may call on a string (anything else, e.g. expandtabs or translate, is
# undefined for it): each either keeps the size or is checked before it runs.
_STR_METHODS = frozenset(
    {
        "capitalize", "casefold", "center", "count", "endswith", "find", "format", "index",
        "isalnum", "isalpha", "isdecimal", "isdigit", "islower", "isnumeric", "isspace",
        "istitle", "isupper", "join", "ljust", "lower", "lstrip", "partition", "removeprefix",
        "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit",
        "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper",
        "zfill",
    }
)  # fmt: skip
_SEQUENCE_METHODS = frozenset({"count", "index"})
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})


class _Generator(CodeGenerator):
    """Counts loop iterations and checks the text that buffers (macros, `{% set %}`,
    filter blocks) and `~` build."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in node.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("shoal_each"), [loop.iter], [], None, None
            )
        super().visit_Template(node, frame)
        # Module globals the generated functions look up when they run.
        self.writeline("concat = environment.shoal_concat")
        self.writeline("str_join = environment.shoal_concat")
        self.writeline("markup_join = environment.shoal_markup_join")


class _Environment(ImmutableSandboxedEnvironment):
    code_generator_class = _Generator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(
            autoescape=False,
            undefined=StrictUndefined,
            # Nothing runs at compile time: constant folding would run filters there.
            optimized=False,
            finalize=self._finalize,
        )
        self.filters = _filters()
        self.globals.pop("lipsum", None)

    # Loops, calls, operators, attributes: each is a step of the budget.

    def shoal_each(self, iterable: Any) -> Iterator[Any]:
        budget = _budget()
        for item in iterable:
            budget.step()
            yield item

    def shoal_concat(self, parts: Iterable[Any]) -> str:
        items = list(parts)
        _check_text(items)
        return str(_check_result("".join(str(item) for item in items)))

    def shoal_markup_join(self, parts: Iterable[Any]) -> str:
        return self.shoal_concat(parts)

    def _finalize(self, value: Any) -> Any:
        budget = _budget()
        weight = _weight(value, budget.limits.max_chars)
        budget.size(weight)
        budget.make(weight)
        return value

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _budget().step()
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            _check_str_method(owner, name, args, kwargs)
        return _check_result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format_string(fmt, [args, kwargs])
            result: str = _check_result(wrapped(*args, **kwargs))
            return result

        return checked

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.step()
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise TemplateLimitError(f"the exponent {right} is too large")
        if operator == "*":
            sizes = [_length(x) for x in (left, right)]
            counts = [abs(x) if isinstance(x, int) else 1 for x in (left, right)]
            product = max(sizes[0] * counts[1], sizes[1] * counts[0])
            if isinstance(left, list | tuple) or isinstance(right, list | tuple):
                if product > MAX_ITEMS:
                    raise TemplateLimitError(
                        f"the template builds a list of more than {MAX_ITEMS:,} items"
                    )
            else:
                budget.size(product if (isinstance(left, str) or isinstance(right, str)) else 0)
        elif operator == "+" and isinstance(left, str):
            budget.size(len(left) + _length(right))
        elif operator == "+" and isinstance(left, list | tuple):
            if len(left) + _length(right) > MAX_ITEMS:
                raise TemplateLimitError(
                    f"the template builds a list of more than {MAX_ITEMS:,} items"
                )
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        return _check_result(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().step()
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str):
            return attr in _STR_METHODS
        if isinstance(obj, list | tuple):
            return attr in _SEQUENCE_METHODS
        if isinstance(obj, dict):
            return attr in _MAPPING_METHODS
        if isinstance(obj, int | float | bytes):
            return False
        return super().is_safe_attribute(obj, attr, value)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 1


def _check_str_method(owner: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    budget = _budget()
    if name in {"center", "ljust", "rjust", "zfill"} and args:
        _check_width(args[0])
        if len(args) > 1:
            _check_width(args[1])
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        hits = len(owner) + 1 if not old else owner.count(old)
        budget.size(len(owner) + hits * max(len(new) - len(old), 0))
    elif name == "join" and args:
        items = list(args[0]) if not isinstance(args[0], list | tuple) else args[0]
        budget.size(len(owner) * len(items))
        _check_text(items)


_ENV = _Environment()


@functools.lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    """The compiled template (cached: every target of a run renders the same few). Raises
    jinja2's `TemplateSyntaxError`, or `TemplateError` for an unknown filter or test."""
    return _ENV.from_string(source)


@contextmanager
def _rendering(limits: RenderLimits) -> Iterator[_Budget]:
    budget = _Budget(limits, time.monotonic() + limits.max_seconds)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def render_limited(
    source: str, context: Mapping[str, Any], limits: RenderLimits, *, stop_at: int | None = None
) -> str:
    """`source` rendered against `context` within `limits`. The output stops growing at
    `stop_at` characters when given (the caller cuts it anyway), else past `max_chars` is an
    error. Raises TemplateLimitError or whatever the template raised."""
    with _rendering(limits) as budget:
        template = compile_template(source)
        parts: list[str] = []
        size = 0
        for chunk in template.generate(context):
            parts.append(chunk)
            size += len(chunk)
            if stop_at is not None and size > stop_at:
                break
            budget.size(size)
        return "".join(parts)
