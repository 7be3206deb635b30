"""Relay connections: slicing an ordered list with ``first/after/last/before``, and cursors.

Two cursor kinds, both opaque base64 like GitHub's. Ordered collections use keyset cursors
(``cursor:v2:`` + the item's sort key), so pages stay stable when items are added or
removed. Search results use GitHub's own offset cursors (``cursor:N``, N the 1-based
position) because search has no stable order to key on.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from shoal_sim.graphql.errors import GraphQLFailure
from shoal_sim.graphql.registry import Resolvers

T = TypeVar("T")
SortKey = tuple[Any, ...]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a connection; ``counts`` holds extra totals such as ``repositoryCount``."""

    items: list[T]
    cursors: list[str]
    total: int
    has_next: bool
    has_previous: bool
    counts: dict[str, int] = field(default_factory=dict)


def _encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _decode(cursor: str, argument: str) -> str:
    try:
        return base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _bad_cursor(cursor, argument) from exc


def _bad_cursor(cursor: str, argument: str) -> GraphQLFailure:
    return GraphQLFailure(
        f"`{cursor}` does not appear to be a valid cursor for `{argument}`.",
        "INVALID_CURSOR_ARGUMENTS",
    )


def keyset_cursor(key: SortKey) -> str:
    return _encode("cursor:v2:" + json.dumps(list(key), separators=(",", ":")))


def _keyset_value(cursor: str, argument: str) -> SortKey:
    text = _decode(cursor, argument)
    if not text.startswith("cursor:v2:"):
        raise _bad_cursor(cursor, argument)
    try:
        value = json.loads(text.removeprefix("cursor:v2:"))
    except ValueError as exc:
        raise _bad_cursor(cursor, argument) from exc
    if not isinstance(value, list):
        raise _bad_cursor(cursor, argument)
    return tuple(value)


def offset_cursor(position: int) -> str:
    return _encode(f"cursor:{position}")


def _offset_value(cursor: str, argument: str) -> int:
    text = _decode(cursor, argument)
    number = text.removeprefix("cursor:")
    if not number.isdigit():
        raise _bad_cursor(cursor, argument)
    return int(number)


def _window(count: int, start: int, end: int, args: dict[str, Any]) -> tuple[int, int, bool, bool]:
    """Apply ``first``/``last`` to positions ``[start, end)``: (start, end, next?, prev?)."""
    start, end = max(0, min(start, count)), max(0, min(end, count))
    end = max(end, start)
    first, last = args.get("first"), args.get("last")
    if first is not None and end - start > first:
        end = start + first
    if last is not None and end - start > last:
        start = end - last
    return start, end, end < count, start > 0


def slice_keyset(
    items: Sequence[T], args: dict[str, Any], key: Callable[[T], SortKey], descending: bool
) -> Page[T]:
    """``items`` must already be sorted by ``key`` (reversed when ``descending``)."""
    keys = [key(item) for item in items]

    def first_beyond(cursor_key: SortKey) -> int:
        # Keys end with a unique id, so a strict comparison finds the exact boundary even
        # when the cursor's item has since disappeared.
        for position, candidate in enumerate(keys):
            if (candidate < cursor_key) if descending else (candidate > cursor_key):
                return position
        return len(keys)

    start, end = 0, len(items)
    if args.get("after"):
        start = first_beyond(_keyset_value(args["after"], "after"))
    if args.get("before"):
        cursor_key = _keyset_value(args["before"], "before")
        end = next((i for i, k in enumerate(keys) if k == cursor_key), first_beyond(cursor_key))
    start, end, has_next, has_previous = _window(len(items), start, end, args)
    return Page(
        list(items[start:end]),
        [keyset_cursor(k) for k in keys[start:end]],
        len(items),
        has_next,
        has_previous,
    )


def slice_offsets(items: Sequence[T], args: dict[str, Any], total: int | None = None) -> Page[T]:
    start, end = 0, len(items)
    if args.get("after"):
        start = _offset_value(args["after"], "after")
    if args.get("before"):
        end = _offset_value(args["before"], "before") - 1
    start, end, has_next, has_previous = _window(len(items), start, end, args)
    return Page(
        list(items[start:end]),
        [offset_cursor(position + 1) for position in range(start, end)],
        len(items) if total is None else total,
        has_next,
        has_previous,
    )


def register_connection(resolvers: Resolvers, connection: str, edge: str) -> None:
    """The fields every connection type shares, over a :class:`Page`."""
    resolvers.values(
        connection,
        {
            "nodes": lambda page: page.items,
            "edges": lambda page: list(zip(page.items, page.cursors, strict=True)),
            "pageInfo": lambda page: page,
            "totalCount": lambda page: page.total,
        },
    )
    resolvers.values(edge, {"node": lambda edge: edge[0], "cursor": lambda edge: edge[1]})


page_info = Resolvers()
page_info.values(
    "PageInfo",
    {
        "hasNextPage": lambda page: page.has_next,
        "hasPreviousPage": lambda page: page.has_previous,
        "startCursor": lambda page: page.cursors[0] if page.cursors else None,
        "endCursor": lambda page: page.cursors[-1] if page.cursors else None,
    },
)
