"""Spec text to plain Python data, remembering where in the text every value came from.

The limits make hostile input cheap to reject: size before parsing, nesting depth and the
number of nodes after alias expansion (a "billion laughs" document stays small as text).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from shoal.spec.compose import YAML_TAG, Mapping, Node, Position, Scalar, Sequence, compose_document
from shoal.spec.errors import Path, SpecInvalidError, SpecIssue, format_path
from shoal.spec.limits import MAX_BYTES, MAX_DEPTH, MAX_NODES

__all__ = ["Document", "decode", "load_document"]


_TEXT_TAGS = {YAML_TAG + "str", YAML_TAG + "timestamp"}  # dates stay the text the author wrote


@dataclass
class Document:
    """The spec's data plus the position of every value and every mapping key, by path."""

    data: dict[str, Any]
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)
    issues: list[SpecIssue] = field(default_factory=list)

    def position(self, path: Path, *, key: bool = False) -> Position | None:
        """Where `path` is written; for a path that is not written, where its parent is."""
        while True:
            if key and path in self.keys:
                return self.keys[path]
            if path in self.values:
                return self.values[path]
            if not path:
                return None
            path = path[:-1]


def decode(text: str | bytes) -> str:
    """The spec as text, within the size limit."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        shown = math.ceil(size * 10 / MAX_BYTES) / 10
        raise SpecInvalidError([SpecIssue("", f"spec is {shown} MiB; the limit is 1 MiB")])
    if isinstance(text, str):
        return text
    try:
        return text.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = text[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        message = f"spec is not valid UTF-8 (byte 0x{text[exc.start]:02x})"
        raise SpecInvalidError([SpecIssue("", message, line, column)]) from None


def load_document(text: str) -> Document:
    """Parse one YAML mapping; SpecInvalidError when nothing meaningful can be validated."""
    root = compose_document(text)
    if root is None or (isinstance(root, Scalar) and root.tag == YAML_TAG + "null"):
        message = "spec is empty; expected a mapping with name, on, steps and changeset"
        raise SpecInvalidError([SpecIssue("", message)])
    if not isinstance(root, Mapping):
        kind = "a list" if isinstance(root, Sequence) else "a single value"
        message = f"the spec must be a mapping of fields, got {kind}"
        raise SpecInvalidError([SpecIssue("", message, *root.position)])
    builder = _Builder()
    data = builder.value(root, (), 1)
    return Document(data, builder.values, builder.keys, builder.issues)


class _Builder:
    def __init__(self) -> None:
        self.values: dict[Path, Position] = {}
        self.keys: dict[Path, Position] = {}
        self.issues: list[SpecIssue] = []
        self.nodes = 0
        constructor = SafeConstructor()
        self.scalars: dict[str, Callable[[yaml.ScalarNode], Any]] = {
            YAML_TAG + "int": constructor.construct_yaml_int,
            YAML_TAG + "float": constructor.construct_yaml_float,
            YAML_TAG + "bool": constructor.construct_yaml_bool,
            YAML_TAG + "null": constructor.construct_yaml_null,
        }

    def value(self, node: Node, path: Path, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            message = (
                f"spec expands to more than {MAX_NODES} YAML nodes; "
                "check aliases (*name) that repeat large parts"
            )
            raise self._fatal(node, path, message)
        self.values[path] = node.position
        if isinstance(node, Scalar):
            return self.scalar(node, path)
        if depth > MAX_DEPTH:
            raise self._fatal(node, path, f"nesting is deeper than {MAX_DEPTH} levels")
        if isinstance(node, Sequence):
            if node.tag != YAML_TAG + "seq":
                self._issue(node, path, f"unsupported YAML tag {_short(node.tag)} on a list")
            return [self.value(item, (*path, i), depth + 1) for i, item in enumerate(node.items)]
        return self.mapping(node, path, depth)

    def scalar(self, node: Scalar, path: Path) -> Any:
        if node.tag in _TEXT_TAGS:
            return node.value
        construct = self.scalars.get(node.tag)
        if construct is None:
            self._issue(node, path, f"unsupported YAML tag {_short(node.tag)}; remove it")
            return node.value
        try:
            return construct(yaml.ScalarNode(node.tag, node.value))
        except (ValueError, KeyError, ConstructorError):
            self._issue(node, path, f"{node.value!r} is not a valid {_short(node.tag)}")
            return node.value

    def mapping(self, node: Mapping, path: Path, depth: int) -> dict[str, Any]:
        if node.tag != YAML_TAG + "map":
            self._issue(node, path, f"unsupported YAML tag {_short(node.tag)} on a mapping")
        result: dict[str, Any] = {}
        # `<<: *defaults` goes first so that keys written in this mapping win over merged ones.
        for source in reversed(self._merge_sources(node, path)):
            result.update(self.mapping(source, path, depth))
        written: dict[str, Position] = {}
        for key_node, value_node in node.pairs:
            if _is_merge_key(key_node):
                continue
            if not isinstance(key_node, Scalar):
                self._issue(key_node, path, "a mapping key must be a plain string")
                continue
            # The key's text, not its YAML 1.1 reading: `on:` must not turn into True.
            key = key_node.value
            if key in written:
                first = written[key]
                message = (
                    f"duplicate key; the first one is at line {first.line}, col {first.column}"
                )
                self._issue(key_node, (*path, key), message)
                continue
            written[key] = self.keys[(*path, key)] = key_node.position
            result[key] = self.value(value_node, (*path, key), depth + 1)
        return result

    def _merge_sources(self, node: Mapping, path: Path) -> list[Mapping]:
        sources: list[Mapping] = []
        for key_node, value_node in node.pairs:
            if not _is_merge_key(key_node):
                continue
            items = value_node.items if isinstance(value_node, Sequence) else [value_node]
            for item in items:
                if isinstance(item, Mapping):
                    sources.append(item)
                else:
                    self._issue(item, path, "'<<' merges only mappings, e.g. '<<: *defaults'")
        return sources

    def _issue(self, node: Node, path: Path, message: str) -> None:
        self.issues.append(SpecIssue(format_path(path), message, *node.position))

    def _fatal(self, node: Node, path: Path, message: str) -> SpecInvalidError:
        issue = SpecIssue(format_path(path), message, *node.position)
        return SpecInvalidError([*self.issues, issue])


def _is_merge_key(node: Node) -> bool:
    return isinstance(node, Scalar) and node.tag == YAML_TAG + "merge"


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(YAML_TAG) if tag.startswith(YAML_TAG) else tag
