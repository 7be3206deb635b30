"""The web UI: server-rendered pages (Jinja2 + htmx) served by the API process under `/ui`.

Pages call the same use cases (`shoal.services`) as the REST API and the CLI, so the three
agree by construction. Sign-in makes a server-side session (see `shoal.services.ui_sessions`);
every state-changing request carries the session's CSRF token.
"""
