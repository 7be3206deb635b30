"""Webhook payloads in GitHub's shapes (``@octokit/openapi-webhooks``), one module per event
family. Embedded repositories and users come from the REST builders in ``shoal_sim.views``;
only the shapes that exist solely in webhooks (the push-style repository, the
``organization`` and ``installation`` stubs, ``sender``) are built here."""
