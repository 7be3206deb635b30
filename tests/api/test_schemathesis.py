"""schemathesis against Shoal's own OpenAPI description, over a real API server.

Every operation of `GET /api/v1/openapi.json` gets generated requests (valid ones, and ones
that break the schema) sent with an admin token, on a database that holds a campaign with
spec versions, a finished preview run and its changesets, so that path parameters name
existing resources as well as random ones. Each answer must not be a server error, must have
a status code the description documents for that operation, and must match the documented
content type, headers and body schema.

The run is bounded (`MAX_EXAMPLES` per operation, derandomized: the same requests every run)
so that it fits in the suite.

Not exercised with valid credentials here: the GitHub webhook receiver (an HMAC of the body;
requests here go unsigned and must be refused with a documented status; valid deliveries are
tested in tests/webhooks) and the artifact proxy (`/executions/{id}/...`, a per-execution token
only a worker mints; refused here, tested in tests/e2e/test_artifact_proxy.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from bench.ui_seed import seed_campaign
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shoal.domain.auth import Principal, Role
from shoal.domain.runs import RunKind
from shoal.services import runs, tokens
from tests.servers import api_settings, running_api

# Generated requests per operation (about 55 operations): some 2,000 requests, about a minute.
MAX_EXAMPLES = 40

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class SeededApi:
    url: str
    headers: dict[str, str]
    token_id: int  # the admin token the requests carry
    known: dict[str, list[object]]  # path parameter -> values naming seeded resources


@pytest.fixture
def seeded_api(db_url: str, redis_url: str) -> Iterator[SeededApi]:
    settings_ = api_settings(
        db_url, redis_url, github_webhook_secret=SecretStr("schemathesis-webhook-secret")
    )
    with running_api(settings_) as api:
        ctx = api.ctx
        seeded = seed_campaign(ctx.db, name="seeded", changesets_count=12, blobs=ctx.blobs)
        admin = Principal(name="schemathesis", role=Role.ADMIN)
        selecting = runs.start_run(ctx, "seeded", kind=RunKind.PREVIEW, principal=admin)
        token, secret = tokens.create_token(ctx, name="schemathesis", role=Role.ADMIN, actor="test")
        viewer, _ = tokens.create_token(ctx, name="revocable", role=Role.VIEWER, actor="test")
        owner, name = seeded.repos[0].split("/")
        yield SeededApi(
            url=api.url,
            headers={"Authorization": f"Bearer {secret}"},
            token_id=token.id,
            known={
                "campaign": [seeded.name],
                "version": ["1", "latest"],
                "run_id": [seeded.run_id, selecting.run.id],
                "owner": [owner],
                "name": [name],
                "token_id": [viewer.id],
            },
        )


@pytest.fixture
def api_schema(seeded_api: SeededApi) -> Any:
    loaded = schemathesis.openapi.from_url(
        f"{seeded_api.url}/api/v1/openapi.json", headers=seeded_api.headers
    )
    known = seeded_api.known

    @loaded.hook
    def flatmap_path_parameters(
        context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        if not path_parameters:
            return st.just(path_parameters)
        # As often as not, the seeded resources (else random values: mostly 404s).
        existing = st.fixed_dictionaries(
            {
                key: st.sampled_from(known[key]) if key in known else st.just(value)
                for key, value in path_parameters.items()
            }
        )
        return st.one_of(st.just(path_parameters), existing)

    @loaded.hook
    def filter_path_parameters(
        context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
    ) -> bool:
        # Revoking the token this run sends would turn every later answer into a 401.
        return not path_parameters or path_parameters.get("token_id") != seeded_api.token_id

    return loaded


def _fuzz(operation: Any, checks: list[Any], seeded_api: SeededApi) -> None:
    """Positive and negative cases of one operation; raises what schemathesis found."""
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=seeded_api.url, headers=seeded_api.headers, checks=checks)

    fuzz()


@pytest.mark.slow  # about a minute: started first when the suite is spread over workers
def test_api_conforms_to_its_openapi_description(api_schema: Any, seeded_api: SeededApi) -> None:
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        # A spec version's YAML is text (the bytes applied, comments and all), described as a
        # string; schemathesis parses YAML bodies and would compare the document instead.
        checks = [
            check
            for check in CHECKS
            if not (operation.path.endswith("/yaml") and check is response_schema_conformance)
        ]
        try:
            _fuzz(operation, checks, seeded_api)
        # Every operation runs; what each found is reported together.
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    assert operations > 40
    assert not failures, "\n\n".join(failures)
