"""YAML text to a small node tree with positions, without PyYAML's recursive composer.

PyYAML's composer recurses once per nesting level and lets an alias point into its own
anchor (a cycle). This composer walks the parser's event stream with an explicit stack,
stops as soon as the nesting or the node count passes the limits (the pure-Python scanner
is slow on deep flow collections, so stopping early matters), and registers an anchor only
once its node is complete, so the tree it returns is finite and acyclic. `loader.py` then
bounds its expansion through aliases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
    StreamEndEvent,
)

from shoal.spec.errors import Path, SpecInvalidError, SpecIssue, format_path
from shoal.spec.limits import MAX_DEPTH, MAX_NODES

__all__ = ["YAML_TAG", "Mapping", "Node", "Position", "Scalar", "Sequence", "compose_document"]

YAML_TAG = "tag:yaml.org,2002:"

# libyaml is about ten times faster than the pure-Python parser; both give the same events.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Position(NamedTuple):
    """1-based line and column in the spec text."""

    line: int
    column: int


@dataclass
class Scalar:
    tag: str
    value: str
    position: Position


@dataclass
class Sequence:
    tag: str
    position: Position
    items: list[Node] = field(default_factory=list)


@dataclass
class Mapping:
    tag: str
    position: Position
    pairs: list[tuple[Node, Node]] = field(default_factory=list)


Node = Scalar | Sequence | Mapping


@dataclass
class _Open:
    node: Sequence | Mapping
    anchor: str | None
    pending_key: Node | None = None


def compose_document(text: str) -> Node | None:
    """The single document in `text`, or None when there is none; SpecInvalidError otherwise."""
    events = yaml.parse(text, Loader=_Loader)
    try:
        for event in events:
            if isinstance(event, DocumentStartEvent):
                root = _compose_node(events)
                next(events)  # DocumentEndEvent
                following = next(events)
                if not isinstance(following, StreamEndEvent):
                    raise _error(following, "a spec is one YAML document; found a second one")
                return root
        return None
    except yaml.MarkedYAMLError as exc:
        raise SpecInvalidError([_syntax_issue(exc, text)]) from None
    except yaml.reader.ReaderError as exc:
        line, column = _position_of(text, exc.position)
        reason = f"invalid YAML: unacceptable character #x{exc.character:04x} ({exc.reason})"
        raise SpecInvalidError([SpecIssue("", reason, line, column)]) from None


def _compose_node(events: Iterator[Event]) -> Node:
    composer = _Composer()
    for event in events:
        node = composer.node_for(event)
        if node is None:
            continue
        composer.count += 1
        if composer.count > MAX_NODES:
            message = f"spec has more than {MAX_NODES} YAML nodes"
            raise _error(event, message, _path_of(composer.stack))
        if not composer.stack:
            return node
        _attach(composer.stack[-1], node)
    raise AssertionError("YAML event stream ended inside a document")  # pragma: no cover


class _Composer:
    def __init__(self) -> None:
        self.resolver = yaml.resolver.Resolver()
        self.anchors: dict[str, Node] = {}
        self.stack: list[_Open] = []
        self.count = 0

    def node_for(self, event: Event) -> Node | None:
        """The node `event` completes, or None when it opens a collection."""
        if isinstance(event, AliasEvent):
            if event.anchor not in self.anchors:
                raise _error(
                    event,
                    # Also the case of an alias inside its own anchor: that would be a cycle.
                    f"alias *{event.anchor} refers to no anchor &{event.anchor} defined before it",
                )
            return self.anchors[event.anchor]
        if isinstance(event, ScalarEvent):
            return self._scalar(event)
        if isinstance(event, CollectionStartEvent):
            self._open(event)
            return None
        if isinstance(event, CollectionEndEvent):
            done = self.stack.pop()
            if done.anchor is not None:
                self.anchors[done.anchor] = done.node
            return done.node
        raise AssertionError(f"unexpected YAML event {event!r}")  # pragma: no cover

    def _scalar(self, event: ScalarEvent) -> Scalar:
        tag = event.tag
        if tag is None or tag == "!":
            # Resolver.resolve has no annotations in types-PyYAML.
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        node = Scalar(str(tag), event.value, _position(event))
        if event.anchor is not None:
            self.anchors[event.anchor] = node
        return node

    def _open(self, event: CollectionStartEvent) -> None:
        if len(self.stack) >= MAX_DEPTH:
            message = f"nesting is deeper than {MAX_DEPTH} levels"
            raise _error(event, message, _path_of(self.stack))
        is_mapping = isinstance(event, MappingStartEvent)
        tag = event.tag
        if tag is None or tag == "!":
            tag = YAML_TAG + ("map" if is_mapping else "seq")
        where = _position(event)
        collection = Mapping(tag, where) if is_mapping else Sequence(tag, where)
        self.stack.append(_Open(collection, event.anchor))


def _attach(parent: _Open, node: Node) -> None:
    if isinstance(parent.node, Sequence):
        parent.node.items.append(node)
    elif parent.pending_key is None:
        parent.pending_key = node
    else:
        parent.node.pairs.append((parent.pending_key, node))
        parent.pending_key = None


def _path_of(stack: list[_Open]) -> Path:
    """Where the next node goes, for error messages."""
    parts: list[str | int] = []
    for frame in stack:
        if isinstance(frame.node, Sequence):
            parts.append(len(frame.node.items))
        elif isinstance(frame.pending_key, Scalar):
            parts.append(frame.pending_key.value)
    return tuple(parts)


def _position(event: Event) -> Position:
    mark = event.start_mark
    return Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)


def _error(event: Event, message: str, path: Path = ()) -> SpecInvalidError:
    position = _position(event)
    return SpecInvalidError([SpecIssue(format_path(path), message, *position)])


def _syntax_issue(exc: yaml.MarkedYAMLError, text: str) -> SpecIssue:
    at = exc.problem_mark or exc.context_mark
    if at is None:  # pragma: no cover - the parsers always mark their errors
        return SpecIssue("", f"invalid YAML: {exc.problem or exc}")
    line, column = at.line + 1, at.column + 1
    if _char_at(text, line, column) == "\t":
        # Both parsers word this obscurely; it is the most common YAML mistake there is.
        return SpecIssue("", "invalid YAML: a tab cannot indent YAML; use spaces", line, column)
    message = f"invalid YAML: {exc.problem or 'unreadable YAML'}"
    context = exc.context_mark
    if (
        exc.context
        and context is not None
        and (context.line, context.column) != (at.line, at.column)
    ):
        message += (
            f", {exc.context} that starts at line {context.line + 1}, col {context.column + 1}"
        )
    return SpecIssue("", message, line, column)


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n")
    if line > len(lines) or column > len(lines[line - 1]):
        return ""
    return lines[line - 1][column - 1]


def _position_of(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1
