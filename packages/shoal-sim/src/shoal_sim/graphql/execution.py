"""One GraphQL request from body to answer, in GitHub's order.

Parse, validate against GitHub's schema, pick the operation, coerce variables, check
pagination bounds and the node limit, charge the point cost to the caller's ``graphql``
budget (refusing with ``RATE_LIMITED`` when it does not cover the cost), count secondary
points (a query 1, a mutation 5), then execute with only the registered resolvers.
Everything but the secondary limit answers HTTP 200, like GitHub.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    OperationType,
    execute_sync,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast

from shoal_sim.dispatch import limit_key, secondary_exceeded
from shoal_sim.graphql import (
    commit_on_branch,
    connections,
    git_objects,
    mutations,
    pull_conversation,
    pull_edits,
    pull_files,
    pull_people,
    pull_search,
    pull_view,
    pulls,
    repo_metadata,
    repositories,
    rollup,
    root,
    search,
)
from shoal_sim.graphql.bounds import analyze
from shoal_sim.graphql.context import RequestContext
from shoal_sim.graphql.errors import GraphQLFailure, error_body, format_error
from shoal_sim.graphql.pull_port import PullRequestEngine
from shoal_sim.graphql.registry import field_resolver, type_resolver
from shoal_sim.graphql.rules import RULES
from shoal_sim.graphql.schema import SchemaUnavailableError, load_schema
from shoal_sim.ratelimit import Quota
from shoal_sim.simulator import Simulator
from shoal_sim.state.access import Caller, InstallationCaller, UserCaller
from shoal_sim.urls import Urls

log = logging.getLogger(__name__)

RESOLVE_FIELD = field_resolver(
    (
        connections.page_info,
        root.resolvers,
        search.resolvers,
        repositories.resolvers,
        git_objects.resolvers,
        pulls.resolvers,
        pull_people.resolvers,
        pull_view.resolvers,
        mutations.resolvers,
        commit_on_branch.resolvers,
        repo_metadata.resolvers,
        pull_edits.resolvers,
        pull_conversation.resolvers,
        pull_files.resolvers,
        rollup.resolvers,
        pull_search.resolvers,
    )
)
RESOLVE_TYPE = type_resolver(repositories.account_typename)
SECONDARY_ENDPOINT = "POST /graphql"
DOCS = "https://docs.github.com/graphql"


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def graphql_quota_key(sim: Simulator, caller: Caller) -> tuple[str, int]:
    """GraphQL points come from their own hourly budget, the same size as REST's; the
    ``/rate_limit`` endpoint can report it from this key."""
    key, limit = limit_key(sim, caller, "")
    return f"graphql:{key}", limit


def _rate_limited(caller: Caller) -> dict[str, Any]:
    subject = (
        f"installation ID {caller.installation.id}"
        if isinstance(caller, InstallationCaller)
        else f"user ID {caller.user.id}"
        if isinstance(caller, UserCaller)
        else "your IP address"
    )
    return {
        "errors": [{"type": "RATE_LIMITED", "message": f"API rate limit exceeded for {subject}."}]
    }


def _dry_run(operation: OperationDefinitionNode, variables: Mapping[str, Any]) -> bool:
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode) and selection.name.value == "rateLimit":
            for argument in selection.arguments:
                value = argument.value
                if isinstance(value, BooleanValueNode) and value.value:
                    return True
                name = getattr(getattr(value, "name", None), "value", None)
                if name is not None and variables.get(name) is True:
                    return True
    return False


class GraphQLApi:
    """GitHub's GraphQL endpoint for one simulator, independent of HTTP."""

    def __init__(
        self,
        sim: Simulator,
        pulls: PullRequestEngine | None = None,
        schema_path: Path | None = None,
    ) -> None:
        self.sim = sim
        self.pulls = pulls
        self.schema_path = schema_path

    def answer(
        self, caller: Caller, payload: Any, *, urls: Urls, request_id: str, path: str = "/graphql"
    ) -> Answer:
        try:
            schema = load_schema(self.schema_path)
        except SchemaUnavailableError as exc:
            return Answer(error_body(GraphQLFailure(str(exc), "SHOAL_SCHEMA_MISSING")))
        ctx = RequestContext(self.sim, caller, urls, request_id, path, pulls=self.pulls)
        prepared = self._prepare(schema, payload)
        if isinstance(prepared, Answer):
            return prepared
        document, operation, raw_variables, coerced = prepared
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        ctx.bounds = analyze(schema, operation, fragments, coerced)
        mutation = operation.operation is OperationType.MUTATION
        if ctx.bounds.errors:
            answer = Answer({"data": None, **error_body(*ctx.bounds.errors)})
            return self._refused(ctx, mutation, operation, answer)
        ctx.dry_run = _dry_run(operation, raw_variables)
        key, limit = graphql_quota_key(self.sim, caller)
        # Secondary limits (concurrency, points per minute) are shared with REST.
        shared_key = key.removeprefix("graphql:")
        limits = self.sim.limits
        quota = limits.quota(key, limit)
        if limits.config.primary_enabled and quota.remaining < ctx.bounds.cost:
            answer = Answer(_rate_limited(caller), 200, self._headers(quota))
            return self._refused(ctx, mutation, operation, answer)
        ctx.quota = limits.quota(key, limit, charge=0 if ctx.dry_run else ctx.bounds.cost)
        headers = self._headers(ctx.quota)
        block = limits.enter(shared_key)
        if block is None:
            try:
                block = limits.spend(
                    shared_key,
                    SECONDARY_ENDPOINT,
                    "POST" if mutation else "GET",
                    creates_content=mutation and "createCommitOnBranch" in _root_fields(operation),
                )
                if block is None:
                    body = self._execute(schema, document, operation, raw_variables, ctx)
                    return Answer(body, 200, headers)
            finally:
                limits.leave(shared_key)
        err = secondary_exceeded(request_id, block.retry_after, block.content_creation)
        answer = Answer(err.body(DOCS), err.status, {**headers, **err.headers})
        return self._refused(ctx, mutation, operation, answer)

    def _prepare(
        self, schema: GraphQLSchema, payload: Any
    ) -> Answer | tuple[DocumentNode, OperationDefinitionNode, dict[str, Any], dict[str, Any]]:
        read = _read_payload(payload)
        if isinstance(read, GraphQLFailure):
            return Answer(error_body(read))
        query, variables = read
        try:
            document = parse(query)
        except GraphQLSyntaxError as exc:
            return Answer(error_body(exc))
        errors = validate(schema, document, RULES)
        if errors:
            return Answer(error_body(*errors))
        operation_name = payload.get("operationName") or None
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = (
                f'No operation named "{operation_name}"'
                if operation_name
                else "An operation name is required"
            )
            return Answer(error_body(GraphQLFailure(message)))
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
        if isinstance(coerced, list):
            return Answer(error_body(*coerced))
        return document, operation, variables, coerced

    def _execute(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
        ctx: RequestContext,
    ) -> dict[str, Any]:
        result = execute_sync(
            schema,
            document,
            context_value=ctx,
            variable_values=variables,
            operation_name=operation.name.value if operation.name else None,
            field_resolver=RESOLVE_FIELD,
            type_resolver=RESOLVE_TYPE,
        )
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [self._format(err, ctx.request_id) for err in result.errors]
        return body

    @staticmethod
    def _format(error: GraphQLError, request_id: str) -> dict[str, Any]:
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLFailure | GraphQLError):
            log.error("GraphQL resolver failed", exc_info=original)
            error = GraphQLError(
                "Something went wrong while executing your query. This may be the result of a "
                "timeout, or it could be a GitHub bug. Please include "
                f"`{request_id}` when reporting this issue.",
                error.nodes,
                path=error.path,
            )
        return format_error(error)

    @staticmethod
    def _refused(
        ctx: RequestContext, mutation: bool, operation: OperationDefinitionNode, answer: Answer
    ) -> Answer:
        """The ledger keeps mutations refused before they ran, with what refused them."""
        if mutation:
            errors = answer.body.get("errors") or [answer.body]
            ctx.sim.ledger.record(
                time=ctx.now,
                request_id=ctx.request_id,
                actor=ctx.caller.actor,
                method="POST",
                path=ctx.path,
                operation="mutation " + ",".join(sorted(_root_fields(operation))),
                repo=None,
                status=answer.status,
                detail={
                    "error": {"type": errors[0].get("type"), "message": errors[0].get("message")}
                },
            )
        return answer

    @staticmethod
    def _headers(quota: Quota) -> dict[str, str]:
        return dataclasses.replace(quota, resource="graphql").headers()


def _root_fields(operation: OperationDefinitionNode) -> set[str]:
    return {s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)}


def _read_payload(payload: Any) -> tuple[str, dict[str, Any]] | GraphQLFailure:
    query = payload.get("query") if isinstance(payload, dict) else None
    if not isinstance(query, str):
        return GraphQLFailure("A query attribute must be specified and must be a string.")
    variables = payload.get("variables") or {}
    if isinstance(variables, str):
        try:
            variables = json.loads(variables) or {}
        except ValueError:
            variables = None
    if not isinstance(variables, dict):
        return GraphQLFailure("Variables must be a JSON object.")
    return query, variables
