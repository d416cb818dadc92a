"""Storage: typed models, repository functions per table group that never commit, and migrations.

The only package that imports SQLAlchemy. Services open a transaction with
``database.sessions.begin()`` and pass its ``Session`` to the repository functions:
``articles`` (articles, sections, tags, vectors, cached summaries), ``sources``,
``subscriptions`` (subscriptions and deliveries); ``visibility`` holds the one rule for
who sees what.
"""

from sqlalchemy.exc import DBAPIError as DatabaseError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession as Session

from digests.store.db import Database, database_trouble, open_database, single_runner

__all__ = [
    "Database",
    "DatabaseError",
    "IntegrityError",
    "Session",
    "database_trouble",
    "open_database",
    "single_runner",
]
