"""GitHub's resource limits and point cost for one operation, decided before it runs.

GitHub checks these outside the schema (graphql-core validation accepts a connection
without ``first``), so they are computed here from the document and its variables:

- every connection that lists items (``nodes`` or ``edges``) needs ``first`` or ``last``,
  between 1 and 100 (a connection asked only for ``totalCount`` needs neither);
- at most 500,000 nodes: the sum over connections of the product of page sizes down the
  path to it;
- cost: the number of requests needed to fill every connection, assuming each page is full
  (a connection under a 100-item page needs 100 requests), divided by 100 and rounded,
  at least 1. ``nodes(ids:)`` multiplies what is below it by the number of ids.

The analysis is a pure function of the schema, the operation and the coerced variables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import get_argument_values
from graphql.utilities import type_from_ast

from shoal_sim.graphql.errors import GraphQLFailure, located

MAX_PAGE = 100
MAX_NODES = 500_000
MAX_IDS = 100


@dataclass(frozen=True)
class Bounds:
    cost: int
    node_count: int
    requests: int
    errors: tuple[GraphQLError, ...] = ()


def is_connection(definition: GraphQLField) -> bool:
    named = get_named_type(definition.type)
    return named.name.endswith("Connection") and "first" in definition.args


def point_cost(requests: int) -> int:
    # "Divide by 100 and round", half up; the minimum is one point.
    return max(1, (requests + 50) // 100)


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    requests: int = 0
    nodes: int = 0
    errors: list[GraphQLError] = field(default_factory=list)

    def selection_set(
        self,
        selections: SelectionSetNode | None,
        parent: GraphQLNamedType,
        multiplier: int,
        path: tuple[str, ...],
    ) -> None:
        if selections is None:
            return
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                self.field(selection, parent, multiplier, path)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = type_from_ast(self.schema, condition) if condition else parent
                if isinstance(target, GraphQLNamedType):
                    self.selection_set(selection.selection_set, target, multiplier, path)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = type_from_ast(self.schema, fragment.type_condition)
                    if isinstance(target, GraphQLNamedType):
                        self.selection_set(fragment.selection_set, target, multiplier, path)

    def field(
        self, node: FieldNode, parent: GraphQLNamedType, multiplier: int, path: tuple[str, ...]
    ) -> None:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return  # unions select only __typename directly
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return  # __typename and other introspection fields
        here = (*path, node.alias.value if node.alias else node.name.value)
        args = get_argument_values(definition, node, dict(self.variables))
        named = get_named_type(definition.type)
        if is_connection(definition):
            page = self.connection(node, named, args, multiplier, here)
            if page is None:
                return
            multiplier *= page
        elif parent.name == "Query" and node.name.value == "nodes":
            ids = args.get("ids") or []
            if len(ids) > MAX_IDS:
                self.fail(
                    f"You may not request more than {MAX_IDS} ids at once.",
                    "ARGUMENT_LIMIT",
                    node,
                    here,
                )
                return
            multiplier *= max(len(ids), 1)
        self.selection_set(node.selection_set, named, multiplier, here)

    def connection(
        self,
        node: FieldNode,
        named: GraphQLNamedType,
        args: dict[str, Any],
        multiplier: int,
        here: tuple[str, ...],
    ) -> int | None:
        """The page size below this connection, or ``None`` when it must not be descended."""
        name = node.name.value
        self.requests += multiplier
        if not self.lists_items(node.selection_set, named):
            return 1
        first, last = args.get("first"), args.get("last")
        if first is None and last is None:
            self.fail(
                f"You must provide a `first` or `last` value to properly paginate the `{name}` "
                "connection.",
                "MISSING_PAGINATION_BOUNDARIES",
                node,
                here,
            )
            return None
        for argument, value in (("first", first), ("last", last)):
            if value is not None and value > MAX_PAGE:
                self.fail(
                    f"Requesting {value} records on the `{name}` connection exceeds the "
                    f"`{argument}` limit of {MAX_PAGE} records.",
                    "EXCESSIVE_PAGINATION",
                    node,
                    here,
                )
                return None
            if value is not None and value < 1:
                # GitHub documents the 1-100 range; its wording for values below it is unknown.
                self.fail(
                    f"Requesting {value} records on the `{name}` connection is below the "
                    f"`{argument}` minimum of 1 record.",
                    "EXCESSIVE_PAGINATION",
                    node,
                    here,
                )
                return None
        page = int(max(first or 0, last or 0))
        before = self.nodes
        self.nodes += multiplier * page
        if before <= MAX_NODES < self.nodes:
            self.fail(
                f"By the time this query traverses to the {name} connection, it is requesting "
                f"up to {self.nodes:,} possible nodes which exceeds the maximum limit of "
                f"{MAX_NODES:,}.",
                "MAX_NODE_LIMIT_EXCEEDED",
                node,
                here,
            )
        return page

    def lists_items(self, selections: SelectionSetNode | None, parent: GraphQLNamedType) -> bool:
        if selections is None:
            return False
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in ("nodes", "edges"):
                    return True
            elif isinstance(selection, InlineFragmentNode):
                if self.lists_items(selection.selection_set, parent):
                    return True
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None and self.lists_items(fragment.selection_set, parent):
                    return True
        return False

    def fail(self, message: str, error_type: str, node: FieldNode, path: Sequence[str]) -> None:
        self.errors.append(located(GraphQLFailure(message, error_type), node, path))


def analyze(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> Bounds:
    """Limits and cost of ``operation``; ``variables`` must already be coerced."""
    root = schema.get_root_type(operation.operation)
    walk = _Walk(schema, fragments, variables)
    if root is not None:
        walk.selection_set(operation.selection_set, root, 1, ())
    return Bounds(point_cost(walk.requests), walk.nodes, walk.requests, tuple(walk.errors))
