"""The HTTP API: REST under /api/v1 (OpenAPI at /api/v1/openapi.json), health, metrics."""

from shoal.api.app import create_app

__all__ = ["create_app"]
