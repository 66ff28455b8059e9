"""The connection type that the storage functions take."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
import asyncpg.pool

# A connection of its own (tests, tools) or one borrowed from the service's pool;
# a string, as asyncpg's classes are generic only in their stubs.
Conn: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)


def found(row: asyncpg.Record | None, what: str) -> asyncpg.Record:
    """The row that a query by key or an aggregate always returns."""
    if row is None:
        raise LookupError(f"{what} is not in the database")
    return row
