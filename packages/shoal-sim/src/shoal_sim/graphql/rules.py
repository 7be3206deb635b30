"""Document validation with GitHub's wording where clients are known to read it.

GitHub runs graphql-ruby, whose messages differ from graphql-core's. The spec rules are
the same, so graphql-core's rule set is used with the most common refusal, an unknown
field, reworded as GitHub says it ("Field 'x' doesn't exist on type 'User'") and carrying
GitHub's ``extensions``.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    ValidationRule,
    specified_rules,
)
from graphql.validation import FieldsOnCorrectTypeRule


class UndefinedFieldRule(ValidationRule):
    def enter_field(self, node: FieldNode, *args: Any) -> None:
        parent = self.context.get_parent_type()
        if parent is None or self.context.get_field_def() is not None:
            return
        name = node.name.value
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            self.report_error(
                GraphQLError(
                    f"Field '{name}' doesn't exist on type '{parent.name}'",
                    node,
                    extensions={
                        "code": "undefinedField",
                        "typeName": parent.name,
                        "fieldName": name,
                    },
                )
            )


RULES = tuple(
    UndefinedFieldRule if rule is FieldsOnCorrectTypeRule else rule for rule in specified_rules
)
