"""Alembic migrations for Shoal's schema (run with `shoal db upgrade`)."""
