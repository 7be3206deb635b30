"""PostgreSQL persistence: the only package that speaks SQL.

Store functions take a `Connection` from the caller and never commit: the use case that calls
them owns the transaction (`Database.transaction()`).
"""

from shoal.store.db import Database, sqlalchemy_url

__all__ = ["Database", "sqlalchemy_url"]
