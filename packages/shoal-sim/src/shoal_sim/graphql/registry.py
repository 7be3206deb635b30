"""Which schema fields the simulator implements, and how graphql-core finds them.

GitHub's schema has thousands of fields; the simulator implements a few hundred. Each
resolver is registered explicitly for ``(TypeName, fieldName)``; the default field resolver
looks only there, so a field nobody registered fails with a clear error instead of
returning an attribute that happens to share its name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from graphql import GraphQLAbstractType, GraphQLResolveInfo

from shoal_sim.graphql.errors import not_implemented

# (source, info, arguments) -> value
Resolver = Callable[[Any, GraphQLResolveInfo, dict[str, Any]], Any]
R = TypeVar("R", bound=Resolver)


class Resolvers:
    """The resolvers one module contributes; :func:`field_resolver` combines them."""

    def __init__(self) -> None:
        self.table: dict[tuple[str, str], Resolver] = {}

    def field(self, type_name: str, *names: str) -> Callable[[R], R]:
        def register(resolver: R) -> R:
            for name in names:
                self.table[(type_name, name)] = resolver
            return resolver

        return register

    def values(self, type_name: str, getters: dict[str, Callable[[Any], Any]]) -> None:
        """Fields computed from the source object alone, without arguments."""
        for name, getter in getters.items():
            self.table[(type_name, name)] = _plain(getter)


def _plain(getter: Callable[[Any], Any]) -> Resolver:
    def resolve(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
        return getter(source)

    return resolve


def field_resolver(parts: Iterable[Resolvers]) -> Callable[..., Any]:
    table: dict[tuple[str, str], Resolver] = {}
    for part in parts:
        table.update(part.table)

    def resolve(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        resolver = table.get((info.parent_type.name, info.field_name))
        if resolver is None:
            raise not_implemented(info.parent_type.name, info.field_name)
        return resolver(source, info, args)

    return resolve


class Typed:
    """Source objects the simulator builds for GraphQL carry their schema type name."""

    typename: str = ""


def type_resolver(classify: Callable[[Any], str | None]) -> Callable[..., str | None]:
    """graphql-core's ``type_resolver``: ``Typed`` objects name themselves, others ask."""

    def resolve(value: Any, info: GraphQLResolveInfo, abstract: GraphQLAbstractType) -> str | None:
        if isinstance(value, Typed):
            return value.typename
        return classify(value)

    return resolve
